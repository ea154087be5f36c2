// smtpsend: the load generator that ships with spamsink. See `smtpsend -h`.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "loadgen/engine.hpp"
#include "loadgen/options.hpp"

int main(int argc, char** argv) {
  using namespace spamsink::loadgen;
  OptionsResult parsed = parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const Options& o = *parsed.options;
  std::signal(SIGPIPE, SIG_IGN);
  const bool progress = o.progress == 1 || (o.progress == -1 && !o.json && ::isatty(STDOUT_FILENO));
  RunResult r = run(o, progress ? [](std::uint64_t ok, std::uint64_t failed, double secs) {
    std::fprintf(stdout, "\r%llu sent, %llu failed, %.0f msg/s, %.0f s   ", static_cast<unsigned long long>(ok),
                 static_cast<unsigned long long>(failed), secs > 0 ? static_cast<double>(ok) / secs : 0.0, secs);
    std::fflush(stdout);
  } : std::function<void(std::uint64_t, std::uint64_t, double)>{});
  if (progress) std::fputs("\r\033[K", stdout);
  const std::string text = o.json ? format_json(o, r) : format_summary(o, r);
  std::fputs(text.c_str(), stdout);
  const auto& s = r.stats;
  const bool clean = r.error.empty() && s.messages_failed == 0 && s.failures_total() == 0 && s.reply_errors() == 0;
  return clean ? 0 : 1;
}
