"""Palettes: dark, light, mono, and auto (from the terminal's ``COLORFGBG``).

Every palette keeps the terminal's own background (``default``), so text stays readable on
black and on white terminals alike; dark and light differ in which foregrounds they pick.
The mono palette uses only bold, underline and standout (and is what urwid falls back on
on terminals without colours).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PaletteEntry = tuple[str, str, str, str]

#: Attribute names the widgets use, with the mono rendering of each.
MONO: dict[str, str] = {
    "title": "bold", "live": "bold", "stale": "standout", "paused": "standout",
    "label": "default", "value": "bold", "spark": "default", "ok": "default",
    "bad": "standout", "colhead": "underline", "sorted": "bold,underline",
    "focus": "standout", "c2xx": "default", "c3xx": "default", "c4xx": "bold",
    "c5xx": "bold,underline", "alert": "bold", "note": "default", "footer": "default",
    "key": "bold", "error": "standout",
}

_DARK: dict[str, tuple[str, str]] = {
    "title": ("light cyan,bold", "default"), "live": ("light green,bold", "default"),
    "stale": ("black", "yellow"), "paused": ("black", "light cyan"),
    "label": ("light gray", "default"), "value": ("white,bold", "default"),
    "spark": ("light cyan", "default"), "ok": ("light green", "default"),
    "bad": ("white,bold", "dark red"), "colhead": ("light gray,underline", "default"),
    "sorted": ("yellow,bold,underline", "default"), "focus": ("black", "light gray"),
    "c2xx": ("light green", "default"), "c3xx": ("light cyan", "default"),
    "c4xx": ("yellow", "default"), "c5xx": ("light red,bold", "default"),
    "alert": ("light red,bold", "default"), "note": ("light gray", "default"),
    "footer": ("light gray", "default"), "key": ("yellow,bold", "default"),
    "error": ("white,bold", "dark red"),
}

_LIGHT: dict[str, tuple[str, str]] = {
    "title": ("dark blue,bold", "default"), "live": ("dark green,bold", "default"),
    "stale": ("black", "yellow"), "paused": ("white", "dark blue"),
    "label": ("dark gray", "default"), "value": ("black,bold", "default"),
    "spark": ("dark blue", "default"), "ok": ("dark green", "default"),
    "bad": ("white,bold", "dark red"), "colhead": ("dark gray,underline", "default"),
    "sorted": ("dark magenta,bold,underline", "default"), "focus": ("white", "dark blue"),
    "c2xx": ("dark green", "default"), "c3xx": ("dark blue", "default"),
    "c4xx": ("brown", "default"), "c5xx": ("dark red,bold", "default"),
    "alert": ("dark red,bold", "default"), "note": ("dark gray", "default"),
    "footer": ("dark gray", "default"), "key": ("dark magenta,bold", "default"),
    "error": ("white,bold", "dark red"),
}

THEMES = ("auto", "dark", "light", "mono")


def detect(environ: Mapping[str, str] | None = None) -> str:
    """``dark`` or ``light`` from ``COLORFGBG`` (``fg;bg``, bg 0-6 or 8 is dark); ``dark``
    when the terminal does not say."""
    value = (environ if environ is not None else os.environ).get("COLORFGBG", "")
    background = value.split(";")[-1].strip()
    if not background.isdigit():
        return "dark"
    return "dark" if int(background) in (0, 1, 2, 3, 4, 5, 6, 8) else "light"


def resolve(theme: str, environ: Mapping[str, str] | None = None) -> str:
    """The concrete theme for ``theme`` (``auto`` resolved); ValueError for unknown names."""
    if theme not in THEMES:
        raise ValueError(f"theme {theme!r} is not one of {', '.join(THEMES)}")
    return detect(environ) if theme == "auto" else theme


def palette(theme: str, environ: Mapping[str, str] | None = None) -> list[PaletteEntry]:
    """The urwid palette of ``theme``: (name, foreground, background, mono) entries."""
    name = resolve(theme, environ)
    if name == "mono":
        return [(attr, "default" if mono == "default" else f"default,{mono}", "default", mono)
                for attr, mono in MONO.items()]
    colours = _DARK if name == "dark" else _LIGHT
    return [(attr, fg, bg, MONO[attr]) for attr, (fg, bg) in colours.items()]
