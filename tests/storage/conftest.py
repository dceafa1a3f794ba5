"""The real OpenSearch node of the storage tests: started once per test run, on a free port.

Tests that use the ``opensearch`` fixture are skipped, with the reason in pytest's summary,
when Java or Maven is missing; a build or start failure is an error, not a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.opensearch.node import NodeUnavailable, OpenSearchNode, build

from .helpers import free_port

#: What the session node cost, for the end of pytest's report.
FIGURES: list[str] = []


@pytest.fixture(scope="session")
def opensearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSearchNode]:
    """A running single-node OpenSearch 2.19 (``tests/opensearch/start``), stopped at the end.

    Tests may stop and start it again (same port and data); it is running again after each.
    """
    try:
        build_secs = build()
    except NodeUnavailable as exc:
        pytest.skip(f"real OpenSearch node unavailable: {exc}")
    home: Path = tmp_path_factory.mktemp("opensearch") / "home"
    node = OpenSearchNode(home, free_port()).start()
    FIGURES.append(f"real OpenSearch node: build step {build_secs:.1f} s, start "
                   f"{node.start_secs:.1f} s, RSS {node.rss_bytes() / 2**20:.0f} MiB at start")
    try:
        yield node
    finally:
        FIGURES.append(f"real OpenSearch node: RSS {node.rss_bytes() / 2**20:.0f} MiB at the end")
        node.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line on what the session node cost (when it ran)."""
    for line in FIGURES:
        terminalreporter.write_line(line)


@pytest.fixture
def running_node(opensearch: OpenSearchNode) -> OpenSearchNode:
    """The session node, started again first if a previous test left it stopped."""
    if not opensearch.running:
        opensearch.start()
    return opensearch
