"""Each role started, reloaded, queried and stopped through its LSB init script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from omphalos.daemon import pid_alive, read_pid

from ..conftest import wait_for
from .helpers import (
    OMPHALOS,
    ROOT,
    kill_leftovers,
    numbered_lines,
    processes_mentioning,
    shared_tmp,
    status,
    subprocess_env,
)

INITD = ROOT / "init.d"

# role -> (config before, config after: one component added, one removed)
CONFIGS: dict[str, tuple[str, str]] = {
    "monitor": (
        "[monitor:a]\nplugin = file\npaths = {tmp}/a.log\n"
        "[parser:p]\nplugin = combined\n[transport:local]\n",
        "[monitor:b]\nplugin = file\npaths = {tmp}/b.log\n"
        "[parser:p]\nplugin = combined\n[transport:local]\n"),
    "collector": (
        "[transport:local]\n[collector:summary]\n",
        "[transport:local]\n[collector:count]\nplugin = linelog\n"),
}


def write_config(path: Path, tmp: Path, body: str) -> None:
    path.write_text(f"[omphalos]\nstate_dir = {tmp}/state\n" + body.format(tmp=tmp))


def initd(role: str, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(INITD / f"omphalos-{role}"), action], env=env,
                          capture_output=True, text=True, timeout=90)


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("role", ["monitor", "collector"])
def test_role_through_init_script(role: str, tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(numbered_lines(1, 100))
    (tmp_path / "b.log").write_text(numbered_lines(1, 50))
    config, pid_file, log_file = (tmp_path / f"{role}.conf", tmp_path / "run" / f"{role}.pid",
                                  tmp_path / "log" / f"{role}.log")
    before, after = CONFIGS[role]
    write_config(config, tmp_path, before)
    defaults = tmp_path / f"omphalos-{role}.default"
    defaults.write_text(f'OMPHALOS="{" ".join(OMPHALOS)}"\nCONFIG={config}\nPIDFILE={pid_file}\n'
                        f"LOGFILE={log_file}\nWORKDIR={tmp_path}\nSTOP_TIMEOUT=10\n")
    env = subprocess_env(tmp_path)
    env["OMPHALOS_DEFAULTS"] = str(defaults)
    try:
        started = initd(role, "start", env)
        assert started.returncode == 0, started.stdout + started.stderr
        pid = read_pid(str(pid_file))
        assert pid is not None and pid_alive(pid)
        assert initd(role, "start", env).stdout.strip().endswith(f"already running (pid {pid})")

        shown = initd(role, "status", env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert f"{role}: running as pid {pid}" in shown.stdout
        first = status(pid_file)
        names = set(first["actors"])
        if role == "monitor":
            assert names == {"monitor:a", "parser:p", "transport:local"}
            wait_for(lambda: status(pid_file)["files"][0]["committed"]
                     == (tmp_path / "a.log").stat().st_size, timeout=30, interval=0.2)
        else:
            assert names == {"transport:local", "collector:summary"}

        # logrotate moves the log away: the daemon's next line goes to a fresh file
        log_file.rename(log_file.with_suffix(".log.1"))
        write_config(config, tmp_path, after)
        reloaded = initd(role, "reload", env)
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr

        def applied() -> dict[str, Any] | None:
            report = status(pid_file)
            return report if report["reloads"] else None

        report = wait_for(applied, timeout=30, interval=0.2)
        added, removed = (("monitor:b", "monitor:a") if role == "monitor"
                          else ("collector:count", "collector:summary"))
        assert report["reloads"][-1]["added"] == [added]
        assert report["reloads"][-1]["removed"] == [removed]
        assert added in report["actors"] and removed not in report["actors"]
        assert all(a["state"] == "running" for a in report["actors"].values())
        assert report["pid"] == pid  # reloaded in place, not restarted
        assert "reload" in log_file.read_text()

        # a bad config is refused by the script and the daemon keeps running
        config.write_text(config.read_text() + "[monitor:bad]\nplugin = nosuchplugin\n")
        assert initd(role, "reload", env).returncode == 1
        assert pid_alive(pid)

        write_config(config, tmp_path, after)
        if role == "collector":  # restart: a new daemon; force-reload of a stopped one starts it
            restarted = initd(role, "restart", env)
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            assert not pid_alive(pid)
            pid = read_pid(str(pid_file))
            assert pid is not None and status(pid_file)["pid"] == pid
            assert initd(role, "stop", env).returncode == 0
            assert initd(role, "force-reload", env).returncode == 0
            pid = read_pid(str(pid_file))
            assert pid is not None and pid_alive(pid)

        stopped = initd(role, "stop", env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not pid_alive(pid) and not pid_file.exists()
        assert processes_mentioning(str(config)) == []
        assert initd(role, "status", env).returncode == 3
        assert "stopped" in log_file.read_text()
    finally:
        kill_leftovers(str(config))


@pytest.mark.timeout(60)
def test_status_json_of_nothing_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "none.pid"
    result = subprocess.run([*OMPHALOS, "status", "--pid-file", str(pid_file), "--json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    assert json.loads(result.stdout) is None
    pid_file.write_text("999999\n")  # a stale pid file: dead with a pid file, LSB 1
    result = subprocess.run([*OMPHALOS, "status", "--pid-file", str(pid_file)],
                            capture_output=True, text=True, timeout=30, env=dict(os.environ))
    assert result.returncode == 1
    assert "not running, but pid file" in result.stdout


def defaults_file(tmp_path: Path, role: str, config: Path, extra: str = "") -> dict[str, str]:
    """The init script's settings in a file of their own, and the environment naming it."""
    defaults = tmp_path / f"omphalos-{role}.default"
    defaults.write_text(f'OMPHALOS="{" ".join(OMPHALOS)}"\nCONFIG={config}\n'
                        f"PIDFILE={tmp_path}/run/{role}.pid\n"
                        f"LOGFILE={tmp_path}/log/{role}.log\nWORKDIR={tmp_path}\n"
                        f"STOP_TIMEOUT=5\n{extra}")
    env = subprocess_env(tmp_path)
    env["OMPHALOS_DEFAULTS"] = str(defaults)
    return env


@pytest.mark.timeout(90)
def test_init_script_fails_when_the_web_port_is_taken(tmp_path: Path) -> None:
    """The web output cannot bind: start exits 1 naming the address, no daemon is left."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = tmp_path / "collector.conf"
    write_config(config, tmp_path,
                 f"[transport:local]\n[collector:summary]\n[output:web]\nport = {port}\n")
    env = defaults_file(tmp_path, "collector", config)
    try:
        started = initd("collector", "start", env)
        assert started.returncode == 1, started.stdout + started.stderr
        assert started.stdout.startswith("Starting omphalos-collector: failed")
        assert (f"collector not started: output:web failed to start: OSError: cannot listen "
                f"on 127.0.0.1:{port}: address already in use") in started.stderr
        assert not (tmp_path / "run" / "collector.pid").exists()
        wait_for(lambda: processes_mentioning(str(config)) == [], timeout=10)  # exiting
        assert initd("collector", "status", env).returncode == 3
        log = (tmp_path / "log" / "collector.log").read_text()
        assert "address already in use" in log and "Traceback" not in log
    finally:
        taken.close()
        kill_leftovers(str(config))


@pytest.mark.timeout(90)
def test_init_script_fails_when_the_user_cannot_write_the_state_dir() -> None:
    """RUN_AS_USER=nobody with a state directory only root may write: start exits 1
    naming the directory, instead of "started" for a daemon that dies 20 s later."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to run the daemon as nobody")
    with shared_tmp() as tmp:  # nobody may enter it, not write its state directory
        state = tmp / "state"
        state.mkdir(mode=0o755)
        config = tmp / "collector.conf"
        write_config(config, tmp, "[transport:local]\n[collector:summary]\n"
                     "[collector:window]\n")
        config.chmod(0o644)
        env = defaults_file(tmp, "collector", config, "RUN_AS_USER=nobody\n")
        env["HOME"] = str(tmp)
        try:
            started = initd("collector", "start", env)
            assert started.returncode == 1, started.stdout + started.stderr
            assert started.stdout.startswith("Starting omphalos-collector: failed")
            assert started.stderr == (f"omphalos: collector not started: state directory "
                                      f"{state} is not writable: permission denied\n")
            assert not (tmp / "run" / "collector.pid").exists()
            wait_for(lambda: processes_mentioning(str(config)) == [], timeout=10)
            assert "Traceback" not in (tmp / "log" / "collector.log").read_text()
        finally:
            kill_leftovers(str(config))


def unit_command(role: str) -> list[str]:
    """The systemd unit's ExecStart as argv, ``$$`` unescaped as systemd does."""
    import shlex

    text = (INITD / f"omphalos-{role}.service").read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.split("=", 1)[1].replace("$$", "$"))


@pytest.mark.timeout(90)
def test_systemd_unit_honours_the_omphalos_setting(tmp_path: Path) -> None:
    """The unit runs the command OMPHALOS names (as the init script does), with CONFIG and
    PIDFILE from the same defaults file, in the foreground."""
    config = tmp_path / "collector.conf"
    write_config(config, tmp_path, "[transport:local]\n[collector:summary]\n")
    pid_file = tmp_path / "unit.pid"
    env = subprocess_env(tmp_path)
    env.update(OMPHALOS=" ".join(OMPHALOS), CONFIG=str(config), PIDFILE=str(pid_file),
               STOP_TIMEOUT="5", DAEMON_ARGS="--kinds transport,collector")
    command = unit_command("collector")
    assert command[:2] == ["/bin/sh", "-c"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: read_pid(str(pid_file)), timeout=30, interval=0.1)
        assert read_pid(str(pid_file)) == proc.pid  # sh exec'd the command: systemd's MAINPID
        report = status(pid_file)
        assert set(report["actors"]) == {"transport:local", "collector:summary"}
        assert report["config_files"] == [str(config)]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not pid_file.exists()
