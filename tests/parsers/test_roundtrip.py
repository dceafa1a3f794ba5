"""Property tests: lines written with a format string parse back to the same record."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omphalos.lib.parsers.apache_format import PRESETS as APACHE_PRESETS
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.lib.parsers.nginx_format import PRESETS as NGINX_PRESETS
from omphalos.lib.parsers.nginx_format import compile_nginx
from tests.parsers.renderers import APACHE, NGINX, Sample, expected, render

WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda w: w != "-")
# what servers write unescaped: printable text without quotes and backslashes
FREE = st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"),
                             max_codepoint=0x2FF, blacklist_characters='"\\\xa0'),
               min_size=1, max_size=40).filter(
    lambda t: t != "-" and t.strip() == t and t != "")
samples = st.builds(
    Sample,
    time=st.integers(946_684_800, 1_900_000_000),
    zone_minutes=st.integers(-12 * 4, 14 * 4).map(lambda q: q * 15),
    client=st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    user=st.none() | WORD,
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.text("abcxyz0189/._~%-", max_size=30).map(lambda p: "/" + p),
    query=st.none() | st.text("abz019=&%._-", min_size=1, max_size=20).filter(
        lambda q: q != "-"),  # a lone '-' means "no query" in nginx and W3C logs
    protocol=st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"]),
    status=st.integers(100, 599),
    bytes=st.integers(0, 10**10),
    referer=st.none() | FREE,
    agent=st.none() | FREE,
    duration_ms=st.integers(0, 10**7),
    vhost=st.from_regex(r"[a-z][a-z0-9]{0,9}\.(com|org|test)", fullmatch=True),
    dash_bytes=st.booleans(),
)


def check(fmt: LineFormat, kind: str, text: str, batch: list[Sample]) -> None:
    lines = [render(kind, text, s) for s in batch]
    data = "".join(line + "\n" for line, _ in lines).encode()
    columns, n, bad, _ = fmt.parse(data, 0)
    assert n == len(batch) and not bad, (text, bad[:1])
    for (line, fields), s, record in zip(lines, batch, columns.rows()):
        want = expected(s, fields)
        got = {k: getattr(record, k) for k in want}
        if want["duration"] is not None:
            assert got.pop("duration") == pytest.approx(want.pop("duration"), abs=1e-9), line
        assert got == want, line


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(APACHE_PRESETS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(samples, min_size=1, max_size=5))
def test_apache_presets_round_trip(name: str, batch: list[Sample]) -> None:
    check(compile_apache(name), "apache", APACHE_PRESETS[name], batch)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(NGINX_PRESETS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(samples, min_size=1, max_size=5))
def test_nginx_presets_round_trip(name: str, batch: list[Sample]) -> None:
    check(compile_nginx(name), "nginx", NGINX_PRESETS[name], batch)


#: Groups of directives filling the same record fields: a random format takes at most one.
APACHE_GROUPS = [
    ["%h", "%a"], ["%u"],
    ["%t", "%{%d/%b/%Y:%H:%M:%S %z}t", "%{sec}t", "%{msec}t",
     "%{%Y-%m-%d %H:%M:%S}t.%{msec_frac}t"],
    ["%r", "%m %U%q %H", "%U"], ["%>s", "%s"], ["%b", "%B"], ['"%{Referer}i"'],
    ['"%{User-agent}i"'], ["%D", "%T", "%{ms}T"], ["%v"], ["%l"]]
NGINX_GROUPS = [["$remote_addr"], ["$remote_user"], ["[$time_local]", "$time_iso8601",
                "$msec"], ['"$request"', "$request_method $request_uri $server_protocol",
                "$request_uri"], ["$status"], ["$body_bytes_sent"], ['"$http_referer"'],
                ['"$http_user_agent"'], ["$request_time"], ["$host"]]
SEPARATORS = [" ", " | ", ", ", " - ", "\t", " :: "]


def random_format(groups: list[list[str]]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        chosen = draw(st.lists(st.sampled_from(range(len(groups))), min_size=1,
                               max_size=len(groups), unique=True))
        parts = []
        for index in chosen:
            item = draw(st.sampled_from(groups[index]))
            if item == "%r" or (item == "$request_uri" and draw(st.booleans())):
                item = f'"{item}"'
            parts.append(item)
        seps = [draw(st.sampled_from(SEPARATORS)) for _ in parts[1:]]
        text = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:]))
        return text
    return build()


@pytest.mark.timeout(120)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=random_format(APACHE_GROUPS), batch=st.lists(samples, min_size=1, max_size=4))
def test_random_apache_formats_round_trip(text: str, batch: list[Sample]) -> None:
    check(compile_apache(text), "apache", text, batch)


@pytest.mark.timeout(120)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=random_format(NGINX_GROUPS), batch=st.lists(samples, min_size=1, max_size=4))
def test_random_nginx_formats_round_trip(text: str, batch: list[Sample]) -> None:
    check(compile_nginx(text), "nginx", text, batch)


def test_render_tables_cover_the_presets_record_fields() -> None:
    """Each preset's record fields are written by the test renderers (no silent gaps)."""
    # which fields a format writes does not depend on the values: one fixed sample
    sample = Sample(time=1_000_000_000, zone_minutes=60, client="10.0.0.1", user="ann",
                    method="GET", path="/a", query="q=1", protocol="HTTP/1.1", status=200,
                    bytes=512, referer="http://r.test/", agent="curl/8", duration_ms=12,
                    vhost="v.test", dash_bytes=False)
    for name, text in APACHE_PRESETS.items():
        assert render("apache", text, sample)[1] or name == "referer", name
    assert set(APACHE) and set(NGINX)
