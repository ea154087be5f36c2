// fuzz/fuzz_check: the invariant check shared by the fuzz targets.
//
// Purpose: a fuzz target is only as good as what it asserts; "did not
// crash" finds memory errors, FUZZ_CHECK finds wrong answers. A broken
// invariant prints where and why, then aborts, so libFuzzer (and the
// corpus replay in ctest) records it as a crash with the input attached.
// Invariants: active in every build type (never compiled out like assert).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace spamsink::fuzz {

// A small deterministic generator: fuzz inputs carry a seed, and the same
// input must replay the same way in libFuzzer and in ctest.
class XorShift {
 public:
  explicit XorShift(unsigned seed) : s_(seed == 0 ? 0x9E3779B9u : seed) {}
  unsigned next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 17;
    s_ ^= s_ << 5;
    return s_;
  }

 private:
  unsigned s_;
};

}  // namespace spamsink::fuzz
