"""Device-probe figures against the real ttn-lw-stack (prints numbers; not a test).

    TTN_LW_STACK=/path/to/ttn-lw-stack .venv/bin/python benchmarks/device_bench.py [--runs N]

Starts the chart's kind profile as tests/realserver does (real Redis and PostgreSQL, the
Deployment's init containers, `start`), makes an admin API key, then runs
`python -m pipelines.smoke --device` N times with the gateway on Semtech UDP and N times as a
LoRa Basic Station, and prints per protocol, min / median / max over the runs:

1. JoinRequest -> JoinAccept (the PULL_RESP or dnmsg arriving; RX1 is at 5 s);
2. uplink sent -> its MQTT message;
3. MQTT push -> the downlink arriving at the gateway (and which receive window it is in);
4. the whole probe, gateway registration to removal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.paths import REPO_ROOT
from tests.support.real_server import admin_api_key, chart_stores, running_stack
from tests.support.servers import LOOPBACK

FIGURES = {
    "JoinRequest -> JoinAccept": ("join", r"in RX\d ([\d.]+) s after the JoinRequest"),
    "uplink -> MQTT": ("uplink", r"decrypted, ([\d.]+) s after it was sent"),
    "MQTT push -> downlink": ("downlink", r"; ([\d.]+) s from the MQTT push"),
}


def probe(argv: list[str], key: str) -> dict[str, dict[str, object]]:
    """One probe run's checks by name; fails loudly unless every check passed."""
    env = {**os.environ, "TTS_API_KEY": key}
    result = subprocess.run([*argv, "--json"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=180, check=False)  # fmt: skip
    report = json.loads(result.stdout)
    if not report["ok"]:
        sys.exit(f"probe failed:\n{result.stdout}")
    return {c["name"]: c for c in report["checks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    binary = Path(os.environ.get("TTN_LW_STACK") or sys.exit("set TTN_LW_STACK"))
    with (
        tempfile.TemporaryDirectory() as tmp,
        chart_stores(Path(tmp)) as stores,
        running_stack(binary, Path(tmp) / "stack", stores.redis, stores.pg) as stack,
    ):
        key = admin_api_key(binary, stores.db)
        base = [sys.executable, "-m", "pipelines.smoke", "--host", LOOPBACK,
                "--http-port", str(stack.http_port), "--udp-port", str(stack.udp_port),
                "--mqtt-port", stack.env["TTN_LW_AS_MQTT_LISTEN"].rsplit(":", 1)[1],
                "--frequency-plan", "EU_863_870_TTN", "--device"]  # fmt: skip
        station = ["--gateway-protocol", "basic-station",
                   "--lns-uri", f"ws://{stack.env['TTN_LW_GS_BASIC_STATION_LISTEN']}"]  # fmt: skip
        for name, extra in [("udp", []), ("basic-station", station)]:
            results = [probe([*base, *extra], key) for _ in range(runs)]
            for label, (check, pattern) in FIGURES.items():
                values = [float(found(pattern, r[check]["detail"])) for r in results]
                print(f"{name:14} {label:26} {spread(values)}")
            whole = [float(str(r["unregister"]["elapsed"])) for r in results]
            print(f"{name:14} {'whole probe':26} {spread(whole)}")
            windows = [found(r"in (RX\d) of", r["downlink"]["detail"]) for r in results]
            print(f"{name:14} {'downlink windows':26} {', '.join(windows)}")


def found(pattern: str, detail: object) -> str:
    """The first group of `pattern` in a check's detail; fails loudly without it."""
    match = re.search(pattern, str(detail))
    if match is None:
        sys.exit(f"no {pattern!r} in {detail!r}")
    return match[1]


def spread(values: list[float]) -> str:
    return (
        f"min {min(values):.2f}  median {statistics.median(values):.2f}  "
        f"max {max(values):.2f} s  (n={len(values)})"
    )


if __name__ == "__main__":
    main()
