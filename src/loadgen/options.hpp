// loadgen/options: smtpsend's command line.
//
// Purpose: smtp-benchmark's smtpsend options (-s -m -n -t -b -p -F -T -S -v)
// plus ours (long options). A bad option prints the usage and exits 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spamsink::loadgen {

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 25;
  std::uint32_t senders = 1;            // -s
  std::uint32_t per_conn = 1;           // -m, 0 = unlimited
  std::uint64_t total = 0;              // -n, 0 = senders * per_conn (unless -t)
  double seconds = 0;                   // -t
  std::uint64_t body_bytes = 1024;      // -b
  std::string from = "smtpsend@example.com";
  std::string to = "sink@example.com";
  std::string subject = "smtpsend test message";
  std::string helo = "smtpsend.example.com";
  std::uint32_t recipients = 1;         // -r
  bool verbose = false;                 // -v
  bool pipelining = false;
  bool bdat = false;
  bool starttls = false;
  unsigned threads = 1;
  std::vector<std::string> bind;
  double rate = 0;                      // messages per second, 0 = closed loop
  bool json = false;
  std::uint32_t hold = 0;               // --hold N
  double hold_time = 60;                // --hold-time seconds
  int mss = 0;
  bool early_talk = false;
  double timeout = 30;                  // seconds: connect, each reply
  std::chrono::nanoseconds batch_wait{50'000};  // --batch-wait (aio/batch_wait.hpp), 0 = off
  int progress = -1;                    // -1 = when stdout is a TTY
};

struct OptionsResult {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;
};

OptionsResult parse_options(int argc, char** argv);
std::string usage();

}  // namespace spamsink::loadgen
