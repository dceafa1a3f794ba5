"""Writes the example config files of etc/ from the plugins' own option declarations.

Every option of every plugin an example uses is shown with its default and doc string, so
the examples cannot drift from the code: ``python etc/generate.py`` rewrites them,
``python etc/generate.py --check`` (run by the tests) fails when an option or a default in
them is stale (reworded doc strings are refreshed by the next rewrite).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from omphalos.config import describe_options
from omphalos.registry import default_registry
from omphalos.settings import Settings

HERE = Path(__file__).resolve().parent

#: (section, plugin, options set in the example) in each file, in order.
Section = tuple[str, str, dict[str, str]]

LOGS = "/var/log/nginx/access.log, /var/log/apache2/access.log"

FILES: dict[str, tuple[str, list[Section]]] = {
    "omphalos.conf": (
        "Single host: tail this machine's logs, keep sliding windows with alerts and the\n"
        "summary, serve the dashboard. Run it with: omphalos --config "
        "/etc/omphalos/omphalos.conf run\n"
        "(or as a daemon: omphalos collector --kinds all, see docs/operations.rst).\n"
        "No web server here? 'omphalos demo' runs this pipeline on a generated live log.",
        [("monitor:web", "file", {"paths": LOGS}),
         ("parser:auto", "auto", {}),
         ("transport:local", "local", {}),
         ("collector:window", "window", {}),
         ("collector:summary", "summary", {}),
         ("output:web", "web", {})]),
    "monitor.conf": (
        "Monitor role, on each web server: tail the logs, parse them, send the batches\n"
        "to the collector host, encrypted (make the keys with 'omphalos keys generate').\n"
        "Run it with: omphalos --config /etc/omphalos/monitor.conf monitor\n"
        "(init.d/omphalos-monitor and omphalos-monitor.service do).",
        [("monitor:web", "file", {"paths": LOGS}),
         ("parser:auto", "auto", {}),
         ("transport:zmq", "zmq", {
             "connect": "tcp://collector.example.com:5556",
             "secret_key_file": "/etc/omphalos/keys/web1.key_secret",
             "server_key_file": "/etc/omphalos/keys/collector.key"})]),
    "collector.conf": (
        "Collector role, on the central host: receive the monitors' batches, keep them,\n"
        "serve the dashboard. Run it with: omphalos --config /etc/omphalos/collector.conf "
        "collector\n(init.d/omphalos-collector and omphalos-collector.service do).",
        [("transport:zmq", "zmq", {
            "bind": "tcp://*:5556",
            "secret_key_file": "/etc/omphalos/keys/collector.key_secret",
            "allowed_keys_dir": "/etc/omphalos/keys/monitors"}),
         ("collector:window", "window", {}),
         ("collector:summary", "summary", {}),
         ("output:web", "web", {})]),
}

#: plugins.d examples: each file's sections are commented out, since every file in
#: /etc/omphalos/plugins.d/ is read by every role; uncomment what you use.
PLUGINS_D: dict[str, tuple[str, list[Section]]] = {
    "timeseries.conf": ("Per-interval rollups written to an InfluxDB-compatible database.",
                        [("collector:timeseries", "timeseries", {})]),
    "elasticsearch.conf": ("Every record indexed in Elasticsearch or OpenSearch (ECS).",
                           [("collector:elasticsearch", "elasticsearch", {})]),
    "window.conf": ("Sliding windows over event time, alert rules and a per-minute history.",
                    [("collector:window", "window", {})]),
    "metrics.conf": ("Prometheus counters per source host (served by output:web at /metrics).",
                     [("collector:metrics", "metrics", {})]),
    "amqp.conf": ("Send through RabbitMQ instead of ZeroMQ (set the same on both roles).",
                  [("transport:amqp", "amqp", {})]),
    "print.conf": ("Print the summary to standard output (for a foreground run).",
                   [("output:print", "print", {})]),
}


def _comment(text: str, prefix: str = "# ") -> list[str]:
    return [prefix + line for line in textwrap.wrap(text, 96 - len(prefix))] or [prefix]


def _options(config_class: type, values: dict[str, str], commented: bool) -> list[str]:
    lines: list[str] = []
    for name, _type, default, doc in describe_options(config_class):
        lines += _comment(f"{doc} (default: {default})")
        shown = default[1:-1] if default.startswith("'") and default.endswith("'") else default
        if name in values:
            lines.append(f"{'#' if commented else ''}{name} = {values[name]}")
        else:
            lines.append(f"#{name} = {shown}".rstrip())
    return lines


def render(header: str, sections: list[Section], *, commented: bool = False) -> str:
    """One example file: a header, the [omphalos] settings, then each section."""
    registry = default_registry()
    out = _comment(header)
    out += ["#", "# Every option is shown with its default; '#' lines are not read.",
            "# Generated by etc/generate.py from the plugins' declarations.", ""]
    if not commented:
        out += ["[omphalos]", *_options(Settings, {}, False), ""]
    for section, plugin, values in sections:
        kind = section.split(":", 1)[0]
        cls = registry.get(kind, plugin)
        mark = "#" if commented else ""
        out += _comment(f"{cls.description}.")
        out.append(f"{mark}[{section}]")
        if plugin != section.split(":", 1)[1]:
            out.append(f"{mark}plugin = {plugin}")
        out += [*_options(cls.Config, values, commented), ""]
    return "\n".join(out)


def wanted() -> dict[Path, str]:
    files = {HERE / name: render(header, sections) for name, (header, sections)
             in FILES.items()}
    files.update({HERE / "plugins.d" / name: render(header, sections, commented=True)
                  for name, (header, sections) in PLUGINS_D.items()})
    return files


def settings_lines(text: str) -> list[str]:
    """The sections and ``option = value`` lines of an example, commented or not.

    ``--check`` compares only these: a reworded doc string is no reason to fail, a new
    option or another default is.
    """
    return [line for line in text.splitlines() if line and not line.startswith("# ")
            and line != "#"]


def stale_files() -> list[Path]:
    """Examples whose sections, options or defaults differ from the plugins' declarations."""
    return [path for path, text in wanted().items() if not path.exists()
            or settings_lines(path.read_text(encoding="utf-8")) != settings_lines(text)]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [str(p.relative_to(HERE.parent)) for p in stale_files()]
        if stale:
            print(f"stale example configs (run: python etc/generate.py): {', '.join(stale)}",
                  file=sys.stderr)
            return 1
        return 0
    for path, text in wanted().items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
