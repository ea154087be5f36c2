// The API over real HTTP on 127.0.0.1 (port 0), with a fake Reader.
#include "http/api.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "fake_reader.hpp"
#include "http/params.hpp"

namespace spamsink::http {
namespace {

using namespace std::chrono;
using testing::FakeReader;
using json = nlohmann::json;

const sys_seconds kT0 = sys_days{year{2026} / 11 / 25} + hours{4};

store::HostRow host(const char* ip, std::uint64_t sessions, int age_s) {
  store::HostRow h;
  h.ip = *parse_ip(ip);
  h.first_seen = kT0 - seconds{age_s + 100};
  h.last_seen = kT0 - seconds{age_s};
  h.sessions = sessions;
  h.messages = sessions * 3;
  h.last_helo = "helo-" + std::string(ip);
  return h;
}

class ApiTest : public ::testing::Test {
 protected:
  void start(std::string token = {}, std::vector<core::Cidr> never = {}, bool with_reader = true) {
    ApiOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.token = std::move(token);
    o.never_list = std::move(never);
    server_ = std::make_unique<ApiServer>(
        o, with_reader ? &reader_ : nullptr, with_reader ? &reader_ : nullptr,
        [this] { return std::vector<OpenSessions>{{"sink:127.0.0.1:2525", core::Mode::kSink, open_sink_},
                                                  {"tarpit:127.0.0.1:2526", core::Mode::kTarpit, 3}}; },
        logger_);
    server_->bind();
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  httplib::Result get(const std::string& path, const httplib::Headers& h = {}) { return client_->Get(path, h); }
  json get_json(const std::string& path, int status = 200) {
    auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body);
  }

  FakeReader reader_;
  std::uint32_t open_sink_ = 2;
  core::NullLogger logger_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiTest, Healthz) {
  start();
  EXPECT_EQ(get_json("/healthz")["status"], "ok");
  EXPECT_EQ(server_->bound_address(), "127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(ApiTest, StatsCombineStoreTotalsAndOpenSessions) {
  reader_.totals.messages = 120;
  reader_.totals.recipients = 360;
  reader_.totals.bytes_discarded = 1228800;
  reader_.totals.sessions_total = 40;
  reader_.totals.tarpit_seconds = 3605.5;
  reader_.totals.unique_hosts = 7;
  reader_.totals.early_talkers = 3;
  reader_.totals.trap_hits = 1;
  reader_.totals.relay_attempts = 2;
  reader_.totals.since = kT0;
  reader_.totals.per_mode[0].sessions = 30;
  reader_.totals.per_mode[0].messages = 120;
  reader_.totals.per_mode[1].sessions = 10;
  reader_.totals.per_mode[1].tarpit_seconds = 3605.5;
  start();
  auto j = get_json("/api/v1/stats");
  EXPECT_EQ(j["since"], "2026-11-25T04:00:00Z");
  EXPECT_EQ(j["messages"], 120);
  EXPECT_EQ(j["recipients"], 360);
  EXPECT_EQ(j["bytes_discarded"], 1228800);
  EXPECT_EQ(j["sessions_total"], 40);
  EXPECT_EQ(j["sessions_open"], 5);
  EXPECT_EQ(j["tarpit_seconds"], 3605.5);
  EXPECT_EQ(j["unique_hosts"], 7);
  EXPECT_EQ(j["early_talkers"], 3);
  EXPECT_EQ(j["trap_hits"], 1);
  EXPECT_EQ(j["relay_attempts"], 2);
  EXPECT_EQ(j["per_mode"]["sink"]["sessions"], 30);
  EXPECT_EQ(j["per_mode"]["sink"]["sessions_open"], 2);
  EXPECT_EQ(j["per_mode"]["tarpit"]["sessions_open"], 3);
  EXPECT_EQ(j["per_mode"]["tarpit"]["tarpit_seconds"], 3605.5);
  EXPECT_EQ(j["per_mode"]["relay"]["sessions"], 0);
  ASSERT_EQ(j["listeners"].size(), 2u);
  EXPECT_EQ(j["listeners"][1]["listener"], "tarpit:127.0.0.1:2526");
  open_sink_ = 9;  // live, not cached
  EXPECT_EQ(get_json("/api/v1/stats")["sessions_open"], 12);
}

TEST_F(ApiTest, HostsPagingOrderAndSince) {
  for (int i = 0; i < 25; ++i) {
    const std::string ip = "192.0.2." + std::to_string(i + 1);
    reader_.host_rows.push_back(host(ip.c_str(), static_cast<std::uint64_t>(i % 7), i * 10));
  }
  start();
  auto page1 = get_json("/api/v1/hosts?limit=10");
  ASSERT_EQ(page1["hosts"].size(), 10u);
  EXPECT_EQ(page1["hosts"][0]["ip"], "192.0.2.1");  // newest first
  EXPECT_EQ(page1["hosts"][0]["last_seen"], "2026-11-25T04:00:00Z");
  std::set<std::string> seen;
  json page = page1;
  for (int i = 0; i < 5 && true; ++i) {
    for (const auto& h : page["hosts"]) seen.insert(h["ip"].get<std::string>());
    if (page["next_cursor"].is_null()) break;
    page = get_json("/api/v1/hosts?limit=10&cursor=" + page["next_cursor"].get<std::string>());
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_TRUE(page["next_cursor"].is_null());
  auto by_sessions = get_json("/api/v1/hosts?order=sessions&limit=3");
  EXPECT_EQ(by_sessions["hosts"][0]["sessions"], 6);
  auto recent = get_json("/api/v1/hosts?since=2026-11-25T03:59:00Z&limit=100");
  EXPECT_EQ(recent["hosts"].size(), 7u);  // ages 0..60 s
}

TEST_F(ApiTest, HostByAddressV4V6And404) {
  reader_.host_rows = {host("127.0.0.1", 2, 0), host("::1", 1, 5), host("2001:db8::7", 1, 9)};
  reader_.host_rows[0].last_helo = "<script>alert(1)</script>\xff\xfe";
  start();
  auto v4 = get("/api/v1/hosts/127.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->status, 200);
  EXPECT_EQ(v4->body.find("<script>"), std::string::npos);
  auto j = json::parse(v4->body);  // valid JSON although the HELO was not UTF-8
  EXPECT_EQ(j["ip"], "127.0.0.1");
  EXPECT_EQ(j["last_helo"], "<script>alert(1)</script>\xc3\xbf\xc3\xbe");
  EXPECT_EQ(get_json("/api/v1/hosts/::1")["ip"], "::1");
  EXPECT_EQ(get_json("/api/v1/hosts/%3A%3A1")["ip"], "::1");
  EXPECT_EQ(get_json("/api/v1/hosts/2001:DB8::7")["ip"], "2001:db8::7");
  EXPECT_EQ(get_json("/api/v1/hosts/::ffff:127.0.0.1")["ip"], "127.0.0.1");
  auto missing = get_json("/api/v1/hosts/192.0.2.99", 404);
  EXPECT_EQ(missing["error"], "not_found");
  auto bad = get_json("/api/v1/hosts/not-an-ip", 400);
  EXPECT_EQ(bad["parameter"], "ip");
}

TEST_F(ApiTest, SessionsFilters) {
  store::SessionRow s;
  s.id = 7;
  s.ip = *parse_ip("2001:db8::1");
  s.listener = "sink:[::1]:2525";
  s.start = kT0;
  s.end = kT0 + seconds{8};
  s.reason = core::EndReason::kQuit;
  s.helo = "bot\"\\\n";
  s.mail_from = "a@example.com";
  s.recipients = "b@example.net,c@example.net";
  s.recipient_count = 2;
  s.messages = 1;
  s.tls = true;
  reader_.session_rows = {s};
  s.id = 8;
  s.mode = core::Mode::kTarpit;
  s.reason = core::EndReason::kEarlyTalker;
  reader_.session_rows.push_back(s);
  start();
  auto all = get_json("/api/v1/sessions");
  ASSERT_EQ(all["sessions"].size(), 2u);
  EXPECT_EQ(all["sessions"][0]["helo"], "bot\"\\\n");
  EXPECT_EQ(all["sessions"][0]["start"], "2026-11-25T04:00:00Z");
  EXPECT_EQ(all["sessions"][0]["tls"], true);
  EXPECT_EQ(all["sessions"][0]["recipient_count"], 2);
  auto tarpit = get_json("/api/v1/sessions?mode=tarpit&reason=early_talker&ip=2001:db8::1&listener=sink:%5B::1%5D:2525"
                         "&since=2026-11-25T03:00:00Z&until=2026-11-25T05:00:00Z&limit=5");
  ASSERT_EQ(tarpit["sessions"].size(), 1u);
  EXPECT_EQ(tarpit["sessions"][0]["id"], 8);
  EXPECT_EQ(reader_.last_session_query.listener, "sink:[::1]:2525");
  EXPECT_EQ(reader_.last_session_query.limit, 5u);
  EXPECT_EQ(get_json("/api/v1/sessions?mode=smtp", 400)["parameter"], "mode");
  EXPECT_EQ(get_json("/api/v1/sessions?limit=5000", 400)["parameter"], "limit");
}

TEST_F(ApiTest, BadParametersAre400WithTheName) {
  start();
  for (const auto& [path, param] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/hosts?limit=abc", "limit"},
           {"/api/v1/hosts?order=random", "order"},
           {"/api/v1/hosts?since=2026-11-25", "since"},
           {"/api/v1/blocklist?format=xml", "format"},
           {"/api/v1/blocklist?v6_prefix=200", "v6_prefix"},
           {"/api/v1/blocklist?min_sessions=0", "min_sessions"},
           {"/api/v1/sessions?reason=x", "reason"}}) {
    auto j = get_json(path, 400);
    EXPECT_EQ(j["error"], "bad_parameter") << path;
    EXPECT_EQ(j["parameter"], param) << path;
  }
  EXPECT_EQ(get_json("/api/v1/hosts?cursor=zz", 400)["parameter"], "cursor");  // the store's BadQuery
  EXPECT_EQ(get_json("/api/v2/nothing", 404)["error"], "not_found");
  auto post = client_->Post("/api/v1/stats", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(ApiTest, StoreErrorsAre503AndServingGoesOn) {
  start();
  reader_.fail = true;
  for (const char* path : {"/api/v1/stats", "/api/v1/hosts", "/api/v1/hosts/1.2.3.4", "/api/v1/sessions"})
    EXPECT_EQ(get_json(path, 503)["error"], "store_unavailable") << path;
  // A blocklist streams: its 200 is out before the store is read, so a
  // fault cuts the transfer instead (see BlocklistStoreFaultMidStream...).
  EXPECT_FALSE(get("/api/v1/blocklist"));
  reader_.fail = false;
  EXPECT_EQ(get_json("/api/v1/hosts")["hosts"].size(), 0u);
  reader_.history = false;  // --db none
  EXPECT_EQ(get_json("/api/v1/hosts", 503)["error"], "store_unavailable");
}

TEST_F(ApiTest, NoStoreWired) {
  start({}, {}, false);
  EXPECT_EQ(get_json("/api/v1/stats", 503)["error"], "store_unavailable");
  auto m = get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("spamsink_sessions_open{listener=\"sink:127.0.0.1:2525\",mode=\"sink\"} 2"), std::string::npos);
}

TEST_F(ApiTest, TokenRequiredExceptHealthz) {
  const std::string token = "0123456789abcdef-secret";
  start(token);
  EXPECT_EQ(get_json("/healthz")["status"], "ok");
  for (const char* path : {"/api/v1/stats", "/metrics", "/api/v1/blocklist", "/api/v1/hosts/1.2.3.4", "/nope"}) {
    auto r = get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(json::parse(r->body)["error"], "unauthorized");
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"spamsink\"");
  }
  for (const std::string& wrong : {"Bearer " + token + "x", "Bearer " + token.substr(1), "Basic " + token,
                                   std::string("Bearer "), token})
    EXPECT_EQ(get("/api/v1/stats", {{"Authorization", wrong}})->status, 401) << wrong;
  EXPECT_EQ(get("/api/v1/stats", {{"Authorization", "Bearer " + token}})->status, 200);
  EXPECT_EQ(get("/metrics", {{"Authorization", "bearer " + token}})->status, 200);
}

TEST(Auth, BearerMatches) {
  EXPECT_TRUE(bearer_matches("Bearer abc", "abc"));
  EXPECT_TRUE(bearer_matches("BEARER abc", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer abd", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer ab", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer abcd", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer", "abc"));
  EXPECT_FALSE(bearer_matches("", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));  // an empty token never matches
}

TEST(Auth, Loopback) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.9.8.7"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("::"));
  EXPECT_FALSE(is_loopback("192.0.2.1"));
  EXPECT_FALSE(is_loopback("128.0.0.1"));
}

TEST_F(ApiTest, BlocklistStreamsChunkedWithNeverList) {
  // 5000 hosts: several read batches, several 64 KiB chunks.
  for (int i = 0; i < 5000; ++i) {
    const std::string ip = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                           std::to_string(i % 256);
    reader_.host_rows.push_back(host(ip.c_str(), 1 + i % 3, 0));
  }
  reader_.host_rows.push_back(host("2001:db8:1::1", 1, 0));
  reader_.host_rows.push_back(host("2001:db8:1::2", 1, 0));
  std::vector<core::Cidr> never = {core::Cidr::make(*parse_ip("10.0.1.0"), 96 + 24)};
  start({}, never);
  auto r = get("/api/v1/blocklist?format=txt&v6_prefix=64");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Transfer-Encoding"), "chunked");
  std::size_t lines = 0;
  for (char c : r->body) lines += c == '\n';
  EXPECT_EQ(lines, 5000u - 256u + 1u);
  EXPECT_EQ(r->body.find("10.0.1."), std::string::npos);
  EXPECT_NE(r->body.find("\n2001:db8:1::/64\n"), std::string::npos);
  EXPECT_GE(reader_.blocklist_batches.load(), 5);
  auto min3 = get("/api/v1/blocklist?format=json&min_sessions=3");
  ASSERT_TRUE(min3);
  auto j = json::parse(min3->body);
  EXPECT_EQ(j["entries"].size(), 1666u - 85u);  // i%3==2 among 5000, minus those in 10.0.1.0/24
}

TEST_F(ApiTest, BlocklistStoreFaultMidStreamCutsTheTransfer) {
  for (int i = 0; i < 20000; ++i) {
    const std::string ip = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                           std::to_string(i % 256);
    reader_.host_rows.push_back(host(ip.c_str(), 1, 0));
  }
  reader_.fail_after_rows = 15000;
  start();
  auto r = get("/api/v1/blocklist?format=txt");
  EXPECT_FALSE(r) << "a cut stream must not look like a complete answer";
  reader_.fail_after_rows = -1;
  auto ok = get("/api/v1/blocklist?format=txt");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ApiTest, StopIsCleanAndIdempotent) {
  start();
  EXPECT_EQ(get("/healthz")->status, 200);
  server_->stop();
  server_->stop();
  EXPECT_FALSE(get("/healthz"));
}

}  // namespace
}  // namespace spamsink::http
