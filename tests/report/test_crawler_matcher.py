"""The linear-time crawler matcher gives CrawlerDetect's answers, string for string.

Compared with ``crawlerdetect.CrawlerDetect`` itself (the classifier it replaces) on: every
distinct agent of the real corpus ``tests/data/apache_logs.combined.log``; for each of
CrawlerDetect's ~1,500 patterns a string it matches, alone, after and before real browser
agents, in upper case; the look-ahead pattern's own cases (``Yandex`` followed by
``Search`` or not, several times in one agent); agents that are no bot and long; and
non-ASCII and multi-line agents (answered by CrawlerDetect itself). The same yes/no and the
same bot name each time.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from crawlerdetect import CrawlerDetect

from omphalos.lib.crawlers import CRAWLERS, LOOKAHEAD, CrawlerMatcher
from omphalos.lib.useragent import MAX_AGENT_CHARS

DATA = Path(__file__).resolve().parents[1] / "data"
BROWSERS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
            "Mozilla/5.0 (compatible; ", "curl/8.4.0", ""]


def corpus_agents() -> list[str]:
    """The distinct agents of the real corpus (the last quoted field of each line)."""
    text = (DATA / "apache_logs.combined.log").read_text("utf-8", "replace")
    return sorted({line.rsplit('"', 2)[-2] for line in text.splitlines()
                   if line.count('"') >= 6})


def a_match_of(pattern: str) -> str:
    """A string ``pattern`` matches (escapes undone, anchors, groups and classes reduced)."""
    text = re.sub(r"\[[^\]]*\]", "1", pattern)
    text = re.sub(r"\\(.)", r"\1", text)
    text = LOOKAHEAD.sub("", text)
    return re.sub(r"[\^$()?*+|]", "", text)


def reference(detect: CrawlerDetect, agent: str) -> str | None:
    return detect.getMatches() if detect.isCrawler(agent) else None


def agents_to_check() -> list[str]:
    rng = random.Random(20)
    out = corpus_agents()
    for pattern in CRAWLERS:
        sample = a_match_of(pattern)
        out += [sample, rng.choice(BROWSERS) + sample, sample + " " + rng.choice(BROWSERS),
                f"{rng.choice(BROWSERS)} {sample.upper()} x"]
    out += ["YandexSearch/1.0", "Mozilla/5.0 YandexSearch Yandex/1.0", "YandexSearchYandexBot",
            "yandexsearch YANDEX", "Yandex", "x" * 300, "Mozilla/5.0 " + "a" * 244,
            "Mozilla/5.0 (Linux; Android 14) Gecko Firefox/121.0 Ünïcode bot",
            "Mozilla/5.0 Googlebot\nnext", "\t  Googlebot/2.1  ", "   ", "Safari/1.0",
            "Mozilla/5.0 \u0663\u0664 Java/1.8"]
    return [agent[:MAX_AGENT_CHARS] for agent in out]


def test_same_answers_as_crawlerdetect() -> None:
    detect, matcher = CrawlerDetect(), CrawlerMatcher()
    agents = agents_to_check()
    differ = [(a, reference(detect, a), matcher.crawler(a)) for a in agents
              if reference(detect, a) != matcher.crawler(a)]
    assert differ == []
    found = sum(reference(detect, a) is not None for a in agents)
    assert found > 5000 and found < len(agents)  # both answers well represented


@pytest.mark.timeout(60)
def test_long_distinct_agents_take_linear_time() -> None:
    """A thousand distinct 256-character agents, mostly no bot: the hostile case (the time
    is printed, not asserted: the machine may be shared)."""
    rng = random.Random(3)
    matcher = CrawlerMatcher()
    agents = ["Mozilla/5.0 (X11; Linux) " + "".join(rng.choice("abcdefghij ;()")
                                                     for _ in range(230)) for _ in range(1000)]
    started = time.process_time()
    answers = [matcher.crawler(a) for a in agents]
    spent = time.process_time() - started
    detect = CrawlerDetect()
    assert answers[:100] == [reference(detect, a) for a in agents[:100]]
    print(f"{spent / len(agents) * 1e3:.3f} ms per agent")
