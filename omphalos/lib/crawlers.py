"""CrawlerDetect's answer in time linear in the agent's length: its rules run by RE2.

``crawlerdetect`` (the maintained CrawlerDetect list) joins its ~1,500 patterns into one
Python regex and *searches* the agent with it: at each of the agent's positions each
pattern is tried, about 12 ms for a 256-character agent that is no bot (a hostile client
sending many distinct long agents would cost a core). :class:`CrawlerMatcher` gives the same
answers (the same yes/no and the same matched bot name) with the same rules:

1. the exclusions (browser tokens CrawlerDetect strips first) are removed with the same
   alternation compiled by RE2 (leftmost-first, like Python's ``re.sub``; none of them can
   match the empty string, so both remove the same spans);
2. RE2 searches the rest with the crawler alternation where each look-ahead (RE2 has none:
   only ``Yandex(?!Search)`` today) is dropped, a pattern that matches wherever the real
   one does and perhaps more: the leftmost position where it matches is the first position
   where the real one can;
3. the real (Python) alternation is then tried *at that position only*
   (``pattern.match(agent, pos)``: the bot name, exactly as ``search`` would give it); when
   it does not match there (a dropped look-ahead said no), the search goes on after it.

Each step is linear in the agent's length (step 3 is one try of each pattern, at one
position, done only where a crawler may be). Only ASCII agents without line breaks go this
way, where RE2 and Python's ``re`` read every construct of the rules alike (``\\d`` is
Unicode in Python, ASCII in RE2; ``$`` also matches before a final newline in Python);
any other agent is asked of CrawlerDetect itself (real agents are ASCII; the caller caps
the length, :data:`omphalos.lib.useragent.MAX_AGENT_CHARS`).
"""

from __future__ import annotations

import re
from functools import cached_property

import re2
from crawlerdetect import CrawlerDetect
from crawlerdetect.providers.crawlers import data as CRAWLERS
from crawlerdetect.providers.exclusions import data as EXCLUSIONS

__all__ = ["CrawlerMatcher", "LOOKAHEAD"]

#: A look-ahead assertion (RE2 has none): dropped from the RE2 pattern, checked by Python.
LOOKAHEAD = re.compile(r"\(\?<?[!=][^()]*\)")
#: Memory RE2 may use for each compiled alternation (its DFA cache).
RE2_MAX_MEM = 64 << 20


def _re2(patterns: list[str]) -> re2._Regexp:
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = RE2_MAX_MEM
    options.never_capture = True  # only where the match is: the groups come from Python
    return re2.compile("|".join(f"(?:{p})" for p in patterns).encode("ascii"), options)


class CrawlerMatcher:
    """Whether an agent is a crawler, and the bot name CrawlerDetect would give."""

    def __init__(self) -> None:
        self._exclusions = _re2(list(EXCLUSIONS))
        self._candidates = _re2([LOOKAHEAD.sub("", p) for p in CRAWLERS])

    @cached_property
    def _crawlers(self) -> re.Pattern[str]:
        """CrawlerDetect's own alternation, as it compiles it (0.1 s: at the first agent
        that may be a crawler)."""
        return re.compile(f'({"|".join(CRAWLERS)})', re.IGNORECASE)

    @cached_property
    def _fallback(self) -> CrawlerDetect:
        return CrawlerDetect()

    def crawler(self, agent: str) -> str | None:
        """The bot name CrawlerDetect matches in ``agent``; None when it is no crawler."""
        agent = agent.strip()
        if not agent:
            return None
        if not agent.isascii() or "\n" in agent or "\r" in agent:
            return self._slow(agent)
        rest = self._exclusions.sub(b"", agent.encode("ascii"))
        if not rest:
            return None
        text = rest.decode("ascii")
        pos = 0
        while pos <= len(rest):
            found = self._candidates.search(rest, pos)
            if found is None:
                return None
            at = found.start()
            real = self._crawlers.match(text, at)
            if real is not None:
                return next((g for g in real.groups() if g), None)
            pos = at + 1
        return None

    def _slow(self, agent: str) -> str | None:
        """CrawlerDetect itself (agents RE2 might read otherwise than Python)."""
        detect = self._fallback
        if not detect.isCrawler(agent):
            return None
        return detect.getMatches() or None
