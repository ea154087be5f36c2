// Tests for loadgen/options (smtpsend's command line): the defaults; every
// short and long option sets its field; durations with units; the total
// defaults to senders x messages per connection; -n with -t, -m 0 alone,
// an unknown option, a missing value, a stray argument and every
// out-of-range value exit 2 with the usage; -h exits 0 with the usage;
// --threads is capped at -s except for --hold; parse_options can be called
// again in the same process.
#include "loadgen/options.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace spamsink::loadgen {
namespace {

// The argument strings of every call stay alive to the end of the test
// program: getopt keeps a pointer into the last argv between calls (see
// ReusableInOneProcess), and a freed one would make each test depend on
// the one before it.
OptionsResult parse(const std::vector<std::string>& args) {
  static std::deque<std::string> alive;
  std::vector<char*> argv;
  alive.emplace_back("smtpsend");
  argv.push_back(alive.back().data());
  for (const auto& a : args) {
    alive.push_back(a);
    argv.push_back(alive.back().data());
  }
  const int argc = static_cast<int>(argv.size());
  argv.push_back(nullptr);
  return parse_options(argc, argv.data());
}

Options ok(const std::vector<std::string>& args) {
  OptionsResult r = parse(args);
  EXPECT_TRUE(r.options.has_value()) << r.output;
  EXPECT_EQ(r.exit_code, 0);
  return r.options.value_or(Options{});
}

void expect_bad(const std::vector<std::string>& args, const std::string& says = "") {
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  OptionsResult r = parse(args);
  EXPECT_FALSE(r.options.has_value()) << joined;
  EXPECT_EQ(r.exit_code, 2) << joined;
  EXPECT_EQ(r.output.rfind("smtpsend: ", 0), 0u) << joined << "\n" << r.output;
  EXPECT_NE(r.output.find("usage: smtpsend"), std::string::npos) << joined;
  if (!says.empty()) {
    EXPECT_NE(r.output.find(says), std::string::npos) << joined << "\n" << r.output;
  }
}

TEST(Options, Defaults) {
  Options o = ok({});
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 25);
  EXPECT_EQ(o.senders, 1u);
  EXPECT_EQ(o.per_conn, 1u);
  EXPECT_EQ(o.total, 1u);
  EXPECT_EQ(o.seconds, 0);
  EXPECT_EQ(o.body_bytes, 1024u);
  EXPECT_EQ(o.recipients, 1u);
  EXPECT_FALSE(o.verbose || o.pipelining || o.bdat || o.json || o.early_talk);
  EXPECT_EQ(o.threads, 1u);
  EXPECT_EQ(o.timeout, 30);
  EXPECT_EQ(o.hold, 0u);
  EXPECT_EQ(o.hold_time, 60);
  EXPECT_EQ(o.progress, -1);
}

TEST(Options, SmtpBenchmarkOptions) {
  Options o = ok({"-s", "20", "-m", "5", "-n", "100", "-b", "4096", "-p", "2525", "-F", "a@from.example", "-T",
                  "b@to.example", "-S", "hello there", "-v", "-r", "3", "mx.example.test"});
  EXPECT_EQ(o.senders, 20u);
  EXPECT_EQ(o.per_conn, 5u);
  EXPECT_EQ(o.total, 100u);
  EXPECT_EQ(o.body_bytes, 4096u);
  EXPECT_EQ(o.port, 2525);
  EXPECT_EQ(o.from, "a@from.example");
  EXPECT_EQ(o.to, "b@to.example");
  EXPECT_EQ(o.subject, "hello there");
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.recipients, 3u);
  EXPECT_EQ(o.host, "mx.example.test");
}

TEST(Options, LongOptions) {
  Options o = ok({"--pipelining", "--bdat", "--starttls", "-s", "8", "--threads", "4", "--bind", "127.0.0.2", "--bind", "127.0.0.3",
                  "--rate", "500", "--json", "--timeout", "1", "--helo", "me.example", "--no-progress", "-n", "10"});
  EXPECT_TRUE(o.pipelining);
  EXPECT_TRUE(o.bdat);
  EXPECT_TRUE(o.starttls);
  EXPECT_EQ(o.threads, 4u);
  EXPECT_EQ(o.bind, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(o.rate, 500);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.timeout, 1);
  EXPECT_EQ(o.helo, "me.example");
  EXPECT_EQ(o.progress, 0);
  EXPECT_EQ(ok({"--progress"}).progress, 1);
  EXPECT_EQ(ok({"--rate", "250/s", "-n", "5"}).rate, 250);
}

TEST(Options, Probes) {
  Options o = ok({"--hold", "20", "--hold-time", "2", "--mss", "1460"});
  EXPECT_EQ(o.hold, 20u);
  EXPECT_EQ(o.hold_time, 2);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(ok({"--early-talk"}).early_talk);
}

TEST(Options, DurationUnits) {
  EXPECT_DOUBLE_EQ(ok({"-t", "10"}).seconds, 10);
  EXPECT_DOUBLE_EQ(ok({"-t", "10s"}).seconds, 10);
  EXPECT_DOUBLE_EQ(ok({"-t", "500ms"}).seconds, 0.5);
  EXPECT_DOUBLE_EQ(ok({"-t", "2m"}).seconds, 120);
  EXPECT_DOUBLE_EQ(ok({"-t", "1h"}).seconds, 3600);
  EXPECT_DOUBLE_EQ(ok({"-t", "1.5"}).seconds, 1.5);
  EXPECT_DOUBLE_EQ(ok({"--hold", "1", "--hold-time", "10m"}).hold_time, 600);
  EXPECT_DOUBLE_EQ(ok({"--timeout", "250ms"}).timeout, 0.25);
}

TEST(Options, BatchWait) {
  EXPECT_EQ(ok({}).batch_wait, std::chrono::microseconds{50});
  EXPECT_EQ(ok({"--batch-wait", "0"}).batch_wait, std::chrono::nanoseconds{0});
  EXPECT_EQ(ok({"--batch-wait", "200us"}).batch_wait, std::chrono::microseconds{200});
  EXPECT_EQ(ok({"--batch-wait", "1ms"}).batch_wait, std::chrono::milliseconds{1});
  expect_bad({"--batch-wait", "2ms"}, "--batch-wait");
  expect_bad({"--batch-wait", "-1"}, "--batch-wait");
  expect_bad({"--batch-wait", "fast"}, "--batch-wait");
}

TEST(Options, TotalDefaultsToSendersTimesPerConnection) {
  EXPECT_EQ(ok({"-s", "4", "-m", "5"}).total, 20u);
  EXPECT_EQ(ok({"-s", "4", "-m", "5", "-n", "7"}).total, 7u);
  EXPECT_EQ(ok({"-m", "0", "-n", "7"}).total, 7u);
  // By time: no count.
  Options t = ok({"-s", "3", "-m", "0", "-t", "5"});
  EXPECT_EQ(t.total, 0u);
  EXPECT_EQ(t.seconds, 5);
}

TEST(Options, ThreadsCappedAtSenders) {
  EXPECT_EQ(ok({"-s", "2", "--threads", "8"}).threads, 2u);
  EXPECT_EQ(ok({"-s", "8", "--threads", "8"}).threads, 8u);
  EXPECT_EQ(ok({"--hold", "100", "--threads", "4"}).threads, 4u);  // --hold does not use -s
}

TEST(Options, OptionsAfterHost) {
  Options o = ok({"mx.example.test", "-p", "2526", "-s", "3"});
  EXPECT_EQ(o.host, "mx.example.test");
  EXPECT_EQ(o.port, 2526);
  EXPECT_EQ(o.senders, 3u);
}

TEST(Options, Help) {
  for (const char* h : {"-h", "--help"}) {
    OptionsResult r = parse({h});
    EXPECT_FALSE(r.options.has_value());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output, usage());
  }
}

TEST(Options, UsageListsEveryOption) {
  const std::string u = usage();
  for (const char* opt : {"-s N", "-m N", "-n N", "-t SECONDS", "-b BYTES", "-p PORT", "-F FROM", "-T TO",
                          "-S SUBJECT", "-v ", "-r N", "--pipelining", "--bdat", "--threads", "--bind", "--rate",
                          "--timeout", "--helo", "--json", "--progress", "--no-progress", "--hold N", "--hold-time",
                          "--mss", "--early-talk", "--help"})
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
}

TEST(Options, CountAndTimeConflict) {
  expect_bad({"-n", "100", "-t", "10"}, "-n and -t");
  expect_bad({"-t", "10", "-n", "100"}, "-n and -t");
}

TEST(Options, UnlimitedPerConnectionNeedsAnEnd) { expect_bad({"-m", "0"}, "-m 0"); }

TEST(Options, BadValues) {
  expect_bad({"-s", "0"}, "-s");
  expect_bad({"-s", "100001"}, "-s");
  expect_bad({"-s", "abc"}, "-s");
  expect_bad({"-s", "5x"}, "-s");
  expect_bad({"-s", "-1"}, "-s");
  expect_bad({"-m", "-1"}, "-m");
  expect_bad({"-m", "1000000001"}, "-m");
  expect_bad({"-n", "0"}, "-n");
  expect_bad({"-n", "1x"}, "-n");
  expect_bad({"-t", "0"}, "-t");
  expect_bad({"-t", "-3"}, "-t");
  expect_bad({"-t", "abc"}, "-t");
  expect_bad({"-t", "5x"}, "-t");
  expect_bad({"-t", "s"}, "-t");
  expect_bad({"-t", ""}, "-t");
  expect_bad({"-b", "abc"}, "-b");
  expect_bad({"-b", "-1"}, "-b");
  expect_bad({"-p", "0"}, "-p");
  expect_bad({"-p", "65536"}, "-p");
  expect_bad({"-T", "nobody"}, "-T");
  expect_bad({"-r", "0"}, "-r");
  expect_bad({"--threads", "0"}, "--threads");
  expect_bad({"--threads", "257"}, "--threads");
  expect_bad({"--rate", "0"}, "--rate");
  expect_bad({"--rate", "fast"}, "--rate");
  expect_bad({"--hold", "0"}, "--hold");
  expect_bad({"--hold", "1", "--hold-time", "0"}, "--hold-time");
  expect_bad({"--mss", "87"}, "--mss");
  expect_bad({"--mss", "65536"}, "--mss");
  expect_bad({"--timeout", "0"}, "--timeout");
  expect_bad({"--timeout", "soon"}, "--timeout");
  expect_bad({"--helo", ""}, "--helo");
}

TEST(Options, BadCommandLines) {
  expect_bad({"-x"}, "unknown option");
  expect_bad({"--bogus"}, "unknown option");
  expect_bad({"-s"}, "needs a value");
  expect_bad({"--threads"}, "needs a value");
  expect_bad({"host1", "host2"}, "unexpected argument: host2");
}

TEST(Options, ReusableInOneProcess) {
  // A call that stops in the middle of grouped short options must not leak
  // the rest of the group into the next call. (glibc's getopt resumes from
  // its saved position unless optind is set to 0, not 1.)
  OptionsResult h = parse({"-hv"});
  EXPECT_EQ(h.exit_code, 0);
  Options o = ok({"-s", "3"});
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.senders, 3u);
  expect_bad({"-vx"});
  o = ok({"-m", "2"});
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.per_conn, 2u);
}

}  // namespace
}  // namespace spamsink::loadgen
