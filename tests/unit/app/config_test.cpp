// Tests of app/config: defaults, flags, the TOML file, precedence, and the
// errors an admin sees for bad values.
#include "app/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

namespace spamsink::app {
namespace {

ParseResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), "spamsink");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data());
}

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Config, DefaultsGiveASinkOnLoopback2525AndATarpitOn2526) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->listeners.size(), 2u);
  EXPECT_EQ(r.config->listeners[0].host, "127.0.0.1");
  EXPECT_EQ(r.config->listeners[0].port, 2525);
  EXPECT_EQ(r.config->listeners[0].mode, core::Mode::kSink);
  EXPECT_EQ(r.config->listeners[0].early.greet_delay, core::Duration::zero());
  EXPECT_EQ(r.config->listeners[1].host, "127.0.0.1");
  EXPECT_EQ(r.config->listeners[1].port, 2526);
  EXPECT_EQ(r.config->listeners[1].mode, core::Mode::kTarpit);
  EXPECT_EQ(r.config->listeners[1].tarpit.greet_delay, core::Seconds{5});
  EXPECT_EQ(r.config->limits.line_length_bytes, 2048u);
  EXPECT_EQ(r.config->limits.message_size_bytes, 10240000u);
  EXPECT_GE(r.config->threads, 1);
  EXPECT_FALSE(r.config->hostname.empty());
}

TEST(Config, GreetDelayGivenAppliesToEveryListener) {
  auto r = parse({"--greet-delay", "2s", "--early-talker", "defer", "--early-talker-reject-type", "temp",
                  "--sink", "127.0.0.1:0", "--tarpit", "127.0.0.1:0"});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->listeners.size(), 2u);
  EXPECT_EQ(r.config->listeners[0].early.greet_delay, core::Seconds{2});
  EXPECT_EQ(r.config->listeners[0].early.action, session::EarlyTalkPolicy::Action::kDefer);
  EXPECT_FALSE(r.config->listeners[0].early.permanent);
  EXPECT_EQ(r.config->listeners[1].tarpit.greet_delay, core::Seconds{2});
}

TEST(Config, FlagsSetEveryKindOfValue) {
  auto r = parse({"--message-size-limit", "20M", "--command-timeout", "500ms", "--session-lifetime", "2h",
                  "--recipient-limit", "5", "--threads", "3", "--hostname", "mx.example.test", "--log-format",
                  "json", "--body-hash", "none"});
  ASSERT_TRUE(r.config) << r.output;
  const Config& c = *r.config;
  EXPECT_EQ(c.limits.message_size_bytes, 20u << 20);
  EXPECT_EQ(c.limits.command_time, core::Millis{500});
  EXPECT_EQ(c.limits.session_lifetime, core::Seconds{7200});
  EXPECT_EQ(c.limits.recipients_per_message, 5u);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.hostname, "mx.example.test");
  EXPECT_EQ(c.log_format, core::LogFormat::kJson);
  EXPECT_FALSE(c.hash_bodies);
  // Listeners inherit the global limits.
  EXPECT_EQ(c.listeners[0].limits.message_size_bytes, 20u << 20);
}

TEST(Config, BadValuesNameTheKeyAndExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string key;
  } cases[] = {
      {{"--message-size-limit", "10Q"}, "message_size_limit"},
      {{"--command-timeout", "5x"}, "command_timeout"},
      {{"--line-length-limit", "100"}, "line_length_limit"},
      {{"--threads", "-1"}, "threads"},
      {{"--log-format", "xml"}, "log_format"},
      {{"--hostname", "bad host"}, "hostname"},
      {{"--sink", "localhost:25"}, "address"},
      {{"--sink", "127.0.0.1"}, "address"},
      {{"--sink", "::1:25"}, "address"},
      {{"--sink", "127.0.0.1:70000"}, "address"},
      {{"--tls", "maybe"}, "tls"},
      {{"--tls-cert", "/nonexistent/cert.pem"}, "tls_cert is set but tls_key is not"},
      {{"--tls-key", "/nonexistent/key.pem"}, "tls_key is set but tls_cert is not"},
      {{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, "tls_cert: /nonexistent/c.pem: cannot read"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    EXPECT_FALSE(r.config) << c.args[0] << " " << c.args[1];
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(c.key), std::string::npos) << r.output;
  }
}

TEST(Config, TlsIsOnByDefaultWithoutFilesAndCanBeTurnedOff) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_TRUE(r.config->tls);
  EXPECT_TRUE(r.config->tls_cert.empty());
  EXPECT_EQ(r.config->tls_context, nullptr);  // the self-signed one is made by the app, not here
  auto off = parse({"--tls", "no"});
  ASSERT_TRUE(off.config) << off.output;
  EXPECT_FALSE(off.config->tls);
}

TEST(Config, UnknownFlagIsUsageError) {
  auto r = parse({"--no-such-flag"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Config, HelpListsEveryKeyAndExits0) {
  auto r = parse({"--help"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--sink", "--config", "--check-config", "--threads", "--hostname", "--max-conns",
                           "--max-conns-per-ip", "--line-length-limit", "--body-line-limit", "--message-size-limit",
                           "--recipient-limit", "--error-limit", "--junk-command-limit", "--command-timeout",
                           "--session-lifetime", "--shutdown-grace", "--log-format", "--log-target", "--log-level",
                           "--user", "--body-hash", "--tarpit", "--tarpit-strategy", "--tarpit-interval",
                           "--tarpit-drip-bytes", "--tarpit-max-hold", "--tarpit-high-water", "--greet-delay",
                           "--greet-teaser", "--early-talker", "--early-talker-reject-type", "--early-talker-allow",
                           "--tarpit-delay-helo", "--tarpit-delay-mail", "--tarpit-delay-rcpt", "--tarpit-delay-data",
                           "--tarpit-delay-data-end", "--tarpit-delay-unknown", "--recipient-overshoot-limit", "--state-dir", "--db",
                           "--retain-days", "--retain-sessions", "--store-queue", "spamsink hosts", "spamsink stats"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

TEST(Config, StoreKeys) {
  auto d = parse({});
  ASSERT_TRUE(d.config) << d.output;
  EXPECT_EQ(d.config->db, "var/spamsink.db");
  EXPECT_EQ(d.config->retain_days, 90u);
  EXPECT_EQ(d.config->retain_sessions, 1000000u);
  EXPECT_EQ(d.config->store_queue, 8192u);
  auto s = parse({"--state-dir", "/srv/ss", "--retain-days", "0", "--retain-sessions", "500", "--store-queue", "64"});
  ASSERT_TRUE(s.config) << s.output;
  EXPECT_EQ(s.config->db, "/srv/ss/spamsink.db");
  EXPECT_EQ(s.config->retain_days, 0u);
  EXPECT_EQ(s.config->retain_sessions, 500u);
  EXPECT_EQ(s.config->store_queue, 64u);
  auto none = parse({"--db", "none", "--state-dir", "/srv/ss"});
  ASSERT_TRUE(none.config) << none.output;
  EXPECT_EQ(none.config->db, "");
  auto path = parse({"--config", write_file("store.toml", "db = \"/tmp/x.db\"\nretain_days = 7\n")});
  ASSERT_TRUE(path.config) << path.output;
  EXPECT_EQ(path.config->db, "/tmp/x.db");
  EXPECT_EQ(path.config->retain_days, 7u);
  for (auto [flag, value, key] : {std::tuple{"--store-queue", "10", "store_queue"}, {"--retain-days", "-1", "retain_days"},
                                  {"--retain-sessions", "x", "retain_sessions"}, {"--db", "", "db"},
                                  {"--db", "postgresql://h/db", "db"}}) {
    auto r = parse({flag, value});
    EXPECT_FALSE(r.config) << flag;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(key), std::string::npos) << r.output;
  }
}

TEST(Config, Ipv6AndRepeatedSinks) {
  auto r = parse({"--sink", "[::1]:2525", "--sink", "127.0.0.2:0", "--sink", "[::]:25"});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->listeners.size(), 3u);
  EXPECT_EQ(r.config->listeners[0].host, "::1");
  EXPECT_EQ(r.config->listeners[1].port, 0);
  EXPECT_EQ(r.config->listeners[2].host, "::");
}

TEST(Config, TarpitListenersAndTheirSettings) {
  auto r = parse({"--sink", "127.0.0.1:2600", "--tarpit", "127.0.0.1:2601", "--tarpit-max-hold", "10m",
                  "--tarpit-strategy", "banner", "--early-talker", "defer", "--early-talker-allow", "10.0.0.0/8,::1"});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->listeners.size(), 2u);
  const auto& t = r.config->listeners[1];
  EXPECT_EQ(t.mode, core::Mode::kTarpit);
  EXPECT_EQ(t.tarpit.strategy, net::TarpitSettings::Strategy::kBanner);
  EXPECT_EQ(t.tarpit.max_hold, core::Seconds{600});
  EXPECT_EQ(t.limits.session_lifetime, core::Seconds{600});  // max-hold is the tarpit's lifetime
  EXPECT_EQ(t.tarpit.early_action, net::TarpitSettings::EarlyAction::kDefer);
  ASSERT_EQ(t.tarpit.early_allow.size(), 2u);
  EXPECT_EQ(t.tarpit.early_allow[0].prefix, 96 + 8);
  EXPECT_EQ(t.tarpit.early_allow[1].prefix, 128);
  EXPECT_EQ(r.config->listeners[0].limits.session_lifetime, core::Seconds{3600});  // the sink keeps its own
  for (std::vector<std::string> bad : {std::vector<std::string>{"--tarpit-strategy", "sleep"},
                                       {"--early-talker", "drop"},
                                       {"--early-talker-allow", "10.0.0.0/33"},
                                       {"--early-talker-allow", "example.com/8"},
                                       {"--tarpit-interval", "1ms"},
                                       {"--tarpit-high-water", "0"}}) {
    bad.insert(bad.begin(), {"--tarpit", "127.0.0.1:2602"});
    auto b = parse(bad);
    EXPECT_EQ(b.exit_code, 2) << bad[2] << " " << bad[3];
  }
  // A greet delay as long as the hold would greet nobody.
  auto g = parse({"--tarpit", "127.0.0.1:2602", "--greet-delay", "10s", "--tarpit-max-hold", "10s"});
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.output.find("greet_delay"), std::string::npos) << g.output;
}

TEST(Config, RelayListenersAndForwardingBounds) {
  auto r = parse({"--relay", "127.0.0.1:2610", "--relay-threshold", "2", "--relay-smarthost", "127.0.0.1:2525",
                  "--relay-forward-max", "5", "--relay-forward-size", "64K"});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->listeners.size(), 1u);
  EXPECT_EQ(r.config->listeners[0].mode, core::Mode::kRelay);
  EXPECT_EQ(r.config->relay.threshold, 2u);
  EXPECT_EQ(r.config->relay.smarthost_host, "127.0.0.1");
  EXPECT_EQ(r.config->relay.smarthost_port, 2525);
  EXPECT_EQ(r.config->relay.forward_max, 5u);
  EXPECT_EQ(r.config->relay.forward_size, 64u * 1024);
  EXPECT_TRUE(r.config->relay.enabled());

  auto d = parse({"--relay", "127.0.0.1:2610"});
  ASSERT_TRUE(d.config) << d.output;
  EXPECT_EQ(d.config->relay.threshold, 0u);  // the defaults: forward nothing
  EXPECT_EQ(d.config->relay.forward_max, 10u);
  EXPECT_EQ(d.config->relay.forward_size, 1024u * 1024);
  EXPECT_FALSE(d.config->relay.enabled());

  // A threshold without a smarthost: an error naming both keys.
  auto n = parse({"--relay", "127.0.0.1:2610", "--relay-threshold", "3"});
  EXPECT_EQ(n.exit_code, 2);
  EXPECT_NE(n.output.find("relay_threshold"), std::string::npos) << n.output;
  EXPECT_NE(n.output.find("relay_smarthost"), std::string::npos) << n.output;
  // The smarthost may not be our own relay listener.
  auto loop = parse({"--relay", "127.0.0.1:2610", "--relay-threshold", "1", "--relay-smarthost", "127.0.0.1:2610"});
  EXPECT_EQ(loop.exit_code, 2);
  EXPECT_NE(loop.output.find("loop"), std::string::npos) << loop.output;
  for (std::vector<std::string> bad : {std::vector<std::string>{"--relay-smarthost", "mail.example:25"},
                                       {"--relay-smarthost", "127.0.0.1:0"},
                                       {"--relay-threshold", "-1"},
                                       {"--relay-forward-max", "x"},
                                       {"--relay-forward-size", "10"},
                                       {"--relay", "localhost:25"}}) {
    auto b = parse(bad);
    EXPECT_EQ(b.exit_code, 2) << bad[0] << " " << bad[1];
    EXPECT_NE(b.output.find(bad[0].substr(2, 5)), std::string::npos) << b.output;
  }

  auto f = parse({"--config", write_file("relay.toml", R"(
relay_threshold = 1
relay_smarthost = "[::1]:25"
[[listener]]
mode = "relay"
address = "127.0.0.1:2611"
[[listener]]
mode = "sink"
address = "127.0.0.1:2612"
)")});
  ASSERT_TRUE(f.config) << f.output;
  EXPECT_EQ(f.config->listeners[0].mode, core::Mode::kRelay);
  EXPECT_EQ(f.config->listeners[1].mode, core::Mode::kSink);
  EXPECT_EQ(f.config->relay.smarthost_host, "::1");
  EXPECT_NE(describe(*f.config).find("relay_smarthost = \"[::1]:25\""), std::string::npos) << describe(*f.config);
}

TEST(Config, SpamtrapFile) {
  auto good = write_file("traps.txt", "# traps\ntrap@example.test\n*@trap.example\n*@*.traps.example\n");
  auto r = parse({"--spamtrap-file", good});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_TRUE(r.config->spamtraps);
  EXPECT_EQ(r.config->spamtraps->size(), 3u);
  EXPECT_TRUE(r.config->spamtraps->match("x@a.traps.example"));

  auto bad = parse({"--spamtrap-file", write_file("badtraps.txt", "ok@example.test\nno-at-sign\n")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("spamtrap_file"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("line 2"), std::string::npos) << bad.output;

  auto missing = parse({"--spamtrap-file", ::testing::TempDir() + "no-such-traps.txt"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("cannot read"), std::string::npos) << missing.output;

  auto none = parse({});
  ASSERT_TRUE(none.config);
  EXPECT_FALSE(none.config->spamtraps);
}

TEST(Config, DuplicateListenerIsAnError) {
  auto r = parse({"--sink", "127.0.0.1:2600", "--sink", "127.0.0.1:2600"});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("twice"), std::string::npos);
}

TEST(Config, FileListenersOverridesAndPrecedence) {
  auto path = write_file("good.toml", R"(
threads = 2
message_size_limit = "1M"
command_timeout = 30
[[listener]]
mode = "sink"
address = "127.0.0.1:2600"
[[listener]]
address = "[::1]:2601"
message_size_limit = "2K"
)");
  auto r = parse({"--config", path, "--threads", "4"});
  ASSERT_TRUE(r.config) << r.output;
  const Config& c = *r.config;
  EXPECT_EQ(c.threads, 4);  // the flag wins over the file
  EXPECT_EQ(c.limits.command_time, core::Seconds{30});
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].limits.message_size_bytes, 1u << 20);
  EXPECT_EQ(c.listeners[1].limits.message_size_bytes, 2048u);
  EXPECT_EQ(c.listeners[1].host, "::1");

  // Listeners on the command line replace the file's.
  auto r2 = parse({"--config", path, "--sink", "127.0.0.1:2700"});
  ASSERT_TRUE(r2.config);
  ASSERT_EQ(r2.config->listeners.size(), 1u);
  EXPECT_EQ(r2.config->listeners[0].port, 2700);
}

TEST(Config, FileErrorsNameFileLineAndKey) {
  auto unknown = parse({"--config", write_file("unknown.toml", "threads = 1\nbogus_key = 3\n")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("bogus_key"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("line 2"), std::string::npos) << unknown.output;

  auto badval = parse({"--config", write_file("badval.toml", "recipient_limit = \"many\"\n")});
  EXPECT_EQ(badval.exit_code, 2);
  EXPECT_NE(badval.output.find("recipient_limit"), std::string::npos) << badval.output;

  auto syntax = parse({"--config", write_file("syntax.toml", "threads = = 2\n")});
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_NE(syntax.output.find("syntax.toml"), std::string::npos) << syntax.output;

  auto mode = parse({"--config", write_file("mode.toml", "[[listener]]\nmode = \"bogus\"\naddress = \"127.0.0.1:1\"\n")});
  EXPECT_EQ(mode.exit_code, 2);
  EXPECT_NE(mode.output.find("mode"), std::string::npos) << mode.output;

  auto missing = parse({"--config", ::testing::TempDir() + "does-not-exist.toml"});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(Config, CheckConfigDescribesTheEffectiveConfig) {
  auto r = parse({"--check-config", "--sink", "127.0.0.1:2600", "--message-size-limit", "1K"});
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(r.config->check_only);
  std::string d = describe(*r.config);
  EXPECT_NE(d.find("address = \"127.0.0.1:2600\""), std::string::npos) << d;
  EXPECT_NE(d.find("message_size_limit = 1024"), std::string::npos) << d;
}

TEST(Config, PersonaAndItsOwnLimits) {
  auto d = parse({});
  ASSERT_TRUE(d.config) << d.output;
  EXPECT_EQ(d.config->persona, "postfix");
  EXPECT_EQ(d.config->persona_data.name, "postfix");
  EXPECT_EQ(d.config->limits.line_length_bytes, 2048u);
  EXPECT_EQ(d.config->limits.errors_per_session, 20u);

  // Unset limits take the persona's own; a configured one wins.
  auto e = parse({"--persona", "exim"});
  ASSERT_TRUE(e.config) << e.output;
  EXPECT_EQ(e.config->persona_data.name, "exim");
  EXPECT_EQ(e.config->limits.line_length_bytes, 16384u);
  EXPECT_EQ(e.config->limits.errors_per_session, 4u);
  EXPECT_EQ(e.config->listeners[0].limits.errors_per_session, 4u);
  auto f = parse({"--persona", "exim", "--error-limit", "9", "--config",
                  write_file("persona.toml", "line_length_limit = 4096\n")});
  ASSERT_TRUE(f.config) << f.output;
  EXPECT_EQ(f.config->limits.errors_per_session, 9u);
  EXPECT_EQ(f.config->limits.line_length_bytes, 4096u);
  EXPECT_NE(describe(*f.config).find("persona = \"exim\""), std::string::npos);

  auto bad = parse({"--persona", "qmail"});
  EXPECT_FALSE(bad.config);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("persona: bad value 'qmail'"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("exchange, exim, opensmtpd, postfix, sendmail"), std::string::npos) << bad.output;
}

TEST(Config, PersonaFile) {
  const std::string good(*smtp::builtin_persona_text("postfix"));
  std::string mine = good;
  mine.replace(mine.find("ESMTP Postfix (Debian/GNU)\""), 27, "ESMTP Mine\"");
  auto r = parse({"--persona", "exim", "--persona-file", write_file("mine.toml", mine)});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->persona_data.texts[static_cast<std::size_t>(smtp::ReplyId::kGreeting)], "220 {host} ESMTP Mine");
  EXPECT_EQ(r.config->limits.line_length_bytes, 2048u);  // the file's persona, not exim's

  std::string broken = good;
  broken.replace(broken.find("quit = \"221"), 12, "quit = \"22x");
  const std::string path = write_file("broken.toml", broken);
  auto b = parse({"--persona-file", path});
  EXPECT_FALSE(b.config);
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.output.find("persona_file: " + path + ": replies.quit:"), std::string::npos) << b.output;
  auto m = parse({"--persona-file", "/nonexistent/persona.toml"});
  EXPECT_FALSE(m.config);
  EXPECT_NE(m.output.find("persona_file: cannot read '/nonexistent/persona.toml'"), std::string::npos) << m.output;
}

TEST(Config, ApiAddressTokenAndNeverList) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->api_host, "127.0.0.1");
  EXPECT_EQ(r.config->api_port, 8025);
  EXPECT_TRUE(r.config->api_token.empty());
  r = parse({"--api", "none"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_TRUE(r.config->api_host.empty());
  r = parse({"--api", "[::1]:0", "--never-list", "192.0.2.0/24", "--never-list", "2001:db8::/32,198.51.100.7"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->api_host, "::1");
  EXPECT_EQ(r.config->api_port, 0);
  ASSERT_EQ(r.config->never_list.size(), 3u);
  EXPECT_EQ(r.config->never_list[0].prefix, 96 + 24);
  EXPECT_EQ(r.config->never_list[1].prefix, 32);
  EXPECT_EQ(r.config->never_list[2].prefix, 128);

  // Outside loopback: refused without a token file, with the key named.
  for (const char* addr : {"0.0.0.0:8025", "[::]:8025", "192.0.2.1:80"}) {
    r = parse({"--api", addr});
    EXPECT_FALSE(r.config) << addr;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find("api_token_file"), std::string::npos) << r.output;
  }
  const std::string tok = write_file("api_token_ok", "  0123456789abcdef-token\n");
  r = parse({"--api", "0.0.0.0:8025", "--api-token-file", tok});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->api_token, "0123456789abcdef-token");
  EXPECT_EQ(describe(*r.config).find("0123456789abcdef-token"), std::string::npos) << "the token is never printed";
  for (const std::string& bad : {write_file("api_token_short", "short\n"), write_file("api_token_space", "0123456789 abcdef-token"),
                                 ::testing::TempDir() + "no_such_token_file"}) {
    r = parse({"--api-token-file", bad});
    EXPECT_FALSE(r.config) << bad;
    EXPECT_NE(r.output.find("api_token_file"), std::string::npos) << r.output;
  }
  for (const char* bad : {"localhost:8025", "127.0.0.1", "[::1]:99999"}) {
    r = parse({"--api", bad});
    EXPECT_FALSE(r.config) << bad;
    EXPECT_NE(r.output.find("api: bad value"), std::string::npos) << r.output;
  }
  r = parse({"--never-list", "192.0.2.0/33"});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("never_list: bad value '192.0.2.0/33'"), std::string::npos) << r.output;
}

TEST(Config, NeverListInTomlIsAnArrayAndFlagsReplaceIt) {
  const std::string path = write_file("never.toml", "api = \"127.0.0.1:0\"\nnever_list = [\"10.0.0.0/8\", \"::1\"]\n");
  auto r = parse({"--config", path});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->api_port, 0);
  ASSERT_EQ(r.config->never_list.size(), 2u);
  EXPECT_NE(describe(*r.config).find("never_list = [\"10.0.0.0/8\", \"::1/128\"]"), std::string::npos)
      << describe(*r.config);
  r = parse({"--config", path, "--never-list", "192.0.2.1"});
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->never_list.size(), 1u);
  const std::string bad = write_file("never_bad.toml", "never_list = [\"10.0.0.0/8\", 5]\n");
  r = parse({"--config", bad});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("never_list: must be an array of strings"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace spamsink::app
