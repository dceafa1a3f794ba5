"""A log writer process for the monitor tests: numbered access-log lines at a steady rate.

``python writer.py PATH FIRST COUNT RATE STATUS_FILE``: appends lines numbered FIRST ..
FIRST+COUNT-1 to PATH (through whatever PATH names: a symlink is followed at each open),
RATE lines a second, each line in one ``write``. SIGUSR1 makes it reopen PATH (what nginx
does after logrotate); when PATH cannot be opened (its directory is gone) it retries. After
each line it may record its progress: STATUS_FILE gets "last written number" on exit.
"""

from __future__ import annotations

import os
import signal
import sys
import time

LINE = '10.0.0.{host} - - [26/Nov/2026:12:00:00 +0000] "GET /n/{n} HTTP/1.1" 200 {size}\n'


def line(n: int) -> bytes:
    return LINE.format(host=n % 250, n=n, size=100 + n % 900).encode()


def main() -> None:
    path, first, count, rate, status = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                        float(sys.argv[4]), sys.argv[5])
    reopen = [False]

    def on_usr1(signum: int, frame: object) -> None:
        reopen[0] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    fd = -1
    start = time.monotonic()
    n = first
    while n < first + count:
        if fd < 0 or reopen[0]:
            reopen[0] = False
            if fd >= 0:
                os.close(fd)
                fd = -1
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError:
                time.sleep(0.01)
                continue
        os.write(fd, line(n))
        n += 1
        delay = start + (n - first) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    if fd >= 0:
        os.close(fd)
    with open(status + ".tmp", "w") as fh:
        fh.write(str(n - 1))
    os.replace(status + ".tmp", status)


if __name__ == "__main__":
    main()
