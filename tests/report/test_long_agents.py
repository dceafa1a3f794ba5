"""A hostile agent string (64 KB, 2 MB: a line cut at max_line_bytes, or a crafted one) is
classified by its first MAX_AGENT_CHARS characters: CrawlerDetect's patterns take time
quadratic in the length (a 64 KB agent took minutes), and the cache never keeps it whole."""

from __future__ import annotations

import pytest

from omphalos.lib.useragent import MAX_AGENT_CHARS, agent_info

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", [MAX_AGENT_CHARS + 1, 65_536, 2_000_000])
def test_a_long_agent_is_classified_by_its_head(length: int) -> None:
    agent = (BOT + " " + "A" * length)[:length]
    assert agent_info(agent) == agent_info(agent[:MAX_AGENT_CHARS])
    assert agent_info(agent).crawler != "no"  # still the bot it starts with
    assert agent_info("A" * length) == agent_info("A" * MAX_AGENT_CHARS)
