"""Figures for issue #5's targets, wherever a Dagger engine runs (prints numbers; not a test).

    python benchmarks/dagger_bench.py [--skip-e2e] [--official-image REF]

Needs the Dagger CLI (dagger.json engineVersion) and Docker: a laptop or a GitHub Actions
runner. The project's own machines have neither an engine nor a registry (issue #8), so
it has not produced figures there. Targets, printed next to the measurements:

1. `dagger call build` re-run with no change: under 15 s (all cache hits);
2. `dagger call test-e-2-e` cold: under 10 minutes (run it on a fresh engine);
3. image size: ours (OCI tarball) no larger than the official image of the same version
   (`docker save` of --official-image, pulled by Docker).

A Go-only change rebuild (target: under 4 minutes on 2 cores) needs a source tree with a
changed .go file: `dagger call build --tts-source <checkout>` timed by hand.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.versions import TTS_VERSION

REPO_ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    """Run a command from the repository root; its wall time in seconds (fails loudly)."""
    started = time.monotonic()
    subprocess.run(argv, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def image_bytes(export: Path) -> int:
    """Size of our image as an OCI tarball (dagger call build tarball export)."""
    subprocess.run(
        ["dagger", "call", "build", "export", "--path", str(export)], cwd=REPO_ROOT, check=True
    )
    return export.stat().st_size


def official_bytes(ref: str, out: Path) -> int:
    """Size of the official image as `docker save` writes it."""
    subprocess.run(["docker", "pull", "--quiet", ref], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "save", "--output", str(out), ref], check=True)
    return out.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-e2e", action="store_true", help="do not time test-e-2-e")
    parser.add_argument(
        "--official-image",
        default=f"thethingsnetwork/lorawan-stack:{TTS_VERSION}",
        help="the upstream image to compare sizes with (default %(default)s)",
    )
    args = parser.parse_args()
    missing = [tool for tool in ("dagger", "docker") if shutil.which(tool) is None]
    if missing:
        print(
            f"dagger_bench: {', '.join(missing)} not found: install them (README)", file=sys.stderr
        )
        return 2
    first = timed(["dagger", "call", "build"])
    rerun = timed(["dagger", "call", "build"])
    print(f"build first run: {first:.1f} s; no-change re-run: {rerun:.1f} s (target < 15 s)")
    with tempfile.TemporaryDirectory() as tmp:
        ours = image_bytes(Path(tmp, "tts.tar"))
        theirs = official_bytes(args.official_image, Path(tmp, "official.tar"))
    verdict = "ok" if ours <= theirs else "LARGER than official"
    mib = 2**20
    print(f"image: ours {ours / mib:.1f} MiB, {args.official_image} {theirs / mib:.1f} MiB")
    print(f"image size verdict: {verdict}")
    if not args.skip_e2e:
        e2e = timed(["dagger", "call", "test-e-2-e"])
        print(f"test-e-2-e: {e2e / 60:.1f} min (target < 10 min cold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
