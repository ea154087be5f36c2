#include "http/metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace spamsink::http {
namespace {

store::MetricsSnapshot sample() {
  store::MetricsSnapshot s;
  store::ListenerCounters sink;
  sink.listener = "sink:127.0.0.1:2525";
  sink.mode = core::Mode::kSink;
  sink.sessions = 10;
  sink.messages = 20;
  sink.bytes = 4096;
  sink.ended_by[static_cast<std::size_t>(core::EndReason::kQuit)] = 9;
  sink.ended_by[static_cast<std::size_t>(core::EndReason::kTimeout)] = 1;
  sink.session_duration.buckets[0] = 3;  // <= 0.01
  sink.session_duration.buckets[3] = 5;  // <= 1
  sink.session_duration.count = 10;      // 2 above 3600 s
  sink.session_duration.sum = 7300.25;
  store::ListenerCounters tarpit;
  tarpit.listener = "tarpit:[::1]:2526\"\\\n";  // a label value that needs escaping
  tarpit.mode = core::Mode::kTarpit;
  tarpit.sessions = 2;
  tarpit.tarpit_seconds = 12.5;
  tarpit.tarpit_hold.buckets[4] = 2;
  tarpit.tarpit_hold.count = 2;
  tarpit.tarpit_hold.sum = 12.5;
  s.listeners = {sink, tarpit};
  s.queue_depth = 3;
  s.queue_capacity = 65536;
  s.events_dropped = 7;
  s.store_errors = 1;
  s.batches_written = 99;
  return s;
}

const std::vector<OpenSessions> kOpen = {{"sink:127.0.0.1:2525", core::Mode::kSink, 4},
                                         {"tarpit:[::1]:2526\"\\\n", core::Mode::kTarpit, 1}};

TEST(Metrics, CountersGaugesAndHistograms) {
  const auto s = sample();
  const std::string m = render_metrics(&s, kOpen, 1764043500.0);
  EXPECT_NE(m.find("spamsink_sessions_open{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 4\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_sessions_total{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 10\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_sessions_ended_total{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",reason=\"timeout\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_message_bytes_total{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 4096\n"),
            std::string::npos);
  // Cumulative buckets; +Inf equals _count, which includes the 2 above 3600 s.
  EXPECT_NE(m.find("spamsink_session_duration_seconds_bucket{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",le=\"0.01\"} 3\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_bucket{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",le=\"0.5\"} 3\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_bucket{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",le=\"1\"} 8\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_bucket{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",le=\"3600\"} 8\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_bucket{listener=\"sink:127.0.0.1:2525\",mode=\"sink\",le=\"+Inf\"} 10\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_count{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 10\n"),
            std::string::npos);
  EXPECT_NE(m.find("spamsink_session_duration_seconds_sum{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 7300.25\n"),
            std::string::npos);
  EXPECT_NE(m.find("tarpit:[::1]:2526\\\"\\\\\\n\""), std::string::npos) << "label value escaped";
  EXPECT_NE(m.find("spamsink_store_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_store_queue_capacity 65536\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_store_events_dropped_total 7\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_store_errors_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("spamsink_start_time_seconds 1764043500\n"), std::string::npos);
  // One HELP and one TYPE per family, no per-IP label.
  EXPECT_EQ(m.find("ip=\""), std::string::npos);
  std::size_t type_lines = 0;
  for (std::size_t p = 0; (p = m.find("# TYPE spamsink_sessions_total ", p)) != std::string::npos; ++p) ++type_lines;
  EXPECT_EQ(type_lines, 1u);
}

TEST(Metrics, WithoutStoreOnlyLiveGauges) {
  const std::string m = render_metrics(nullptr, kOpen, 1.5);
  EXPECT_NE(m.find("spamsink_sessions_open{"), std::string::npos);
  EXPECT_EQ(m.find("spamsink_sessions_total"), std::string::npos);
  EXPECT_EQ(m.find("spamsink_store_"), std::string::npos);
}

TEST(Metrics, PromtoolAccepts) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const auto s = sample();
  const std::string path = ::testing::TempDir() + "spamsink_metrics_test.prom";
  std::ofstream(path) << render_metrics(&s, kOpen, 1764043500.0);
  const std::string cmd = "/usr/bin/promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool lint findings";
  std::remove(path.c_str());
}

}  // namespace
}  // namespace spamsink::http
