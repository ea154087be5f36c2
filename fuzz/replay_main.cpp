// fuzz/replay_main: runs a fuzz target over a corpus, without libFuzzer.
//
// Purpose: GCC builds (and the sanitizer build) link each fuzz target with
// this main so that ctest replays the seed corpus and every input a fuzzer
// once found; a target's invariant checks abort on failure.
// Usage: fuzz_<target> PATH...; a PATH is a file or a directory (its
// regular files, sorted by name, not recursive).
// Exit: 0 when at least one input ran and none failed; 1 when nothing ran
// (an empty or misplaced corpus must not pass silently) or a path is bad.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // A copy of exactly the input's size, as libFuzzer passes it, so that
  // ASan builds see a read past the end.
  auto* buf = new std::uint8_t[bytes.empty() ? 1 : bytes.size()];
  std::copy(bytes.begin(), bytes.end(), buf);
  LLVMFuzzerTestOneInput(buf, bytes.size());
  delete[] buf;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const char* name = argc > 0 ? argv[0] : "replay";
  std::size_t ran = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg, ec))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        if (!run_file(f)) {
          ok = false;
          continue;
        }
        ++ran;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      if (run_file(arg))
        ++ran;
      else
        ok = false;
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", name, argv[i]);
      ok = false;
    }
  }
  std::printf("%s: ran %zu inputs\n", name, ran);
  if (ran == 0) {
    std::fprintf(stderr, "%s: no inputs ran; give corpus files or directories\n", name);
    return 1;
  }
  return ok ? 0 : 1;
}
