"""The module under a real Dagger engine: the CLI a user runs, against this checkout.

Each test runs `dagger call …` (or `dagger functions`) in the repository, so the engine
loads the module exactly as on a laptop or in GitHub Actions: the Python runtime, the uv
install of `pipelines`, the pinned images. What an offline engine cannot reach (upstream
git, Azure, GitHub) is left to the tests that say so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pipelines import chart, scan_exceptions, signing, versions
from pipelines.scan import TRIVY_IMAGE
from tests.dagger_module import TtsCi, functions
from tests.engine.conftest import require_engine
from tests.support.module_copy import copy_module
from tests.support.oci_tarball import OciTarball
from tests.support.paths import CHART, REPO_ROOT, tool_path
from tests.support.render import run
from tests.support.signing_tools import DirectoryWorkspace

require_engine()  # one skip line without the CLI or an engine it reaches

CALL_TIMEOUT = 1800  # a cold engine loads the module in minutes
LONG_WORK_IMAGES = (
    versions.GO_IMAGE, versions.NODE_IMAGE, versions.DOCKER_DIND_IMAGE, TRIVY_IMAGE,
)  # fmt: skip


def dagger(cli: Path, where: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI in the module directory; (result, seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [str(cli), "--progress=plain", *args],
        cwd=where, capture_output=True, text=True, timeout=CALL_TIMEOUT, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    print(f"$ dagger {' '.join(args)}  -> exit {result.returncode} in {took:.1f} s")
    return result, took


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's final `Error: …` line."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert lines, result.stderr[-2000:]
    return lines[-1]


def test_dagger_functions_lists_every_function_of_the_module(
    dagger_cli: Path, module_dir: Path
) -> None:
    result, _ = dagger(dagger_cli, module_dir, "functions")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = re.findall(r"^([a-z0-9-]+)\s{2,}\S", result.stdout, flags=re.M)
    assert sorted(listed) == sorted(f.cli_name for f in functions(TtsCi))


def test_lint_chart_passes_every_profile(dagger_cli: Path, module_dir: Path) -> None:
    result, _ = dagger(dagger_cli, module_dir, "call", "lint-chart")
    assert result.returncode == 0, result.stderr[-3000:]
    for profile in chart.PROFILES:
        assert f"{profile}: " in result.stdout
    assert result.stdout.count("policy: 0 violations") == len(chart.PROFILES)


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_template_chart_equals_the_host_helm_render(
    dagger_cli: Path, module_dir: Path, profile: str, tmp_path: Path
) -> None:
    out = tmp_path / "rendered"
    result, _ = dagger(
        dagger_cli, module_dir, "call", "template-chart", "--profile", profile,
        "export", "--path", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    in_engine = (out / f"{profile}.yaml").read_text()
    on_host = run(chart.template_command(CHART, profile)).stdout
    assert in_engine == on_host


# (call, message): bad input, answered by the module before any build, pull or login.
BAD_INPUT = [
    (["build", "--version", "v3.32.0"], "drop the leading 'v'"),
    (["template-chart", "--profile", "prod"], "unknown chart profile"),
    (["test-e-2-e", "--version", "main"], "is not a release number"),
    (["test-e-2-e", "--registry-mirror", "registry.example.com"], "give scheme://host"),
    (["test-e-2-e", "--node-image", "kindest/node"], "is not pinned"),
    (
        ["with-azure", "--tenant-id", "t", "--client-id", "c", "publish",
         "--registry", "tts.azurecr.io", "--resource-group", "rg", "--subscription-id", "s",
         "--signing-key-id", "https://tts-sig.vault.azure.net/keys/image-signing"],
        "azurecr.io",
    ),
    (
        ["with-azure", "--tenant-id", "t", "--client-id", "c", "deploy", "--cluster", "c",
         "--resource-group", "rg", "--subscription-id", "s",
         "--image", "tts.azurecr.io/thethingsstack:3.32.0"],
        "has no digest",
    ),
    (
        ["with-azure", "--tenant-id", "t", "--client-id", "c", "deploy", "--cluster", "c",
         "--resource-group", "rg", "--subscription-id", "s",
         "--image", "tts.azurecr.io/thethingsstack@sha256:" + "0" * 64],
        "deploy verifies the image's signature before helm runs",
    ),
    (
        ["migrate", "--target-postgres", "env://TTS_CI_ENGINE_NOT_USED",
         "--target-redis", "env://TTS_CI_ENGINE_NOT_USED"],
        "give the source database once",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("call", "message"), BAD_INPUT, ids=lambda v: str(v)[:25])
def test_bad_input_is_one_error_line_before_any_work(
    dagger_cli: Path,
    module_dir: Path,
    call: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A secret the CLI can resolve; the function refuses the input before reading it.
    monkeypatch.setenv("TTS_CI_ENGINE_NOT_USED", "not a URL")
    result, took = dagger(dagger_cli, module_dir, "call", *call)
    assert result.returncode != 0
    line = error_line(result)
    assert message in line
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing was built or pulled: the engine ran the module's own function only.
    assert "withExec" not in result.stderr.replace('Container.withExec(args: ["update-ca', "")
    print(f"{line}  [{took:.1f} s]")


# ---- image: scan, publish, build, Docker-in-Dagger ---------------------------------

SMALL_IMAGE = versions.PYTHON_IMAGE  # Debian-based and pinned; the module pulls it anyway
TRIVYDB = REPO_ROOT / "tools" / "trivydb"


@pytest.fixture(scope="module")
def vulnerability_dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trivy DBs made with trivy-db's own API (tools/trivydb): one advisory for glibc fixed
    in a version no Debian 12 image has (so every such image is vulnerable), none, and
    CVE-2024-45337 in golang.org/x/crypto < 0.31.0 (the Go modules of ttn-lw-stack)."""
    root = tmp_path_factory.mktemp("trivy-db")
    binary = root / "trivydb"
    subprocess.run(
        ["go", "build", "-o", str(binary), "."], cwd=TRIVYDB, check=True, timeout=900,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
    )  # fmt: skip
    dbs = {"vulnerable": root / "vulnerable", "clean": root / "clean", "x-crypto": root / "x"}
    advisory = ["-advisory", "glibc:99.0-1:CVE-2099-0001:HIGH"]
    subprocess.run([str(binary), "-out", str(dbs["vulnerable"]), *advisory], check=True)
    subprocess.run([str(binary), "-out", str(dbs["clean"])], check=True)
    # Shaped like the real advisory for the module version the pinned release requires.
    go = ["-platform", "go::GitHub Security Advisory Go",
          "-advisory", "golang.org/x/crypto:0.31.0:CVE-2024-45337:CRITICAL"]  # fmt: skip
    subprocess.run([str(binary), "-out", str(dbs["x-crypto"]), *go], check=True)
    return dbs


def reported(cli: Path, where: Path, scan: list[str], db: Path, reports: Path) -> str:
    """Run a scan with `--gate=false` and export its reports; the summary it wrote."""
    result, _ = dagger(
        cli, where, *scan, "--vulnerability-db", str(db), "--gate=false",
        "export", "--path", str(reports),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = (reports / "summary.txt").read_text()
    print(summary)
    return summary


def test_scan_gates_a_small_image_air_gapped(
    dagger_cli: Path, module_dir: Path, vulnerability_dbs: dict[str, Path], tmp_path: Path
) -> None:
    scan = ["call", "from-image", "--container", SMALL_IMAGE, "scan"]
    reports = tmp_path / "reports"
    summary = reported(dagger_cli, module_dir, scan, vulnerability_dbs["vulnerable"], reports)
    # Every binary package of glibc in the image (libc6, libc-bin) has the advisory.
    assert re.search(r"scan gate failed: \d+ HIGH/CRITICAL with a fix", summary)
    assert "HIGH CVE-2099-0001 libc6 " in summary
    assert (reports / "gate").read_text() == "failed\n"
    assert {"trivy.json", "trivy.sarif", "trivy.txt"} <= {p.name for p in reports.iterdir()}
    gated, _ = dagger(
        dagger_cli, module_dir, *scan, "--vulnerability-db", str(vulnerability_dbs["vulnerable"])
    )
    assert gated.returncode != 0
    assert "the scan gate failed (--gate=false only reports)" in error_line(gated)
    clean, _ = dagger(
        dagger_cli, module_dir, *scan, "--vulnerability-db", str(vulnerability_dbs["clean"]),
        "export", "--path", str(tmp_path / "clean"),
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert "scan gate passed" in (tmp_path / "clean" / "summary.txt").read_text()


@pytest.fixture(scope="module")
def registry() -> str:
    """A registry the engine itself can push to (its host's view, e.g. 127.0.0.1:5000)."""
    address = os.environ.get("TTS_CI_ENGINE_REGISTRY")
    if not address:
        pytest.skip("TTS_CI_ENGINE_REGISTRY is not set: it names a registry the engine can push to")
    return address


def test_publish_pushes_only_a_scanned_image(
    dagger_cli: Path, module_dir: Path, vulnerability_dbs: dict[str, Path], registry: str
) -> None:
    address = f"{registry}/tts-ci/engine-suite:{int(time.time())}"
    publish = [
        "call", "from-image", "--container", SMALL_IMAGE, "publish", "--address", address,
        "--plain-http",
    ]  # fmt: skip
    refused, _ = dagger(
        dagger_cli, module_dir, *publish,
        "--vulnerability-db", str(vulnerability_dbs["vulnerable"]),
    )  # fmt: skip
    assert refused.returncode != 0
    assert "not publishing: the scan gate failed" in error_line(refused)
    pushed, _ = dagger(
        dagger_cli, module_dir, *publish, "--vulnerability-db", str(vulnerability_dbs["clean"])
    )
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    last = pushed.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"{re.escape(address.rsplit(':', 1)[0])}@sha256:[0-9a-f]{{64}}", last)
    # The digest it printed is in the registry: pull it back through the engine.
    back, _ = dagger(
        dagger_cli, module_dir, "call", "from-image", "--container", last, "container",
        "with-exec", "--args", "python3,-c,print('pulled back')", "stdout",
    )  # fmt: skip
    assert back.returncode == 0, back.stderr[-3000:]
    assert "pulled back" in back.stdout


def test_publish_attaches_the_sbom_and_signs_what_it_pushed(
    dagger_cli: Path,
    module_dir: Path,
    vulnerability_dbs: dict[str, Path],
    registry: str,
    tmp_path: Path,
) -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"engine-suite"),
        )
    )
    (tmp_path / "passphrase").write_text("engine-suite")
    address = f"{registry}/tts-ci/engine-signed:{int(time.time())}"
    published, _ = dagger(
        dagger_cli, module_dir, "call", "from-image", "--container", SMALL_IMAGE, "publish",
        "--address", address, "--vulnerability-db", str(vulnerability_dbs["clean"]),
        "--signing-key", f"file://{key_file}",
        "--signing-key-password", f"file://{tmp_path / 'passphrase'}", "--plain-http",
    )  # fmt: skip
    assert published.returncode == 0, published.stderr[-3000:]
    print(published.stdout)
    ref = signing.digest_ref(published.stdout.strip().splitlines()[-1])
    assert f"signed {ref} with --signing-key" in published.stdout
    attached = re.search(
        rf"attached SBOM (\S+@sha256:[0-9a-f]{{64}}) \(\S+\) to {re.escape(str(ref))}",
        published.stdout,
    )
    assert attached, published.stdout

    # What the engine pushed, checked from the host with the pinned cosign and oras.
    ws = DirectoryWorkspace(tmp_path)
    public = signing.public_pem(key.public_key())
    verified = asyncio.run(signing.verify(ws, ref, public, "the suite's key", plain_http=True))
    assert verified == f"verified {ref}: signed by the suite's key"
    with pytest.raises(signing.SignatureRefused, match="no signature on it is by that key"):
        asyncio.run(signing.verify(ws, ref, signing.public_pem(other.public_key()), "another",
                                   plain_http=True))  # fmt: skip
    oras = str(tool_path("oras"))
    discovered = subprocess.run(
        [oras, "discover", "--plain-http", "--format", "json",
         "--artifact-type", signing.SBOM_ARTIFACT_TYPE, str(ref)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # The same image published before has its earlier SBOMs too: this run's is among them.
    referrers = [r["reference"] for r in json.loads(discovered.stdout)["referrers"]]
    assert attached[1] in referrers, referrers
    subprocess.run(
        [oras, "pull", "--plain-http", "-o", str(tmp_path / "sbom"), attached[1]],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    bom = json.loads((tmp_path / "sbom" / "sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert "libc6" in {c["name"] for c in bom["components"]}


def test_an_sbom_is_scanned_like_the_image(
    dagger_cli: Path, module_dir: Path, vulnerability_dbs: dict[str, Path], tmp_path: Path
) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    made, _ = dagger(
        dagger_cli, module_dir, "call", "from-image", "--container", SMALL_IMAGE, "sbom",
        "export", "--path", str(sbom),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    assert json.loads(sbom.read_text())["bomFormat"] == "CycloneDX"
    scan = ["call", "scan-sbom", "--sbom", str(sbom)]
    summary = reported(
        dagger_cli, module_dir, scan, vulnerability_dbs["vulnerable"], tmp_path / "reports"
    )
    assert "HIGH CVE-2099-0001 libc6 " in summary  # the image scan's finding, from the SBOM
    gated, _ = dagger(
        dagger_cli, module_dir, *scan, "--vulnerability-db", str(vulnerability_dbs["vulnerable"])
    )
    assert gated.returncode != 0
    assert "the scan gate failed (--gate=false only reports)" in error_line(gated)


def has_interpreter(binary: Path) -> bool:
    """True for a dynamically linked ELF64 executable (a PT_INTERP program header)."""
    data = binary.read_bytes()
    assert data[:5] == b"\x7fELF\x02", f"{binary} is not ELF64"
    phoff, phentsize, phnum = (
        int.from_bytes(data[0x20:0x28], "little"),
        int.from_bytes(data[0x36:0x38], "little"),
        int.from_bytes(data[0x38:0x3A], "little"),
    )
    pt_interp = 3
    return any(
        int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little")
        == pt_interp
        for i in range(phnum)
    )


@pytest.fixture(scope="module")
def source_tree() -> tuple[str, str]:
    """TTS_SOURCE_TREE (a lorawan-stack checkout the engine can build) and its HEAD commit."""
    tree = os.environ.get("TTS_SOURCE_TREE")
    if not tree:
        pytest.skip("TTS_SOURCE_TREE is not set: it names a lorawan-stack git checkout to build")
    head = subprocess.run(
        ["git", "log", "-1", "--format=%H"], cwd=tree, capture_output=True, text=True, check=True
    ).stdout.strip()
    return tree, head


def check_version(binary: Path, head: str) -> str:
    version = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(rf"Version:\s+{re.escape(versions.TTS_VERSION)}", version), version
    assert re.search(rf"Git commit:\s+{head[:7]}\b", version), version
    return version


def test_build_stamps_a_checkout_into_static_binaries(
    dagger_cli: Path, module_dir: Path, source_tree: tuple[str, str], tmp_path: Path
) -> None:
    """Dockerfile.tts's go stage under the engine's BuildKit, from a local checkout."""
    tree, head = source_tree
    out = tmp_path / "bin"
    built, took = dagger(
        dagger_cli, module_dir, "call", "binaries", "--tts-source", tree,
        "export", "--path", str(out),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-5000:]
    print(check_version(out / "ttn-lw-stack", head), f"go stage in {took:.0f} s")
    assert not has_interpreter(out / "ttn-lw-cli")  # static: runs on the busybox runtime


def test_build_makes_the_whole_image(
    dagger_cli: Path, module_dir: Path, source_tree: tuple[str, str], tmp_path: Path
) -> None:
    """Every stage of Dockerfile.tts (go, web, runtime): binaries, console, plans, labels."""
    tree, head = source_tree
    tarball = tmp_path / "tts.tar"
    built, took = dagger(
        dagger_cli, module_dir, "call", "build", "--tts-source", tree,
        "tarball", "export", "--path", str(tarball),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-5000:]
    image = OciTarball(tarball)
    config = image.config["config"]
    assert config["User"] == "886:886"
    assert config["Entrypoint"] == ["/bin/ttn-lw-stack"]
    assert config["Labels"]["org.opencontainers.image.version"] == versions.TTS_VERSION
    assert config["Labels"]["org.opencontainers.image.revision"] == head
    files = image.files()
    public = "srv/ttn-lorawan/public"
    assert files.get(f"{public}/manifest.yaml"), "the console's asset manifest is missing"
    scripts = [p for p in files if p.startswith(f"{public}/") and p.endswith(".js")]
    consoles = [p for p in scripts if p.startswith(f"{public}/console.")]
    assert consoles, sorted(scripts)
    # webpack stamps `git rev-parse --short HEAD`: the checkout's .git reached the web stage.
    assert head[:7].encode() in (files[consoles[0]] or b"")
    assert not [p for p in files if p.endswith("/.git")], "submodule .git files shipped"
    assert "srv/ttn-lorawan/lorawan-frequency-plans/frequency-plans.yml" in files
    binary = tmp_path / "ttn-lw-stack"
    binary.write_bytes(files["bin/ttn-lw-stack"] or b"")
    binary.chmod(0o755)
    check_version(binary, head)
    print(
        f"whole image in {took:.0f} s: {len(image.layers)} layers, "
        f"{image.size() / 2**20:.1f} MiB compressed, {len(scripts)} JS assets"
    )


# Optional e2e inputs: what an engine without Docker Hub needs (the lab's stand-ins).
E2E_OPTIONS = {
    "TTS_CI_KIND_NODE_IMAGE": "--node-image",
    "TTS_CI_REGISTRY_MIRROR": "--registry-mirror",
}


def test_e2e_reaches_a_passing_helm_test(
    dagger_cli: Path, module_dir: Path, source_tree: tuple[str, str]
) -> None:
    """`dagger call test-e-2-e` itself, on the checkout: kind, the chart, `helm test`.

    Offline, also TTS_CI_KIND_NODE_IMAGE and TTS_CI_REGISTRY_MIRROR (passed when set).
    """
    tree, _ = source_tree
    options = [
        arg for name, flag in E2E_OPTIONS.items() if os.environ.get(name)
        for arg in (flag, os.environ[name])
    ]  # fmt: skip
    result, took = dagger(
        dagger_cli, module_dir, "call", "test-e-2-e", "--tts-source", tree, *options
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    print("\n".join(result.stdout.splitlines()[-30:]), f"\n[{took:.0f} s]")
    # helm test: the healthz pod and the two smoke pods (UDP, Basic Station), all Succeeded,
    # each smoke pod's device joined, its uplink reached MQTT and the downlink came back.
    assert len(re.findall(r"^Phase:\s+Succeeded$", result.stdout, flags=re.M)) == 3
    assert result.stdout.count("smoke: 10 of 10 checks passed") == 2
    assert len(re.findall(r"^PASS  downlink ", result.stdout, flags=re.M)) == 2
    summary = result.stdout.strip().splitlines()[-1]
    for phase in ("images built", "daemon up", "cluster created", "images loaded",
                  "install ready", "helm test"):  # fmt: skip
        assert phase in summary, summary


def with_exceptions(module: Path, where: Path, text: str) -> Path:
    """A copy of the module whose .trivyignore.yaml is `text`; nothing else differs."""
    copy_module(module, where)
    (where / scan_exceptions.EXCEPTIONS_FILE).write_text(text)
    return where


def test_the_reviewed_exception_gates_the_real_binaries_finding(
    dagger_cli: Path,
    module_dir: Path,
    source_tree: tuple[str, str],
    vulnerability_dbs: dict[str, Path],
    tmp_path: Path,
) -> None:
    """Trivy itself finds CVE-2024-45337 in the built image's Go binaries (x/crypto v0.27.0,
    as v3.32.1's go.mod requires): the repository's exception lets it through with a warning;
    without it the gate fails naming module and versions; once expired it fails naming it."""
    tree, _ = source_tree
    db = str(vulnerability_dbs["x-crypto"])

    def scanned(module: Path) -> tuple[str, str]:
        out = tmp_path / f"reports-{module.name}"
        result, _ = dagger(
            dagger_cli, module, "call", "build", "--tts-source", tree, "scan",
            "--vulnerability-db", db, "--gate=false", "export", "--path", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        summary = (out / "summary.txt").read_text()
        print(summary)
        return summary, (out / "gate").read_text()

    finding = "CRITICAL CVE-2024-45337 golang.org/x/crypto v0.27.0 -> 0.31.0"
    summary, gate = scanned(module_dir)
    assert gate == "passed\n"
    assert f"warning: accepted by reviewed exception: {finding}" in summary
    empty = with_exceptions(module_dir, tmp_path / "none", "vulnerabilities: []\n")
    summary, gate = scanned(empty)
    assert gate == "failed\n"
    assert finding in summary
    reviewed = (REPO_ROOT / scan_exceptions.EXCEPTIONS_FILE).read_text()
    past = re.sub(r"expired_at: \S+", "expired_at: 2024-01-01", reviewed)
    summary, gate = scanned(with_exceptions(module_dir, tmp_path / "expired", past))
    assert gate == "failed\n"
    expired = "reviewed exception CVE-2024-45337 (golang.org/x/crypto@v0.27.0) expired on"
    assert f"{expired} 2024-01-01: review it" in summary


def test_a_failed_e2e_names_its_phase(dagger_cli: Path, module_dir: Path) -> None:
    """A node image that does not exist: the e2e fails in 'cluster created', in one line."""
    result, _ = dagger(
        dagger_cli, module_dir, "call", "from-image", "--container", SMALL_IMAGE,
        "test-kind", "--node-image", "kindest/node:v0.0.0-tts-ci-no-such-tag",
    )  # fmt: skip
    assert result.returncode != 0
    line = error_line(result)
    assert "kind e2e failed in phase 'cluster created'" in line, line
    assert "passed before it: images built" in line
    assert "Traceback" not in result.stdout + result.stderr


def test_docker_in_dagger_starts_and_runs_a_nested_container(
    dagger_cli: Path, module_dir: Path
) -> None:
    script = (
        "set -e; for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; "
        "docker info --format 'driver={{.Driver}} cgroup={{.CgroupVersion}}'; "
        "mkdir -p /tmp/nested && cp /usr/local/bin/kind /tmp/nested/ && "
        "tar -C /tmp/nested -c . | docker import - tts-ci/nested:1 >/dev/null && "
        "docker run --rm tts-ci/nested:1 /kind version"
    )
    result, _ = dagger(
        dagger_cli, module_dir, "call", "kind-runner", "with-exec", "--args", f"sh,-c,{script}",
        "stdout",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    print(result.stdout)
    assert "driver=overlay2" in result.stdout  # not vfs: /var/lib/docker is a volume
    assert re.search(r"^kind v\d+\.\d+\.\d+ ", result.stdout, flags=re.M)


def test_check_engine_accepts_the_pinned_cli_with_its_engine(dagger_cli: Path) -> None:
    """scripts/check-engine, the workflows' guard against a shared engine of another
    release, with the real CLI and engine (the skew cases: tests/integration)."""
    env = {**os.environ, "PATH": f"{dagger_cli.parent}:{os.environ['PATH']}"}
    script = [str(REPO_ROOT / "scripts/check-engine")]
    done = subprocess.run(
        script, env=env, capture_output=True, text=True, timeout=CALL_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"check-engine: dagger CLI and engine v{versions.DAGGER_VERSION} ("
    )
