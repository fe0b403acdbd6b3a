"""The CLI surface of tts-ci: the entry object, and where each capability lives.

    dagger call build [--version X.Y.Z | --tts-source DIR]      -> TtsImage (tts_image.py)
        … scan | sbom | test-kind | publish --address … | tarball | container
    dagger call scan-sbom --sbom FILE                            scan a CycloneDX SBOM
    dagger call from-image --container ADDRESS                 -> TtsImage, built elsewhere
    dagger call binaries [--version X.Y.Z | --tts-source DIR]   the go stage's binaries
    dagger call test-e-2-e                                       (= build test-kind)
    dagger call kind-runner                                      the e2e's runner, to debug
    dagger call lint-chart | template-chart --profile …
    dagger call with-azure --tenant-id … --client-id … …        -> Azure (azure.py)
        … publish | deploy | nightly | provision
    dagger call migrate --target-postgres … --target-redis …   (migration.py)
    dagger call restore-drill --account-url … --storage-token … (backups.py)
    dagger call restore --account-url … --target-postgres …    (backups.py)
    dagger call lint-bicep

This layer stays thin: argument checks and container plumbing only. The steps themselves
(command lists, probes, Azure auth) live in the plain `pipelines` package so the test suite
can run them without an engine. Every function checks its input before any long work: a
bad registry name fails in a second, not after a 10-minute build.

Dagger kebab-cases names and splits digits: `test_e2e` is `dagger call test-e-2-e`.
"""

from pathlib import Path
from typing import Annotated

import dagger
import yaml
from dagger import DefaultPath, Doc, Ignore, dag, object_type
from dagger.mod import check

from pipelines import bicep, chart, crds, policy, scan, versions
from pipelines import image as plan

from . import backups, kind, migration
from .arguments import (
    DEFAULT_SEVERITY,
    AccountUrl,
    BackupContainer,
    BackupId,
    CaCertificate,
    Deadline,
    IgnoreFile,
    IgnoreUnfixed,
    MaxAge,
    NodeImage,
    RegistryMirror,
    Severity,
    StorageToken,
    TtsSource,
    Version,
    VulnerabilityDb,
)
from .azure import Azure, bicep_container
from .containers import CHART_DIR, StepFailed, crd_schemas, go_install, run_steps, toolbox
from .functions import cached, new, uncached
from .tts_image import TtsImage, build_binaries, build_image, gated, scan_reports

# Paths of this repository that no function reads; kept out of the upload.
SOURCE_IGNORE = [".git", ".venv", ".tools", "build", "**/__pycache__", "**/.*_cache"]


@object_type
class TtsCi:
    """Build, scan, publish, chart-check, kind-test and deploy The Things Stack on Azure."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_IGNORE),
        Doc("This repository (chart, Dockerfile.tts, bicep/); defaults to the module checkout"),
    ]

    # ---- image -------------------------------------------------------------------

    @cached
    async def build(
        self,
        version: Version = versions.TTS_VERSION,
        tts_source: TtsSource = None,
    ) -> TtsImage:
        """Build the TTS image from source with Dockerfile.tts; chain scan, test-kind, publish."""
        return await build_image(self.source, version, tts_source)

    @cached
    async def binaries(
        self,
        version: Version = versions.TTS_VERSION,
        tts_source: TtsSource = None,
    ) -> dagger.Directory:
        """Only the static ttn-lw-stack and ttn-lw-cli (Dockerfile.tts up to its go stage)."""
        return await build_binaries(self.source, version, tts_source)

    @cached
    async def from_image(
        self,
        container: Annotated[dagger.Container, Doc("An image address or container")],
    ) -> TtsImage:
        """An image built elsewhere (e.g. docker build -f Dockerfile.tts): scan, test, publish."""
        version = await container.label("org.opencontainers.image.version") or ""
        commit = await container.label("org.opencontainers.image.revision") or ""
        return new(TtsImage, container=container, version=version, commit=commit, repo=self.source)

    @uncached
    async def scan_sbom(
        self,
        sbom: Annotated[
            dagger.File,
            Doc("A CycloneDX SBOM (JSON), e.g. the one publish attached: `oras pull <its ref>`"),
        ],
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
        vulnerability_db: VulnerabilityDb = None,
        gate: Annotated[bool, Doc("Fail when the gate fails; --gate=false only reports")] = True,
    ) -> dagger.Directory:
        """Trivy over a CycloneDX SBOM instead of an image: same reports and gate as scan."""
        severities = scan.parse_severities(severity)
        reports, summary = await scan_reports(
            self.source, sbom, True, severities, ignore_unfixed, ignorefile, vulnerability_db
        )
        return gated(reports, summary, gate)

    @uncached
    @check  # `dagger check` runs it: no required argument, pass or fail
    async def test_e2e(
        self,
        version: Version = versions.TTS_VERSION,
        tts_source: TtsSource = None,
        deadline: Deadline = 600,
        registry_mirror: RegistryMirror = "",
        node_image: NodeImage = versions.KIND_NODE_IMAGE,
    ) -> str:
        """Prove the chart on a throw-away kind cluster: healthz, UDP 1700 acks, gateway up."""
        plan.check_release_version(version)
        cluster = kind.Cluster.checked(deadline, node_image, registry_mirror)
        built = await build_image(self.source, version, tts_source)
        return await kind.end_to_end(self.source, built.container, version, cluster)

    @cached
    async def kind_runner(self) -> dagger.Container:
        """The e2e's runner (docker CLI, kind, helm, chart) on a fresh Docker-in-Dagger daemon."""
        return kind.runner(kind.tools(self.source), kind.docker_daemon())

    # ---- chart -------------------------------------------------------------------

    @cached
    @check  # `dagger check` runs it: no required argument, pass or fail
    async def lint_chart(self) -> str:
        """helm lint --strict, render, schema-validate and policy-check every values profile."""
        steps = chart.lint_commands(CHART_DIR)
        ctr, log = await run_steps(toolbox(self.source), steps, "helm lint")
        lines = [log]
        kubeconform = (
            ctr.with_file("/usr/local/bin/kubeconform", go_install(
                "github.com/yannh/kubeconform/cmd/kubeconform", f"v{versions.KUBECONFORM_VERSION}"))
            .with_directory("/crd-schemas", await crd_schemas())
        )  # fmt: skip
        for profile in chart.PROFILES:
            rendered = await self._render(ctr, profile)
            manifest = f"/tmp/{profile}.yaml"  # noqa: S108 - inside the container
            checked = ctr.with_new_file(manifest, rendered)
            _, validated = await run_steps(
                checked, [chart.validate_command(Path(manifest))], f"schema validation ({profile})"
            )
            objects = [o for o in yaml.safe_load_all(rendered) if o]
            if custom := crds.custom_resources(objects):
                custom_file = kubeconform.with_new_file("custom.yaml", yaml.safe_dump_all(custom))
                _, conformed = await run_steps(
                    custom_file, [crds.kubeconform_argv("custom.yaml", "/crd-schemas")],
                    f"CRD schemas ({profile})",
                )  # fmt: skip
                validated += f"\n{conformed}"
            violations = policy.check(objects)
            if violations:
                raise StepFailed(f"policy ({profile}):\n" + "\n".join(violations))
            lines += [validated, f"{profile}: {len(objects)} objects, policy: 0 violations"]
        return "\n".join(lines)

    @cached
    async def template_chart(
        self,
        profile: Annotated[str, Doc("Values profile: default, kind or aks")] = "kind",
    ) -> dagger.Directory:
        """Render the chart for a values profile; return <profile>.yaml in a directory."""
        chart.profile_args(CHART_DIR, profile)  # unknown profile: fail before any work
        rendered = await self._render(toolbox(self.source), profile)
        return dag.directory().with_new_file(f"{profile}.yaml", rendered)

    async def _render(self, ctr: dagger.Container, profile: str) -> str:
        ctr, _ = await run_steps(ctr, [chart.template_command(CHART_DIR, profile)], "helm template")
        return await ctr.stdout()

    # ---- Azure -------------------------------------------------------------------

    @cached
    async def with_azure(
        self,
        tenant_id: Annotated[str, Doc("Entra tenant id (Bicep output tenantId)")],
        client_id: Annotated[
            str, Doc("Client id of the CI identity (Bicep output githubActionsClientId)")
        ],
        oidc_request_url: Annotated[
            dagger.Secret | None,
            Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_URL, for OIDC federation"),
        ] = None,
        oidc_request_token: Annotated[
            dagger.Secret | None,
            Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_TOKEN, for OIDC federation"),
        ] = None,
        azure_config: Annotated[
            dagger.Directory | None,
            Doc("Laptop: your ~/.azure directory, to reuse an `az login` session"),
        ] = None,
    ) -> Azure:
        """Log in to Azure (GitHub OIDC or az login); chain publish, deploy, nightly, provision."""
        return new(
            Azure,
            tenant_id=tenant_id,
            client_id=client_id,
            repo=self.source,
            oidc_request_url=oidc_request_url,
            oidc_request_token=oidc_request_token,
            azure_config=azure_config,
        )

    # ---- migration -----------------------------------------------------------------

    @uncached
    async def migrate(
        self,
        target_postgres: Annotated[
            dagger.Secret,
            Doc(
                "Target database: postgresql://ADMIN:PASSWORD@HOST:5432/ttn_lorawan?sslmode=require"
            ),
        ],
        target_redis: Annotated[
            dagger.Secret,
            Doc("Target Redis: rediss://:ACCESS_KEY@HOST:10000 (Azure Managed Redis) or redis://…"),
        ],
        source_postgres: Annotated[
            dagger.Secret | None,
            Doc("Source database URI (with --ssh-host as the VM sees it, e.g. 127.0.0.1:5432)"),
        ] = None,
        source_redis: Annotated[
            dagger.Secret | None,
            Doc(
                "Source Redis URL (with --ssh-host as the VM sees it, e.g. redis://127.0.0.1:6379)"
            ),
        ] = None,
        ssh_host: Annotated[
            str, Doc("Reach the sources through SSH to this VM: user@host[:port]")
        ] = "",
        ssh_key: Annotated[dagger.Secret | None, Doc("Private key for --ssh-host")] = None,
        ssh_known_hosts: Annotated[
            dagger.File | None, Doc("The VM's host key line(s) for --ssh-host (ssh-keyscan)")
        ] = None,
        postgres_dump: Annotated[
            dagger.File | None, Doc("A pg_dump --format=custom file instead of a live database")
        ] = None,
        redis_rdb: Annotated[dagger.File | None, Doc("An RDB file instead of a live Redis")] = None,
        blob_dir: Annotated[
            dagger.Directory | None,
            Doc("The VM's blob directory (pictures), copied here first: rsync -a VM:…/blob ./blob"),
        ] = None,
        account_url: Annotated[
            str, Doc("With --blob-dir: the storage account (https://ACCOUNT.blob.core.windows.net)")
        ] = "",
        pictures_container: Annotated[
            str, Doc("With --blob-dir: the upload container (Bicep output blobContainerName)")
        ] = "",
        storage_token: Annotated[
            dagger.Secret | None, Doc("With --blob-dir: an Entra token for Azure Storage")
        ] = None,
        version: Version = versions.TTS_VERSION,
        dry_run: Annotated[
            bool, Doc("Only report what would move (the default); --dry-run=false copies")
        ] = True,
        replace: Annotated[
            bool, Doc("Overwrite a non-empty target (also how an interrupted run is finished)")
        ] = False,
    ) -> str:
        """Move a Things Stack's state (VM, dumps) and its pictures to the AKS-side stores."""
        plan.check_release_version(version)
        sources = migration.Sources(source_postgres, source_redis, postgres_dump, redis_rdb,
                                    ssh_host, ssh_key, ssh_known_hosts)  # fmt: skip
        sources.check()
        pictures = None
        if blob_dir is not None:
            if storage_token is None:
                raise ValueError(
                    "--blob-dir needs --storage-token (and --account-url, --pictures-container)"
                )
            backups.check_container(account_url, pictures_container, "--pictures-container",
                                    "blobContainerName")  # fmt: skip
            pictures = backups.Pictures(
                await backups.vm_pictures(blob_dir), account_url, pictures_container, storage_token
            )
        report = await migration.run(
            self.source, version, target_postgres, target_redis, sources,
            dry_run=dry_run, replace=replace,
        )  # fmt: skip
        if pictures is None:
            return report
        return f"{report}\n{await pictures.put(self.source, dry_run=dry_run, replace=replace)}"

    # ---- backups -------------------------------------------------------------------

    @uncached
    async def restore_drill(
        self,
        account_url: AccountUrl,
        storage_token: StorageToken,
        container: BackupContainer = "tts-backups",
        backup: BackupId = "",
        max_age: MaxAge = "26h",
        version: Version = versions.TTS_VERSION,
        tts_source: TtsSource = None,
        ca_certificate: CaCertificate = None,
    ) -> str:
        """Restore a backup into throw-away stores, verify it, start TTS on it: one verdict."""
        plan.check_release_version(version)
        return await backups.restore_drill(
            self.source, version, tts_source, account_url, container, storage_token,
            ca_certificate, backup, max_age,
        )  # fmt: skip

    @uncached
    async def restore(
        self,
        account_url: AccountUrl,
        storage_token: StorageToken,
        target_postgres: Annotated[
            dagger.Secret, Doc("The live database: postgresql://ADMIN:PASSWORD@HOST/…")
        ],
        target_redis: Annotated[dagger.Secret, Doc("The live Redis: rediss://:KEY@HOST:10000")],
        container: BackupContainer = "tts-backups",
        backup: BackupId = "",
        pictures_container: Annotated[
            str, Doc("Also put the backup's pictures back into this container (tts.blob)")
        ] = "",
        version: Version = versions.TTS_VERSION,
        dry_run: Annotated[
            bool,
            Doc("Only report what would be overwritten (the default); --dry-run=false restores"),
        ] = True,
        replace: Annotated[
            bool, Doc("Overwrite the live stores although they are not empty")
        ] = False,
        ca_certificate: CaCertificate = None,
    ) -> str:
        """Restore a backup into the LIVE stores, guarded as migrate is (production-state.md)."""
        plan.check_release_version(version)
        return await backups.restore(
            self.source, version, account_url, container, storage_token, ca_certificate, backup,
            target_postgres, target_redis, pictures_container, dry_run=dry_run, replace=replace,
        )  # fmt: skip

    @cached
    @check  # `dagger check` runs it: no required argument, pass or fail
    async def lint_bicep(self) -> str:
        """Run bicep build, bicep lint and build-params over bicep/ (in the azure-cli image)."""
        _, log = await run_steps(bicep_container(self.source), bicep.lint_commands(), "bicep lint")
        return log
