"""The chart's single Redis keeps the network's state across a pod stop and a crash.

The rendered redis.conf (AOF on the volume, appendfsync everysec) on a real redis-server
whose data directory plays the PersistentVolume: a pod deletion or drain (SIGTERM) loses
nothing; a crash (SIGKILL) loses at most the last second of writes.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.render import find, profile_objects
from tests.support.servers import LOOPBACK, binary, free_port, stop


def _redis_conf(data: Path) -> str:
    rendered = profile_objects("kind")
    conf: str = find(rendered, "ConfigMap", "tts-thethingsstack-redis")["data"]["redis.conf"]
    return conf.replace("/data", str(data))


def _start(conf: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([binary("redis-server"), str(conf), "--bind", LOOPBACK,
                             "--port", str(port)], stdout=subprocess.DEVNULL)  # fmt: skip
    eventually("redis-server to answer PING", lambda: _cli(port, "PING") == "PONG",
               timeout=20, interval=0.1)  # fmt: skip
    return proc


def _cli(port: int, *args: str) -> str:
    result = subprocess.run([binary("redis-cli"), "-p", str(port), *args],
                            capture_output=True, text=True, check=False)  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize(("kill_signal", "settle"), [(signal.SIGTERM, 0.0), (signal.SIGKILL, 1.5)])
def test_the_state_survives_a_restart_on_the_same_volume(
    tmp_path: Path, kill_signal: signal.Signals, settle: float
) -> None:
    data = tmp_path / "volume"
    data.mkdir()
    conf = tmp_path / "redis.conf"
    conf.write_text(_redis_conf(data))
    assert "appendfsync everysec" in conf.read_text()
    port = free_port()
    proc = _start(conf, port)
    for n in range(100):
        _cli(port, "SET", f"ttn:v3:ns:devices:uid:app.dev-{n}", f"f_cnt={n}")
    time.sleep(settle)  # a crash keeps what the last fsync (every second) wrote
    proc.send_signal(kill_signal)
    proc.wait(timeout=30)
    proc = _start(conf, port)  # the pod again, on the same volume
    try:
        print(f"after {kill_signal.name}: {_cli(port, 'DBSIZE')} keys")
        assert _cli(port, "DBSIZE") == "100"
        assert _cli(port, "GET", "ttn:v3:ns:devices:uid:app.dev-99") == "f_cnt=99"
    finally:
        stop(proc)
