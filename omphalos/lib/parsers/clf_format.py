"""NCSA common (CLF) and combined log formats, as Apache and nginx write them by default
(the ``common``, ``combined`` and ``auto`` parsers share them).

The ``common`` and ``combined`` parsers (and auto-detection) read the whole family, as
GoAccess and Filebeat do: common and combined lines mixed in one file, combined lines with
trailing fields (nginx's ``main`` adds ``"$http_x_forwarded_for"``, many sites a request
time; see :func:`.convert.parse_trailing` for what maps where), a forwarded-for list where
the client is (``10.0.0.2, 10.0.0.1 - - [...]``: the client is the first address, the list
is ``extra["forwarded_for"]``) and, in the ``vhost`` family, a ``vhost`` or ``vhost:port``
before the client. Anything else is rejected: the user field never holds a space.
"""

from __future__ import annotations

import re

from omphalos.lib.parsers.convert import unescape
from omphalos.lib.parsers.linefmt import VARIABLES, LineFormat, Token
from omphalos.lib.parsers.variables import Variable

V = VARIABLES
COMMON_TOKENS: list[Token] = [V["client"], " ", V["ident"], " ", V["user"], " [", V["time_clf"],
                              '] "', V["request"], '" ', V["status"], " ", V["bytes"]]
COMBINED_TOKENS: list[Token] = [*COMMON_TOKENS, ' "', V["referer"], '" "', V["agent"], '"']

_TAIL = re.compile(r' "((?:[^"\\]++|\\.)*+)"(?: "((?:[^"\\]++|\\.)*+)"?(?: (.*+))?+)?+')


def split_tail(value: str) -> tuple[str, ...]:
    """A lenient match of the part after the bytes to (referer, agent, trailing)."""
    match = _TAIL.fullmatch(value)
    if match is None:
        return "", "", ""
    return unescape(match[1]), unescape(match[2] or ""), match[3] or ""


#: Everything after ``%b``: nothing (common), referer and agent (combined), then anything.
CLF_TAIL = Variable(
    "clf_tail",
    # greedy optionals around possessive parts: a failed tail gives back in O(1) steps
    r'(?: "([^"]*+)" "([^"]*+)"(?: ([^\n]++))?)?',
    r'(?: "(?:[^"\\\n]++|\\.)*+"(?: "(?:[^"\\\n]++|\\.)*+"?(?: [^\n]*+)?+)?+)?+',
    groups=("referer", "agent", "trailing"), split=split_tail, escaped=("referer", "agent"))
#: The common/combined family (see the module doc).
CLF_TOKENS: list[Token] = [V["client_list"], *COMMON_TOKENS[1:], CLF_TAIL]
#: The same after a ``vhost`` or ``vhost:port`` (Apache's ``vhost_common`` and Debian's
#: ``vhost_combined``, nginx with ``$host`` first).
VHOST_CLF_TOKENS: list[Token] = [V["vhost_port"], " ", *CLF_TOKENS]


def clf_format(name: str = "clf") -> LineFormat:
    """The common/combined family."""
    return LineFormat(name, CLF_TOKENS)


def vhost_clf_format(name: str = "vhost_clf") -> LineFormat:
    """The common/combined family after a virtual host."""
    return LineFormat(name, VHOST_CLF_TOKENS)
