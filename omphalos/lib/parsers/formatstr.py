"""What the Apache and nginx format-string compilers share: a pasted config line cleaned up,
and a list of literals and variables assembled into a :class:`LineFormat`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .linefmt import LineFormat, Token, Variable, extra_variable, in_context
from .variables import WORD, up_to

#: Record targets a format may fill only once; a second variable with one becomes an extra.
SINGLE_TARGETS = frozenset({
    "client", "user", "request", "method", "protocol", "path", "query", "query_q", "uri",
    "status", "bytes", "referer", "agent", "duration_s", "duration_ms", "duration_us",
    "extra:vhost"})

Part = str | tuple[str, Variable]


class FormatError(ValueError):
    """A format string that cannot be compiled; the message says where and why."""


def _is_time(target: str) -> bool:
    return target.startswith("time_") or target == "time_w3c"


def assemble(name: str, parts: Sequence[Part]) -> LineFormat:
    """Literal text and (variable name, Variable) pairs to a compiled :class:`LineFormat`.

    A variable between two double quotes is matched as quoted text; two variables with
    nothing between them (``%U%q``) work when their patterns cannot overlap; a field filled
    twice (``%h`` and ``%a``) keeps the first and files the others under ``extra``.
    """
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    tokens: list[Token] = []
    used: set[str] = set()
    free_text_at = max((i for i, p in enumerate(merged) if not isinstance(p, str)
                        and p[1].target in ("referer", "agent")), default=-1)
    for i, part in enumerate(merged):
        if isinstance(part, str):
            tokens.append(part)
            continue
        label, variable = part
        before = merged[i - 1] if i > 0 else ""
        after = merged[i + 1] if i + 1 < len(merged) else ""
        quoted = (isinstance(before, str) and before.endswith('"')
                  and isinstance(after, str) and after.startswith('"'))
        target = variable.target
        taken = ("time" if _is_time(target) else
                 "request" if target in ("method", "path", "query", "query_q", "uri",
                                         "protocol") and "request" in used else target)
        if taken in used and (taken in SINGLE_TARGETS or taken == "time"):
            variable = extra_variable(label, quoted)
            if _is_time(target):
                variable = Variable(variable.target, f"(?:{part[1].strict})",
                                    f"(?:{part[1].lenient})")
        else:
            used.add(taken)
            if target == "request":
                used.update({"method", "path", "query", "protocol"})
            elif target == "uri":
                used.update({"path", "query"})
        if not quoted and variable.target in ("referer", "agent") and i == free_text_at:
            # unquoted free text: up to the first occurrence of the next literal, or the end
            # of the line (only the last such field: two of them would be ambiguous)
            pattern = (r"[^\n]++" if i == len(merged) - 1 or not isinstance(after, str)
                       else up_to(after))
            variable = Variable(variable.target, pattern, pattern)
        if (not quoted and isinstance(before, str) and before.endswith("[")
                and isinstance(after, str) and after.startswith("]")
                and variable.strict == WORD):
            # ``[$proxy_upstream_name]``: bracketed, and empty when there is nothing to say
            variable = Variable(variable.target, r"[^\]\s]*+", r"[^\]\s]*+")
        tokens.append(in_context(variable, quoted))
    if not any(isinstance(t, Variable) for t in tokens):
        raise FormatError(f"{name}: the format has no variables")
    return LineFormat(name, tokens)


def check_preset_name(text: str, sigil: str, presets: Mapping[str, str]) -> None:
    """A single word that is no preset (``combinded``) is a misspelled preset name, not a
    format without variables: say so, with the presets."""
    word = text.strip()
    if word and sigil not in word and re.fullmatch(r"[\w.:-]+", word):
        raise FormatError(f"unknown preset {word!r}; presets: {', '.join(presets)} (or give "
                          f"the format string itself)")


def unquote_config(text: str, directive: str) -> str:
    """The format string out of a line pasted from a server config, or ``text`` itself.

    Accepts ``log_format main '...' '...';`` (nginx: quoted parts concatenated) and
    ``LogFormat "..." nickname`` (Apache: ``\\"`` unescaped), or the bare format string.
    """
    stripped = text.strip()
    words = stripped.split(None, 1)
    pasted = bool(words) and words[0].lower() == directive.lower()
    if not pasted:
        # a bare format may itself start with a quote ("%r" ...): only a single quote
        # (nginx) or an escaped one inside (Apache's \") says it was copied from a config
        quoted_config = stripped.startswith("'") if directive == "log_format" else (
            stripped.startswith('"') and '\\"' in stripped)
        if not quoted_config:
            return text if directive == "log_format" else _apache_unescape(stripped)
    if pasted and len(words) > 1:
        stripped = words[1].strip()
        if directive == "log_format":
            rest = stripped.split(None, 1)  # the format's name, maybe escape=...
            stripped = rest[1] if len(rest) > 1 else ""
            if stripped.startswith("escape="):
                stripped = stripped.split(None, 1)[1] if " " in stripped else ""
    stripped = stripped.rstrip(";").strip()
    if stripped[:1] not in ("'", '"'):
        return stripped if directive == "log_format" else _apache_unescape(stripped)
    pieces, i = [], 0
    while i < len(stripped):
        quote = stripped[i]
        if quote not in ("'", '"'):
            if stripped[i].isspace():
                i += 1
                continue
            break  # Apache's nickname after the string
        j, piece = i + 1, []
        while j < len(stripped) and stripped[j] != quote:
            if stripped[j] == "\\" and j + 1 < len(stripped):
                piece.append(stripped[j:j + 2])
                j += 2
                continue
            piece.append(stripped[j])
            j += 1
        pieces.append("".join(piece))
        i = j + 1
    joined = "".join(pieces)
    if directive == "log_format":  # nginx: \" \' and \\ inside a quoted string
        return re.sub(r"\\([\\\"'])", r"\1", joined)
    return _apache_unescape(joined)


def _apache_unescape(text: str) -> str:
    return (text.replace('\\"', '"').replace("\\t", "\t").replace("\\n", "\n")
            .replace("\\\\", "\\"))
