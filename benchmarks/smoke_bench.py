"""Smoke-probe figures against the ttn-lw-stack stand-in (prints numbers; not a test).

    .venv/bin/python benchmarks/smoke_bench.py

Measures, on loopback against tests/support/protocol_standin.py (the protocol model CI has; its
figures are the probe's overhead plus a Python server, not TTS's own latency; the real
server's figures come from tests/realserver, which prints start -> /healthz and the probe run):

1. full probe runs with an API key (register, healthz, udp-ack, gateway-connected,
   unregister), median of several;
2. stand-in process start to all probes green;
3. UDP round trip, PULL_DATA -> PULL_ACK, median and p99 over 200 packets;
4. the same 200 sent as one unpaced burst from one EUI, to show the rate limit biting.

Rate limit: TTS drops a packet when the same EUI's 10th-previous packet is less than 10 ms
older (lorawan-stack v3.32.0 pkg/gatewayserver/io/udp/firewall_ratelimit.go:59-61,
config.go:67-71), and a dropped packet gets no ack. A loopback round trip is ~0.1 ms, so
200 back-to-back PULL_DATA from one EUI would lose most packets. The timed run therefore
rotates over EUIS gateway EUIs and starts a packet at most every GAP seconds: each EUI then
sends at most one packet per EUIS * GAP = 1.2 ms, so any 10 of its packets span > 10 ms.
"""

from __future__ import annotations

import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.smoke import Target, run_checks, semtech
from pipelines.smoke.registry import random_probe_eui
from tests.support.paths import REPO_ROOT
from tests.support.protocol_standin import STANDIN_API_KEY

PACKETS = 200
EUIS = 4
GAP = 0.0003  # seconds between packet starts: per EUI 1.2 ms, > 10 ms / 10
RUNS = 5
STANDIN_ARGS = ("--api-key", STANDIN_API_KEY)
PLAN = "EU_863_870_TTN"


def start_standin() -> tuple[subprocess.Popen[str], int, int, float]:
    """The stand-in accepting STANDIN_API_KEY; (process, http, udp, seconds to READY)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.protocol_standin", *STANDIN_ARGS],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], 30)[0]:
        proc.kill()
        raise SystemExit("stand-in did not start within 30 s")
    fields = dict(f.split("=") for f in proc.stdout.readline().split()[1:])
    return proc, int(fields["http"]), int(fields["udp"]), time.perf_counter() - started


async def round_trips(udp_port: int, euis: list[bytes], gap: float) -> tuple[list[float], int]:
    """RTTs in ms of PACKETS PULL_DATA round-robin over `euis`; and how many got no ack."""
    rtts, lost = [], 0
    async with await anyio.create_connected_udp_socket(
        remote_host="127.0.0.1", remote_port=udp_port
    ) as sock:
        for i in range(PACKETS):
            request = semtech.pull_data(euis[i % len(euis)])
            began = time.perf_counter()
            await sock.send(semtech.encode(request))
            with anyio.move_on_after(0.5):
                while True:  # skip late acks of earlier lost packets: match our token
                    try:
                        semtech.decode_reply(await sock.receive(), request)
                        break
                    except semtech.ProtocolError:
                        continue
            took = time.perf_counter() - began
            if took >= 0.5:  # noqa: PLR2004 - the timeout above
                lost += 1
            else:
                rtts.append(took * 1000)
            await anyio.sleep(max(0.0, gap - took))
    return rtts, lost


async def burst(udp_port: int, eui: bytes) -> tuple[int, int]:
    """PACKETS PULL_DATA back to back from one EUI; (sent, acked)."""
    acked = 0
    async with await anyio.create_connected_udp_socket(
        remote_host="127.0.0.1", remote_port=udp_port
    ) as sock:
        for _ in range(PACKETS):
            await sock.send(semtech.encode(semtech.pull_data(eui)))
        with anyio.move_on_after(1):
            while True:
                await sock.receive()
                acked += 1
    return PACKETS, acked


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def main() -> None:
    """Print the figures."""
    proc, http_port, udp_port, ready = start_standin()
    try:

        def target() -> Target:  # a fresh probe gateway per run, as the CLI does
            return Target(
                host="127.0.0.1", http_port=http_port, udp_port=udp_port,
                gateway_eui=random_probe_eui(), api_key=STANDIN_API_KEY, frequency_plan=PLAN,
            )  # fmt: skip

        results = await run_checks(target(), deadline=30)
        assert all(r.ok for r in results), results
        first = max(r.elapsed for r in results)
        print(
            f"stand-in process start -> all probes green: {ready + first:.3f} s "
            f"(start -> ports bound {ready:.3f} s, first probe run {first:.3f} s; not TTS)"
        )

        runs = []
        for _ in range(RUNS):
            began = time.perf_counter()
            results = await run_checks(target(), deadline=30)
            assert all(r.ok for r in results), results
            runs.append(time.perf_counter() - began)
        print(
            f"full probe run, {RUNS} runs: median {statistics.median(runs):.3f} s, "
            f"max {max(runs):.3f} s (budget 2 s)"
        )

        euis = [bytes.fromhex(f"AA555A00000001{i:02X}") for i in range(EUIS)]
        rtts, lost = await round_trips(udp_port, euis, GAP)
        print(
            f"UDP PULL_DATA->PULL_ACK, {PACKETS} packets over {EUIS} EUIs, {GAP * 1000:.1f} ms "
            f"apart: median {statistics.median(rtts):.3f} ms, p99 {p99(rtts):.3f} ms, "
            f"min {min(rtts):.3f} ms, max {max(rtts):.3f} ms, lost {lost}"
        )

        sent, acked = await burst(udp_port, bytes.fromhex("AA555A00000002FF"))
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{http_port}/metrics")).text
        dropped = [line for line in metrics.splitlines() if "rate_exceeded" in line]
        print(f"unpaced burst from one EUI: {acked} of {sent} acked; {', '.join(dropped)}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    anyio.run(main)
