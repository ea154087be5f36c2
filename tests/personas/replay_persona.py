"""replay_persona: spamsink with --persona NAME against NAME's recording.

Usage: replay_persona.py NAME [--show]   (ctest: persona.NAME)
Starts $SPAMSINK_BIN --persona NAME --hostname mx.example.test on a free
loopback port (message_size_limit = the SIZE the real MTA advertised, the
.rec's "# size:"), plays tests/personas/persona_dialogue.py's SCRIPT,
normalises the dialogue as the recording was, and compares it line for line
with tests/personas/NAME.rec (codes and texts). Exit 0 when equal, 1 with a
unified diff when not. --show prints the dialogue instead.
Traffic goes only to 127.0.0.1; the daemon is stopped (its own pid) at the end.
"""

import difflib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ.setdefault("SPAMSINK_BIN", os.path.normpath(os.path.join(HERE, "..", "..", "build", "bin", "spamsink")))

import unittest  # noqa: E402

import persona_dialogue as pd  # noqa: E402
from spamsink_harness import Daemon  # noqa: E402


class _Holder(unittest.TestCase):
    """Daemon.start wants a TestCase for its cleanups."""

    def runTest(self):  # pragma: no cover
        pass


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: replay_persona.py NAME [--show]")
    name = sys.argv[1]
    rec = os.path.join(HERE, name + ".rec")
    meta, expected = pd.read_rec(rec)
    holder = _Holder()
    # Recorded without TLS: no STARTTLS in EHLO. The harness gives --hostname mx.example.test.
    args = ["--persona", name, "--tls", "no"]
    if "size" in meta:
        args += ["--message-size-limit", meta["size"]]
    d = Daemon.start(holder, *args)
    try:
        actual = pd.play(d.port)
    finally:
        holder.doCleanups()
    if "--show" in sys.argv:
        print("\n".join(actual))
        return 0
    if actual == expected:
        print("persona %s: %d lines, same as %s" % (name, len(actual), os.path.relpath(rec)))
        return 0
    sys.stdout.writelines(difflib.unified_diff([l + "\n" for l in expected], [l + "\n" for l in actual],
                                               os.path.relpath(rec), "spamsink --persona " + name))
    return 1


if __name__ == "__main__":
    sys.exit(main())
