"""What a user agent is: browser, operating system, device and crawler, cached per string.

Browsers, systems and devices come from ``ua-parser`` (the uap-core rules, with its
``ua-parser-rs`` native matcher: about 14 µs per new string here, against about 1 ms for
``user-agents`` and 30 ms for ``device-detector``; see ``bench/README.rst``). Crawlers come
from the CrawlerDetect list of ``crawlerdetect`` (which knows about twice the bots uap-core
calls ``Spider`` on ``tests/data/apache_logs.combined.log``), run in linear time by
:class:`omphalos.lib.crawlers.CrawlerMatcher` (same answers, 0.08 ms instead of 8-12 ms
for a 256-character agent that is no bot), with uap-core's spiders as well. Every
distinct agent string is looked up once and kept in a bounded LRU cache (:data:`CACHE_SIZE`
strings), so a batch costs one dictionary look-up per line.

The libraries are imported with this module (0.07 s), not at the first agent: a daemon
imports everything before it drops to another user, who may not read the interpreter's
own library (``contextvars``...); their rules are still loaded at the first agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import ua_parser
import ua_parser_builtins.lazy  # noqa: F401  (what ua_parser imports at its first parse)

from .crawlers import CrawlerMatcher

__all__ = ["AgentInfo", "agent_info", "agent_infos", "warm", "load_rules", "CACHE_SIZE", "HUMAN",
           "MAX_AGENT_CHARS"]

#: Distinct agent strings whose answer is kept (least recently used ones go first).
CACHE_SIZE = 50_000
#: The ``crawler`` key of an agent that is not a known crawler.
HUMAN = "no"
#: Characters of an agent string that decide what it is. Real agents are shorter; a longer
#: one (hostile, or a line cut at ``max_line_bytes``) is looked at only this far, because
#: CrawlerDetect's own matcher takes time quadratic in the length (4 KB: 2 s, 64 KB: minutes;
#: :class:`~omphalos.lib.crawlers.CrawlerMatcher` is linear, but uap-core's rules are not).
MAX_AGENT_CHARS = 256


class AgentInfo(NamedTuple):
    """One agent string's browser, operating system, device and crawler (:data:`HUMAN`,
    or the bot's name)."""

    browser: str
    os: str
    device: str
    crawler: str


_MISSING = AgentInfo("-", "-", "-", HUMAN)


@lru_cache(maxsize=1)
def _parsers() -> tuple[object, object]:
    """ua-parser's default parser and the crawler matcher (built once: loading the rules
    takes a fraction of a second). ``ua_parser`` builds its own parser at its first use:
    it is built here, so that :func:`warm` loads it at a collector's setup, not in the
    middle of its first batch (0.3 s of CPU, seconds on a loaded machine)."""
    ua_parser.parser  # noqa: B018  (the module attribute's first access builds the rules)
    return ua_parser, CrawlerMatcher()


def agent_info(agent: str | None) -> AgentInfo:
    """What ``agent`` is (``-`` throughout for a missing one). Cached per distinct string
    of at most :data:`MAX_AGENT_CHARS` characters, so a long hostile agent is never kept
    whole."""
    if not agent or agent == "-":
        return _MISSING
    if len(agent) > MAX_AGENT_CHARS:
        return _agent_info(agent[:MAX_AGENT_CHARS])
    return _agent_info(agent)


@lru_cache(maxsize=CACHE_SIZE)
def _agent_info(agent: str) -> AgentInfo:
    """What an agent of at most :data:`MAX_AGENT_CHARS` characters is."""
    uap, detect = _parsers()
    result = uap.parse(agent)  # type: ignore[attr-defined]
    ua, os_, device = result.user_agent, result.os, result.device
    browser = ua.family if ua is not None else "Other"
    system = os_.family if os_ is not None else "Other"
    family = device.family if device is not None else "Other"
    crawler = HUMAN
    bot = detect.crawler(agent)  # type: ignore[attr-defined]
    if bot is not None:
        crawler = browser if browser != "Other" else bot
    elif family == "Spider":
        crawler = browser
    return AgentInfo(browser, system, family, crawler)


def warm() -> None:
    """Load the rules now (a collector's setup), not at the first batch of agents (one
    agent is looked at, past the cache: the matchers finish loading at their first use)."""
    _parsers()
    _agent_info.__wrapped__("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")


def load_rules() -> None:
    """Load every rule now, uap-core's too (a parallel replay's fork server does, so that
    the workers it forks share them instead of each loading them again)."""
    _parsers()
    _agent_info.cache_clear()
    agent_info("Mozilla/5.0 (compatible; Googlebot/2.1)")  # a bot: every matcher built
    _agent_info.cache_clear()


def agent_infos(agents: Sequence[str | None]) -> list[AgentInfo]:
    """:func:`agent_info` of every line: each distinct string looked up once."""
    table = {a: agent_info(a) for a in set(agents)}
    return list(map(table.__getitem__, agents))
