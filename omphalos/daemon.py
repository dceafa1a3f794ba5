"""Running as a daemon: detaching, the pid file, the log file, readiness, systemd notify.

This module is for the program that owns the process (the ``omphalos`` command), never for
code that embeds a pipeline: it forks, changes directory, umask and user, and closes the
standard streams. :func:`daemonize` must run before any thread, socket, ZeroMQ context or
file observer exists, since only the calling thread survives a fork.

The classic double fork: the first child calls ``setsid()`` to leave the terminal's session,
the second (the daemon) can never acquire a controlling terminal again. The original
process does not exit at once: it waits on a pipe until the daemon reports that its
pipeline started (:meth:`Detached.ready`) or why it failed (:meth:`Detached.failed`), so an
init script's ``start`` fails loudly instead of leaving a dead daemon behind.
"""

from __future__ import annotations

import errno
import grp
import logging
import logging.handlers
import os
import pwd
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("omphalos.daemon")

__all__ = ["DaemonError", "DaemonOptions", "Detached", "daemonize", "read_pid", "pid_alive",
           "PidFile", "log_to_file", "sd_notify"]


class DaemonError(RuntimeError):
    """Cannot become (or find) a daemon: already running, bad user, unwritable pid file."""


@dataclass(frozen=True)
class DaemonOptions:
    """How to detach; every path is made absolute before the working directory changes."""

    pid_file: str = ""
    work_dir: str = "/"
    umask: int = 0o022
    user: str = ""
    group: str = ""
    log_file: str = ""


def read_pid(pid_file: str) -> int | None:
    """The pid written in ``pid_file``; None when it is missing or unreadable."""
    try:
        with open(pid_file, encoding="ascii") as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


class PidFile:
    """A pid file that refuses a second live daemon and is removed only by its owner."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)

    def check(self) -> None:
        """Raise DaemonError when a live process holds the file; remove a stale one."""
        pid = read_pid(self.path)
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            raise DaemonError(f"already running as pid {pid} (pid file {self.path})")
        if os.path.exists(self.path):
            os.unlink(self.path)

    def write(self, uid: int = -1, gid: int = -1) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise DaemonError(f"pid file {self.path} appeared while starting") from None
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
        if uid >= 0 or gid >= 0:
            os.chown(self.path, uid, gid)

    def remove_stale(self) -> None:
        """Remove the file if the pid it names is gone (a daemon that died starting)."""
        pid = read_pid(self.path)
        if pid is not None and not pid_alive(pid):
            try:
                os.unlink(self.path)
            except OSError as exc:
                log.warning("cannot remove stale pid file %s: %s", self.path, exc)

    def remove(self) -> None:
        """Remove the file if it is ours (quietly when we may not: see remove_stale)."""
        if read_pid(self.path) == os.getpid():
            try:
                os.unlink(self.path)
            except PermissionError:
                log.debug("pid file %s is not ours to remove; left for the parent", self.path)
            except OSError as exc:
                log.warning("cannot remove pid file %s: %s", self.path, exc)


def _ids(user: str, group: str) -> tuple[int, int]:
    """(uid, gid) to drop to; -1 for "keep"; DaemonError for unknown names."""
    uid = gid = -1
    if user:
        try:
            entry = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
        except KeyError:
            raise DaemonError(f"no such user: {user}") from None
        uid, gid = entry.pw_uid, entry.pw_gid
    if group:
        try:
            gid = (grp.getgrnam(group) if not group.isdigit() else grp.getgrgid(int(group))
                   ).gr_gid
        except KeyError:
            raise DaemonError(f"no such group: {group}") from None
    return uid, gid


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` (-1 keeps the current one), with that user's groups."""
    if gid >= 0 and gid != os.getgid():
        os.setgid(gid)
    if uid >= 0 and uid != os.getuid():
        os.initgroups(pwd.getpwuid(uid).pw_name, gid if gid >= 0 else os.getgid())
        os.setuid(uid)


def _close_std_streams() -> None:
    """Point stdin, stdout and stderr at /dev/null (the log goes to the log file)."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


class Detached:
    """Held by the daemon: report readiness to the waiting parent, clean up at exit."""

    def __init__(self, ready_fd: int | None, pid_file: PidFile | None) -> None:
        self._fd = ready_fd
        self.pid_file = pid_file

    def _say(self, text: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, text.encode("utf-8", "replace")[:4000])
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def ready(self) -> None:
        """The pipeline runs: the parent exits 0."""
        self._say("ok\n")

    def failed(self, why: str) -> None:
        """Starting failed: the parent prints ``why`` and exits 1."""
        self._say(why.strip() + "\n")

    def cleanup(self) -> None:
        """Remove the pid file (only if it is still ours)."""
        if self.pid_file is not None:
            self.pid_file.remove()


def daemonize(options: DaemonOptions) -> Detached | int:
    """Detach. Returns a :class:`Detached` in the daemon; elsewhere an exit status.

    The parent returns only once the daemon called ``ready()`` or ``failed()`` (or died):
    0 when it is running, 1 otherwise (the reason printed on stderr). A daemon that cannot
    write its pid file or drop privileges tells the parent and returns 1 as well.
    """
    if threading.active_count() > 1:
        raise DaemonError("cannot daemonize once threads run (only the forking thread would "
                          "survive): detach before starting the pipeline")
    pid_file = PidFile(options.pid_file) if options.pid_file else None
    if pid_file is not None:
        pid_file.check()
    uid, gid = _ids(options.user, options.group)
    work_dir = os.path.abspath(options.work_dir or "/")
    if not os.path.isdir(work_dir):
        raise DaemonError(f"no such working directory: {work_dir}")
    log_file = os.path.abspath(options.log_file) if options.log_file else ""
    if log_file:
        _prepare_log_file(log_file, uid, gid)
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    first = os.fork()
    if first:
        os.close(write_fd)
        code = _wait_for_daemon(first, read_fd)
        if code and pid_file is not None:
            pid_file.remove_stale()  # the daemon, unprivileged, may not have been able to
        return code
    # first child: leave the session, fork again so the daemon is no session leader
    os.close(read_fd)
    os.setsid()
    if os.fork():
        os._exit(0)  # the first child must leave without running the parent's cleanup
    # until the caller installs its handlers, a reload or status request must not kill us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    os.chdir(work_dir)
    os.umask(options.umask)
    try:
        if pid_file is not None:
            pid_file.write(uid, gid)
        drop_privileges(uid, gid)
    except (OSError, DaemonError) as exc:
        Detached(write_fd, None).failed(f"cannot start daemon: {exc}")
        return 1  # the parent prints why
    _close_std_streams()
    return Detached(write_fd, pid_file)


def _prepare_log_file(path: str, uid: int, gid: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8"):
        pass
    if uid >= 0 or gid >= 0:
        os.chown(path, uid, gid)


def _wait_for_daemon(child: int, read_fd: int) -> int:
    """In the original process: reap the first child, wait for the daemon's word."""
    os.waitpid(child, 0)
    chunks = []
    while True:
        try:
            data = os.read(read_fd, 4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if not data:
            break
        chunks.append(data)
    os.close(read_fd)
    message = b"".join(chunks).decode("utf-8", "replace").strip()
    if message == "ok":
        return 0
    print(f"omphalos: {message or 'the daemon exited before it was ready (see its log)'}",
          file=sys.stderr)
    return 1


def log_to_file(path: str, level: int, fmt: str) -> logging.Handler:
    """Log to ``path`` through a WatchedFileHandler: reopened when logrotate moves it."""
    handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def sd_notify(state: str) -> bool:
    """Tell systemd ``state`` (``READY=1``, ``RELOADING=1``, ``STOPPING=1``) when it listens.

    Type=notify units set ``NOTIFY_SOCKET``; without it this does nothing and returns False.
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    if state.startswith("RELOADING=1") and "MONOTONIC_USEC" not in state:
        state += f"\nMONOTONIC_USEC={time.monotonic_ns() // 1000}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED):
            log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True
