"""The chart's Redis with Sentinel, run for real: a full restart never elects a stale pod.

Three "pods" of the rendered StatefulSet on this machine, each a real redis-server and
redis-sentinel started by the chart's own scripts (the ConfigMap), on its own loopback
address (127.0.0.2-4, the ports the chart uses) with its own data directory as the volume.
As in the cluster, PEERS and SELF_ADDRESS name the pods; only the mount paths and addresses
are local. The scenario the issue names: pod 0 is the primary, crashes, the Sentinels fail
over and newer data is written; then every pod stops and all start together. Pod 0's own
files still call it the primary; the newer data must survive all the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.render import find, profile_objects
from tests.support.servers import binary

PASSWORD = "sentinel-test-password"  # noqa: S105 - a throw-away test server
ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
CONFIG_MAP = "tts-thethingsstack-redis"


def _scripts() -> dict[str, str]:
    """The Redis ConfigMap of the chart with three replicas and Sentinel."""
    rendered = profile_objects(
        "default", "--set", "redis.internal.replicas=3",
        "--set", "redis.internal.sentinel.enabled=true",
        "--set", "redis.internal.sentinel.startupWaitSeconds=20",
    )  # fmt: skip
    data: dict[str, str] = find(rendered, "ConfigMap", CONFIG_MAP)["data"]
    return data


@dataclass
class Pod:
    """One pod of the StatefulSet: its volume, its config mount, its two processes."""

    index: int
    root: Path
    bin_dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return ADDRESSES[self.index]

    def start(self, scripts: dict[str, str]) -> None:
        data, config = self.root / "data", self.root / "etc-redis"
        data.mkdir(parents=True, exist_ok=True)
        config.mkdir(parents=True, exist_ok=True)
        for name, text in scripts.items():  # the mounts, relocated
            local = text.replace("/etc/redis", str(config)).replace("/data", str(data))
            (config / name).write_text(local)
        env = {
            "PATH": f"{self.bin_dir}:{os.environ['PATH']}",
            "SELF_ADDRESS": self.address,
            "PEERS": " ".join(ADDRESSES),
            "REDIS_PASSWORD": PASSWORD,
            "REDISCLI_AUTH": PASSWORD,
        }
        for script in ("start-sentinel.sh", "start-redis.sh"):
            log = (self.root / f"{script}.log").open("ab")
            self.procs.append(subprocess.Popen(
                ["sh", str(config / script), "--bind", self.address],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc in self.procs:
            proc.wait(timeout=30)
        self.procs.clear()

    def cli(self, *args: str, port: int = 6379) -> str:
        result = subprocess.run(
            [binary("redis-cli"), "-h", self.address, "-p", str(port), "--no-auth-warning",
             *(["-a", PASSWORD] if port == 6379 else []), *args],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return result.stdout.strip()

    def info(self, section: str, key: str) -> str:
        """One field of INFO ("down" when the server does not answer)."""
        for line in self.cli("INFO", section).splitlines():
            if line.startswith(f"{key}:"):
                return line.split(":", 1)[1].strip()
        return "down"

    def role(self) -> str:
        return self.info("replication", "role")


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[list[Pod]]:
    bin_dir = tmp_path / "bin"  # the image's redis-sentinel is redis-server by another name
    bin_dir.mkdir()
    (bin_dir / "redis-sentinel").symlink_to(binary("redis-server"))
    made = [Pod(i, tmp_path / f"redis-{i}", bin_dir) for i in range(len(ADDRESSES))]
    yield made
    for pod in made:
        pod.stop(signal.SIGKILL)


def _known(pod: Pod) -> tuple[str, str]:
    """(replicas, other Sentinels) that this pod's Sentinel knows of."""
    fields = pod.cli("--raw", "SENTINEL", "MASTER", "tts", port=26379).splitlines()
    info = dict(zip(fields[::2], fields[1::2], strict=False))
    return info.get("num-slaves", ""), info.get("num-other-sentinels", "")


def _primaries(pods: list[Pod]) -> list[Pod]:
    return [pod for pod in pods if pod.role() == "master"]


def test_a_full_restart_keeps_the_data_written_after_a_failover(pods: list[Pod]) -> None:
    scripts = _scripts()
    for pod in pods:  # podManagementPolicy: Parallel
        pod.start(scripts)
    eventually("pod 0 primary, two replicas", lambda: [p.role() for p in pods] ==
               ["master", "slave", "slave"])  # fmt: skip
    eventually("every Sentinel to know both replicas and the other Sentinels",
               lambda: all(_known(pod) == ("2", "2") for pod in pods))  # fmt: skip
    first = pods[0]
    assert first.cli("SET", "frame-counter", "1") == "OK"

    first.stop(signal.SIGKILL)  # the primary's node dies
    started = time.monotonic()
    eventually("a Sentinel failover", lambda: len(_primaries(pods[1:])) == 1)
    [primary] = _primaries(pods[1:])
    print(f"failover to {primary.address} in {time.monotonic() - started:.1f} s")
    # Sentinel repoints the other replica only after the promotion, and its full sync waits
    # for the diskless-sync delay (5 s): write once it is online.
    eventually("the other replica to follow the new primary",
               lambda: "state=online" in primary.info("replication", "slave0"))  # fmt: skip
    assert primary.cli("SET", "frame-counter", "2") == "OK"
    assert primary.cli("WAIT", "1", "10000") == "1"  # the other replica has it too
    # Redis ignores SIGTERM while it writes the AOF that follows a full sync (the kubelet
    # would SIGKILL it after the grace period); stop once every copy is on disk.
    eventually("the AOF rewrites after the sync to finish",
               lambda: all(p.info("persistence", "aof_rewrite_in_progress") == "0"
                           for p in pods[1:]))  # fmt: skip

    for pod in pods[1:]:
        pod.stop()  # every pod stops (e.g. all nodes replaced)
    conf = (first.root / "data" / "sentinel" / "sentinel.conf").read_text()
    assert f"sentinel monitor tts {first.address} 6379" in conf  # pod 0 still thinks it leads

    for pod in pods:
        pod.start(scripts)
    eventually("one primary again", lambda: len(_primaries(pods)) == 1)
    [after] = _primaries(pods)
    print(f"after the full restart the primary is {after.address}")
    assert after is not first
    assert after.cli("GET", "frame-counter") == "2"
    eventually(
        "pod 0 to follow the new primary with the newer data",
        lambda: first.role() == "slave" and first.cli("GET", "frame-counter") == "2",
    )
    log = (first.root / "start-redis.sh.log").read_text()
    assert f"primary: {after.address} (this pod: {first.address})" in log
