"""The table of server presets (formats named by the server that writes them) and of every
format name ``--format`` and the ``auto`` parser know.

A preset is a factory of a format object (``parse(data, start)``); one is made per source
file, because some (W3C, CloudFront) keep per-file state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, get_args

from .apache_format import PRESETS as APACHE_PRESETS
from .apache_format import compile_apache
from .json_presets import caddy_format, traefik_json_format
from .linefmt import Result
from .nginx_format import PRESETS as NGINX_PRESETS
from .server_formats import (
    alb_format,
    elb_format,
    haproxy_format,
    s3_format,
    squid_format,
    traefik_format,
)
from .w3c_format import W3CStream

PresetName = Literal["caddy", "traefik", "traefik_json", "alb", "elb", "cloudfront", "s3",
                     "squid", "haproxy", "vhost_common"]


class ChunkFormat(Protocol):
    """What a preset's factory makes: a name and ``parse(data, start)``."""

    name: str

    def parse(self, data: bytes, start: int) -> Result: ...


#: Preset name -> (factory of its format, what it reads).
PRESETS: dict[str, tuple[Callable[[], ChunkFormat], str]] = {
    "caddy": (caddy_format, "Caddy's JSON access log"),
    "traefik": (traefik_format, "Traefik's access log, CLF (format: common)"),
    "traefik_json": (traefik_json_format, "Traefik's access log, format: json"),
    "alb": (alb_format, "AWS Application Load Balancer access logs"),
    "elb": (elb_format, "AWS Classic Load Balancer access logs"),
    "cloudfront": (W3CStream, "CloudFront standard logs (W3C, tab-separated)"),
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
