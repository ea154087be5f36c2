// bench/floor_server: the least an SMTP sink can do, as a floor for
// spamsink's server CPU figures (bench/macro.py --floor shows it as an
// information row). Issue 3 quotes "a minimal single-threaded epoll loop in
// C" as the reference for what the kernel leaves to win; this is one,
// measured in the same run as the others.
//
//   floor_server PORT
//
// One thread, one epoll set (level-triggered, blocking epoll_wait), a
// listener on 127.0.0.1:PORT. Each connection gets Postfix's banner and
// reply texts: EHLO/HELO, MAIL, RCPT, DATA (the end of data found with
// memmem, across reads), QUIT (221 with MSG_MORE, then close); any other
// line gets 250. The replies to one read go out in one send. No limits, no
// logging, no parsing beyond the first four bytes of a line: only for
// benchmarks on loopback. On stdout: "listening" once it is, and
// "messages=N" (messages ended so far) on SIGUSR1 and at the end; SIGTERM
// or SIGINT end it with exit status 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Conn {
  int fd = -1;
  bool data = false;
  char line[512];
  std::size_t len = 0;
  char carry[4];  // the last bytes of data seen, for an end split across reads
  std::size_t carried = 0;
};

volatile std::sig_atomic_t stop = 0, report = 0;
void on_signal(int) { stop = 1; }
void on_report(int) { report = 1; }

constexpr char kEnd[] = "\r\n.\r\n";

// Consumes data bytes; returns how many were consumed (all, or up to and
// including the end of data).
std::size_t scan_data(Conn& c, const char* p, std::size_t n, bool& ended) {
  // An end split across reads: the carried bytes and the head of this read.
  char joint[8];
  std::memcpy(joint, c.carry, c.carried);
  const std::size_t head = n < 4 ? n : 4;
  std::memcpy(joint + c.carried, p, head);
  if (const void* hit = ::memmem(joint, c.carried + head, kEnd, 5)) {
    ended = true;
    return static_cast<std::size_t>(static_cast<const char*>(hit) - joint) + 5 - c.carried;
  }
  if (const void* hit = ::memmem(p, n, kEnd, 5)) {
    ended = true;
    return static_cast<std::size_t>(static_cast<const char*>(hit) - p) + 5;
  }
  ended = false;
  // Keep the last 4 bytes of the stream seen so far.
  char all[8];
  std::memcpy(all, c.carry, c.carried);
  const std::size_t tail = n < 4 ? n : 4;
  std::memcpy(all + c.carried, p + n - tail, tail);
  const std::size_t total = c.carried + tail;
  c.carried = total < 4 ? total : 4;
  std::memcpy(c.carry, all + total - c.carried, c.carried);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::atoi(argv[1]) <= 0 || std::atoi(argv[1]) > 65535) {
    std::fprintf(stderr, "usage: floor_server PORT\n");
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGUSR1, on_report);
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 4096) != 0) {
    std::perror("floor_server: bind");
    return 1;
  }
  const int ep = ::epoll_create1(0);
  epoll_event le{};
  le.events = EPOLLIN;
  le.data.ptr = nullptr;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
  static const std::string kBanner = "220 vm ESMTP Postfix (Debian/GNU)\r\n";
  static char buf[65536];
  std::string out;
  long messages = 0;
  epoll_event ev[128];
  std::printf("listening\n");
  std::fflush(stdout);
  while (!stop) {
    if (report) {
      report = 0;
      std::printf("messages=%ld\n", messages);
      std::fflush(stdout);
    }
    const int k = ::epoll_wait(ep, ev, 128, 500);
    for (int j = 0; j < k; ++j) {
      auto* c = static_cast<Conn*>(ev[j].data.ptr);
      if (c == nullptr) {
        for (;;) {
          const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
          if (fd < 0) break;
          c = new Conn;
          c->fd = fd;
          epoll_event ce{};
          ce.events = EPOLLIN;
          ce.data.ptr = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
          ::send(fd, kBanner.data(), kBanner.size(), MSG_NOSIGNAL);
        }
        continue;
      }
      const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(c->fd);
        delete c;
        continue;
      }
      out.clear();
      bool quit = false;
      std::size_t i = 0;
      const auto size = static_cast<std::size_t>(n);
      while (i < size && !quit) {
        if (c->data) {
          bool ended = false;
          i += scan_data(*c, buf + i, size - i, ended);
          if (ended) {
            c->data = false;
            ++messages;
            out += "250 2.0.0 Ok: queued as 4A946B01C3\r\n";
          }
          continue;
        }
        const char ch = buf[i++];
        if (c->len < sizeof c->line) c->line[c->len++] = ch;
        if (ch != '\n') continue;
        const char* l = c->line;
        if (::strncasecmp(l, "EHLO", 4) == 0) {
          out += "250-vm\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
        } else if (::strncasecmp(l, "HELO", 4) == 0) {
          out += "250 vm\r\n";
        } else if (::strncasecmp(l, "MAIL", 4) == 0) {
          out += "250 2.1.0 Ok\r\n";
        } else if (::strncasecmp(l, "RCPT", 4) == 0) {
          out += "250 2.1.5 Ok\r\n";
        } else if (::strncasecmp(l, "DATA", 4) == 0) {
          out += "354 End data with <CR><LF>.<CR><LF>\r\n";
          c->data = true;
          std::memcpy(c->carry, "\r\n", 2);  // a "." line right away ends the data
          c->carried = 2;
        } else if (::strncasecmp(l, "QUIT", 4) == 0) {
          out += "221 2.0.0 Bye\r\n";
          quit = true;
        } else {
          out += "250 2.0.0 Ok\r\n";
        }
        c->len = 0;
      }
      if (!out.empty()) ::send(c->fd, out.data(), out.size(), MSG_NOSIGNAL | (quit ? MSG_MORE : 0));
      if (quit) {
        ::close(c->fd);
        delete c;
      }
    }
  }
  std::printf("messages=%ld\n", messages);
  return 0;
}
