#include "loadgen/options.hpp"

#include <getopt.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "core/units.hpp"

namespace spamsink::loadgen {

namespace {

template <class T>
bool parse_num(std::string_view s, T& out, T min, T max) {
  T v{};
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

bool parse_seconds(std::string_view s, double& out) {
  // Seconds, with an optional unit: 500ms, 30s, 5m, 1h.
  double mult = 1;
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    mult = 0.001;
    s.remove_suffix(2);
  } else if (!s.empty() && (s.back() == 's' || s.back() == 'm' || s.back() == 'h')) {
    mult = s.back() == 's' ? 1 : s.back() == 'm' ? 60 : 3600;
    s.remove_suffix(1);
  }
  std::string tmp(s);
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (tmp.empty() || end != tmp.c_str() + tmp.size() || !(v > 0) || v * mult > 1e7) return false;
  out = v * mult;
  return true;
}

enum LongOpt {
  kPipelining = 1000, kBdat, kStarttls, kThreads, kBind, kRate, kJson, kHold, kHoldTime, kMss, kEarlyTalk,
  kTimeout, kHelo, kProgress, kNoProgress, kBatchWait,
};

}  // namespace

std::string usage() {
  return R"(usage: smtpsend [options] [host]
Sends test messages to an SMTP server and reports how fast it took them.
host defaults to 127.0.0.1. Durations take ms, s, m, h (a bare number is seconds), and
--batch-wait also us.

smtp-benchmark options:
  -s N            parallel senders (connections at once), default 1
  -m N            messages per connection, default 1 (0 = no limit);
                  note: Postfix smtp-source's -m is the total, ours is -n
  -n N            total messages (default: senders x messages per connection)
  -t SECONDS      send for this long instead of a count
  -b BYTES        message body size, default 1024
  -p PORT         server port, default 25
  -F FROM         envelope sender, default smtpsend@example.com
  -T TO           recipient, default sink@example.com
  -S SUBJECT      subject line
  -v              verbose: one line per connection and every error reply
more:
  -r N                recipients per message (TO becomes local+1@domain ...), default 1
  --pipelining        send MAIL, RCPT and DATA in one write when the server offers PIPELINING
  --bdat              send each message as one BDAT chunk when the server offers CHUNKING
  --starttls          STARTTLS after EHLO (TLS 1.2+, no certificate check), then EHLO again;
                      a server that does not offer it fails the connection
  --threads N         client threads, default 1
  --bind ADDR         source address, repeatable: connections rotate over them
  --rate N            open loop: start N messages per second; latency counts from the
                      scheduled start, so a slow server cannot hide queueing (no coordinated omission)
  --timeout T         limit for connecting and the greeting (together), and for
                      each later reply, default 30s
  --batch-wait T      after a burst of replies (after any reply, with 8 or more connections
                      waiting on the thread), a thread that finds nothing ready waits T
                      before it looks again instead of sleeping: fewer wake-ups for it and
                      the server; adds at most T to a measured latency. Up to 1ms, 0 = off,
                      default 50us
  --helo NAME         EHLO name, default smtpsend.example.com
  --json              print the summary as JSON
  --progress / --no-progress   live progress line (default: only when stdout is a TTY)
probes:
  --hold N            open N connections, read everything, stay until the server closes
                      or --hold-time passes; report hold times and bytes
  --hold-time T       default 60s
  --mss BYTES         set TCP_MAXSEG before connecting (e.g. 1460)
  --early-talk        send EHLO before the greeting and report the server's answer
  -h, --help          this text
)";
}

OptionsResult parse_options(int argc, char** argv) {
  OptionsResult r;
  Options o;
  bool total_given = false;
  static const struct option longs[] = {
      {"pipelining", no_argument, nullptr, kPipelining}, {"bdat", no_argument, nullptr, kBdat},
      {"starttls", no_argument, nullptr, kStarttls},     {"threads", required_argument, nullptr, kThreads},
      {"bind", required_argument, nullptr, kBind},       {"rate", required_argument, nullptr, kRate},
      {"json", no_argument, nullptr, kJson},             {"hold", required_argument, nullptr, kHold},
      {"hold-time", required_argument, nullptr, kHoldTime}, {"mss", required_argument, nullptr, kMss},
      {"early-talk", no_argument, nullptr, kEarlyTalk},  {"timeout", required_argument, nullptr, kTimeout},
      {"helo", required_argument, nullptr, kHelo},       {"progress", no_argument, nullptr, kProgress},
      {"no-progress", no_argument, nullptr, kNoProgress}, {"help", no_argument, nullptr, 'h'},
      {"batch-wait", required_argument, nullptr, kBatchWait},
      {nullptr, 0, nullptr, 0}};
  auto bad = [&](const std::string& what) {
    r.options.reset();
    r.exit_code = 2;
    r.output = "smtpsend: " + what + "\n" + usage();
    return r;
  };
  optind = 0;  // 0, not 1: glibc then also forgets a previous call's state
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":s:m:n:t:b:p:F:T:S:r:vh", longs, nullptr)) != -1) {
    std::string_view a = optarg ? std::string_view(optarg) : std::string_view{};
    switch (c) {
      case 's': if (!parse_num<std::uint32_t>(a, o.senders, 1, 100000)) return bad("-s: a number from 1 to 100000"); break;
      case 'm': if (!parse_num<std::uint32_t>(a, o.per_conn, 0, 1000000000)) return bad("-m: a number (0 = no limit)"); break;
      case 'n': if (!parse_num<std::uint64_t>(a, o.total, 1, 1000000000000ull)) return bad("-n: a number, at least 1"); total_given = true; break;
      case 't': if (!parse_seconds(a, o.seconds)) return bad("-t: a duration, e.g. 10 or 10s"); break;
      case 'b': if (!parse_num<std::uint64_t>(a, o.body_bytes, 0, 1ull << 32)) return bad("-b: a size in bytes"); break;
      case 'p': if (!parse_num<std::uint16_t>(a, o.port, 1, 65535)) return bad("-p: a port from 1 to 65535"); break;
      case 'F': o.from = a; break;
      case 'T': if (a.find('@') == std::string_view::npos) return bad("-T: an address with @"); o.to = a; break;
      case 'S': o.subject = a; break;
      case 'r': if (!parse_num<std::uint32_t>(a, o.recipients, 1, 100000)) return bad("-r: a number from 1 to 100000"); break;
      case 'v': o.verbose = true; break;
      case 'h': r.output = usage(); return r;
      case kPipelining: o.pipelining = true; break;
      case kBdat: o.bdat = true; break;
      case kStarttls: o.starttls = true; break;
      case kThreads: if (!parse_num<unsigned>(a, o.threads, 1, 256)) return bad("--threads: a number from 1 to 256"); break;
      case kBind: o.bind.emplace_back(a); break;
      case kRate: {
        std::string_view v = a;
        if (v.size() > 2 && v.substr(v.size() - 2) == "/s") v.remove_suffix(2);
        double d;
        if (!parse_seconds(v, d)) return bad("--rate: messages per second, e.g. 500 or 500/s");
        o.rate = d;
        break;
      }
      case kJson: o.json = true; break;
      case kHold: if (!parse_num<std::uint32_t>(a, o.hold, 1, 1000000)) return bad("--hold: a number of connections"); break;
      case kHoldTime: if (!parse_seconds(a, o.hold_time)) return bad("--hold-time: a duration"); break;
      case kMss: if (!parse_num<int>(a, o.mss, 88, 65535)) return bad("--mss: bytes from 88 to 65535"); break;
      case kEarlyTalk: o.early_talk = true; break;
      case kTimeout: if (!parse_seconds(a, o.timeout)) return bad("--timeout: a duration"); break;
      case kBatchWait: {
        const auto d = core::parse_duration(a);
        if (!d || *d > std::chrono::milliseconds{1}) return bad("--batch-wait: a duration from 0 to 1ms, e.g. 50us");
        o.batch_wait = std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
        break;
      }
      case kHelo: if (a.empty()) return bad("--helo: a name"); o.helo = a; break;
      case kProgress: o.progress = 1; break;
      case kNoProgress: o.progress = 0; break;
      case ':': return bad(std::string("option needs a value: ") + argv[optind - 1]);
      default: return bad(std::string("unknown option: ") + argv[optind - 1]);
    }
  }
  if (optind < argc) o.host = argv[optind++];
  if (optind < argc) return bad(std::string("unexpected argument: ") + argv[optind]);
  if (!total_given && o.seconds == 0) {
    if (o.per_conn == 0) return bad("-m 0 needs -n or -t");
    o.total = std::uint64_t{o.senders} * o.per_conn;
  }
  if (total_given && o.seconds > 0) return bad("-n and -t: give one of them");
  if (o.threads > o.senders && o.hold == 0) o.threads = o.senders;
  r.options = o;
  return r;
}

}  // namespace spamsink::loadgen
