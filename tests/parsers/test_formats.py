"""Format strings as users paste them from Apache and nginx configs."""

from __future__ import annotations

import calendar

import pytest

from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.formatstr import FormatError
from omphalos.lib.parsers.nginx_format import compile_nginx


def test_apache_documented_millisecond_format_with_a_separate_zone() -> None:
    """From the mod_log_config docs: ``%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t``."""
    fmt = compile_apache('%h %{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t "%r" %>s %b')
    columns, _, bad, _ = fmt.parse(
        b'192.0.2.1 10/Oct/2000 13:55:36.250 -0700 "GET /a.gif HTTP/1.0" 200 2326\n', 0)
    assert not bad
    assert columns.time == [calendar.timegm((2000, 10, 10, 20, 55, 36, 0, 0, 0)) + 0.25]


def test_nginx_pasted_directive_with_escape_and_several_strings() -> None:
    fmt = compile_nginx("""log_format upstream escape=default '$remote_addr - $remote_user '
                           '[$time_local] "$request" $status $body_bytes_sent '
                           '"$http_referer" "$http_user_agent" rt=$request_time';""")
    line = (b'198.51.100.9 - - [01/Nov/2026:10:00:00 +0100] "GET /x HTTP/2.0" 200 12 '
            b'"-" "say \\x22hi\\x22" rt=0.004\n')
    columns, _, bad, _ = fmt.parse(line, 0)
    assert not bad
    assert columns.agent == ['say "hi"'] and columns.duration == [0.004]
    assert columns.time == [calendar.timegm((2026, 11, 1, 9, 0, 0, 0, 0, 0))]
    assert columns.referer == [None]


def test_apache_path_and_query_side_by_side_and_a_second_client() -> None:
    fmt = compile_apache('%a %h %m %U%q %H %>s %{X-Request-Id}i "%{Cookie}C"')
    columns, _, bad, _ = fmt.parse(
        b'10.0.0.1 proxy.local GET /s?q=1 HTTP/1.1 200 abc-123 "v"\n'
        b"10.0.0.2 proxy.local GET /s HTTP/1.1 404 - \"-\"\n", 0)
    assert not bad
    assert columns.client == ["10.0.0.1", "10.0.0.2"]
    assert columns.path == ["/s", "/s"] and columns.query == ["q=1", None]
    assert columns.extra == [{"remote_host": "proxy.local", "x_request_id": "abc-123",
                              "cookie_cookie": "v"},
                             {"remote_host": "proxy.local", "x_request_id": None,
                              "cookie_cookie": None}]


@pytest.mark.parametrize(("compile_", "text", "message"), [
    (compile_apache, "%h %Z", "unsupported Apache directive %Z"),
    (compile_apache, "%h %{bogus}T", "unknown unit"),
    (compile_apache, "%h %{%Q}t", "unsupported time directive %Q"),
    (compile_apache, "no directives", "no variables"),
    (compile_nginx, "plain text", "no variables"),
])
def test_bad_format_strings_say_why(compile_, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match=message):
        compile_(text)


@pytest.mark.parametrize("name", ["auto", "combined", "common", "apache", "nginx", "w3c",
                                  "json"])
def test_every_parser_is_found_through_the_entry_points(name: str) -> None:
    from omphalos.config import describe_options
    from omphalos.registry import default_registry

    cls = default_registry().get("parser", name)
    assert cls.name == name and cls.kind == "parser" and cls.description
    assert {row[0] for row in describe_options(cls.Config)} >= {"dead_letter", "bad_sample"}


@pytest.mark.parametrize(("pasted", "expected"), [
    ("log_format main $remote_addr $status;", "$remote_addr $status"),
    ("log_format main escape=json '{\"ip\":\"$remote_addr\"}';", '{"ip":"$remote_addr"}'),
    ("log_format q '$remote_addr \\'$status\\'' ' $request_time';",
     "$remote_addr '$status' $request_time"),
    ('$remote_addr "$request"', '$remote_addr "$request"'),
])
def test_nginx_config_lines_are_unquoted(pasted: str, expected: str) -> None:
    from omphalos.lib.parsers.formatstr import unquote_config

    assert unquote_config(pasted, "log_format") == expected
