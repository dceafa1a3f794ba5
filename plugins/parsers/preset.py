"""``preset``: the logs of servers with a fixed format, by name, and the table of every
format name ``--format`` and the ``auto`` parser know.

A preset is a factory of a format object (``parse(data, start)``); one is made per source
file, because some (W3C, CloudFront) keep per-file state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from omphalos.config import option
from omphalos.lib.parsers.apache_format import PRESETS as APACHE_PRESETS
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.nginx_format import PRESETS as NGINX_PRESETS
from omphalos.lib.parsers.w3c_format import W3CStream
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns

from .jsonpresets import caddy_format, traefik_json_format
from .servers import (
    alb_format,
    elb_format,
    haproxy_format,
    s3_format,
    squid_format,
    traefik_format,
)

PresetName = Literal["caddy", "traefik", "traefik_json", "alb", "elb", "cloudfront", "s3",
                     "squid", "haproxy", "vhost_common"]

#: Preset name -> (factory of its format, what it reads).
PRESETS: dict[str, tuple[Callable[[], Any], str]] = {
    "caddy": (caddy_format, "Caddy's JSON access log"),
    "traefik": (traefik_format, "Traefik's access log, CLF (format: common)"),
    "traefik_json": (traefik_json_format, "Traefik's access log, format: json"),
    "alb": (alb_format, "AWS Application Load Balancer access logs"),
    "elb": (elb_format, "AWS Classic Load Balancer access logs"),
    "cloudfront": (lambda: W3CStream(), "CloudFront standard logs (W3C, tab-separated)"),
    "s3": (s3_format, "Amazon S3 server access logs"),
    "squid": (squid_format, "Squid's native access.log"),
    "haproxy": (haproxy_format, "HAProxy's HTTP log (option httplog)"),
    "vhost_common": (lambda: compile_apache("vhost_common", "vhost_common"),
                     "Apache's vhost_common (%v %h %l %u %t \"%r\" %>s %b)"),
}
assert set(PRESETS) == set(get_args(PresetName))

#: Parser plugins ``--format`` may name directly.
PLUGINS = ("auto", "combined", "common", "w3c", "json")


def format_names() -> list[str]:
    """Every name ``--format`` takes."""
    return [*PLUGINS, *PRESETS, *(f"apache:{n}" for n in APACHE_PRESETS),
            *(f"nginx:{n}" for n in NGINX_PRESETS)]


def format_section(name: str) -> dict[str, str]:
    """The parser section (plugin and options) for a ``--format`` name; ValueError listing
    the names for one it does not know. A bare Apache or nginx preset name (``main``)
    works too when it is no plugin or preset (nginx's is taken when both have it)."""
    name = name.strip()
    if name in PLUGINS:
        return {"plugin": name}
    if name in PRESETS:
        return {"plugin": "preset", "preset": name}
    server, _, preset = name.partition(":")
    if server in ("apache", "nginx") and preset:
        presets = APACHE_PRESETS if server == "apache" else NGINX_PRESETS
        if preset in presets:
            return {"plugin": server, "format": preset}
    elif name in NGINX_PRESETS:
        return {"plugin": "nginx", "format": name}
    elif name in APACHE_PRESETS:
        return {"plugin": "apache", "format": name}
    raise ValueError(f"unknown format {name!r}; formats: {', '.join(format_names())} "
                     "(any other Apache or nginx format string goes in a [parser:NAME] "
                     "section of a config file)")


PRESET_DOC = "Which server's log: " + "; ".join(
    f"{name}: {text}" for name, (_, text) in PRESETS.items()) + "."


@dataclass(frozen=True)
class PresetConfig(ParserConfig):
    """Options of the ``preset`` parser."""

    preset: PresetName = option("traefik", PRESET_DOC)  # noqa: RUF009 (a Literal alias)


class PresetParser(BaseParser):
    """Logs of a server with a fixed format, named by ``preset``."""

    name = "preset"
    description = "Logs of servers with a fixed format: " + ", ".join(PRESETS)
    Config: ClassVar[type] = PresetConfig

    #: The ``--format`` names, and the parser section for one (for the command line, which
    #: reaches them through the registry).
    format_names = staticmethod(format_names)
    format_section = staticmethod(format_section)

    def setup(self) -> None:
        super().setup()
        self.factory = PRESETS[self.config.preset][0]
        self.formats: dict[str, Any] = {}

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        fmt = self.formats.get(chunk.source.file_id)
        if fmt is None:
            fmt = self.formats[chunk.source.file_id] = self.factory()
        result: tuple[Columns, int, list[BadLine], Counter[str]] = fmt.parse(
            chunk.data, chunk.start)
        return result
