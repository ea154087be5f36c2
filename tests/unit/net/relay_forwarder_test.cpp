// Tests for net/relay_forwarder's pure helper: the body as it goes out
// after DATA (dot-stuffed, CRLF-terminated, then ".").
#include "net/relay_forwarder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spamsink::net {
namespace {

std::string stuffed(std::string_view body) {
  std::string out;
  stuff_body(std::vector<char>(body.begin(), body.end()), out);
  return out;
}

TEST(StuffBody, DotsAndTheEnd) {
  EXPECT_EQ(stuffed("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
  EXPECT_EQ(stuffed(".first\r\n"), "..first\r\n.\r\n");
  EXPECT_EQ(stuffed("no end"), "no end\r\n.\r\n");
  EXPECT_EQ(stuffed("lf only\n.x"), "lf only\n..x\r\n.\r\n");
  EXPECT_EQ(stuffed(""), ".\r\n");
  EXPECT_EQ(stuffed("mid.dot\r\n"), "mid.dot\r\n.\r\n");
  // No smuggling: a dot after a bare LF or CR is doubled as well.
  EXPECT_EQ(stuffed("a\n.\nb\r\n"), "a\n..\nb\r\n.\r\n");
  EXPECT_EQ(stuffed("a\r.\rb\r\n"), "a\r..\rb\r\n.\r\n");
}

}  // namespace
}  // namespace spamsink::net

// ---- The client against local peers on a real io_context -----------------

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace spamsink::net {
namespace {

class CaptureLogger final : public core::Logger {
 public:
  bool enabled(core::Level) const override { return true; }
  core::LogFormat format() const override { return core::LogFormat::kKeyValue; }
  void stamp(core::LogLine&, core::Level) const override {}
  void write(core::Level, std::string_view lines) noexcept override { text.append(lines); }
  std::string text;
};

struct Rig {
  asio::io_context ctx;
  ForwardGateShared gate;
  CaptureLogger log;
  RelayForwarder fwd{ctx, gate, log};
  std::shared_ptr<RelaySettings> settings = std::make_shared<RelaySettings>();
  Rig(std::uint16_t port) {
    settings->threshold = 1;
    settings->smarthost_host = "127.0.0.1";
    settings->smarthost_port = port;
    settings->step_timeout = core::Millis{300};
    fwd.set_settings(settings);
  }
  // Runs until the forward logged its line (bounded).
  void forward_one() {
    core::TimePoint token;
    const auto host = core::IpAddress::from_v4(0x7f000002);
    ASSERT_TRUE(fwd.begin_message(host, token));
    fwd.forward(host, token, "a@spam.example", "v@victim.example", std::vector<char>{'h', 'i', '\r', '\n'});
    ctx.run_for(std::chrono::seconds(5));
  }
};

TEST(RelayForwarder, StalledSmarthostTimesOutAtTheStep) {
  asio::io_context other;
  asio::ip::tcp::acceptor stall(other, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Rig rig(stall.local_endpoint().port());  // connects via the backlog; never greets
  const auto t0 = std::chrono::steady_clock::now();
  rig.forward_one();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(rig.log.text.find("result=greeting_no_reply_timeout"), std::string::npos) << rig.log.text;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(rig.fwd.in_flight(), 0u);
}

TEST(RelayForwarder, RefusedConnectionAndSecondGrantDenied) {
  asio::io_context other;
  std::uint16_t port;
  {
    asio::ip::tcp::acceptor a(other, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens
  Rig rig(port);
  rig.forward_one();
  EXPECT_NE(rig.log.text.find("event=relay_forward host=127.0.0.2"), std::string::npos) << rig.log.text;
  EXPECT_NE(rig.log.text.find("result=connect_failed"), std::string::npos) << rig.log.text;
  core::TimePoint token;
  EXPECT_FALSE(rig.fwd.begin_message(core::IpAddress::from_v4(0x7f000002), token));  // threshold 1: used
}

}  // namespace
}  // namespace spamsink::net
