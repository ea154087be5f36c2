// bench/floor_client: the least a lock-step SMTP client can do, as a floor
// for smtpsend's CPU figures (bench/smtpsend_bench.py shows it as an
// information row).
//
//   floor_client PORT SENDERS MESSAGES_PER_CONNECTION TOTAL_MESSAGES
//
// One thread, one epoll set (level-triggered, blocking epoll_wait), SENDERS
// connections to 127.0.0.1:PORT. Each sends EHLO, then MAIL, RCPT, DATA
// and a 1 KiB body per message, waiting for every reply as a client without
// PIPELINING must, then QUIT after MESSAGES_PER_CONNECTION messages, and
// reconnects until TOTAL_MESSAGES have been sent. No parsing beyond finding
// the end of a reply, no statistics, no timers: what is left is the
// kernel's work for the sends and receives the protocol needs.
//
// Exit status: 0 when every message was accepted; 1 on a refused
// connection, an unexpected reply, a closed connection, 10 s without any
// event, or a connect or send that takes 10 s (so it never hangs). Traffic
// goes only to 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

enum Step { kBanner, kEhlo, kMail, kRcpt, kData, kBody, kQuit };

struct Conn {
  int fd = -1;
  Step step = kBanner;
  long sent = 0;  // messages on this connection
  char buf[1024];
  std::size_t have = 0;
};

sockaddr_in target;
int ep = -1;
std::string body;

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool open_conn(Conn& c) {
  c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  // Blocking connect and sends, as the protocol waits anyway; bounded.
  const timeval limit{10, 0};
  if (c.fd >= 0) ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (c.fd < 0 || ::connect(c.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
    std::perror("floor_client: connect");
    return false;
  }
  c.step = kBanner;
  c.sent = 0;
  c.have = 0;
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.ptr = &c;
  return ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e) == 0;
}

// True once buf holds a whole reply: its last line is "ddd text\r\n" or
// "ddd\r\n" (a continuation line has '-' after the code).
bool reply_done(const Conn& c) {
  if (c.have < 4 || c.buf[c.have - 1] != '\n') return false;
  std::size_t start = c.have - 1;
  while (start > 0 && c.buf[start - 1] != '\n') --start;
  return c.have - start >= 4 && c.buf[start + 3] != '-';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: floor_client PORT SENDERS MESSAGES_PER_CONNECTION TOTAL_MESSAGES\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const long senders = std::atol(argv[2]), per_conn = std::atol(argv[3]), total = std::atol(argv[4]);
  if (port <= 0 || port > 65535 || senders <= 0 || senders > 10000 || per_conn <= 0 || total <= 0) {
    std::fprintf(stderr, "floor_client: bad arguments\n");
    return 2;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
  body = "From: <floor@example.com>\r\nTo: <sink@example.com>\r\nSubject: floor\r\n\r\n";
  for (int i = 0; i < 16; ++i) body += std::string(62, 'x') + "\r\n";  // 1 KiB
  body += ".\r\n";
  ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(senders));
  long started = 0, accepted = 0;  // messages begun (MAIL sent) and accepted
  for (auto& c : conns)
    if (!open_conn(c)) return 1;
  long open = senders;
  epoll_event ev[64];
  while (open > 0) {
    const int k = ::epoll_wait(ep, ev, 64, 10000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      std::fprintf(stderr, "floor_client: no event for 10 s\n");
      return 1;
    }
    for (int j = 0; j < k; ++j) {
      Conn& c = *static_cast<Conn*>(ev[j].data.ptr);
      const ssize_t r = ::recv(c.fd, c.buf + c.have, sizeof c.buf - c.have, 0);
      if (r <= 0) {
        std::fprintf(stderr, "floor_client: connection closed in step %d\n", static_cast<int>(c.step));
        return 1;
      }
      c.have += static_cast<std::size_t>(r);
      if (!reply_done(c)) {
        if (c.have == sizeof c.buf) {
          // A long multi-line reply: keep its code (as a line "ddd-\n")
          // and the unfinished last line, drop the lines between.
          std::size_t start = c.have;
          while (start > 0 && c.buf[start - 1] != '\n') --start;
          if (start <= 5) {
            std::fprintf(stderr, "floor_client: a reply line longer than %zu bytes\n", sizeof c.buf - 6);
            return 1;
          }
          c.buf[3] = '-';
          c.buf[4] = '\n';
          std::memmove(c.buf + 5, c.buf + start, c.have - start);
          c.have = 5 + (c.have - start);
        }
        continue;
      }
      const char code = c.buf[0];
      c.have = 0;
      if (code != '2' && !(c.step == kData && code == '3')) {
        std::fprintf(stderr, "floor_client: reply %c.. in step %d\n", code, static_cast<int>(c.step));
        return 1;
      }
      const char* out = nullptr;
      switch (c.step) {
        case kBanner: out = "EHLO floor.example.com\r\n"; c.step = kEhlo; break;
        case kBody: ++accepted; ++c.sent; [[fallthrough]];
        case kEhlo:
          if (c.sent < per_conn && started < total) {
            ++started;
            out = "MAIL FROM:<floor@example.com>\r\n";
            c.step = kMail;
          } else {
            out = "QUIT\r\n";
            c.step = kQuit;
          }
          break;
        case kMail: out = "RCPT TO:<sink@example.com>\r\n"; c.step = kRcpt; break;
        case kRcpt: out = "DATA\r\n"; c.step = kData; break;
        case kData: out = body.c_str(); c.step = kBody; break;
        case kQuit:
          ::close(c.fd);  // also leaves the epoll set
          if (started < total) {
            if (!open_conn(c)) return 1;
          } else {
            --open;
          }
          continue;
      }
      if (!send_all(c.fd, out, std::strlen(out))) {
        std::perror("floor_client: send");
        return 1;
      }
    }
  }
  if (accepted != total) {
    std::fprintf(stderr, "floor_client: %ld of %ld messages accepted\n", accepted, total);
    return 1;
  }
  std::printf("floor_client: %ld messages accepted\n", accepted);
  return 0;
}
