#include "http/dashboard.hpp"

#include <httplib.h>

#include <string>

#include "http/etag.hpp"

namespace spamsink::http {

namespace {

void serve(const DashboardAsset& a, const httplib::Request& req, httplib::Response& res) {
  res.set_header("Content-Security-Policy", std::string(kDashboardCsp));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", std::string(a.etag));
  if (req.has_header("If-None-Match") && etag_matches(req.get_header_value("If-None-Match"), a.etag)) {
    res.status = 304;
    return;
  }
  res.set_content(a.body.data(), a.body.size(), std::string(a.content_type).c_str());
}

}  // namespace

const DashboardAsset* find_dashboard_asset(std::string_view path) {
  std::size_t n = 0;
  const DashboardAsset* all = dashboard_assets(n);
  for (std::size_t i = 0; i < n; ++i)
    if (all[i].path == path) return &all[i];
  return nullptr;
}

void add_dashboard_routes(httplib::Server& server) {
  std::size_t n = 0;
  const DashboardAsset* all = dashboard_assets(n);
  for (std::size_t i = 0; i < n; ++i) {
    const DashboardAsset* a = &all[i];
    // httplib routes are regexes: the asset paths are plain [a-z./-], but
    // escape the dots anyway so "/assets/appXjs" is not an alias.
    std::string pattern;
    for (char c : a->path) {
      if (c == '.') pattern += '\\';
      pattern += c;
    }
    server.Get(pattern, [a](const httplib::Request& req, httplib::Response& res) { serve(*a, req, res); });
  }
}

}  // namespace spamsink::http
