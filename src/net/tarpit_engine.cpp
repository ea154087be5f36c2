#include "net/tarpit_engine.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "session/tarpit.hpp"

namespace spamsink::net {

namespace {

constexpr std::size_t kReadBytes = 4096;
constexpr int kEventsPerWait = 256;
// Drips are sent on this grid (see Impl::on_grid).
constexpr core::Millis kTimerGrain{100};

std::string_view phase_name(session::TarpitConversation::Phase p) {
  using P = session::TarpitConversation::Phase;
  switch (p) {
    case P::kGreeting: return "greeting";
    case P::kHelo: return "helo";
    case P::kMail: return "mail";
    case P::kRcpt: return "rcpt";
    case P::kData: return "data";
    case P::kDataEnd: return "data_end";
    case P::kQuit: return "quit";
  }
  return "unknown";
}

}  // namespace

struct TarpitEngine::Impl {
  struct Record {
    int fd = -1;
    std::uint32_t gen = 0;
    core::TimePoint start{};
    session::TarpitConversation conv;
    core::IpAddress ip;
    std::uint16_t port = 0;
    std::uint16_t profile = 0;
    std::uint32_t bytes_in = 0;
    std::uint32_t bytes_out = 0;
    bool in_drip = false;
    bool early_seen = false;
    std::uint8_t early_len = 0;
    char early[16];  // the first bytes an early talker sent
  };
  struct Entry {
    std::uint32_t index;
    std::uint32_t gen;
    core::TimePoint due;
  };
  struct Fifo {
    core::Duration delay;
    std::deque<Entry> q;
  };
  struct Profile {
    std::string listener;
    const smtp::ReplyTable* replies;
    TarpitSettings settings;
    std::size_t drip;  // FIFO indices
    std::size_t hold;
    std::size_t greet;
    std::array<std::size_t, TarpitSettings::kDelayCount> phase;  // drip's when no delay
  };

  asio::io_context& ctx;
  core::EventSink* sink;
  OnClose on_close;
  int epfd = -1;
  asio::posix::stream_descriptor watch;
  asio::steady_timer timer;
  core::TimePoint armed = core::TimePoint::max();
  core::Duration grain = kTimerGrain;  // see on_grid()
  std::vector<Record> records;
  std::vector<std::uint32_t> free_slots;
  std::vector<Fifo> fifos;
  std::vector<Profile> profiles;
  std::array<char, kReadBytes> buf;
  std::size_t held = 0;
  bool watching = false;
  bool stopped = false;
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;  // banner text only: not security
  std::array<char, 80> line;

  // A "220-" continuation line of random printable text, 8 to 40 bytes long.
  std::string_view banner_line() {
    auto next = [&] {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      return rng;
    };
    std::size_t n = 4;
    std::memcpy(line.data(), "220-", 4);
    const std::size_t len = 8 + next() % 33;
    for (std::size_t i = 0; i < len; ++i) line[n++] = static_cast<char>(' ' + 1 + next() % 94);
    line[n++] = '\r';
    line[n++] = '\n';
    return {line.data(), n};
  }

  Impl(asio::io_context& c, core::EventSink* s, OnClose oc)
      : ctx(c), sink(s), on_close(std::move(oc)), watch(c), timer(c) {
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd >= 0) watch.assign(epfd);  // the descriptor now owns epfd
  }

  std::size_t fifo_for(core::Duration d) {
    for (std::size_t i = 0; i < fifos.size(); ++i)
      if (fifos[i].delay == d) return i;
    fifos.push_back(Fifo{d, {}});
    // The grid is at most a tenth of the shortest delay in use, so a short
    // interval (tests, aggressive operators) keeps its pace.
    if (d > core::Duration::zero())
      grain = std::min(grain, std::max<core::Duration>(core::Millis{1}, d / 10));
    return fifos.size() - 1;
  }

  std::uint16_t profile_for(std::string_view listener, const smtp::ReplyTable* replies, const TarpitSettings& s) {
    for (std::size_t i = 0; i < profiles.size(); ++i) {
      const Profile& p = profiles[i];
      if (p.listener == listener && p.replies == replies && p.settings == s) return static_cast<std::uint16_t>(i);
    }
    Profile p{std::string(listener), replies, s, fifo_for(s.interval), fifo_for(s.max_hold), fifo_for(s.greet_delay), {}};
    for (std::size_t i = 0; i < p.phase.size(); ++i)
      p.phase[i] = s.phase_delay[i].count() > 0 ? fifo_for(s.phase_delay[i]) : p.drip;
    profiles.push_back(std::move(p));
    return static_cast<std::uint16_t>(profiles.size() - 1);
  }

  void schedule(std::size_t fifo, std::uint32_t index, core::TimePoint now) {
    Fifo& f = fifos[fifo];
    const core::TimePoint due = now + f.delay;
    f.q.push_back(Entry{index, records[index].gen, due});
    if (on_grid(due) < armed) arm(due);
  }

  // Timer wakeups are rounded up to a grid, so that one wakeup serves every
  // drip due in the same slice: with thousands of held connections whose
  // deadlines are spread over the second, this turns thousands of wakeups a
  // second into at most 1 / grain. A due time is never advanced, only
  // delayed by less than the grain (kTimerGrain, or a tenth of the shortest
  // delay in use when that is shorter).
  core::TimePoint on_grid(core::TimePoint due) const {
    const auto ticks = due.time_since_epoch().count();
    const auto g = grain.count();
    return core::TimePoint(core::Duration((ticks + g - 1) / g * g));
  }

  void arm(core::TimePoint due) {
    due = on_grid(due);
    armed = due;
    timer.expires_at(due);
    timer.async_wait([this](const asio::error_code& ec) {
      if (ec || stopped) return;
      armed = core::TimePoint::max();
      on_timer();
    });
  }

  void rearm() {
    core::TimePoint next = core::TimePoint::max();
    for (const Fifo& f : fifos)
      if (!f.q.empty() && f.q.front().due < next) next = f.q.front().due;
    if (next != core::TimePoint::max() && on_grid(next) != armed) arm(next);
  }

  void watch_events() {
    if (watching || stopped || epfd < 0) return;
    watching = true;
    watch.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
      watching = false;
      if (ec || stopped) return;
      on_events();
      watch_events();
    });
  }

  void on_events() {
    epoll_event evs[kEventsPerWait];
    for (;;) {
      const int n = ::epoll_wait(epfd, evs, kEventsPerWait, 0);
      if (n <= 0) return;
      const core::TimePoint now = core::SteadyClock::now();
      for (int i = 0; i < n; ++i) {
        const auto index = static_cast<std::uint32_t>(evs[i].data.u64);
        const auto gen = static_cast<std::uint32_t>(evs[i].data.u64 >> 32);
        if (index >= records.size() || records[index].fd < 0 || records[index].gen != gen) continue;
        on_readable(index, evs[i].events, now);
      }
      if (n < kEventsPerWait) return;
    }
  }

  void on_readable(std::uint32_t index, std::uint32_t events, core::TimePoint now) {
    Record& r = records[index];
    if (profiles[r.profile].settings.strategy == TarpitSettings::Strategy::kStall) {
      // Never read: only the hang-up is watched (registered for EPOLLRDHUP).
      if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) close(index, core::EndReason::kPeerClosed, now, {});
      return;
    }
    for (;;) {
      const ssize_t n = ::recv(r.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        r.bytes_in += static_cast<std::uint32_t>(n);
        // A banner never finishes the greeting, so commands get no reply.
        if (profiles[r.profile].settings.strategy != TarpitSettings::Strategy::kBanner)
          r.conv.on_bytes(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        if (!r.early_seen && r.conv.early_talker()) {
          if (!early_talker(index, std::string_view(buf.data(), static_cast<std::size_t>(n)), now)) return;
        }
        if (static_cast<std::size_t>(n) < buf.size()) break;
        continue;
      }
      if (n == 0) return close(index, core::EndReason::kPeerClosed, now, {});
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return close(index, core::EndReason::kReset, now, {});
    }
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) return close(index, core::EndReason::kReset, now, {});
    if (r.conv.has_output() && !r.in_drip) {
      r.in_drip = true;
      schedule(next_fifo(r), index, now);
    }
  }

  // The FIFO for a record's next drip: its phase's delay before a reply
  // starts, the drip interval inside a reply.
  std::size_t next_fifo(const Record& r) const {
    const Profile& p = profiles[r.profile];
    if (!r.conv.at_reply_start()) return p.drip;
    using R = smtp::ReplyId;
    using S = TarpitSettings;
    switch (r.conv.front_reply()) {
      case R::kEhlo:
      case R::kHelo: return p.phase[S::kDelayHelo];
      case R::kMailOk: return p.phase[S::kDelayMail];
      case R::kRcptOk: return p.phase[S::kDelayRcpt];
      case R::kEarlyDeferPerm:
      case R::kEarlyDeferTemp: return r.conv.phase() == session::TarpitConversation::Phase::kRcpt ? p.phase[S::kDelayRcpt] : p.phase[S::kDelayMail];
      case R::kDataGo: return p.phase[S::kDelayData];
      case R::kTempFailData: return p.phase[S::kDelayDataEnd];
      case R::kUnknown: return p.phase[S::kDelayUnknown];
      default: return p.drip;
    }
  }

  // Records an early talker and applies the listener's action; false when
  // the connection was closed (reject).
  bool early_talker(std::uint32_t index, std::string_view first, core::TimePoint now) {
    Record& r = records[index];
    const Profile& p = profiles[r.profile];
    r.early_seen = true;
    r.early_len = static_cast<std::uint8_t>(first.size() < sizeof r.early ? first.size() : sizeof r.early);
    std::memcpy(r.early, first.data(), r.early_len);
    if (core::any_contains(p.settings.early_allow, r.ip)) return true;
    switch (p.settings.early_action) {
      case TarpitSettings::EarlyAction::kIgnore: return true;
      case TarpitSettings::EarlyAction::kDefer: r.conv.defer_transactions(p.settings.early_permanent); return true;
      case TarpitSettings::EarlyAction::kReject:
        close(index, core::EndReason::kEarlyTalker, now,
              p.replies->get(p.settings.early_permanent ? smtp::ReplyId::kEarlyRejectPerm
                                                        : smtp::ReplyId::kEarlyRejectTemp));
        return false;
    }
    return true;
  }

  // Sends the next drip of a record; false when it was closed.
  bool drip(std::uint32_t index, core::TimePoint now) {
    Record& r = records[index];
    const Profile& p = profiles[r.profile];
    if (p.settings.strategy == TarpitSettings::Strategy::kBanner) {
      // The greeting never ends: one whole continuation line per interval.
      const std::string_view l = banner_line();
      const ssize_t n = ::send(r.fd, l.data(), l.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) r.bytes_out += static_cast<std::uint32_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close(index, core::EndReason::kReset, now, {});
        return false;
      }
      schedule(p.drip, index, now);
      return true;
    }
    const std::size_t budget = p.settings.strategy == TarpitSettings::Strategy::kStall
                                   ? std::size_t{1} << 16  // the greeting at once
                                   : p.settings.bytes_per_drip;
    const std::string_view out = r.conv.peek_output(*p.replies, budget);
    if (out.empty()) {
      r.in_drip = false;
      return true;
    }
    const ssize_t n = ::send(r.fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      r.bytes_out += static_cast<std::uint32_t>(n);
      r.conv.consumed(*p.replies, static_cast<std::size_t>(n));
      if (r.conv.done()) {
        close(index, core::EndReason::kQuit, now, {});
        return false;
      }
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close(index, core::EndReason::kReset, now, {});
      return false;
    }
    // A full send buffer (the bot does not read) just waits for the next drip.
    if (r.conv.has_output()) {
      schedule(next_fifo(r), index, now);
    } else {
      r.in_drip = false;
    }
    return true;
  }

  void on_timer() {
    const core::TimePoint now = core::SteadyClock::now();
    for (std::size_t fi = 0; fi < fifos.size(); ++fi) {
      // Only entries present now: drip() appends to the same FIFO.
      for (std::size_t budget = fifos[fi].q.size(); budget > 0 && !fifos[fi].q.empty(); --budget) {
        const Entry e = fifos[fi].q.front();
        if (e.due > now) break;
        fifos[fi].q.pop_front();
        if (e.index >= records.size() || records[e.index].fd < 0 || records[e.index].gen != e.gen) continue;
        const Profile& p = profiles[records[e.index].profile];
        // A FIFO may serve as both hold and drip FIFO when the delays are
        // equal: the age tells which entry this is.
        if (fi == p.hold && now - records[e.index].start >= p.settings.max_hold)
          close(e.index, core::EndReason::kLifetime, now, p.replies->get(smtp::ReplyId::kLifetime));
        else
          drip(e.index, now);
      }
    }
    rearm();
  }

  void close(std::uint32_t index, core::EndReason reason, core::TimePoint now, std::string_view last_words) {
    Record& r = records[index];
    if (!last_words.empty() && !r.conv.at_reply_start() && r.conv.has_output()) {
      // Finish the reply being dripped first: a 421 spliced into a half-sent
      // "220 ..." or into the lines of a 250- reply would read as part of
      // it. The client then gets the 421 as the answer to its next command.
      const std::string_view rest = r.conv.peek_output(*profiles[r.profile].replies, std::size_t{1} << 16);
      const ssize_t n = ::send(r.fd, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) r.bytes_out += static_cast<std::uint32_t>(n);
    }
    if (!last_words.empty()) {
      const ssize_t n = ::send(r.fd, last_words.data(), last_words.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) r.bytes_out += static_cast<std::uint32_t>(n);
    }
    ::close(r.fd);  // also leaves the epoll set
    if (sink != nullptr) {
      core::SessionRecord s;
      s.session_id = (static_cast<std::uint64_t>(r.gen) << 32) | index;
      s.mode = core::Mode::kTarpit;
      s.listener = profiles[r.profile].listener;
      s.ip = r.ip;
      s.port = r.port;
      s.start = r.start;
      s.end = now;
      s.bytes_in = r.bytes_in;
      s.bytes_out = r.bytes_out;
      s.reason = reason;
      s.phase = phase_name(r.conv.phase());
      s.early_talker = r.early_seen && !core::any_contains(profiles[r.profile].settings.early_allow, r.ip);
      s.early_bytes = std::string_view(r.early, r.early_len);
      sink->session_closed(s);
    }
    const core::IpAddress ip = r.ip;
    const std::string_view listener = profiles[r.profile].listener;  // profiles are never removed
    r.fd = -1;
    r.in_drip = false;
    ++r.gen;
    free_slots.push_back(index);
    --held;
    if (on_close) on_close(ip, listener);
  }
};

TarpitEngine::TarpitEngine(asio::io_context& ctx, core::EventSink* sink, OnClose on_close)
    : impl_(std::make_unique<Impl>(ctx, sink, std::move(on_close))) {}

TarpitEngine::~TarpitEngine() {
  for (auto& r : impl_->records)
    if (r.fd >= 0) ::close(r.fd);
}

void TarpitEngine::adopt(int fd, const core::IpAddress& ip, std::uint16_t port, std::string_view listener,
                         const smtp::ReplyTable* replies, const TarpitSettings& settings, core::TimePoint now) {
  Impl& e = *impl_;
  if (e.stopped || e.epfd < 0) {
    ::close(fd);
    if (e.on_close) e.on_close(ip, listener);
    return;
  }
  std::uint32_t index;
  if (!e.free_slots.empty()) {
    index = e.free_slots.back();
    e.free_slots.pop_back();
  } else {
    index = static_cast<std::uint32_t>(e.records.size());
    e.records.emplace_back();
  }
  Impl::Record& r = e.records[index];
  const std::uint32_t gen = r.gen;
  r = Impl::Record{};
  r.gen = gen;
  r.fd = fd;
  r.start = now;
  r.ip = ip;
  r.port = port;
  r.profile = e.profile_for(listener, replies, settings);
  ++e.held;
  const Impl::Profile& prof = e.profiles[r.profile];
  const bool stall = prof.settings.strategy == TarpitSettings::Strategy::kStall;
  epoll_event ev{};
  // A stalled client is never read: only its hang-up is watched.
  ev.events = (stall ? 0u : static_cast<std::uint32_t>(EPOLLIN)) | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (static_cast<std::uint64_t>(gen) << 32) | index;
  if (::epoll_ctl(e.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    e.close(index, core::EndReason::kReset, now, {});
    return;
  }
  e.watch_events();
  const Impl::Profile& p = e.profiles[r.profile];
  e.schedule(p.hold, index, now);
  r.in_drip = true;
  if (p.settings.greet_delay.count() > 0 && p.settings.strategy != TarpitSettings::Strategy::kBanner) {
    // postscreen's pregreet test: an optional "220-" teaser now, the real
    // greeting only after the delay; whoever talks meanwhile is an early talker.
    if (p.settings.teaser) {
      const std::string_view t = p.replies->get(smtp::ReplyId::kTeaser);
      const ssize_t n = ::send(fd, t.data(), t.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) r.bytes_out += static_cast<std::uint32_t>(n);
    }
    e.schedule(p.greet, index, now);
    return;
  }
  // The first drip goes out at once; the rest every interval.
  e.drip(index, now);
}

void TarpitEngine::close_all() {
  Impl& e = *impl_;
  const core::TimePoint now = core::SteadyClock::now();
  for (std::uint32_t i = 0; i < e.records.size(); ++i)
    if (e.records[i].fd >= 0)
      e.close(i, core::EndReason::kShutdown, now, e.profiles[e.records[i].profile].replies->get(smtp::ReplyId::kShutdown));
  e.stopped = true;
  e.timer.cancel();
  asio::error_code ignored;
  e.watch.cancel(ignored);
}

std::size_t TarpitEngine::held() const { return impl_->held; }

}  // namespace spamsink::net
