"""Finds plugins through the ``omphalos.plugins`` entry-point group.

Built-in plugins are declared in ``setup.py`` under the same group as third-party ones, so
there is one way to find a plugin. A class that does not fit the plugin spec is rejected when
it is loaded, with the entry point named.

Entry points are loaded lazily, by name, when a config asks for a plugin: importing every
plugin (the web server's aiohttp, the console's urwid, Elasticsearch clients) would cost a
second at every start of every command.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import typing
from collections import defaultdict
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .config import ConfigError
from .plugin import KINDS, Plugin

GROUP = "omphalos.plugins"
#: Entry-point group naming each kind's default plugin (``monitor = file``): the plugin a
#: ``[KIND:NAME]`` section without ``plugin`` uses, and the glue topology adds.
DEFAULTS_GROUP = "omphalos.defaults"
log = logging.getLogger("omphalos.registry")


class PluginSpecError(TypeError):
    """A plugin class that does not declare what every plugin must."""


def config_type(cls: type[Plugin]) -> type | None:
    """The config type ``cls`` is generic in (``CollectorPlugin[SummaryConfig]`` ->
    SummaryConfig), None when no base names one."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Plugin):
                args = [a for a in typing.get_args(base) if isinstance(a, type)]
                if args:
                    return args[0]
    return None


def check_plugin(cls: Any, where: str) -> type[Plugin]:
    """Return ``cls`` if it is a well-formed plugin class, else raise PluginSpecError."""
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginSpecError(f"{where}: not a subclass of omphalos.plugin.Plugin")
    if cls.kind not in KINDS:
        raise PluginSpecError(f"{where}: kind {cls.kind!r} is not one of {', '.join(KINDS)}")
    if not cls.name or not cls.description:
        raise PluginSpecError(f"{where}: a plugin must declare name and description")
    if inspect.isabstract(cls):
        missing = ", ".join(f"{m}()" for m in sorted(cls.__abstractmethods__))
        raise PluginSpecError(f"{where}: {cls.kind} plugin {cls.name!r} "
                              f"({cls.__module__}.{cls.__qualname__}) does not implement "
                              f"{missing}, which every {cls.kind} must")
    if not (isinstance(cls.answers, frozenset) and all(isinstance(k, str)
                                                       for k in cls.answers)):
        raise PluginSpecError(f"{where}: answers must be a frozenset of query kinds")
    if not dataclasses.is_dataclass(cls.Config):
        raise PluginSpecError(f"{where}: Config must be a dataclass")
    declared = config_type(cls)
    if declared is not None and not issubclass(cls.Config, declared):
        raise PluginSpecError(f"{where}: Config {cls.Config.__name__} is not the config type "
                              f"{declared.__name__} the class is generic in")
    for f in dataclasses.fields(cls.Config):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise PluginSpecError(f"{where}: option {f.name} has no default")
        if not f.metadata.get("doc"):
            raise PluginSpecError(f"{where}: option {f.name} has no doc string (use option())")
    return cls


class Registry:
    """Plugin classes by (kind, name)."""

    def __init__(self) -> None:
        self._plugins: dict[tuple[str, str], type[Plugin]] = {}
        self._unloaded: defaultdict[str, list[EntryPoint]] = defaultdict(list)
        self.errors: list[str] = []
        #: kind -> registry name of its default plugin, as the installed packages declare
        #: (read from metadata: nothing is imported)
        self.defaults: dict[str, str] = {}
        for ep in entry_points(group=DEFAULTS_GROUP):
            self.defaults.setdefault(ep.name, ep.value.strip())

    def add(self, cls: type[Plugin], where: str = "") -> None:
        """Register ``cls`` (it wins over an entry point of the same kind and name)."""
        check_plugin(cls, where or repr(cls))
        self._plugins[(cls.kind, cls.name)] = cls

    def _load(self, name: str) -> None:
        """Import the entry points called ``name`` that are not loaded yet."""
        for ep in self._unloaded.pop(name, []):
            where = f"entry point {ep.name} = {ep.value}"
            try:
                cls = check_plugin(ep.load(), where)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide others
                reason = str(exc) if isinstance(exc, PluginSpecError) else f"{where}: {exc}"
                self.errors.append(reason)
                log.error("cannot load plugin: %s", reason)
                continue
            self._plugins.setdefault((cls.kind, cls.name), cls)

    def _load_all(self) -> None:
        for name in list(self._unloaded):
            self._load(name)

    def get(self, kind: str, name: str, *, file: str | None = None,
            section: str | None = None) -> type[Plugin]:
        self._load(name)
        try:
            return self._plugins[(kind, name)]
        except KeyError:
            self._load_all()
            known = ", ".join(sorted(n for k, n in self._plugins if k == kind)) or "none"
            raise ConfigError(f"unknown {kind} plugin {name!r} (known: {known})", file=file,
                              section=section, key="plugin") from None

    def default(self, kind: str) -> str | None:
        """The registry name of ``kind``'s default plugin, if one is declared."""
        return self.defaults.get(kind)

    def has(self, kind: str, name: str) -> bool:
        self._load(name)
        return (kind, name) in self._plugins

    def all(self) -> list[type[Plugin]]:
        """Every plugin, all entry points loaded."""
        self._load_all()
        return [self._plugins[k] for k in sorted(self._plugins, key=lambda k: (KINDS.index(
            k[0]), k[1]))]

    @classmethod
    def discover(cls) -> Registry:
        """Every plugin registered under the entry-point group (imported when first asked)."""
        registry = cls()
        for ep in entry_points(group=GROUP):
            registry._unloaded[ep.name].append(ep)
        return registry


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, discovered once per process."""
    global _default
    if _default is None:
        _default = Registry.discover()
    return _default
