// core/fixed_string: a string with inline storage that never grows.
//
// Purpose: session facts (HELO, MAIL FROM) kept without heap allocation.
// Invariants: size() <= N; assign() keeps the first N bytes and records
// that the value was truncated.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace spamsink::core {

template <std::size_t N>
class FixedString {
 public:
  void assign(std::string_view v) {
    truncated_ = v.size() > N;
    size_ = truncated_ ? N : v.size();
    std::memcpy(data_, v.data(), size_);
  }
  // Appends `v` after `sep` (when not empty) while room remains.
  void append_item(std::string_view v, char sep) {
    if (size_ != 0) {
      // No separator without room for at least one byte of the item.
      if (size_ + 1 >= N) {
        if (!v.empty()) truncated_ = true;
        return;
      }
      data_[size_++] = sep;
    }
    std::size_t room = N - size_;
    if (v.size() > room) truncated_ = true;
    std::size_t n = v.size() < room ? v.size() : room;
    std::memcpy(data_ + size_, v.data(), n);
    size_ += n;
  }
  void clear() {
    size_ = 0;
    truncated_ = false;
  }
  std::string_view view() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool truncated() const { return truncated_; }
  static constexpr std::size_t capacity() { return N; }

 private:
  char data_[N];
  std::size_t size_ = 0;
  bool truncated_ = false;
};

}  // namespace spamsink::core
