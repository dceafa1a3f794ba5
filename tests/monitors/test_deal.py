"""``FileMonitor.deal``: a monitor's files dealt out to worker processes exactly as the
monitor itself finds them (paths, globs, directories, exclude), each file to one worker."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file import FileMonitor, FileMonitorConfig
from omphalos.plugins.monitors.file.discovery import Discovery


def _files(configs: list[FileMonitorConfig]) -> list[str]:
    return sorted(p for c in configs for p in c.paths)


def test_deal_follows_the_monitors_own_rules(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "access.log").write_bytes(b"x\n" * 500)
    with gzip.open(logs / "access.log.1.gz", "wb") as fh:
        fh.write(b"x\n" * 500)
    (logs / "error.log").write_bytes(b"x\n" * 100)
    (logs / "skip.log").write_bytes(b"x\n")
    (logs / "sub" / "deep.log").write_bytes(b"x\n" * 10)
    config = FileMonitorConfig(
        paths=(str(logs), str(logs / "**" / "*.log"), str(tmp_path / "later.log")),
        exclude=("*.gz", "skip.*"), max_in_flight=3)
    one = FileMonitor.deal(config, 1)
    two = FileMonitor.deal(config, 2)
    three = FileMonitor.deal(config, 5)
    expected = sorted([str(logs / "access.log"), str(logs / "error.log"),
                       str(logs / "sub" / "deep.log"), str(tmp_path / "later.log")])
    assert _files(one) == _files(two) == _files(three) == expected
    assert len(one) == 1 and len(two) == 2 and len(three) == 4  # four files, five workers
    for share in two + three:  # the other options are kept
        assert share.max_in_flight == 3 and share.exclude == config.exclude
    # largest first, each to the lightest worker
    assert two[0].paths == (str(logs / "access.log"),)
    # a dealt config finds exactly its own files again
    for share in two:
        found = Discovery(share.paths, share.exclude)
        assert sorted([*found.scan(), *(p for p in found.explicit_paths()
                                        if p not in found.scan())]) == sorted(share.paths)


def test_deal_refuses_no_workers() -> None:
    with pytest.raises(ValueError, match="n_workers"):
        FileMonitor.deal(FileMonitorConfig(paths=("x",)), 0)
