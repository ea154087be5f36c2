// http/api: the HTTP API server (docs/api.md).
//
// Purpose: answer /api/v1/*, /metrics and /healthz from the store's read
// side, on threads of its own (cpp-httplib's pool), never on an SMTP
// worker. Nothing here touches a session: the only live figure it reads is
// the open-session count, through a callback that reads relaxed atomics.
// Invariants:
//  - with a token, every route but /healthz and the dashboard's static
//    assets (http/dashboard.hpp) needs `Authorization: Bearer <token>`
//    (constant-time compare); without one, the address must be
//    loopback (app/config enforces that before we get here);
//  - bad parameters get 400 naming the parameter; a store::Error (or any
//    exception from the store) gets 503 and the server goes on;
//  - blocklists stream in chunks of about kChunkBytes, so memory stays flat
//    for a million hosts; a client that goes away stops the export.
// Limits: kThreads request threads; request bodies up to kMaxBody bytes
// (there is no route that takes one); idle keep-alive kKeepAlive.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.hpp"
#include "core/logger.hpp"
#include "http/metrics.hpp"
#include "store/reader.hpp"

namespace spamsink::http {

inline constexpr int kThreads = 4;
inline constexpr std::size_t kMaxBody = 64 * 1024;
inline constexpr std::size_t kChunkBytes = 64 * 1024;
inline constexpr std::chrono::seconds kKeepAlive{2};
inline constexpr std::size_t kMinTokenBytes = 16;

struct ApiOptions {
  std::string host = "127.0.0.1";  // numeric
  std::uint16_t port = 8025;       // 0: any free port
  std::string token;               // empty: no authentication
  std::vector<core::Cidr> never_list;
};

using OpenSessionsFn = std::function<std::vector<OpenSessions>()>;

// True when `authorization` is "Bearer <token>" (constant time in the
// token's length; the scheme is case-insensitive).
bool bearer_matches(std::string_view authorization, std::string_view token);

// True for 127.0.0.0/8 and ::1 (and ::ffff:127.x.y.z).
bool is_loopback(std::string_view numeric_host);

class ApiServer {
 public:
  // `reader` and `metrics` may be null (no store): history routes then
  // answer 503 and /metrics shows only the live gauges. They and `open`
  // must outlive the server.
  ApiServer(ApiOptions options, store::Reader* reader, const store::MetricsSource* metrics, OpenSessionsFn open,
            core::Logger& logger);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the socket; throws std::runtime_error naming the address.
  void bind();
  // "127.0.0.1:8025" / "[::1]:8025", after bind().
  std::string bound_address() const;
  std::uint16_t port() const;
  // Serves on a thread of its own until stop().
  void start();
  // Stops accepting, finishes the requests in flight, joins. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spamsink::http
