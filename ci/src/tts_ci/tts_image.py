"""TtsImage: a built The Things Stack image and what can be done with it.

`dagger call build` returns one; chain its functions: `build scan`, `build test-kind`,
`build publish --address …`, `build tarball export --path …`. Publishing always scans
first and refuses an image that fails the gate: no path pushes an unscanned image.
"""

import json
from typing import Annotated

import dagger
from dagger import Doc, dag, field, object_type

from pipelines import image as plan
from pipelines import oci, scan_exceptions, signing, versions
from pipelines import scan as trivy

from . import kind, supply_chain
from .arguments import (
    DEFAULT_SEVERITY,
    Deadline,
    IgnoreFile,
    IgnoreUnfixed,
    NodeImage,
    RegistryMirror,
    Severity,
    VulnerabilityDb,
)
from .containers import WORKDIR, StepFailed, dockerfile_build, fresh, tts_source
from .functions import cached, new, uncached


async def build_image(
    repo: dagger.Directory, version: str, tree: dagger.Directory | None
) -> "TtsImage":
    """Dockerfile.tts over the release `version` (upstream git) or a checkout `tree`."""
    plan.check_release_version(version)
    src = await tts_source(version, tree)
    return new(
        TtsImage,
        container=dockerfile_build(repo, src),
        version=version,
        commit=src.commit,
        repo=repo,
    )


async def build_binaries(
    repo: dagger.Directory, version: str, tree: dagger.Directory | None
) -> dagger.Directory:
    """Dockerfile.tts up to its go stage only: the static binaries, no console, no runtime."""
    plan.check_release_version(version)
    src = await tts_source(version, tree)
    return dockerfile_build(repo, src, plan.GO_STAGE).directory(plan.BINARIES_DIR)


# The SBOM's file name, in the container and as oras attaches it.
SBOM_FILE = "sbom.cdx.json"


async def scan_reports(
    repo: dagger.Directory,
    target: dagger.File,
    is_sbom: bool,
    severities: tuple[str, ...],
    ignore_unfixed: bool,
    ignorefile: dagger.File | None,
    vulnerability_db: dagger.Directory | None,
) -> tuple[dagger.Directory, trivy.ScanSummary]:
    """Trivy over an image tarball or a CycloneDX SBOM: JSON, SARIF and table reports, and
    the gate's verdict, applied in Python with the repository's reviewed exceptions."""
    exceptions = await reviewed_exceptions(repo)  # a broken file fails before the scan
    report = "reports/trivy.json"
    name = SBOM_FILE if is_sbom else "image.tar"
    scanner = (
        dag.container()
        .from_(trivy.TRIVY_IMAGE)
        .with_mounted_cache(trivy.TRIVY_CACHE_DIR, dag.cache_volume("trivy-cache"))
        .with_(fresh)  # a fresh vulnerability DB each call
        .with_workdir(WORKDIR)
        .with_file(name, target)
        # Trivy opens --output with a plain create: the directory must exist.
        .with_directory("reports", dag.directory())
    )
    if vulnerability_db is not None:
        scanner = scanner.with_mounted_directory(trivy.TRIVY_DB_DIR, vulnerability_db)
    ignore = None
    if ignorefile is not None:
        ignore = ".trivyignore"
        scanner = scanner.with_file(ignore, ignorefile)
    # One full report (every severity); the gate is applied below, in Python.
    offline = vulnerability_db is not None
    argv = trivy.trivy_scan_argv(name, report, ignorefile=ignore, offline=offline, sbom=is_sbom)
    scanner = scanner.with_exec(argv)
    for fmt, output in [("sarif", "reports/trivy.sarif"), ("table", "reports/trivy.txt")]:
        scanner = scanner.with_exec(trivy.trivy_convert_argv(report, fmt, output))
    summary = trivy.summarize(
        json.loads(await scanner.file(report).contents()), severities, ignore_unfixed,
        exceptions,
    )  # fmt: skip
    reports = (
        scanner.directory("reports")
        .with_new_file("summary.txt", summary.render() + "\n")
        .with_new_file("gate", "passed\n" if summary.passed() else "failed\n")
    )
    return reports, summary


def gated(reports: dagger.Directory, summary: trivy.ScanSummary, gate: bool) -> dagger.Directory:
    """The reports, or the failed gate as the error (unless --gate=false)."""
    if gate and not summary.passed():
        raise StepFailed(f"the scan gate failed (--gate=false only reports)\n{summary.render()}")
    return reports


def sbom_of(image: dagger.Container) -> dagger.File:
    """Trivy's CycloneDX SBOM of `image`: its packages, no vulnerability DB needed."""
    return (
        dag.container()
        .from_(trivy.TRIVY_IMAGE)
        .with_workdir(WORKDIR)
        .with_file("image.tar", image.as_tarball())
        .with_exec(signing.trivy_sbom_argv("image.tar", SBOM_FILE))
        .file(SBOM_FILE)
    )


async def reviewed_exceptions(
    repo: dagger.Directory,
) -> tuple[scan_exceptions.ReviewedException, ...]:
    """The repository's reviewed exceptions (.trivyignore.yaml); none without the file."""
    if scan_exceptions.EXCEPTIONS_FILE not in await repo.entries():
        return ()
    return scan_exceptions.parse(await repo.file(scan_exceptions.EXCEPTIONS_FILE).contents())


@object_type
class TtsImage:
    """A The Things Stack container image: scan it, prove it on kind, publish it."""

    container: Annotated[dagger.Container, Doc("The image")] = field()
    version: Annotated[str, Doc("The Things Stack release it was built from")] = field()
    commit: Annotated[str, Doc("Full git commit of its source; empty if built elsewhere")] = field()
    repo: dagger.Directory  # this repository: chart and smoke probes

    @cached
    async def tarball(self) -> dagger.File:
        """The image as an OCI tarball (docker load, kind load, trivy --input)."""
        return self.container.as_tarball()

    @uncached
    async def scan(
        self,
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
        vulnerability_db: VulnerabilityDb = None,
        gate: Annotated[
            bool, Doc("Fail when the gate fails; --gate=false only reports (CI uploads SARIF)")
        ] = True,
    ) -> dagger.Directory:
        """Trivy over the image: JSON, SARIF and table reports, and the gate on them."""
        severities = trivy.parse_severities(severity)
        reports, summary = await self.scanned(
            severities, ignore_unfixed, ignorefile, vulnerability_db
        )
        return gated(reports, summary, gate)

    async def scanned(
        self,
        severities: tuple[str, ...],
        ignore_unfixed: bool,
        ignorefile: dagger.File | None,
        vulnerability_db: dagger.Directory | None = None,
    ) -> tuple[dagger.Directory, trivy.ScanSummary]:
        """The reports directory and the gate's verdict (the gate is applied in Python)."""
        return await scan_reports(
            self.repo, self.container.as_tarball(), False,
            severities, ignore_unfixed, ignorefile, vulnerability_db,
        )  # fmt: skip

    @cached
    async def sbom(self) -> dagger.File:
        """A CycloneDX SBOM of the image (Trivy): what publish attaches to the digest."""
        return sbom_of(self.container)

    @uncached
    async def test_kind(
        self,
        deadline: Deadline = 600,
        registry_mirror: RegistryMirror = "",
        node_image: NodeImage = versions.KIND_NODE_IMAGE,
    ) -> str:
        """Prove the chart with this image on a throw-away kind cluster (helm test smoke)."""
        cluster = kind.Cluster.checked(deadline, node_image, registry_mirror)
        # An image from elsewhere may carry no version label: kind only needs some tag.
        tag = self.version or "local"
        return await kind.end_to_end(self.repo, self.container, tag, cluster)

    @uncached
    async def publish(
        self,
        address: Annotated[str, Doc("Where to push, e.g. registry.example.com/tts:3.32.0")],
        username: Annotated[str, Doc("Registry user, if it needs a login")] = "",
        password: Annotated[dagger.Secret | None, Doc("Registry password or token")] = None,
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
        vulnerability_db: VulnerabilityDb = None,
        signing_key: Annotated[
            dagger.Secret | None,
            Doc("EC P-256 private key (PEM) to sign the pushed digest with; unsigned without"),
        ] = None,
        signing_key_password: Annotated[
            dagger.Secret | None, Doc("Passphrase of an encrypted --signing-key")
        ] = None,
        plain_http: Annotated[
            bool, Doc("The registry speaks plain HTTP (a local test registry)")
        ] = False,
    ) -> str:
        """Scan-gate, push, attach the SBOM, sign; prints the pushed reference by digest last."""
        oci.parse_image_ref(address)  # a malformed or unpinned address fails before the scan
        if (password is None) != (not username):
            raise ValueError("pass --username and --password together, or neither")
        signer = None
        if signing_key is not None:  # a bad key fails here, before the scan and the push
            passphrase = await signing_key_password.plaintext() if signing_key_password else ""
            signer = signing.PemSigner.load(
                (await signing_key.plaintext()).encode(), passphrase.encode() or None,
                "--signing-key",
            )  # fmt: skip
        report = await self.gated_push(
            [address], username, password,
            trivy.parse_severities(severity), ignore_unfixed, ignorefile, vulnerability_db,
            signer=signer, plain_http=plain_http,
        )  # fmt: skip
        return "\n".join(report)

    async def gated_push(
        self,
        addresses: list[str],
        username: str,
        password: dagger.Secret | None,
        severities: tuple[str, ...],
        ignore_unfixed: bool,
        ignorefile: dagger.File | None,
        vulnerability_db: dagger.Directory | None = None,
        *,
        signer: signing.Signer | None,
        plain_http: bool = False,
    ) -> list[str]:
        """Scan, refuse on a failed gate, push each address, attach the SBOM and sign the
        digest; report lines, the digest ref last."""
        _, summary = await self.scanned(severities, ignore_unfixed, ignorefile, vulnerability_db)
        if not summary.passed():
            raise StepFailed(f"not publishing: the scan gate failed\n{summary.render()}")
        refs = [oci.parse_image_ref(address) for address in addresses]
        server = refs[0].registry
        ctr = self.container
        config = None
        if password is not None:
            ctr = ctr.with_registry_auth(server, username, password)
            config = supply_chain.docker_config(server, username, await password.plaintext())
        pushed = [await ctr.publish(address) for address in addresses]
        digest = signing.digest_ref(f"{refs[0].repository}@{oci.parse_image_ref(pushed[0]).digest}")
        ws = supply_chain.workspace(config)
        ws.add_file(SBOM_FILE, sbom_of(self.container))
        lines = [
            *(f"pushed {ref}" for ref in pushed),
            summary.render(),
            await signing.attach_sbom(ws, digest, SBOM_FILE, plain_http),
        ]
        if signer is None:
            lines.append(f"not signed (no signing key): deploy refuses {digest}")
        else:
            lines.append(await signing.sign(ws, digest, signer, plain_http))
        return [*lines, str(digest)]
