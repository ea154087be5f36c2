// http/dashboard over real HTTP: the embedded page and assets, their
// headers (CSP, ETag, 304), the token rules, and /api/v1/series.
#include "http/dashboard.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "fake_reader.hpp"
#include "http/api.hpp"

namespace spamsink::http {
namespace {

using json = nlohmann::json;
using testing::FakeReader;

constexpr const char* kToken = "0123456789abcdef-token";

class DashboardTest : public ::testing::Test {
 protected:
  void start(std::string token = {}, bool history = true) {
    reader_.history = history;
    ApiOptions o;
    o.port = 0;
    o.token = std::move(token);
    server_ = std::make_unique<ApiServer>(o, &reader_, &reader_, [] { return std::vector<OpenSessions>{}; }, logger_);
    server_->bind();
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  FakeReader reader_;
  core::NullLogger logger_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST(DashboardAssets, TheBundleIsEmbedded) {
  std::size_t n = 0;
  const DashboardAsset* all = dashboard_assets(n);
  ASSERT_GE(n, 3U);
  const DashboardAsset* page = find_dashboard_asset("/");
  const DashboardAsset* js = find_dashboard_asset("/assets/app.js");
  const DashboardAsset* css = find_dashboard_asset("/assets/app.css");
  ASSERT_TRUE(page && js && css);
  EXPECT_NE(page->body.find("<script src=\"/assets/app.js\""), std::string_view::npos);
  // No inline script or style in the page: the CSP would block it.
  EXPECT_EQ(page->body.find("<script>"), std::string_view::npos);
  EXPECT_EQ(page->body.find("<style"), std::string_view::npos);
  EXPECT_EQ(page->body.find(" style="), std::string_view::npos);
  // uPlot is in the bundle, and nothing is fetched from elsewhere.
  EXPECT_NE(js->body.find("uplot"), std::string_view::npos);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(all[i].body.find("https://"), std::string_view::npos) << all[i].path;
    EXPECT_EQ(all[i].etag.front(), '"');
    EXPECT_EQ(all[i].etag.back(), '"');
  }
  EXPECT_EQ(find_dashboard_asset("/assets/nope.js"), nullptr);
}

TEST_F(DashboardTest, PageAndAssetsWithTypesCspAndEtag) {
  start();
  struct Case {
    const char* path;
    const char* type;
  };
  for (const Case& c : {Case{"/", "text/html; charset=utf-8"}, Case{"/assets/app.js", "text/javascript; charset=utf-8"},
                        Case{"/assets/app.css", "text/css; charset=utf-8"}, Case{"/assets/icon.svg", "image/svg+xml"}}) {
    auto r = client_->Get(c.path);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, 200) << c.path;
    EXPECT_EQ(r->get_header_value("Content-Type"), c.type);
    EXPECT_EQ(r->get_header_value("Content-Security-Policy"), kDashboardCsp);
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
    const std::string etag = r->get_header_value("ETag");
    EXPECT_EQ(etag, find_dashboard_asset(c.path)->etag);
    EXPECT_EQ(r->body, find_dashboard_asset(c.path)->body);
    auto again = client_->Get(c.path, {{"If-None-Match", "\"other\", " + etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304) << c.path;
    EXPECT_TRUE(again->body.empty());
    auto stale = client_->Get(c.path, {{"If-None-Match", "\"stale\""}});
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->status, 200);
  }
  EXPECT_NE(std::string(kDashboardCsp).find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(std::string(kDashboardCsp).find("unsafe-inline"), std::string::npos);
  auto dots = client_->Get("/assets/appXjs");
  ASSERT_TRUE(dots);
  EXPECT_EQ(dots->status, 404);
  auto head = client_->Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST_F(DashboardTest, WithATokenThePageLoadsButTheDataNeedsIt) {
  start(kToken);
  for (const char* p : {"/", "/assets/app.js", "/assets/app.css"}) {
    auto r = client_->Get(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << p;
  }
  auto no = client_->Get("/api/v1/series");
  ASSERT_TRUE(no);
  EXPECT_EQ(no->status, 401);
  auto yes = client_->Get("/api/v1/series", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->status, 200);
  // A path that only looks like an asset is not let through.
  auto other = client_->Get("/assets/../api/v1/stats");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 401);
}

TEST_F(DashboardTest, SeriesRoute) {
  start();
  auto r = client_->Get("/api/v1/series");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["window"], "hour");
  r = client_->Get("/api/v1/series?window=day");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["connections"].size(), 1440U);
  for (const char* bad : {"/api/v1/series?window=week", "/api/v1/series?window=hour&window=day"}) {
    r = client_->Get(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(json::parse(r->body)["parameter"], "window");
  }
  reader_.fail = true;
  // The day answer is still cached (kSeriesCacheTtl): a fault inside the
  // TTL does not reach the client; the next test sees it after a restart.
  r = client_->Get("/api/v1/series?window=day");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(DashboardTest, SeriesWithoutHistoryOrWithAFaultIs503) {
  start({}, false);
  auto r = client_->Get("/api/v1/series");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  server_->stop();
  start({}, true);
  reader_.fail = true;
  r = client_->Get("/api/v1/series");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

}  // namespace
}  // namespace spamsink::http
