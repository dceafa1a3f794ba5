"""Options of the storage collectors are checked at load time, errors naming section and key."""

from __future__ import annotations

import pytest

from omphalos import Pipeline
from omphalos.config import ConfigError


@pytest.mark.parametrize(("section", "expected"), [
    ({"plugin": "elasticsearch", "batch_docs": 0}, r"\[collector:store\] batch_docs: must be 1"),
    ({"plugin": "elasticsearch", "hosts": "es1:9200"}, r"\[collector:store\] hosts: expected an"),
    ({"plugin": "elasticsearch", "index_mode": "weekly"}, r"index_mode: expected one of"),
    ({"plugin": "elasticsearch", "spool_max_bytes": 10}, r"spool_max_bytes: must be at least"),
    ({"plugin": "timeseries", "url": "influx:8086"}, r"\[collector:store\] url: expected an"),
    ({"plugin": "timeseries", "interval_secs": 0}, r"interval_secs: must be 1 or more"),
    ({"plugin": "timeseries", "retry_backoff_secs": 60}, r"retry_backoff_secs: must be"),
])
def test_bad_options_are_config_errors(section: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Pipeline.from_config({"collector:store": section})


def test_good_options_pass() -> None:
    pipeline = Pipeline.from_config({
        "collector:es": {"plugin": "elasticsearch", "hosts": "https://a:9200, https://b:9200",
                         "index_mode": "datastream", "api_key": "aWQ6a2V5"},
        "collector:ts": {"plugin": "timeseries", "url": "https://vm:8428", "token": "t"}})
    assert pipeline.components["collector:es"].config.hosts == ("https://a:9200",
                                                                  "https://b:9200")
