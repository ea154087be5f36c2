#include "store/event_queue.hpp"

#include <bit>

namespace spamsink::store {

void Event::set(Field f, std::string_view v) {
  const std::size_t n = v.size() < kCaps[f] ? v.size() : kCaps[f];
  if (n < v.size()) truncated = true;
  if (n != 0) std::memcpy(text + offset(f), v.data(), n);
  len[f] = static_cast<std::uint16_t>(n);
}

void Event::copy_from(const Event& o) {
  std::memcpy(static_cast<void*>(this), &o, offsetof(Event, text));
  for (std::size_t f = 0; f < kFieldCount; ++f)
    if (o.len[f] != 0) std::memcpy(text + offset(static_cast<Field>(f)), o.text + offset(static_cast<Field>(f)), o.len[f]);
}

EventQueue::EventQueue(std::size_t capacity)
    : cells_(new Cell[std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)]),
      mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1) {
  for (std::size_t i = 0; i <= mask_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
}

bool EventQueue::try_pop(Event& out) noexcept {
  const std::size_t pos = tail_.load(std::memory_order_relaxed);
  Cell& cell = cells_[pos & mask_];
  const std::size_t seq = cell.seq.load(std::memory_order_acquire);
  if (seq != pos + 1) return false;  // not yet written (empty, or a producer is mid-fill)
  out.copy_from(cell.ev);
  cell.seq.store(pos + mask_ + 1, std::memory_order_release);
  tail_.store(pos + 1, std::memory_order_relaxed);
  return true;
}

std::size_t EventQueue::depth() const {
  const std::size_t h = head_.load(std::memory_order_relaxed);
  const std::size_t t = tail_.load(std::memory_order_relaxed);
  return h > t ? h - t : 0;
}

}  // namespace spamsink::store
