#include "net/relay_forwarder.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "smtp/reply_parser.hpp"

namespace spamsink::net {

namespace {
using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

struct RelayForwarder::Job {
  explicit Job(asio::io_context& ctx) : sock(ctx), watchdog(ctx) {}
  tcp::socket sock;
  asio::steady_timer watchdog;
  std::uint64_t generation = 0;  // which step the armed watchdog belongs to
  bool timed_out = false;
  bool stopped = false;
  core::TimePoint deadline{};  // the whole exchange
  std::shared_ptr<const RelaySettings> settings;
  core::IpAddress host;
  std::string from, rcpt;
  std::vector<char> body;
  std::size_t body_size = 0;
  std::string in;  // smarthost bytes not yet parsed
};

void stuff_body(const std::vector<char>& body, std::string& out) {
  out.clear();
  out.reserve(body.size() + body.size() / 64 + 8);
  // A dot after any CR or LF is doubled, not only after CRLF: whatever
  // line ends the smarthost honours, the peer's bytes can never end our DATA
  // early and smuggle a second message ("<LF>.<LF>", "<CR>.<CR>").
  bool bol = true;
  for (char c : body) {
    if (bol && c == '.') out.push_back('.');
    out.push_back(c);
    bol = c == '\n' || c == '\r';
  }
  if (!body.empty() && !(body.size() >= 2 && body[body.size() - 2] == '\r' && body.back() == '\n')) out.append("\r\n");
  out.append(".\r\n");
}

void finish_job(RelayForwarder& f, const std::shared_ptr<RelayForwarder::Job>& job) {
  auto it = std::find(f.active_.begin(), f.active_.end(), job);
  if (it != f.active_.end()) f.active_.erase(it);
}

namespace {

using Job = RelayForwarder::Job;

// Arms the watchdog for the next step: it closes the socket when the step
// (or the whole exchange) runs out of time.
void arm(const std::shared_ptr<Job>& job) {
  const core::TimePoint step_end = core::SteadyClock::now() + job->settings->step_timeout;
  job->watchdog.expires_at(std::min(step_end, job->deadline));
  const std::uint64_t gen = ++job->generation;
  job->watchdog.async_wait([job, gen](const asio::error_code& ec) {
    if (ec || gen != job->generation) return;
    job->timed_out = true;
    asio::error_code ignored;
    job->sock.close(ignored);
  });
}

// Reads one whole reply; returns its code, or 0 on a failure.
asio::awaitable<int> read_reply(const std::shared_ptr<Job>& job, smtp::ReplyParser& parser) {
  char buf[4096];
  for (;;) {
    if (!job->in.empty()) {
      std::string_view v(job->in);
      const auto st = parser.next(v);
      job->in.erase(0, job->in.size() - v.size());
      if (st == smtp::ReplyParser::Status::kReply) co_return parser.code();
      if (st == smtp::ReplyParser::Status::kBad) co_return 0;
    }
    auto [ec, n] = co_await job->sock.async_read_some(asio::buffer(buf), kTuple);
    if (ec) co_return 0;
    job->in.append(buf, n);
  }
}

asio::awaitable<bool> send_all(const std::shared_ptr<Job>& job, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(job->sock, asio::buffer(data.data(), data.size()), kTuple);
  co_return !ec && n == data.size();
}

// One step: send `line` (unless empty), read a reply, expect `want` as its
// first digit. On failure sets `result`.
asio::awaitable<bool> step(const std::shared_ptr<Job>& job, smtp::ReplyParser& parser, std::string_view what,
                           std::string_view line, char want, std::string& result) {
  arm(job);
  if (!line.empty() && !co_await send_all(job, line)) {
    result = std::string(what) + "_send_failed";
    co_return false;
  }
  const int code = co_await read_reply(job, parser);
  if (code == 0) {
    result = std::string(what) + "_no_reply";
    co_return false;
  }
  if (code / 100 != want - '0') {
    result = std::string(what) + "_refused_" + std::to_string(code);
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> run_job(RelayForwarder& f, std::shared_ptr<Job> job, core::Logger& logger) {
  std::string result = "ok";
  smtp::ReplyParser parser;
  const RelaySettings& s = *job->settings;
  do {
    if (job->stopped) {
      result = "not_sent";
      break;
    }
    asio::error_code ec;
    const auto addr = asio::ip::make_address(s.smarthost_host, ec);
    if (ec) {
      result = "bad_smarthost";
      break;
    }
    arm(job);
    std::tie(ec) = co_await job->sock.async_connect(tcp::endpoint(addr, s.smarthost_port), kTuple);
    if (ec) {
      result = "connect_failed";
      break;
    }
    if (!co_await step(job, parser, "greeting", {}, '2', result)) break;
    if (!co_await step(job, parser, "ehlo", "EHLO " + s.helo + "\r\n", '2', result)) break;
    if (!co_await step(job, parser, "mail", "MAIL FROM:<" + job->from + ">\r\n", '2', result)) break;
    if (!co_await step(job, parser, "rcpt", "RCPT TO:<" + job->rcpt + ">\r\n", '2', result)) break;
    if (!co_await step(job, parser, "data", "DATA\r\n", '3', result)) break;
    std::string wire;
    stuff_body(job->body, wire);
    std::vector<char>().swap(job->body);
    if (!co_await step(job, parser, "dot", wire, '2', result)) break;
    std::string().swap(wire);
    // The message is accepted; QUIT is a courtesy, its failure is not ours.
    std::string ignored;
    co_await step(job, parser, "quit", "QUIT\r\n", '2', ignored);
  } while (false);
  if (result != "ok") {
    if (job->stopped) result = "shutdown";
    else if (job->timed_out) result += "_timeout";
  }
  ++job->generation;  // any watchdog still armed is stale
  asio::error_code ignored;
  job->watchdog.cancel();
  job->sock.close(ignored);
  core::log(logger, result == "ok" ? core::Level::kInfo : core::Level::kWarn, [&](core::LogLine& l) {
    char ip[64];
    l.str("event", "relay_forward").str("host", std::string_view(ip, job->host.format(ip)));
    l.peer("from", job->from).peer("rcpt", job->rcpt).num("size", job->body_size);
    l.str("smarthost", s.smarthost_host + ":" + std::to_string(s.smarthost_port)).str("result", result);
  });
  finish_job(f, job);
}

}  // namespace

bool RelayForwarder::begin_message(const core::IpAddress& ip, core::TimePoint& token) {
  if (stopped_ || !settings_ || !settings_->enabled()) return false;
  token = core::SteadyClock::now();
  return gate_.begin(ip, token, session::ForwardGate::Settings{settings_->threshold, settings_->forward_max});
}

std::uint64_t RelayForwarder::forward_size_limit() const { return settings_ ? settings_->forward_size : 0; }

void RelayForwarder::forward(const core::IpAddress& ip, core::TimePoint, std::string_view from, std::string_view rcpt,
                             std::vector<char>&& body) {
  auto job = std::make_shared<Job>(ctx_);
  job->settings = settings_;
  job->host = ip;
  job->from.assign(from);
  job->rcpt.assign(rcpt);
  job->body_size = body.size();
  job->body = std::move(body);
  job->deadline = core::SteadyClock::now() + settings_->total_timeout;
  job->stopped = stopped_;  // granted before shutdown, ended after: logged, not sent
  active_.push_back(job);
  asio::co_spawn(ctx_, run_job(*this, job, logger_), asio::detached);
}

void RelayForwarder::stop() {
  stopped_ = true;
  for (auto& job : active_) {
    job->stopped = true;
    asio::error_code ignored;
    job->sock.close(ignored);
  }
}

}  // namespace spamsink::net
