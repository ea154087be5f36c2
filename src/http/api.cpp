#include "http/api.hpp"

#include <arpa/inet.h>
#include <httplib.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "http/blocklist.hpp"
#include "http/dashboard.hpp"
#include "http/json.hpp"
#include "http/params.hpp"
#include "http/series.hpp"

namespace spamsink::http {

namespace {

constexpr const char* kJson = "application/json";

void send_error(httplib::Response& res, int status, std::string_view error, std::string_view message,
                std::string_view parameter = {}) {
  std::string body;
  JsonWriter w(body);
  w.begin_object().str("error", error);
  if (!parameter.empty()) w.str("parameter", parameter);
  w.str("message", message).end_object();
  body += '\n';
  res.status = status;
  res.set_content(body, kJson);
}

void send_json(httplib::Response& res, std::string body) {
  body += '\n';
  res.status = 200;
  res.set_content(std::move(body), kJson);
}

void host_json(JsonWriter& w, const store::HostRow& h) {
  w.begin_object().str("ip", h.ip.to_string());
  w.time("first_seen", h.first_seen).time("last_seen", h.last_seen);
  w.num("sessions", h.sessions).num("messages", h.messages).num("recipients", h.recipients).num("bytes", h.bytes);
  w.num("tarpit_seconds", h.tarpit_seconds).num("early_talks", h.early_talks).num("trap_hits", h.trap_hits);
  w.str("last_helo", h.last_helo).end_object();
}

void session_json(JsonWriter& w, const store::SessionRow& s) {
  w.begin_object().num("id", s.id).str("ip", s.ip.to_string()).num("port", std::uint64_t{s.port});
  w.str("listener", s.listener).str("mode", core::to_string(s.mode));
  w.time("start", s.start).time("end", s.end).str("phase", s.phase).str("reason", core::to_string(s.reason));
  w.str("helo", s.helo).str("mail_from", s.mail_from).str("recipients", s.recipients);
  w.num("recipient_count", std::uint64_t{s.recipient_count}).num("messages", std::uint64_t{s.messages});
  w.num("bytes_in", s.bytes_in).num("bytes_out", s.bytes_out).num("held_seconds", s.held_seconds);
  w.num("early_talk_bytes", s.early_talk_bytes).boolean("tls", s.tls).boolean("trap_hit", s.trap_hit);
  w.str("relay_domains", s.relay_domains).end_object();
}

void cursor_json(JsonWriter& w, const std::string& next) {
  w.key("next_cursor");
  if (next.empty()) w.null();
  else w.str(next);
}

std::chrono::sys_seconds now_seconds() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (token.empty() || authorization.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string_view given = authorization.substr(kScheme.size());
  // Compare every byte of the expected token whatever the given length, so
  // the time taken says nothing about how much of a guess was right.
  unsigned diff = given.size() == token.size() ? 0U : 1U;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(token[i]));
  }
  return diff == 0;
}

bool is_loopback(std::string_view host) {
  auto ip = parse_ip(host);
  if (!ip) return false;
  if (ip->is_v4()) return ip->bytes[12] == 127;
  static const core::IpAddress kV6Loopback = [] {
    std::array<std::uint8_t, 16> b{};
    b[15] = 1;
    return core::IpAddress::from_v6(b);
  }();
  return *ip == kV6Loopback;
}

struct ApiServer::Impl {
  ApiOptions options;
  store::Reader* reader;
  const store::MetricsSource* metrics;
  OpenSessionsFn open;
  core::Logger& logger;
  httplib::Server server;
  std::thread thread;
  std::uint16_t port = 0;
  double start_time = 0;
  std::atomic<bool> stopped{false};
  SeriesCache series;

  Impl(ApiOptions o, store::Reader* r, const store::MetricsSource* m, OpenSessionsFn f, core::Logger& l)
      : options(std::move(o)), reader(r), metrics(m), open(std::move(f)), logger(l) {
    start_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    setup();
  }

  std::vector<OpenSessions> open_sessions() const { return open ? open() : std::vector<OpenSessions>{}; }

  // Runs `body`; a store fault becomes 503 and a log line.
  template <class Body>
  void guarded(const httplib::Request& req, httplib::Response& res, Body&& body) {
    try {
      body();
    } catch (const store::BadQuery& e) {
      // Only the cursor is passed through unchecked: the store judges it.
      send_error(res, 400, "bad_parameter", std::string("cursor: ") + e.what(), "cursor");
    } catch (const std::exception& e) {
      core::log(logger, core::Level::kWarn, [&](core::LogLine& l) {
        l.str("event", "api_store_error").str("path", req.path).str("error", e.what());
      });
      send_error(res, 503, "store_unavailable", std::string("the store could not answer: ") + e.what());
    }
  }

  bool need_history(httplib::Response& res) {
    if (reader != nullptr && reader->has_history()) return true;
    send_error(res, 503, "store_unavailable",
               reader == nullptr ? "no store is configured" : "the store keeps no history (--db none)");
    return false;
  }

  void setup() {
    server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
    server.set_payload_max_length(kMaxBody);
    server.set_keep_alive_timeout(kKeepAlive.count());
    server.set_read_timeout(5, 0);
    server.set_write_timeout(5, 0);
    // Headers and body go out in separate writes: without this, Nagle holds
    // the body until the client's delayed ACK (~40 ms per request).
    server.set_tcp_nodelay(true);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      // The dashboard's static assets hold no data: they load without the
      // token, so the page can ask for it (http/dashboard.hpp).
      if (options.token.empty() || req.path == "/healthz" || find_dashboard_asset(req.path) != nullptr)
        return httplib::Server::HandlerResponse::Unhandled;
      if (bearer_matches(req.get_header_value("Authorization"), options.token))
        return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer realm=\"spamsink\"");
      send_error(res, 401, "unauthorized", "this API needs Authorization: Bearer <token> (see --api-token-file)");
      return httplib::Server::HandlerResponse::Handled;
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.status == 404 && res.body.empty()) {
        std::string msg = "no route ";
        msg += req.path;
        send_error(res, 404, "not_found", msg);
      } else if (res.body.empty()) {
        send_error(res, res.status, "http_error", "request failed with status " + std::to_string(res.status));
      }
    });
    server.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
      core::log(logger, core::Level::kError,
                [&](core::LogLine& l) { l.str("event", "api_exception").str("path", req.path); });
      send_error(res, 500, "internal_error", "the request failed");
    });

    const char* kAll = R"(/.*)";
    auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "GET, HEAD");
      send_error(res, 405, "method_not_allowed", "only GET and HEAD are served");
    };
    server.Post(kAll, not_allowed);
    server.Put(kAll, not_allowed);
    server.Patch(kAll, not_allowed);
    server.Delete(kAll, not_allowed);

    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, R"({"status":"ok"})");
    });
    server.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, [&] {
        std::optional<store::MetricsSnapshot> snap;
        if (metrics != nullptr) snap = metrics->metrics();
        res.set_content(render_metrics(snap ? &*snap : nullptr, open_sessions(), start_time),
                        "text/plain; version=0.0.4; charset=utf-8");
      });
    });
    add_dashboard_routes(server);
    server.Get("/api/v1/series", [this](const httplib::Request& req, httplib::Response& res) {
      const auto n = req.params.count("window");
      const auto window = parse_series_window(n == 1 ? req.get_param_value("window") : std::string("hour"));
      if (n > 1 || !window) return send_error(res, 400, "bad_parameter", "window: hour or day", "window");
      guarded(req, res, [&] {
        if (!need_history(res)) return;
        send_json(res, series.get(*reader, *window, now_seconds()));
      });
    });
    server.Get("/api/v1/stats", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, [&] { stats(res); });
    });
    server.Get("/api/v1/hosts", [this](const httplib::Request& req, httplib::Response& res) {
      auto q = parse_host_query(req.params);
      if (auto* e = std::get_if<ParamError>(&q)) return send_error(res, 400, "bad_parameter", e->message, e->parameter);
      guarded(req, res, [&] {
        if (!need_history(res)) return;
        const store::HostPage page = reader->hosts(std::get<store::HostQuery>(q));
        std::string body;
        body.reserve(256 * page.rows.size() + 64);
        JsonWriter w(body);
        w.begin_object().key("hosts").begin_array();
        for (const auto& h : page.rows) host_json(w, h);
        w.end_array();
        cursor_json(w, page.next_cursor);
        w.end_object();
        send_json(res, std::move(body));
      });
    });
    server.Get(R"(/api/v1/hosts/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string text = req.matches[1].str();
      auto ip = parse_ip(text);
      if (!ip) return send_error(res, 400, "bad_parameter", "ip: an IPv4 or IPv6 address, e.g. 192.0.2.7 or ::1", "ip");
      guarded(req, res, [&] {
        if (!need_history(res)) return;
        auto row = reader->host(*ip);
        if (!row) return send_error(res, 404, "not_found", "no host " + ip->to_string());
        std::string body;
        JsonWriter w(body);
        host_json(w, *row);
        send_json(res, std::move(body));
      });
    });
    server.Get("/api/v1/sessions", [this](const httplib::Request& req, httplib::Response& res) {
      auto q = parse_session_query(req.params);
      if (auto* e = std::get_if<ParamError>(&q)) return send_error(res, 400, "bad_parameter", e->message, e->parameter);
      guarded(req, res, [&] {
        if (!need_history(res)) return;
        const store::SessionPage page = reader->sessions(std::get<store::SessionQuery>(q));
        std::string body;
        body.reserve(512 * page.rows.size() + 64);
        JsonWriter w(body);
        w.begin_object().key("sessions").begin_array();
        for (const auto& s : page.rows) session_json(w, s);
        w.end_array();
        cursor_json(w, page.next_cursor);
        w.end_object();
        send_json(res, std::move(body));
      });
    });
    server.Get("/api/v1/blocklist", [this](const httplib::Request& req, httplib::Response& res) {
      auto parsed = parse_blocklist_params(req.params);
      if (auto* e = std::get_if<ParamError>(&parsed))
        return send_error(res, 400, "bad_parameter", e->message, e->parameter);
      guarded(req, res, [&] {
        if (!need_history(res)) return;
        const BlocklistParams bp = std::get<BlocklistParams>(parsed);
        res.set_chunked_content_provider(
            BlocklistWriter::content_type(bp.format), [this, bp](std::size_t, httplib::DataSink& sink) {
              BlocklistWriter writer(bp.format, bp.v6_prefix, options.never_list, now_seconds());
              std::string buf;
              buf.reserve(kChunkBytes + 4096);
              writer.begin(buf);
              bool client_gone = false;
              try {
                reader->blocklist(bp.query, [&](const store::HostRow& h) {
                  writer.add(h, buf);
                  if (buf.size() >= kChunkBytes) {
                    if (!sink.write(buf.data(), buf.size())) {
                      client_gone = true;
                      return false;
                    }
                    buf.clear();
                  }
                  return true;
                });
              } catch (const std::exception& e) {
                // The status is out already: cut the stream short so the
                // client sees a broken transfer, never a silently short list.
                core::log(logger, core::Level::kWarn, [&](core::LogLine& l) {
                  l.str("event", "api_store_error").str("path", "/api/v1/blocklist").str("error", e.what());
                });
                return false;
              }
              if (client_gone) return false;
              writer.finish(buf);
              if (!buf.empty() && !sink.write(buf.data(), buf.size())) return false;
              sink.done();
              return true;
            });
      });
    });
  }

  void stats(httplib::Response& res) {
    if (reader == nullptr) return send_error(res, 503, "store_unavailable", "no store is configured");
    const store::Stats s = reader->stats();
    const auto open_list = open_sessions();
    std::array<std::uint64_t, 3> open_by_mode{};
    std::uint64_t open_total = 0;
    for (const auto& o : open_list) {
      open_by_mode[static_cast<std::size_t>(o.mode)] += o.open;
      open_total += o.open;
    }
    std::string body;
    JsonWriter w(body);
    w.begin_object().time("since", s.since).time("now", now_seconds());
    w.num("messages", s.messages).num("recipients", s.recipients).num("bytes_discarded", s.bytes_discarded);
    w.num("sessions_total", s.sessions_total).num("sessions_open", open_total);
    w.num("tarpit_seconds", s.tarpit_seconds).num("unique_hosts", s.unique_hosts);
    w.num("early_talkers", s.early_talkers).num("trap_hits", s.trap_hits).num("relay_attempts", s.relay_attempts);
    w.key("per_mode").begin_object();
    for (std::size_t m = 0; m < s.per_mode.size(); ++m) {
      const auto& t = s.per_mode[m];
      w.key(core::to_string(static_cast<core::Mode>(m))).begin_object();
      w.num("sessions", t.sessions).num("sessions_open", open_by_mode[m]).num("messages", t.messages);
      w.num("recipients", t.recipients).num("bytes", t.bytes).num("tarpit_seconds", t.tarpit_seconds);
      w.end_object();
    }
    w.end_object();
    w.key("listeners").begin_array();
    for (const auto& o : open_list) {
      w.begin_object().str("listener", o.listener).str("mode", core::to_string(o.mode));
      w.num("sessions_open", std::uint64_t{o.open}).end_object();
    }
    w.end_array().end_object();
    send_json(res, std::move(body));
  }
};

ApiServer::ApiServer(ApiOptions options, store::Reader* reader, const store::MetricsSource* metrics,
                     OpenSessionsFn open, core::Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(options), reader, metrics, std::move(open), logger)) {}

ApiServer::~ApiServer() { stop(); }

void ApiServer::bind() {
  const auto& o = impl_->options;
  const std::string where = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
                            std::to_string(o.port);
  if (o.port == 0) {
    const int p = impl_->server.bind_to_any_port(o.host);
    if (p <= 0) throw std::runtime_error("api: cannot bind " + where);
    impl_->port = static_cast<std::uint16_t>(p);
  } else {
    if (!impl_->server.bind_to_port(o.host, o.port)) throw std::runtime_error("api: cannot bind " + where);
    impl_->port = o.port;
  }
}

std::string ApiServer::bound_address() const {
  const auto& h = impl_->options.host;
  return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port);
}

std::uint16_t ApiServer::port() const { return impl_->port; }

void ApiServer::start() {
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() before the loop runs would be lost: wait (bounded) until it does.
  for (int i = 0; i < 5000 && !impl_->server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void ApiServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace spamsink::http
