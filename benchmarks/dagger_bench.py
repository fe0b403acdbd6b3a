"""Figures of the Dagger module under a real engine (prints numbers; not a test).

    python benchmarks/dagger_bench.py [--tts-source DIR] [--official-image REF] [--e2e]

Needs the Dagger CLI (dagger.json engineVersion) and an engine (_EXPERIMENTAL_DAGGER_RUNNER_HOST
or the CLI's own). Each call runs twice: the first is cold only on a fresh engine (the
figure says "first"), the second shows the warm cost. Targets, next to the measurements:

1. `dagger functions`, `lint-chart`, `template-chart`: first and warm;
2. a no-change re-run of the build: under 15 s (all cache hits). With --tts-source the go
   stage of that checkout (`binaries`, what an offline engine can build), else `build`;
3. image size: ours (OCI tarball) no larger than --official-image (`docker save`), when
   Docker can pull it; otherwise the line says why it was skipped;
4. --e2e: `test-e-2-e` (target under 10 minutes cold).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.versions import TTS_VERSION
from tests.support.module_copy import module_dir
from tests.support.paths import REPO_ROOT

MODULE = REPO_ROOT  # or a copy with TTS_CI_ENGINE_BASE_IMAGE (offline engines), see main()


def timed(*args: str) -> float:
    """`dagger <args>` in the module; its wall time in seconds (fails loudly)."""
    started = time.monotonic()
    subprocess.run(["dagger", *args], cwd=MODULE, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.monotonic() - started


def twice(label: str, *args: str, target: str = "") -> None:
    first, warm = timed(*args), timed(*args)
    print(f"{label}: first {first:.1f} s, warm {warm:.1f} s{target}")


def image_size(official: str) -> None:
    if shutil.which("docker") is None:
        print("image size: skipped, no docker CLI to pull the official image")
        return
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp, "tts.tar"), Path(tmp, "official.tar")
        subprocess.run(["dagger", "call", "build", "tarball", "export", "--path", str(ours)],
                       cwd=MODULE, check=True)  # fmt: skip
        pulled = subprocess.run(["docker", "pull", "--quiet", official], check=False,
                                capture_output=True, text=True)  # fmt: skip
        if pulled.returncode != 0:
            print(f"image size: ours {ours.stat().st_size / 2**20:.1f} MiB; {official} not "
                  f"pulled ({pulled.stderr.strip()[:120]})")  # fmt: skip
            return
        subprocess.run(["docker", "save", "--output", str(theirs), official], check=True)
        verdict = "ok" if ours.stat().st_size <= theirs.stat().st_size else "LARGER"
        print(f"image size: ours {ours.stat().st_size / 2**20:.1f} MiB, {official} "
              f"{theirs.stat().st_size / 2**20:.1f} MiB: {verdict}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts-source", type=Path, help="a lorawan-stack git checkout")
    parser.add_argument("--official-image", default=f"thethingsnetwork/lorawan-stack:{TTS_VERSION}")
    parser.add_argument("--e2e", action="store_true", help="also time test-e-2-e")
    args = parser.parse_args()
    if shutil.which("dagger") is None:
        print("dagger_bench: no dagger CLI on PATH (README: Dagger CLI v0.21.11)", file=sys.stderr)
        return 2
    global MODULE  # noqa: PLW0603 - one module directory for the whole run
    MODULE = module_dir(Path(tempfile.mkdtemp(prefix="tts-ci-bench-")))
    twice("dagger functions", "functions")
    twice("lint-chart", "call", "lint-chart")
    twice("template-chart --profile kind", "call", "template-chart", "--profile", "kind")
    if args.tts_source:
        build = ["call", "binaries", "--tts-source", str(args.tts_source), "entries"]
        twice("binaries (go stage) of --tts-source", *build, target=" (target: warm < 15 s)")
    else:
        twice("build", "call", "build", "version", target=" (target: warm < 15 s)")
        image_size(args.official_image)
    if args.e2e:
        print(f"test-e-2-e: {timed('call', 'test-e-2-e'):.1f} s (target < 600 s cold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
