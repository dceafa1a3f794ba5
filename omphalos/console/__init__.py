"""``httptop``: the live console of Omphalos (urwid).

Modules, one concern each:

- :mod:`.source`: where answers come from (``DataSource``: a local pipeline, or a remote
  collector's HTTP API), always asynchronously, on worker threads;
- :mod:`.poller`: which queries the screen needs, at most one in flight per slot, and when
  an answer is stale;
- :mod:`.state`: what the console shows (view, sort, filter, window, selection) as plain
  data, the answers it got, and the fallbacks when a kind is not served;
- :mod:`.fmt`: numbers, durations and sparklines as short text;
- :mod:`.widgets`: the header, the table, the alerts panel, the footer, the help;
- :mod:`.views`: the views (paths, clients, hosts, status codes, agents, referrers);
- :mod:`.themes`: palettes dark, light, mono and auto (from ``COLORFGBG``);
- :mod:`.app`: the urwid main loop, keys, and the one way other threads reach the screen
  (``MainLoop.watch_pipe``).
"""

from .config import HttptopConfig

__all__ = ["HttptopConfig"]
