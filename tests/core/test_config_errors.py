"""Bad config gets a one-line error that names the file, the section and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from omphalos import ConfigError, Pipeline
from omphalos.cli.main import main
from omphalos.config import ConfigSource, load_ini


def write(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "omphalos.conf"
    conf.write_text(textwrap.dedent(text))
    return conf


CASES = {
    "unknown plugin": ("""
        [monitor:web]
        paths = /var/log/nginx/access.log

        [collector:main]
        plugin = sumary
        """, "[collector:main] plugin: unknown collector plugin 'sumary' (known: "),
    "unknown key": ("""
        [monitor:web]
        paths = /var/log/nginx/access.log
        folow = yes
        """, "[monitor:web] folow: unknown option (this plugin takes: "),
    "wrong type": ("""
        [monitor:web]
        paths = /var/log/nginx/access.log
        max_in_flight = lots
        """, "[monitor:web] max_in_flight: expected a whole number, got 'lots'"),
    "wrong bool": ("""
        [monitor:web]
        paths = /var/log/nginx/access.log
        follow = perhaps
        """, "[monitor:web] follow: expected yes/no/true/false, got 'perhaps'"),
    "bad settings": ("""
        [omphalos]
        ask_timeout_secs = soon

        [monitor:web]
        paths = /var/log/nginx/access.log
        """, "[omphalos] ask_timeout_secs: expected a number, got 'soon'"),
    "switch interval out of range": ("""
        [omphalos]
        query_switch_interval_ms = -1

        [monitor:web]
        paths = /var/log/nginx/access.log
        """, "[omphalos] query_switch_interval_ms: must be between 0 and 100"),
    "unknown section": ("""
        [monitr:web]
        paths = /var/log/nginx/access.log
        """, "[monitr:web] unknown section"),
    "unknown input": ("""
        [monitor:web]
        paths = /var/log/nginx/access.log

        [parser:main]
        plugin = combined
        inputs = api
        """, "[parser:main] inputs: no monitor named 'api'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_names_file_section_and_key(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    conf = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Pipeline.from_config(load_ini([conf]))
    message = str(info.value)
    assert message.startswith(f"{conf}: "), message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_command_prints_one_line_and_fails(tmp_path: Path, case: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = CASES[case]
    conf = write(tmp_path, text)
    assert main(["check", "-c", str(conf)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"omphalos: config error: {conf}: ")
    assert expected in err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.conf"
    assert main(["check", "-c", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"omphalos: config error: {missing}: no such config file"


def test_invalid_ini(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("paths = before any section\n")
    assert main(["check", "-c", str(conf)]) == 2
    err = capsys.readouterr().err
    assert f"{conf}: not a valid INI file" in err


def test_later_file_overrides_and_is_named(tmp_path: Path) -> None:
    first = tmp_path / "a.conf"
    first.write_text("[monitor:web]\npaths = /tmp/x.log\nmax_in_flight = 4\n")
    second = tmp_path / "b.conf"
    second.write_text("[monitor:web]\nmax_in_flight = many\n")
    with pytest.raises(ConfigError) as info:
        Pipeline.from_config(load_ini([first, second]))
    assert str(info.value).startswith(f"{second}: [monitor:web] max_in_flight:")


def test_dict_config_errors_name_section_and_key() -> None:
    with pytest.raises(ConfigError, match=r"^\[monitor:web\] max_in_flight: expected a whole"):
        Pipeline.from_config(ConfigSource.from_dict(
            {"monitor:web": {"paths": ["/tmp/x.log"], "max_in_flight": "x"}}))


def test_valid_config_passes_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write(tmp_path, """
        [monitor:web]
        paths = /var/log/nginx/access.log

        [collector:summary]
        """)
    assert main(["check", "-c", str(conf)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config OK")
    assert "monitor:web" in out and "parser:auto" in out and "transport:local" in out
