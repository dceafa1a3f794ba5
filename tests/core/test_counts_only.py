"""A parallel replay's merging process loads no user-agent rules: its collectors are fed
counts, never agents (:func:`omphalos.derived.fed_counts_only`)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from omphalos.derived import fed_counts_only, prepare
from omphalos.lib import useragent
with fed_counts_only():
    prepare(["path", "browser"])
print(useragent._parsers.cache_info().currsize)
prepare(["path", "browser"])
print(useragent._parsers.cache_info().currsize)
"""


def test_prepare_loads_the_rules_only_outside_fed_counts_only() -> None:
    # a fresh interpreter: nothing has loaded the rules yet
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["0", "1"]
