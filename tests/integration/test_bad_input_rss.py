"""The bad-input cases of test_bad_input, with the daemon's memory bounded.

Covers: for each case (1 MiB line, NUL/8-bit bytes, HTTP, 10,000 RCPTs,
100 MB DATA, reset mid-DATA, 1,000 slowloris connections), VmRSS from
/proc/PID/status stays within 30 MB of its value at the start of the case
while the case runs, and is back within 10 MB of it afterwards; plus all of
the functional checks of test_bad_input.
RSS means nothing under ASan (shadow memory, quarantine): ctest gives this
file the label no-asan, and the sanitizer run skips it with -LE no-asan.
"""

import unittest

import test_bad_input as cases


class BadInputRssTest(cases.BadInputCases, unittest.TestCase):
    check_rss = True


if __name__ == "__main__":
    unittest.main()
