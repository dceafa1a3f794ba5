"""From config sections to components: which plugin, which options, who feeds whom.

A component section is named ``[KIND:NAME]`` (``[monitor:web]``, ``[collector:summary]``).
Two keys are the pipeline's, not the plugin's:

``plugin``
    the registry name of the plugin; default: NAME when a plugin of that kind has that
    name, else the kind's default plugin, which the installed packages declare (entry-point
    group ``omphalos.defaults``: the ``file`` monitor, ``auto`` parser and ``local``
    transport); collectors and outputs must name theirs.
``inputs``
    components this one reads from; default: every component of the kind upstream
    (monitor -> parser -> transport -> collector -> output).

Missing glue is added: monitors without a parser get the default parser (``parser:auto``),
parsers without a transport the default transport (``transport:local``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, ConfigSource, RawSection, build_config
from .plugin import KINDS, Plugin
from .registry import Registry
from .settings import Settings

UPSTREAM = {"parser": "monitor", "transport": "parser", "collector": "transport",
            "output": "collector"}
PIPELINE_KEYS = ("plugin", "inputs")
SETTINGS_SECTION = "omphalos"
#: Sections the command line's own front ends read, not the pipeline: ``[httptop]``, the
#: options of the console (:mod:`omphalos.console`, part of the CLI, no plugin).
FRONT_END_SECTIONS = ("httptop",)


@dataclass
class ComponentSpec:
    """One component of a pipeline: a plugin class, its checked config and its wiring."""

    name: str
    kind: str
    cls: type[Plugin]
    config: Any
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


def section_of(cls: type[Plugin], config: Any) -> dict[str, Any]:
    """The raw section (``plugin`` plus the options that differ from their defaults) that
    builds ``config`` of plugin ``cls`` again: how a config crosses to another process."""
    out: dict[str, Any] = {"plugin": cls.name}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else dataclasses.MISSING)
        if value != default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _split(name: str) -> tuple[str, str] | None:
    if ":" not in name:
        return None
    kind, _, short = name.partition(":")
    return (kind.strip(), short.strip()) if kind.strip() in KINDS and short.strip() else None


def plugin_name(section: RawSection, registry: Registry) -> str:
    """The plugin of component section ``KIND:NAME``: its ``plugin`` key, else the plugin
    called NAME, else the kind's default."""
    kind, short = section.name.split(":", 1)
    name = str(section.values.get("plugin", "")).strip()
    if name:
        return name
    return short if registry.has(kind, short) else (registry.default(kind) or short)


def plugin_class(section: RawSection, registry: Registry) -> type[Plugin]:
    """The plugin class of component section ``section`` (a ConfigError naming the file,
    section and key when there is none)."""
    return registry.get(section.name.split(":", 1)[0], plugin_name(section, registry),
                        file=section.origin("plugin"), section=section.name)


def build_settings(source: ConfigSource) -> Settings:
    settings: Settings = build_config(Settings, source.section(SETTINGS_SECTION))
    return settings


def build_components(source: ConfigSource, registry: Registry,
                     kinds: Iterable[str] = KINDS) -> list[ComponentSpec]:
    """Check every component section and wire them; ConfigError names file, section, key."""
    wanted = set(kinds)
    sections: dict[str, RawSection] = {}
    for name, section in source.sections.items():
        if name == SETTINGS_SECTION or name in FRONT_END_SECTIONS:
            continue
        parts = _split(name)
        if parts is None:
            raise ConfigError(f"unknown section (expected [omphalos] or [KIND:NAME] with KIND "
                              f"one of {', '.join(KINDS)})", file=section.origin(),
                              section=name)
        if parts[0] in wanted:
            sections[name] = section
    kinds_present = {n.split(":")[0] for n in sections}
    for upstream, kind in (("monitor", "parser"), ("parser", "transport")):
        default = registry.default(kind)
        if upstream in kinds_present and kind not in kinds_present and kind in wanted \
                and default is not None:
            sections[f"{kind}:{default}"] = RawSection(f"{kind}:{default}")
            kinds_present.add(kind)

    specs: dict[str, ComponentSpec] = {}
    for name, section in sections.items():
        kind = name.split(":", 1)[0]
        cls = plugin_class(section, registry)
        config = build_config(cls.Config, section, ignore=PIPELINE_KEYS)
        specs[name] = ComponentSpec(name, kind, cls, config)

    for name, spec in specs.items():
        section = sections[name]
        upstream_kind = UPSTREAM.get(spec.kind)
        if "inputs" in section.values:
            if upstream_kind is None:
                raise ConfigError("a monitor reads files, not other components",
                                  file=section.origin("inputs"), section=name, key="inputs")
            raw = section.values["inputs"]
            names = [n.strip() for n in (raw.split(",") if isinstance(raw, str) else raw)
                     if n.strip()]
            inputs = []
            for n in names:
                full = n if ":" in n else f"{upstream_kind}:{n}"
                if full not in specs or specs[full].kind != upstream_kind:
                    raise ConfigError(f"no {upstream_kind} named {n!r}",
                                      file=section.origin("inputs"), section=name, key="inputs")
                inputs.append(full)
            spec.inputs = tuple(inputs)
        elif upstream_kind is not None:
            spec.inputs = tuple(n for n, s in specs.items() if s.kind == upstream_kind)

    for name, spec in specs.items():
        for upstream in spec.inputs:
            specs[upstream].outputs += (name,)
    for name, spec in specs.items():
        if spec.kind in ("monitor", "parser") and len(spec.outputs) > 1:
            raise ConfigError(f"feeds {len(spec.outputs)} components ({', '.join(spec.outputs)});"
                              f" a {spec.kind} feeds exactly one (set inputs = on them)",
                              file=sections[name].origin(), section=name)
    return list(specs.values())
