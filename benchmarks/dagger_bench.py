"""Figures of the Dagger module under a real engine (prints numbers; not a test).

    python benchmarks/dagger_bench.py [--tts-source DIR] [--e2e | --push]
        [--node-image REF] [--registry-mirror URL]

Needs the Dagger CLI (dagger.json engineVersion) and an engine (_EXPERIMENTAL_DAGGER_RUNNER_HOST
or the CLI's own). Each call runs twice: the first is cold only on a fresh engine (the
figure says "first"), the second shows the warm cost. Targets, next to the measurements:

1. `dagger functions`, `lint-chart`, `template-chart`: first and warm;
2. a no-change re-run of the whole build (every stage of Dockerfile.tts: go, web,
   runtime), warm under 15 s: of the checkout --tts-source, else of the release;
3. the image: its layers and compressed size (upstream states no size for the official
   image anywhere this project could read: its release notes and package pages list tags
   and digests only);
4. --e2e: `test-e-2-e` twice, with each phase's time (warm target: under 5 minutes);
5. --push: what a push costs the CI (docs/ci.md): `build`, `lint-chart` and `test-e-2-e` in
   a row, on a fresh engine (a GitHub-hosted job's) and then again with no change on the
   same, now warm, long-lived engine (a CI-cluster node's); the ratio, and the 5-minute
   target for the warm push. Point the CLI at a fresh engine for the first figure to be cold.
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

from tests.support.module_copy import module_dir
from tests.support.oci_tarball import OciTarball
from tests.support.paths import REPO_ROOT

WARM_PUSH_TARGET = 300  # seconds: issue #24's "a no-change push on warm engines"
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


def image_figures(build: list[str]) -> None:
    """Layers and compressed size of the built image (its OCI tarball)."""
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(tmp, "tts.tar")
        subprocess.run(["dagger", *build, "tarball", "export", "--path", str(tarball)],
                       cwd=MODULE, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # fmt: skip
        image = OciTarball(tarball)
        compressed, whole = image.size() / 2**20, tarball.stat().st_size / 2**20
        print(f"image: {len(image.layers)} layers, {compressed:.1f} MiB compressed, "
              f"tarball {whole:.1f} MiB; official: no size stated")  # fmt: skip


def e2e_phases(call: list[str]) -> None:
    """`test-e-2-e` twice; each run's phases from its last line."""
    for run in ("first", "warm"):
        started = time.monotonic()
        done = subprocess.run(["dagger", *call], cwd=MODULE, capture_output=True, text=True,
                              check=False)  # fmt: skip
        took = time.monotonic() - started
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        verdict = last if done.returncode == 0 else f"FAILED: {done.stderr.strip()[-300:]}"
        print(f"test-e-2-e {run}: {took:.1f} s (target warm < 300 s); {verdict}")


def push_case(source: list[str], e2e_options: list[str]) -> None:
    """The same no-change push twice on one engine: cold (if fresh), then warm."""
    push = [
        ("build", ["call", "build", *source, "container", "sync"]),
        ("lint-chart", ["call", "lint-chart"]),
        ("test-e-2-e", ["call", "test-e-2-e", *source, *e2e_options]),
    ]
    totals = []
    for run in ("first", "again"):
        steps = [(name, timed(*args)) for name, args in push]
        totals.append(sum(took for _, took in steps))
        each = ", ".join(f"{name} {took:.0f} s" for name, took in steps)
        print(f"push {run}: {totals[-1]:.0f} s ({each})")
    cold, warm = totals
    verdict = "met" if warm <= WARM_PUSH_TARGET else "NOT met"
    print(
        f"push: warm {warm:.0f} s vs cold {cold:.0f} s = {cold / warm:.1f}x faster; "
        f"target warm <= {WARM_PUSH_TARGET} s {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts-source", type=Path, help="a lorawan-stack git checkout")
    parser.add_argument("--e2e", action="store_true", help="also time test-e-2-e, per phase")
    parser.add_argument(
        "--push", action="store_true", help="only a push: build, lint-chart, test-e-2-e twice"
    )
    parser.add_argument("--node-image", help="test-e-2-e --node-image")
    parser.add_argument("--registry-mirror", help="test-e-2-e --registry-mirror")
    args = parser.parse_args()
    if shutil.which("dagger") is None:
        print("dagger_bench: no dagger CLI on PATH (README: Dagger CLI v0.21.11)", file=sys.stderr)
        return 2
    global MODULE  # noqa: PLW0603 - one module directory for the whole run
    MODULE = module_dir(Path(tempfile.mkdtemp(prefix="tts-ci-bench-")))
    source = ["--tts-source", str(args.tts_source)] if args.tts_source else []
    options = [*source]
    if args.node_image:
        options += ["--node-image", args.node_image]
    if args.registry_mirror:
        options += ["--registry-mirror", args.registry_mirror]
    if args.push:
        push_case(source, options[len(source) :])
        return 0
    twice("dagger functions", "functions")
    twice("lint-chart", "call", "lint-chart")
    twice("template-chart --profile kind", "call", "template-chart", "--profile", "kind")
    build = ["call", "build", *source]
    twice("build (whole image)", *build, "container", "sync", target=" (target: warm < 15 s)")
    image_figures(build)
    if args.e2e:
        e2e_phases(["call", "test-e-2-e", *options])
    return 0


if __name__ == "__main__":
    sys.exit(main())
