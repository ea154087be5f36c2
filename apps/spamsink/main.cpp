// spamsink: a mail server that only pretends. See docs/architecture.md.
#include "app/app.hpp"

int main(int argc, char** argv) { return spamsink::app::run(argc, argv); }
