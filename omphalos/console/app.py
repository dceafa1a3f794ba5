"""The console application: urwid's main loop, the keys, the timer and the wake-up pipe.

Threads: urwid runs in the caller's (main) thread; answers come from the data source's
workers and reach the screen only through ``MainLoop.watch_pipe``: a worker writes one byte
to the pipe, urwid calls :meth:`HttptopApp._on_wake` in its own thread, which drains the
answers and redraws. No key handler ever waits on a collector.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import urwid

from . import themes
from .config import HttptopConfig
from .poller import Poller
from .source import DataSource, Reply
from .state import ConsoleState
from .views import VIEW_BY_KEY, VIEWS
from .widgets import ConsoleWidget

log = logging.getLogger("omphalos.output.httptop")

#: Seconds between two looks at the clock (stale marks, due queries); keys never wait on it.
TICK_SECS = 0.25


class HttptopApp:
    """One console on one data source. :meth:`run` returns when the user quits."""

    def __init__(self, source: DataSource, config: HttptopConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 screen: urwid.BaseScreen | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.config = config or HttptopConfig()
        self.source = source
        self.clock = clock
        self.state = ConsoleState(view=self.config.view, window=self.config.window,
                                  limit=self.config.rows)
        self.widget = ConsoleWidget(self.state, source=source.description,
                                    stale_after=self.config.stale_after_secs, clock=clock)
        self.palette = themes.palette(self.config.theme)
        self.screen = screen
        self.on_event = on_event or (lambda text: None)
        self.loop: urwid.MainLoop | None = None
        self._wake_fd: int | None = None
        self._wake_lock = threading.Lock()
        self._was_stale = False
        self.poller = Poller(source, self.state, self._wake,
                             refresh_secs=self.config.refresh_secs, clock=clock)

    # -- running ------------------------------------------------------------------------------
    def run(self) -> None:
        """Show the console until ``q``; always stops the data source's workers."""
        kwargs: dict[str, Any] = {"palette": self.palette, "handle_mouse": False,
                                  "unhandled_input": self.on_key}
        if self.screen is not None:
            kwargs["screen"] = self.screen
        self.loop = urwid.MainLoop(self.widget, **kwargs)
        wake_fd = self.loop.watch_pipe(self._on_wake)
        os.set_blocking(wake_fd, False)  # a worker never waits on a full pipe
        self._wake_fd = wake_fd
        self.loop.set_alarm_in(0, self._tick)
        try:
            self.loop.run()
        except KeyboardInterrupt:  # ctrl-c: the terminal sends SIGINT; quit like q
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Stop asking; workers finish their current query in the background."""
        with self._wake_lock:  # no worker is writing to the pipe while it is closed
            fd, self._wake_fd = self._wake_fd, None
            if fd is not None and self.loop is not None:
                try:
                    self.loop.remove_watch_pipe(fd)  # closes the read end
                    os.close(fd)
                except OSError:
                    pass
        self.poller.close()

    def _wake(self) -> None:
        """Called on worker threads: one byte through the pipe urwid watches."""
        with self._wake_lock:
            if self._wake_fd is None:
                return
            try:
                os.write(self._wake_fd, b"!")
            except OSError:  # a full pipe: urwid has wake-ups pending already
                pass

    def _on_wake(self, data: bytes) -> bool:
        """urwid's thread: answers arrived."""
        if self.poller.drain():
            self.widget.refresh()
            self.on_event("answer")
        self.poller.poll()
        return True

    def _tick(self, loop: urwid.MainLoop, user_data: Any = None) -> None:
        self.poller.poll()
        stale = self.state.stale(self.clock(), self.config.stale_after_secs)
        if stale is not None or self._was_stale:  # the mark appears, ages or goes away
            self.widget._invalidate()
        self._was_stale = stale is not None
        loop.set_alarm_in(TICK_SECS, self._tick)

    # -- keys -------------------------------------------------------------------------------------
    def on_key(self, key: str | tuple[str, int, int, int]) -> bool:
        """A key the widgets did not take. True when handled."""
        if not isinstance(key, str):
            return False
        if key.startswith("meta ") and len(key) > 5:
            # esc typed just before another key arrives as "meta KEY": both were meant
            self.on_key("esc")
            return self.on_key(key[5:])
        state = self.state
        self.on_event(f"key {key}")
        if key == "ctrl c" or (key in ("q", "Q") and self.widget.prompt is None):
            raise urwid.ExitMainLoop()
        if self.widget.prompt is not None:
            return self._prompt_key(key)
        if state.help:
            state.help = False
            self._changed(fetch=False)
            return True
        state.message = ""
        if key == "?":
            state.help = True
        elif key in VIEW_BY_KEY or key in ("tab", "shift tab"):
            self._switch(key)
        elif key in ("<", ">"):
            state.move_sort(-1 if key == "<" else 1)
        elif key == "r":
            state.reverse = not state.reverse
        elif key == "w":
            state.cycle_window()
        elif key == "/":
            self.widget.open_prompt()
        elif key == "p":
            state.paused = not state.paused
            state.message = "paused: p resumes" if state.paused else ""
        elif key == "enter":
            self._drill()
        elif key in ("esc", "backspace", "left"):
            state.drill = None
        elif key == "c":
            self._clear(all_alerts=False)
        elif key == "C":
            self._clear(all_alerts=True)
        else:
            return False
        self._changed()
        return True

    def _prompt_key(self, key: str) -> bool:
        if key == "esc":
            self.widget.close_prompt()
            self.state.message = ""
        elif key == "enter":
            text = self.widget.prompt.edit_text if self.widget.prompt is not None else ""
            error = self.state.set_filter(text)
            if error is not None:
                self.state.message = f"filter: {error}"
            else:
                self.widget.close_prompt()
                self.state.message = ""
                self.state.selected = None
        else:
            return False
        self._changed()
        return True

    def _switch(self, key: str) -> None:
        state = self.state
        if key in VIEW_BY_KEY:
            view = VIEW_BY_KEY[key].name
        else:
            names = [v.name for v in VIEWS]
            step = 1 if key == "tab" else -1
            view = names[(names.index(state.view) + step) % len(names)]
        if view != state.view:
            state.view = view
            state.selected = None
            state.drill = None

    def _drill(self) -> None:
        state = self.state
        selected = self.widget.selected()
        if state.view != "paths":
            state.message = "enter drills into a path: switch to the paths view (1) first"
        elif selected is None:
            state.message = "no path selected"
        else:
            state.drill = selected
            state.selected = selected

    def _clear(self, *, all_alerts: bool) -> None:
        state = self.state
        if all_alerts:
            params: dict[str, Any] = {"all": True}
            what = "every alert"
        else:
            path = state.selected_path() or self.widget.selected()
            if path is None or (state.view != "paths" and state.drill is None):
                state.message = "select a path (view 1) to clear its alert"
                return
            params = {"path": path}
            what = f"the alert of {path}"
        state.message = f"clearing {what}…"
        self.poller.act("clear_alert", params, lambda reply: self._cleared(reply, what))

    def _cleared(self, reply: Reply, what: str) -> None:
        if reply.ok:
            cleared = reply.value.get("cleared", 0) if isinstance(reply.value, dict) else 0
            self.state.message = f"cleared {cleared} ({what})"
        elif reply.unavailable:
            self.state.message = "no collector here keeps alerts"
        elif reply.error and reply.error.startswith(("HTTP 401", "HTTP 403")):
            self.state.message = ("clear refused: the collector needs its API token: start "
                                  "httptop with --token TOKEN (or set OMPHALOS_TOKEN)")
        else:
            self.state.message = f"clear failed: {reply.error}"
        self.on_event(f"cleared {self.state.message}")
        self.state.slots["alerts"].reply = None  # ask again now
        self.poller.poll(force=True)

    def _changed(self, fetch: bool = True) -> None:
        """What is shown changed: redraw now from what is known, ask for the rest."""
        self.widget.refresh()
        if fetch:
            self.poller.poll(force=True)
