"""The real OpenSearch node of the storage tests: started once per test run, on a free port.

Tests that use the ``opensearch`` fixture are skipped, with the reason in pytest's summary,
when Java or Maven is missing; a build or start failure is an error, not a skip.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.opensearch.node import NodeUnavailable, OpenSearchNode, build

from .helpers import free_port


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
    print(f"\nopensearch: build {build_secs:.1f}s, start {node.start_secs:.1f}s, "
          f"RSS {node.rss_bytes() / 2**20:.0f} MiB, {node.url}", file=sys.stderr)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def running_node(opensearch: OpenSearchNode) -> OpenSearchNode:
    """The session node, started again first if a previous test left it stopped."""
    if not opensearch.running:
        opensearch.start()
    return opensearch
