"""Start tests/support/tts_standin.py (the protocol model of ttn-lw-stack) and run the smoke CLI."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from pipelines.smoke import Target
from tests.support.paths import REPO_ROOT

LOOPBACK = "127.0.0.1"
# The one key the model accepts (a made-up value in TTS's key shape, not a secret).
STANDIN_API_KEY = "NNSXS.STANDINSTANDINSTANDIN.KEYKEYKEYKEYKEYKEYKEY"


@dataclass(frozen=True)
class Standin:
    http_port: int
    udp_port: int
    proc: subprocess.Popen[str]

    def target(self, **changes: object) -> Target:
        return Target(host=LOOPBACK, http_port=self.http_port, udp_port=self.udp_port, **changes)  # type: ignore[arg-type]

    def metrics(self) -> str:
        return httpx.get(f"http://{LOOPBACK}:{self.http_port}/metrics").text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@contextmanager
def standin(*args: str) -> Iterator[Standin]:
    """The model on free loopback ports, accepting STANDIN_API_KEY; always stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.tts_standin", "--api-key", STANDIN_API_KEY, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("READY "), f"stand-in did not start: {line!r}"
        ports = dict(field.split("=") for field in line.split()[1:])
        yield Standin(int(ports["http"]), int(ports["udp"]), proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


def smoke_cli(
    http_port: int, udp_port: int, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pipelines.smoke` against loopback ports, as a user runs it."""
    argv = [sys.executable, "-m", "pipelines.smoke", "--host", LOOPBACK]
    argv += ["--http-port", str(http_port), "--udp-port", str(udp_port), *args]
    return subprocess.run(
        argv,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
