"""Imported by a parallel replay's fork server (:mod:`omphalos.replaying`): the user-agent
rules are loaded there once, and every worker forked from it has them already (0.3-0.5 s
of CPU less per worker)."""

from .useragent import load_rules

load_rules()
