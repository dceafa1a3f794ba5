"""Three monitor processes and one collector process over ZeroMQ and over AMQP.

Each monitor is a real ``omphalos run -c`` process with its own host name and log file,
written by its own writer process. The collector process counts lines per host durably
(see procs.py). The collector is killed (SIGKILL) and restarted while the writers write, or
the RabbitMQ application is stopped and started again; over ZeroMQ a monitor process is
also killed and restarted meanwhile (its spool and checkpoints carry on). Every line must be
counted exactly once. The collector is away for 30 s, as the issue asks; the broker only
for a few seconds (a restart of RabbitMQ's application, not a 30 s outage).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .cluster import Cluster, free_port

HOSTS = ("web1", "web2", "web3")
LINES = 6000
RATE = 700.0
OUTAGE_SECS = 30.0
BROKER_OUTAGE_SECS = 3.0


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop_all()


def keys(tmp: Path, *names: str) -> Path:
    """Key pairs made by the real ``omphalos keys generate`` command."""
    directory = tmp / "keys"
    for name in names:
        subprocess.run(["omphalos", "keys", "generate", name, "--dir", str(directory)],
                       check=True, capture_output=True)
    return directory


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_zmq_three_hosts_collector_killed_and_restarted(cluster: Cluster, tmp_path: Path
                                                         ) -> None:
    """... and one monitor killed (SIGKILL) and restarted during the outage."""
    key_dir = keys(tmp_path, "collector", *HOSTS)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for host in HOSTS:
        (allowed / f"{host}.key").write_bytes((key_dir / f"{host}.key").read_bytes())
    port = free_port()
    receiver = {"transport:zmq": {"bind": f"tcp://127.0.0.1:{port}",
                                  "secret_key_file": str(key_dir / "collector.key_secret"),
                                  "allowed_keys_dir": str(allowed)}}
    cluster.start_collector(receiver)
    writers = []
    for host in HOSTS:
        path = cluster.start_monitor(host, {"transport:zmq": {
            "connect": f"tcp://127.0.0.1:{port}", "ack_timeout_secs": 3,
            "secret_key_file": key_dir / f"{host}.key_secret",
            "server_key_file": key_dir / "collector.key"}})
        writers.append(cluster.start_writer(path, LINES, RATE))
    wait_for(lambda: all(cluster.counts().get(h, 0) > 0 for h in HOSTS), 60)

    cluster.kill_collector()
    counted = sum(cluster.counts().values())
    cluster.gate.touch()  # the outage: writers write their second half, monitors spool
    time.sleep(OUTAGE_SECS)
    assert cluster.lines_written() > counted  # lines were written while it was down
    cluster.kill_monitor("web2")  # a monitor crashes too, with batches in its spool
    cluster.restart_monitor("web2")
    cluster.start_collector(receiver)

    for w in writers:
        w.wait(60)
    cluster.wait_counts({h: LINES for h in HOSTS}, 60)
    cluster.stop_all()  # monitors first, then the collector: nothing more may arrive
    assert cluster.counts() == {h: LINES for h in HOSTS}
    for host in HOSTS:
        assert "Traceback" not in cluster.log(f"{host}.log"), cluster.log(f"{host}.log")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_amqp_three_hosts_broker_restarted(cluster: Cluster) -> None:
    queue = f"omphalos-test-{uuid.uuid4().hex[:8]}"
    transport = {"transport:amqp": {"queue": queue}}
    cluster.start_collector(transport)
    writers = []
    for host in HOSTS:
        path = cluster.start_monitor(host, transport)
        writers.append(cluster.start_writer(path, LINES, RATE))
    wait_for(lambda: all(cluster.counts().get(h, 0) > 0 for h in HOSTS), 60)
    try:
        rabbitmqctl("stop_app")
        cluster.gate.touch()  # writers write, publishers spool, the consumer retries
        time.sleep(BROKER_OUTAGE_SECS)
        assert cluster.lines_written() > sum(cluster.counts().values())
    finally:
        rabbitmqctl("start_app")
    rabbitmqctl("await_startup")
    for w in writers:
        w.wait(60)
    cluster.wait_counts({h: LINES for h in HOSTS}, 90)
    cluster.stop_all()
    assert cluster.counts() == {h: LINES for h in HOSTS}
    subprocess.run(["rabbitmqctl", "delete_queue", queue], capture_output=True, timeout=30)
