"""The query contract: parameters are checked and converted the same way for every caller."""

from __future__ import annotations

import pytest

from omphalos.query import KINDS, classes_of, validate, window_label, window_secs


def test_defaults_and_http_strings_are_converted() -> None:
    assert validate("top") == {"dimension": "path", "window": "all", "limit": 20,
                               "sort": "hits", "filter": None, "host": None}
    assert validate("top", {"window": "300", "limit": "5", "sort": "5xx", "filter": "^/a",
                            "host": "web1"}) == {
        "dimension": "path", "window": "5m", "limit": 5, "sort": "5xx", "filter": "^/a",
        "host": "web1"}
    assert validate("clear_alert", {"all": "true"}) == {"path": None, "all": True}
    assert validate("series", {"step_secs": "10"})["step_secs"] == 10.0


@pytest.mark.parametrize(("kind", "params", "reason"), [
    ("nope", {}, "unknown query kind"),
    ("top", {"dimension": "colour"}, "dimension"),
    ("top", {"limit": "0"}, "limit"),
    ("top", {"limit": "many"}, "limit"),
    ("top", {"window": "5 parsecs"}, "window"),
    ("top", {"filter": "("}, "filter"),
    ("top", {"colour": "red"}, "unknown parameter"),
    ("drill", {}, "required"),
    ("clear_alert", {}, "path=... or all=true"),
])
def test_bad_parameters_say_why(kind: str, params: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate(kind, params)


def test_windows_and_classes() -> None:
    assert window_secs("5m") == 300 and window_secs("all") is None
    assert window_secs(90) == 90 and window_label(3600) == "1h" and window_label(45) == "45s"
    assert classes_of({200: 3, 404: 1, 503: 2, 0: 1}) == {
        "1xx": 0, "2xx": 3, "3xx": 0, "4xx": 1, "5xx": 2, "other": 1}
    assert {"summary", "top", "series", "overview", "drill", "hosts", "alerts",
            "clear_alert"} <= set(KINDS)
