"""persona_dialogue: the scripted SMTP dialogue a persona is matched with.

Covers: one script (SCRIPT), one client that plays it against any SMTP
server on a loopback port (play), and one normaliser (normalise) that
turns hostnames, dates and queue ids into placeholders, so a recording of
a real MTA (scripts/record-personas) and a replay against spamsink
(tests/personas/replay_persona.py, a ctest per persona) are compared line
for line, codes and texts.
The .rec format: "# ..." header lines (meta: "# size: N" is the SIZE the
real MTA advertised, given to spamsink as message_size_limit), then one
line per client line ("C: ...", long lines shortened as C: <N x 'X'>) and
per reply line ("S: ..."), and "[closed]" when the server closed first.
Limits: every read and connect has a timeout (TIMEOUT s); a reply is at
most MAX_REPLY_LINES lines; traffic goes only to 127.0.0.1.
"""

import re
import socket
import time

HOSTNAME = "mx.example.test"
CLIENT_HELO = "client.example"
TIMEOUT = 10.0
MAX_REPLY_LINES = 100
# Longer than any of the real MTAs' command line limits (Postfix 2048,
# Exim 16384, OpenSMTPD 65535 incl. CRLF).
OVERLONG = 70000

# (client line, expects a reply). The body lines get their reply only after
# the final ".".
SCRIPT = [
    ("EHLO " + CLIENT_HELO, True),
    ("MAIL FROM:<sender@client.example>", True),
    ("RCPT TO:<rcpt@" + HOSTNAME + ">", True),
    ("RCPT TO:<>", True),
    ("DATA", True),
    ("Subject: persona test", False),
    ("", False),
    ("body", False),
    (".", True),
    ("RSET", True),
    ("RCPT TO:<rcpt@" + HOSTNAME + ">", True),
    ("NOOP", True),
    ("VRFY rcpt@" + HOSTNAME, True),
    ("HELP", True),
    ("FOOBAR", True),
    ("X" * OVERLONG, True),
    ("QUIT", True),
]

# RFC 5322 dates (Exim, Sendmail, Exchange, OpenSMTPD put one in a banner).
_DATE = re.compile(r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}(?: \([A-Z]+\))?")
# Queue ids as each real MTA writes them in its 250 after DATA.
_IDS = [
    re.compile(r"(?<=queued as )[0-9A-F]{6,14}\b"),                 # Postfix short ids
    re.compile(r"(?<=id=)[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b"),  # Exim 4.96
    re.compile(r"(?<=250 2\.0\.0 )[0-9a-f]{8}(?= Message accepted)"),      # OpenSMTPD
    re.compile(r"(?<=250 2\.0\.0 )[0-9A-Za-z]{14}(?= Message accepted)"),  # Sendmail 8.x
    re.compile(r"(?<=250 2\.6\.0 <)[0-9a-f-]{36}@[A-Za-z0-9.-]+>(?= \[InternalId=)"),  # Exchange message id
    re.compile(r"(?<=\[InternalId=)\d+"),
]


def normalise(line, hostname=HOSTNAME):
    line = _DATE.sub("<DATE>", line)
    for r in _IDS:
        line = r.sub("<ID>", line)
    return line.replace(hostname, "<HOST>")


def _shown(client_line):
    if len(client_line) > 200:
        return "C: <%d x %r>" % (len(client_line), client_line[0])
    return "C: " + client_line


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def line(self, deadline):
        while b"\n" not in self.buf:
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete reply line within %.0fs" % TIMEOUT)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                continue
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def reply(self):
        """One whole reply: lines until "NNN " (or EOF)."""
        out = []
        deadline = time.monotonic() + TIMEOUT
        for _ in range(MAX_REPLY_LINES):
            line = self.line(deadline)
            if line is None:
                out.append("[closed]")
                return out
            out.append("S: " + line)
            if len(line) < 4 or line[3] != "-":
                return out
        raise RuntimeError("reply longer than %d lines" % MAX_REPLY_LINES)


def play(port, host="127.0.0.1", hostname=HOSTNAME):
    """Plays SCRIPT; returns the normalised lines (without header)."""
    assert host.startswith("127.") or host == "::1"
    lines = []
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        r = _Reader(s)
        lines += r.reply()
        for text, expects in SCRIPT:
            if r.closed and not r.buf:
                break
            lines.append(_shown(text))
            try:
                s.sendall(text.encode() + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                lines.append("[closed]")
                break
            if expects:
                got = r.reply()
                lines += got
                if got and got[-1] == "[closed]":
                    break
    return [normalise(l, hostname) for l in lines]


def read_rec(path):
    """(meta dict, lines) of a .rec file."""
    meta, lines = {}, []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if raw.startswith("#"):
                m = re.match(r"#\s*([a-z_]+):\s*(.*)$", raw)
                if m:
                    meta[m.group(1)] = m.group(2).strip()
                continue
            lines.append(raw)
    return meta, lines


def write_rec(path, header, meta, lines):
    with open(path, "w", encoding="utf-8") as f:
        for h in header:
            f.write("# " + h + "\n")
        for k, v in meta.items():
            f.write("# %s: %s\n" % (k, v))
        for l in lines:
            f.write(l + "\n")
