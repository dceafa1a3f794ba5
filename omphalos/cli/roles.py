"""``omphalos monitor``, ``omphalos collector`` and ``omphalos status``: the two roles as
services, and a look at a running one.

A role runs the config's components of its kinds: a *monitor* host runs monitors, parsers
and a transport that sends; a *collector* host runs a transport that receives, collectors
and outputs. ``--kinds`` overrides the role's kinds (``--kinds all``: the whole chain on one
host). Both run in the foreground unless ``--daemon`` is given.

Signals (installed here, never by the library):

- SIGTERM, SIGINT: stop reading, wait (``--stop-timeout``) for batches in flight to be
  acknowledged so their offsets are committed, stop every actor, remove the pid file.
- SIGHUP: read the config files again and apply them with :meth:`Pipeline.reload`; a bad
  config is logged and the running pipeline left as it was.
- SIGUSR1: write the status report (JSON) to the status file and a summary line to the log.

``omphalos status`` finds the daemon through its pid file, sends SIGUSR1 and prints the
report once the status file says it was written after the request.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from cement import Controller, ex

from omphalos.config import ConfigError, ConfigSource
from omphalos.daemon import (
    DaemonError,
    DaemonOptions,
    Detached,
    PidFile,
    daemonize,
    log_to_file,
    pid_alive,
    read_pid,
    sd_notify,
)
from omphalos.pipeline import Pipeline
from omphalos.plugin import KINDS
from omphalos.reload import ReloadPlan

from .common import configure_logging, gather_config, has_components
from .logs import quiet_refusals
from .paths import write_problems
from .ready import not_ready
from .signals import StopFlag
from .watch import FileWatch

log = logging.getLogger("omphalos.cli.roles")

ROLE_KINDS = {"monitor": ("monitor", "parser", "transport"),
              "collector": ("transport", "collector", "output")}
DEFAULT_PID_FILE = "/run/omphalos/omphalos-{role}.pid"
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
EXIT_DEGRADED = 3
# LSB status codes
STATUS_RUNNING, STATUS_DEAD, STATUS_STOPPED, STATUS_UNKNOWN = 0, 1, 3, 4

SERVICE_ARGUMENTS: list[tuple[list[str], dict[str, Any]]] = [
    (["--config", "-c"], {"action": "append", "default": [], "metavar": "FILE",
                          "dest": "role_config",
                          "help": "read this config file too (repeatable; same as before "
                                  "the command)"}),
    (["--daemon", "-d"], {"action": "store_true",
                          "help": "detach and run in the background"}),
    (["--pid-file"], {"default": "", "metavar": "FILE",
                      "help": "write the pid here (status, reload and stop find the daemon "
                              "by it)"}),
    (["--log-file"], {"default": "", "metavar": "FILE",
                      "help": "log here, reopened when logrotate moves it; default: stderr "
                              "(nowhere once detached)"}),
    (["--status-file"], {"default": "", "metavar": "FILE",
                         "help": "where SIGUSR1 writes the status; default: next to the pid "
                                 "file, else STATE_DIR/ROLE.status.json"}),
    (["--work-dir"], {"default": "/", "metavar": "DIR",
                      "help": "working directory of the daemon (default: /)"}),
    (["--umask"], {"default": "022", "help": "umask of the daemon, octal (default: 022)"}),
    (["--user"], {"default": "", "help": "user to run as once the pid file is written"}),
    (["--group"], {"default": "", "help": "group to run as (default: the user's)"}),
    (["--stop-timeout"], {"type": float, "default": 10.0, "metavar": "SECS",
                          "help": "longest wait for batches in flight at stop (default: 10)"}),
    (["--kinds"], {"default": "", "metavar": "KIND,...",
                   "help": "component kinds to run instead of the role's ('all': every "
                           "kind, the whole chain on this host)"}),
]


def role_kinds(role: str, option: str) -> tuple[str, ...]:
    """The kinds a role runs: its own, or those ``--kinds`` names."""
    if not option:
        return ROLE_KINDS[role]
    if option.strip() == "all":
        return KINDS
    kinds = tuple(k.strip() for k in option.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ConfigError(f"--kinds: unknown kind {', '.join(unknown) or '(none)'} "
                          f"(kinds: {', '.join(KINDS)}, or all)")
    return kinds


def default_status_file(pid_file: str, state_dir: str, role: str) -> str:
    if pid_file:
        return os.path.splitext(os.path.abspath(pid_file))[0] + ".status.json"
    return os.path.join(state_dir, f"{role}.status.json")


def status_report(pipeline: Pipeline, role: str, started: float,
                  reloads: list[dict[str, Any]]) -> dict[str, Any]:
    """What SIGUSR1 writes: health, actors (restarts, counters, files), lag, spool."""
    state = pipeline.status()
    actors: dict[str, Any] = state["actors"]
    files = [dict(f, monitor=name) for name, a in actors.items() for f in a.get("files", [])]
    spool: dict[str, Any] = {}
    for a in actors.values():  # sending transports report their spool as {items, bytes, full}
        held = a.get("spool")
        if isinstance(held, dict):
            spool["items"] = spool.get("items", 0) + int(held.get("items", 0))
            spool["bytes"] = spool.get("bytes", 0) + int(held.get("bytes", 0))
            spool["full"] = bool(spool.get("full")) or bool(held.get("full"))
    return {
        "pid": os.getpid(), "role": role, "written": time.time(), "started": started,
        "uptime_secs": round(time.time() - started, 3),
        "config_files": list(pipeline.config.files) if pipeline.config else [],
        "degraded": state["degraded"], "reasons": state["reasons"],
        "restarts": sum(int(a.get("restarts", 0)) for a in actors.values()),
        "bytes_behind": sum(int(a.get("bytes_behind", 0)) for a in actors.values()),
        "in_flight": sum(int(a.get("in_flight", 0)) for a in actors.values()),
        "spool": spool, "files": files, "actors": actors,
        "reloads": reloads[-10:],
    }


def write_json_atomically(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, default=str)
    os.replace(tmp, path)


def format_status(report: dict[str, Any]) -> str:
    """The report as text for ``omphalos status``."""
    lines = [f"{report['role']}: running as pid {report['pid']} for "
             f"{report['uptime_secs']:.0f}s; {'DEGRADED' if report['degraded'] else 'healthy'};"
             f" {report['restarts']} restarts; {report['bytes_behind']} bytes behind; "
             f"{report['in_flight']} batches in flight"]
    lines += [f"  degraded: {reason}" for reason in report["reasons"]]
    spool = report["spool"]
    if spool:
        lines.append(f"  spool: {spool['items']} batches, {spool['bytes']} bytes"
                     f"{' (FULL: monitors paused)' if spool['full'] else ''}")
    for name, actor in report["actors"].items():
        counters = ", ".join(f"{k} {v}" for k, v in sorted(actor.get("counters", {}).items()))
        lines.append(f"  {name:<28} {actor.get('state', '?'):<10} restarts "
                     f"{actor.get('restarts', 0)}  {counters}")
        if actor.get("last_error"):
            lines.append(f"  {'':<28} last error: {actor['last_error']}")
    for f in report["files"]:
        lines.append(f"  file {f.get('path')}: {f.get('state', '?')}, size {f.get('size')}, "
                     f"committed {f.get('committed')}")
    if report["reloads"]:
        last = report["reloads"][-1]
        lines.append(f"  last reload: {last.get('result')}")
    return "\n".join(lines)


class Service:
    """One role run as a service: start, loop on signals, reload, report, stop."""

    def __init__(self, role: str, pargs: Any, debug: bool) -> None:
        self.role = role
        self.pargs = pargs
        self.debug = debug
        self.config_files = [os.path.abspath(f) for f in
                             [*pargs.config, *getattr(pargs, "role_config", [])]]
        self.kinds = role_kinds(role, pargs.kinds)
        self.reloads: list[dict[str, Any]] = []
        self.hup = threading.Event()
        self.usr1 = threading.Event()
        self.stop = StopFlag()

    def load(self) -> ConfigSource:
        source = gather_config(self.config_files)
        if not has_components(source):
            raise ConfigError("nothing to run: the config has no [KIND:NAME] sections",
                              file=", ".join(source.files) or None)
        return source

    def run(self) -> int:
        pipeline = Pipeline.from_config(self.load(), kinds=self.kinds)
        pid_file = self.pargs.pid_file
        status_file = self.pargs.status_file or default_status_file(
            pid_file, pipeline.settings.state_path, self.role)
        detached: Detached | None = None
        if self.pargs.daemon:
            try:
                umask = int(self.pargs.umask, 8)
            except ValueError:
                raise ConfigError(f"--umask: expected octal digits, got {self.pargs.umask!r}"
                                  ) from None
            outcome = daemonize(DaemonOptions(pid_file, self.pargs.work_dir, umask,
                                              self.pargs.user, self.pargs.group,
                                              self.pargs.log_file))
            if isinstance(outcome, int):
                return outcome
            detached = outcome
            self._install_signals()
        elif pid_file:  # foreground under a supervisor that wants a pid file
            self._install_signals()  # before the pid file: status may signal us at once
            owned = PidFile(pid_file)
            owned.check()
            owned.write()
            detached = Detached(None, owned)
        else:
            self._install_signals()
        try:
            self._logging(pipeline.settings.log_level)
            return self._serve(pipeline, detached, os.path.abspath(status_file))
        except Exception as exc:
            if detached is not None:  # the waiting parent prints why (else: lost with stderr)
                detached.failed(f"{self.role} not started: {exc}")
            raise
        finally:
            if detached is not None:
                detached.cleanup()

    def _logging(self, level: str) -> None:
        if self.pargs.log_file:
            quiet_refusals(log_to_file(
                os.path.abspath(self.pargs.log_file),
                logging.DEBUG if self.debug else getattr(logging, level.upper()), LOG_FORMAT))
        else:
            configure_logging(self.debug, level)

    def _install_signals(self) -> None:
        self.stop.install({signal.SIGHUP: self.hup.set, signal.SIGUSR1: self.usr1.set})

    def _refuse(self, detached: Detached | None, why: str) -> int:
        """Starting failed: log why, tell the waiting parent (exit 1), exit 1."""
        log.error("%s", why)
        if detached is not None:
            detached.failed(why)
        else:
            print(f"omphalos: {why}", file=sys.stderr)
        return 1

    def _serve(self, pipeline: Pipeline, detached: Detached | None, status_file: str) -> int:
        stop = self.stop
        started = time.time()
        problems = write_problems(pipeline)  # as the user we run as
        if problems:
            return self._refuse(detached, f"{self.role} not started: {'; '.join(problems)}")
        try:
            pipeline.start()
        except Exception as exc:
            log.exception("%s failed to start", self.role)
            if detached is not None:
                detached.failed(f"{self.role} failed to start: {exc}")
            raise
        reason = not_ready(pipeline, timeout=pipeline.settings.ask_timeout_secs * 2)
        if reason is not None:
            pipeline.stop(timeout=2.0)
            return self._refuse(detached, f"{self.role} not started: {reason}")
        log.info("%s started (pid %d): %s", self.role, os.getpid(),
                 ", ".join(pipeline.components))
        if detached is not None:
            detached.ready()
        sd_notify("READY=1")
        why = "signal"
        files = FileWatch(pipeline)
        try:
            while not stop.wait(0.2):
                files.check()
                if self.hup.is_set():
                    self.hup.clear()
                    self._reload(pipeline)
                if self.usr1.is_set():
                    self.usr1.clear()
                    self._report(pipeline, started, status_file)
                if pipeline.degraded:
                    why = "degraded"
                    break
        finally:
            sd_notify("STOPPING=1")
            log.info("%s stopping (%s)", self.role, why if stop.signal is None
                     else signal.Signals(stop.signal).name)
            pipeline.stop(timeout=self.pargs.stop_timeout)
            log.info("%s stopped", self.role)
        if why == "degraded":
            for reason in pipeline.health.snapshot()["reasons"]:
                log.error("pipeline degraded: %s", reason)
            return EXIT_DEGRADED
        return 0

    def _reload(self, pipeline: Pipeline) -> None:
        sd_notify("RELOADING=1")
        entry: dict[str, Any] = {"time": time.time()}
        try:
            plan: ReloadPlan = pipeline.reload(self.load(), timeout=self.pargs.stop_timeout)
        except ConfigError as exc:
            log.error("reload refused, still running the previous config: %s", exc)
            entry.update(result=f"refused: {exc}", ok=False)
        except Exception as exc:
            log.exception("reload failed")
            entry.update(result=f"failed: {type(exc).__name__}: {exc}", ok=False)
        else:
            entry.update(result=plan.describe(), ok=True, **plan.as_dict())
        self.reloads.append(entry)
        sd_notify("READY=1")

    def _report(self, pipeline: Pipeline, started: float, status_file: str) -> None:
        report = status_report(pipeline, self.role, started, self.reloads)
        try:
            write_json_atomically(status_file, report)
        except OSError as exc:
            log.error("cannot write status file %s: %s", status_file, exc)
        log.info("status: %s", format_status(report).splitlines()[0])


def query_daemon(pid_file: str, status_file: str, timeout: float
                 ) -> tuple[int, dict[str, Any] | None, str]:
    """(LSB status code, report or None, message) of the daemon behind ``pid_file``."""
    pid = read_pid(pid_file)
    if pid is None:
        return STATUS_STOPPED, None, f"not running (no pid file {pid_file})"
    if not pid_alive(pid):
        return STATUS_DEAD, None, f"not running, but pid file {pid_file} names pid {pid}"
    asked = time.time()
    try:
        os.kill(pid, signal.SIGUSR1)
    except PermissionError:
        return STATUS_UNKNOWN, None, f"pid {pid} runs, but is not ours to signal"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(status_file, encoding="utf-8") as fh:
                report = json.load(fh)
            if report.get("pid") == pid and report.get("written", 0) >= asked - 0.001:
                return STATUS_RUNNING, report, ""
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return STATUS_UNKNOWN, None, (f"pid {pid} runs but wrote no status to {status_file} "
                                  f"within {timeout:g}s")


class Roles(Controller):
    """The service commands: ``monitor``, ``collector``, ``status``."""

    class Meta:
        label = "roles"
        stacked_on = "base"
        stacked_type = "embedded"

    def _service(self, role: str) -> None:
        debug = bool(self.app.debug)
        try:
            code = Service(role, self.app.pargs, debug).run()
        except DaemonError as exc:
            print(f"omphalos: {exc}", file=sys.stderr)
            code = 1
        self.app.exit_code = code

    @ex(help="run the monitor role: monitors, parsers and a sending transport",
        arguments=SERVICE_ARGUMENTS)
    def monitor(self) -> None:
        self._service("monitor")

    @ex(help="run the collector role: a receiving transport, collectors and outputs",
        arguments=SERVICE_ARGUMENTS)
    def collector(self) -> None:
        self._service("collector")

    @ex(help="show the state of a running monitor or collector (LSB exit status: 0 "
             "running, 1 dead, 3 stopped, 4 unknown)",
        arguments=[(["--pid-file"], {"action": "append", "default": [], "metavar": "FILE",
                                     "help": "pid file of the daemon (repeatable); default: "
                                             + DEFAULT_PID_FILE.format(role="ROLE")}),
                   (["--status-file"], {"default": "", "metavar": "FILE",
                                        "help": "status file, when not the default next to "
                                                "the pid file"}),
                   (["--timeout"], {"type": float, "default": 10.0, "metavar": "SECS",
                                    "help": "longest wait for the daemon's answer"}),
                   (["--json"], {"action": "store_true", "help": "print the report as JSON"})])
    def status(self) -> None:
        pargs = self.app.pargs
        pid_files = pargs.pid_file or [DEFAULT_PID_FILE.format(role=r) for r in ROLE_KINDS]
        worst = STATUS_RUNNING
        reports = []
        for pid_file in pid_files:
            status_file = pargs.status_file or default_status_file(pid_file, "", "")
            code, report, message = query_daemon(pid_file, status_file, pargs.timeout)
            if report is not None:
                reports.append(report)
                if not pargs.json:
                    print(format_status(report))
            elif not pargs.json:
                print(f"{pid_file}: {message}")
            worst = max(worst, code)
        if pargs.json:
            single: Any = reports[0] if reports else None
            print(json.dumps(reports if len(pid_files) > 1 else single, indent=1, default=str))
        self.app.exit_code = worst
