"""The chart's Redis StatefulSet with Sentinel as processes on this machine: three "pods",
each a real redis-server and redis-sentinel started by the chart's own scripts (its Redis
ConfigMap), on its own loopback address (127.0.0.2-4, the ports the chart uses) with its own
data directory as the volume. PEERS and SELF_ADDRESS name the pods as in the cluster."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.render import find, profile_objects
from tests.support.servers import binary

PASSWORD = "sentinel-test-password"  # noqa: S105 - a throw-away test server
ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
CONFIG_MAP = "tts-thethingsstack-redis"


def chart_scripts() -> dict[str, str]:
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


@contextmanager
def sentinel_pods(tmp_path: Path) -> Iterator[list[Pod]]:
    """The three pods, not started yet; every process is killed on the way out."""
    bin_dir = tmp_path / "bin"  # the image's redis-sentinel is redis-server by another name
    bin_dir.mkdir(parents=True)
    (bin_dir / "redis-sentinel").symlink_to(binary("redis-server"))
    made = [Pod(i, tmp_path / f"redis-{i}", bin_dir) for i in range(len(ADDRESSES))]
    try:
        yield made
    finally:
        for pod in made:
            pod.stop(signal.SIGKILL)


def known(pod: Pod) -> tuple[str, str]:
    """(replicas, other Sentinels) that this pod's Sentinel knows of."""
    fields = pod.cli("--raw", "SENTINEL", "MASTER", "tts", port=26379).splitlines()
    info = dict(zip(fields[::2], fields[1::2], strict=False))
    return info.get("num-slaves", ""), info.get("num-other-sentinels", "")
