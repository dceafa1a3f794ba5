"""Packaging for Omphalos. The built-in plugins in plugins/ install as omphalos.plugins and are
registered through the same entry-point group third-party plugins use."""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent


def version() -> str:
    for line in (ROOT / "omphalos" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split('"')[1]
    raise RuntimeError("no __version__")


def packages(root: str, prefix: str) -> list[str]:
    base = ROOT / root
    found = [prefix]
    for init in sorted(base.rglob("__init__.py")):
        rel = init.parent.relative_to(base)
        if rel.parts and not any(p.startswith((".", "_")) for p in rel.parts):
            found.append(".".join((prefix, *rel.parts)))
    return found


BUILTIN_PLUGINS = [
    "file = omphalos.plugins.monitors.file:FileMonitor",
    "combined = omphalos.plugins.parsers.clf:CombinedParser",
    "common = omphalos.plugins.parsers.clf:CommonParser",
    "auto = omphalos.plugins.parsers.auto:AutoParser",
    "apache = omphalos.plugins.parsers.apache:ApacheParser",
    "nginx = omphalos.plugins.parsers.nginx:NginxParser",
    "w3c = omphalos.plugins.parsers.w3c:W3CParser",
    "json = omphalos.plugins.parsers.jsonl:JsonParser",
    "preset = omphalos.plugins.parsers.preset:PresetParser",
    "local = omphalos.plugins.transports.local:LocalTransport",
    "zmq = omphalos.plugins.transports.zeromq:ZmqTransport",
    "amqp = omphalos.plugins.transports.amqp:AmqpTransport",
    "udp = omphalos.plugins.transports.udp:UdpTransport",
    "summary = omphalos.plugins.collectors.summary:SummaryCollector",
    "window = omphalos.plugins.collectors.window:WindowCollector",
    "elasticsearch = omphalos.plugins.collectors.elasticsearch:ElasticsearchCollector",
    "timeseries = omphalos.plugins.collectors.timeseries:TimeseriesCollector",
    "print = omphalos.plugins.outputs.printer:PrintOutput",
    "web = omphalos.plugins.outputs.web:WebOutput",
    "metrics = omphalos.plugins.collectors.metrics:MetricsCollector",
]

#: The optional compiled core of the combined/common hot path (omphalos/speedups.py): built
#: where a C compiler is found; without it (a failed build is not an error) the pure-Python
#: path runs, with the same answers.
SPEEDUPS = Extension("omphalos._speedups", ["omphalos/_speedups.c"], optional=True,
                     extra_compile_args=["-O2"])

setup(
    name="omphalos",
    version=version(),
    description="Collect web-server access logs from many servers and see, live, what they do",
    long_description=(ROOT / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=packages("omphalos", "omphalos") + packages("plugins", "omphalos.plugins"),
    package_dir={"omphalos": "omphalos", "omphalos.plugins": "plugins"},
    ext_modules=[SPEEDUPS],
    package_data={"omphalos": ["py.typed", "_speedups.pyi", "htmlreport/*.js", "htmlreport/*.css"],
                  "omphalos.plugins": ["**/*.js", "**/*.html", "**/*.css", "**/*.json",
                                       "**/static/*.LICENSE"]},
    data_files=[("share/omphalos/etc", [str(p) for p in sorted(Path("etc").glob("*.conf"))]),
                ("share/omphalos/etc/plugins.d",
                 [str(p) for p in sorted(Path("etc/plugins.d").glob("*.conf"))]),
                ("share/omphalos/init.d",
                 [str(p) for p in sorted(Path("init.d").glob("omphalos-*"))]),
                ("share/omphalos/init.d/default",
                 [str(p) for p in sorted(Path("init.d/default").glob("omphalos-*"))])],
    install_requires=[
        "pykka>=4.0,<5",
        "watchdog>=4.0,<7",
        "cement>=3.0.10,<3.1",
        "urwid>=2.6,<4",
        "msgpack>=1.0,<2",
        "google-re2>=1.1,<2",
        "ua-parser[regex]>=1.0,<2",
        "crawlerdetect>=0.4,<1",
        "xxhash>=3,<5",
        # the country dimension's default data (the registries' delegations, in the wheel)
        "iptocc>=3.3,<4",
    ],
    extras_require={
        "zmq": ["pyzmq>=25,<28"],
        "amqp": ["kombu>=5.3,<6"],
        "web": ["aiohttp>=3.9,<4", "prometheus_client>=0.20,<1"],
        "elasticsearch": ["elasticsearch8>=8.12,<9"],
        "elasticsearch9": ["elasticsearch>=9,<10"],
        "opensearch": ["opensearch-py>=2.4,<4"],
        # JSON lines decoded faster, Caddy's only the keys it maps (the stdlib does it
        # without, same results)
        "fast": ["msgspec>=0.19,<1"],
        # countries from a MaxMind DB file (geoip_database = FILE.mmdb)
        "geoip": ["maxminddb>=2.5,<4"],
        "all": ["pyzmq>=25,<28", "kombu>=5.3,<6", "aiohttp>=3.9,<4", "prometheus_client>=0.20,<1",
                "elasticsearch8>=8.12,<9", "opensearch-py>=2.4,<4", "msgspec>=0.19,<1",
                "maxminddb>=2.5,<4"],
        "test": ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100", "ruff>=0.6",
                 "mypy>=1.10", "selenium>=4.20", "openapi-spec-validator>=0.7",
                 "wheel>=0.40,<1", "mmdb-writer>=0.2.7,<1"],
    },
    entry_points={
        "console_scripts": ["omphalos = omphalos.cli.main:main",
                            "httptop = omphalos.cli.httptop:main"],
        "omphalos.plugins": BUILTIN_PLUGINS,
        # the plugin a [KIND:NAME] section without plugin = uses (registry names)
        "omphalos.defaults": ["monitor = file", "parser = auto", "transport = local"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Logging",
        "Topic :: System :: Monitoring",
    ],
)
