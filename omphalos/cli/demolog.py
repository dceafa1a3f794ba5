"""A realistic live access log for ``omphalos demo``: nginx's combined format plus
``$request_time``, written as a busy small site would, with an error burst now and then.

Requests follow a daily-looking rate (a slow swell around ``rate``), clients and paths are
skewed as on real sites (a few hot ones, a long tail), static files are fast and small, API
calls slower, and every ``burst_every_secs`` (2 minutes) the API answers 503 to 60% of its calls for
``burst_secs`` (40 s): enough for the site's error-rate alert to fire, then resolve.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = ["DemoLog", "demo_line"]

#: (path, weight, mean bytes, mean seconds): what the site serves, and how often.
PATHS: tuple[tuple[str, float, int, float], ...] = (
    ("/", 14, 18_000, 0.045), ("/index.html", 4, 18_000, 0.040),
    ("/static/app.js", 10, 92_000, 0.004), ("/static/style.css", 9, 21_000, 0.003),
    ("/static/logo.svg", 7, 6_200, 0.002), ("/favicon.ico", 6, 1_150, 0.001),
    ("/api/v1/items", 9, 4_800, 0.120), ("/api/v1/items/{id}", 8, 1_600, 0.080),
    ("/api/v1/cart", 4, 900, 0.150), ("/search?q={word}", 5, 12_000, 0.300),
    ("/login", 3, 3_400, 0.200), ("/blog/{slug}", 5, 26_000, 0.060),
    ("/robots.txt", 1, 120, 0.001), ("/wp-login.php", 1, 160, 0.002),
)
AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0 Safari/537.36", 40),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", 18),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 12),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148", 16),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 6),
    ("curl/8.5.0", 3), ("python-requests/2.32.3", 3), ("Prometheus/2.53.0", 2),
)
REFERERS = (("-", 50), ("https://www.google.com/", 25), ("https://demo.example.org/", 20),
            ("https://news.ycombinator.com/", 3), ("https://duckduckgo.com/", 2))
WORDS = ("omphalos", "nginx", "logs", "alerts", "dashboard", "rotation", "zeromq", "tail")
SLUGS = ("hello-world", "tailing-logs", "sliding-windows", "percentiles", "on-call")


@dataclass
class DemoSite:
    """The random choices of one site (seeded: the same demo each time)."""

    rng: random.Random
    rate: float = 20.0
    burst_every_secs: float = 120.0
    burst_secs: float = 40.0

    def __post_init__(self) -> None:
        self.clients = [f"{self.rng.choice((10, 172, 192, 203, 198))}."
                        f"{self.rng.randrange(256)}.{self.rng.randrange(256)}."
                        f"{self.rng.randrange(1, 255)}" for _ in range(300)]
        self.client_weights = [1.0 / (i + 1) ** 0.9 for i in range(len(self.clients))]

    def rate_at(self, t: float) -> float:
        """Requests per second at epoch ``t``: a slow swell of +-30 % around ``rate``."""
        return self.rate * (1.0 + 0.3 * math.sin(t / 180.0))

    def in_burst(self, t: float) -> bool:
        return (t % self.burst_every_secs) < self.burst_secs

    def line(self, t: float) -> str:
        """One request at epoch ``t`` as a combined-format line with ``$request_time``."""
        rng = self.rng
        path, _, size, secs = rng.choices(PATHS, weights=[p[1] for p in PATHS])[0]
        path = path.replace("{id}", str(rng.randrange(1, 500))).replace(
            "{word}", rng.choice(WORDS)).replace("{slug}", rng.choice(SLUGS))
        method = "POST" if path in ("/login", "/api/v1/cart") and rng.random() < 0.6 else "GET"
        status = 200
        roll = rng.random()
        if path.startswith("/api/") and self.in_burst(t) and roll < 0.6:
            status, secs = 503, secs * 8
        elif path == "/wp-login.php":
            status = 404
        elif roll < 0.004:
            status = 500
        elif roll < 0.03:
            status = 404
        elif roll < 0.10 and path.startswith("/static/"):
            status, size = 304, 0
        elif roll < 0.11:
            status = 301
        body = 0 if status == 304 else max(0, int(rng.gauss(size, size * 0.15)))
        duration = max(0.0005, rng.lognormvariate(math.log(secs), 0.5))
        client = rng.choices(self.clients, weights=self.client_weights)[0]
        agent = rng.choices([a for a, _ in AGENTS], weights=[w for _, w in AGENTS])[0]
        referer = rng.choices([r for r, _ in REFERERS], weights=[w for _, w in REFERERS])[0]
        return demo_line(t, client, method, path, status, body, referer, agent, duration)


def demo_line(t: float, client: str, method: str, path: str, status: int, size: int,
              referer: str, agent: str, duration: float) -> str:
    """nginx ``combined`` plus ``$request_time`` (UTC timestamps)."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return (f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} '
            f'"{referer}" "{agent}" {duration:.3f}\n')


#: Past traffic written at once: enough for the charts to start with a slope, less than twice
#: the 1m alert window, so the spike and drop rules (which need a baseline twice as long)
#: do not judge while the collector is still catching up with the oldest lines.
BACKFILL_SECS = 100.0


class DemoLog(threading.Thread):
    """Writes ``backfill_secs`` of past requests to ``path`` at once, then live ones."""

    def __init__(self, path: Path, *, rate: float = 20.0, backfill_secs: float = BACKFILL_SECS,
                 seed: int = 7, tick_secs: float = 0.2) -> None:
        super().__init__(name="omphalos-demo-log", daemon=True)
        self.path = path
        self.site = DemoSite(random.Random(seed), rate=rate)
        self.backfill_secs = backfill_secs
        self.tick_secs = tick_secs
        self.written = 0
        self.halt = threading.Event()
        self._next = time.time() - backfill_secs

    def write_due(self, fh: TextIO, until: float) -> int:
        """Write every request due before ``until``; how many."""
        count = 0
        site = self.site
        while self._next < until:
            fh.write(site.line(self._next))
            count += 1
            self._next += site.rng.expovariate(site.rate_at(self._next))
        fh.flush()
        self.written += count
        return count

    def backfill(self) -> int:
        """The past ``backfill_secs`` at once (call before the pipeline starts)."""
        with self.path.open("a", encoding="utf-8") as fh:
            return self.write_due(fh, time.time())

    def run(self) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            while not self.halt.wait(self.tick_secs):
                self.write_due(fh, time.time())

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(5)
