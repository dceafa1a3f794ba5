"""Plugin options declared once, read from INI files or dicts, checked with clear errors.

A plugin's ``Config`` is a frozen dataclass. Every field is declared with :func:`option`,
which gives it a default and a doc string; ``omphalos plugins`` and the docs are generated
from these declarations. :func:`build_config` turns raw values (strings from an INI file, or
Python values from an embedding program) into an instance and rejects unknown keys and wrong
types with a :class:`ConfigError` that names the file, section and key.
"""

from __future__ import annotations

import configparser
import dataclasses
import glob
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

__all__ = ["option", "ConfigError", "build_config", "describe_options", "ConfigSource",
           "load_ini", "default_config_files", "RawSection"]


def option(default: Any, doc: str) -> Any:
    """Declare a config option with its default and a one-line doc string."""
    if isinstance(default, (list, dict, set)):
        frozen = tuple(default) if not isinstance(default, dict) else dict(default)
        return field(default_factory=lambda: frozen, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


class ConfigError(ValueError):
    """A config problem, worded for the user: ``file: [section] key: what is wrong``."""

    def __init__(self, message: str, *, file: str | None = None, section: str | None = None,
                 key: str | None = None) -> None:
        self.file, self.section, self.key, self.reason = file, section, key, message
        where = []
        if file:
            where.append(f"{file}:")
        if section:
            where.append(f"[{section}]")
        if key:
            where.append(f"{key}:")
        super().__init__(" ".join([*where, message]))


@dataclass
class RawSection:
    """One config section's raw values and, per key, the file it was read from."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    file: str | None = None

    def origin(self, key: str | None = None) -> str | None:
        """The file a key (or else the section) was read from, None for dict config."""
        return self.origins.get(key, self.file) if key else self.file


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError(f"expected yes/no/true/false, got {text!r}")


def _split_list(text: str) -> list[str]:
    parts = [p.strip() for chunk in text.splitlines() for p in chunk.split(",")]
    return [p for p in parts if p]


def convert(value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the type ``annotation`` names, or raise ValueError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin in (tuple, list) or annotation in (tuple, list):
        inner = args[0] if args else str
        items = _split_list(value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        return tuple(convert(v, inner) for v in items)
    if origin is dict or annotation is dict:
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, str):
            pairs = {}
            for item in _split_list(value):
                if "=" not in item:
                    raise ValueError(f"expected key=value items, got {item!r}")
                k, v = item.split("=", 1)
                pairs[k.strip()] = v.strip()
            return pairs
        raise ValueError(f"expected key=value items, got {value!r}")
    if annotation is typing.Any:
        return value
    if typing.get_origin(annotation) is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"expected one of {', '.join(map(str, args))}, got {value!r}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _parse_bool(value)
        raise ValueError(f"expected yes or no, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise ValueError(f"expected a whole number, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"expected text, got {value!r}")
    raise ValueError(f"unsupported option type {annotation!r}")


def _hints(config_class: type) -> dict[str, Any]:
    return typing.get_type_hints(config_class)


def build_config(config_class: type, section: RawSection, *, ignore: Iterable[str] = ()) -> Any:
    """An instance of ``config_class`` from ``section``; ConfigError names file, section, key."""
    hints = _hints(config_class)
    names = {f.name for f in dataclasses.fields(config_class)}
    skip = set(ignore)
    kwargs: dict[str, Any] = {}
    for key, raw in section.values.items():
        if key in skip:
            continue
        name = key.replace("-", "_")
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise ConfigError(f"unknown option (this plugin takes: {known})",
                              file=section.origin(key), section=section.name, key=key)
        try:
            kwargs[name] = convert(raw, hints[name])
        except ValueError as exc:
            raise ConfigError(str(exc), file=section.origin(key), section=section.name,
                              key=key) from None
    try:
        instance = config_class(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file=section.origin(), section=section.name) from None
    check = getattr(instance, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            bad_key: str | None = exc.args[1] if len(exc.args) > 1 else None
            raise ConfigError(str(exc.args[0]), file=section.origin(bad_key),
                              section=section.name, key=bad_key) from None
    return instance


def _type_name(annotation: Any) -> str:
    """How ``omphalos plugins`` shows an option's type: ``one of: ms, s`` for a Literal,
    ``tuple of str`` for a tuple, ``str | None`` for a union."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin in (tuple, list) and args:
        inner = [a for a in args if a is not Ellipsis]
        return f"{origin.__name__} of " + ", ".join(_type_name(a) for a in inner)
    if origin is dict and args:
        return f"dict of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin in (typing.Union, types.UnionType) and args:
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "")


def describe_options(config_class: type) -> list[tuple[str, str, str, str]]:
    """(name, type, default, doc) for every option of ``config_class``."""
    hints = _hints(config_class)
    rows = []
    for f in dataclasses.fields(config_class):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        if isinstance(default, tuple):
            default = ", ".join(map(str, default))
        rows.append((f.name, _type_name(hints[f.name]), repr(default) if isinstance(default, str)
                     else str(default), f.metadata.get("doc", "")))
    return rows


@dataclass
class ConfigSource:
    """Config sections gathered from files (or a dict), each key with the file it came from."""

    sections: dict[str, RawSection] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def section(self, name: str) -> RawSection:
        return self.sections.get(name) or RawSection(name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]], *, origin: str | None = None
                  ) -> ConfigSource:
        """Sections from a ``{section: {key: value}}`` mapping (the embedding API)."""
        out = cls()
        for name, values in data.items():
            if not isinstance(values, Mapping):
                raise ConfigError("expected a mapping of options", file=origin, section=name)
            raw = RawSection(name, dict(values), {k: origin for k in values} if origin else {},
                             origin)
            out.sections[name] = raw
        return out

    def merge(self, other: ConfigSource) -> None:
        """Add ``other``'s sections; its keys override ours (later files win)."""
        for name, sec in other.sections.items():
            mine = self.sections.setdefault(name, RawSection(name, file=sec.file))
            mine.values.update(sec.values)
            mine.origins.update(sec.origins)
        self.files.extend(other.files)


def load_ini(paths: Iterable[str | os.PathLike[str]], *, required: bool = True) -> ConfigSource:
    """Read INI files in order (later ones override); ConfigError for unreadable ones."""
    out = ConfigSource()
    for p in paths:
        path = str(p)
        if not os.path.exists(path):
            if required:
                raise ConfigError("no such config file", file=path)
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=True,
                                           inline_comment_prefixes=("#", ";"))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            with open(path, encoding="utf-8") as fh:
                parser.read_file(fh, source=path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", file=path) from None
        except configparser.Error as exc:
            message = str(exc).replace("\n", " ")
            raise ConfigError(f"not a valid INI file: {message}", file=path) from None
        part = ConfigSource(files=[path])
        for name in parser.sections():
            values = dict(parser.items(name, raw=True))
            part.sections[name] = RawSection(name, values, {k: path for k in values}, path)
        out.merge(part)
    return out


def default_config_files(home: str | None = None) -> list[str]:
    """The cement places, in the order they are read: system file, plugins.d, user file."""
    files = ["/etc/omphalos/omphalos.conf"]
    files += sorted(glob.glob("/etc/omphalos/plugins.d/*.conf"))
    files.append(str(Path(home or Path.home()) / ".omphalos.conf"))
    return files
