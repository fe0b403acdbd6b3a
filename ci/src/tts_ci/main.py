"""The CLI surface of tts-ci: one Dagger function per product step.

This layer stays thin: argument checks and container plumbing only. The steps
themselves (command lists, probes, Azure auth) live in the plain `pipelines` package so
the test suite can run them without an engine. Every function checks its input before
any long work: a bad registry name fails in a second, not after a 10-minute build.

Dagger kebab-cases names and splits digits: `test_e2e` is `dagger call test-e-2-e`.
"""

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import anyio
import dagger
import yaml
from dagger import DefaultPath, Doc, Ignore, ReturnType, dag, function, object_type
from dagger.mod._exceptions import FunctionError  # the SDK's no-traceback error

from pipelines import (
    acr,
    aks,
    azure_auth,
    bicep,
    chart,
    kube,
    policy,
    public_smoke,
    releases,
    versions,
)
from pipelines import image as tts_image
from pipelines import scan as trivy
from pipelines.smoke.registry import API_KEY_ENV

from .azure import AzureLogin
from .containers import (
    WORKDIR,
    StepFailed,
    TtsSource,
    console_assets,
    fresh,
    go_binaries,
    run_steps,
    runtime_image,
    smoke_image,
    toolbox,
)
from .containers import (
    tts_source as fetch_tts_source,
)

F = TypeVar("F", bound=Callable[..., Any])

# Paths of this repository that no function reads; kept out of the upload.
SOURCE_IGNORE = [".git", ".venv", ".tools", "build", "**/__pycache__", "**/.*_cache"]
CHART_DIR = Path("charts/thethingsstack")
# Repository of the TTS image in ACR, and of the smoke-probe image loaded into kind.
IMAGE_REPOSITORY = "thethingsstack"
KIND_IMAGE_REPOSITORY = "tts-ci/thethingsstack"
SMOKE_IMAGE = "tts-ci/smoke:local"


def _one_line_errors(func: F) -> F:
    """Bad input and failed steps end the call with their message, not a Python traceback.

    The SDK logs a traceback for any other exception; FunctionError is its documented
    escape hatch for errors whose message says it all (dagger-io 0.21 mod/_module.py).
    """

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except (ValueError, StepFailed) as err:
            raise FunctionError(str(err)) from None

    return cast(F, wrapper)


def cached(func: F) -> F:
    """A Dagger function whose results the engine may reuse (pure renders and checks)."""
    return cast(F, function(_one_line_errors(func)))


def uncached(func: F) -> F:
    """A Dagger function never served from the 7-day function cache.

    For functions that publish, deploy, test or look at moving refs: a cached
    result would report success for work that did not happen again.
    """
    # dagger-io 0.21.11 accepts `cache=` at runtime, but its typing overloads omit it.
    return function(cache="never")(_one_line_errors(func))  # type: ignore[call-overload,no-any-return]


async def load_into_kind(
    runner: dagger.Container, archive: str, ref: str
) -> tuple[dagger.Container, str]:
    """Load an image tarball into kind under `ref` (Dagger tarballs may carry no name)."""
    runner, _ = await run_steps(runner, [kube.docker_load_argv(archive)], "docker load")
    image_id = kube.loaded_image(await runner.stdout())
    return await run_steps(
        runner,
        [kube.docker_tag_argv(image_id, ref), kube.kind_load_image_argv(ref)],
        f"kind load {ref}",
    )


# How Azure-facing functions authenticate (azure-identity): GitHub Actions OIDC
# (ClientAssertionCredential fed a fresh GitHub token on every call; GitHub tokens live
# 5 minutes), else the Azure CLI login in `azure_config`.
TenantId = Annotated[str, Doc("Entra tenant id (Bicep output tenantId)")]
ClientId = Annotated[str, Doc("Client id of the CI identity (Bicep output githubActionsClientId)")]
OidcRequestUrl = Annotated[
    dagger.Secret | None,
    Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_URL, for OIDC federation"),
]
OidcRequestToken = Annotated[
    dagger.Secret | None,
    Doc("GitHub Actions: env://ACTIONS_ID_TOKEN_REQUEST_TOKEN, for OIDC federation"),
]
AzureConfig = Annotated[
    dagger.Directory | None,
    Doc("Laptop: your ~/.azure directory, to reuse an `az login` session"),
]
Version = Annotated[
    str,
    Doc("The Things Stack release to use, e.g. 3.32.0 (a release tag without the leading v)"),
]
Severity = Annotated[str, Doc("Comma-separated severities that fail the gate")]
DEFAULT_SEVERITY = ",".join(trivy.DEFAULT_SEVERITIES)
IgnoreUnfixed = Annotated[bool, Doc("Gate only on findings that have a fixed version")]
IgnoreFile = Annotated[dagger.File | None, Doc("A .trivyignore of accepted CVEs")]


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
        tts_source: Annotated[
            dagger.Directory | None,
            Doc("A lorawan-stack git checkout to build instead of the release `version`"),
        ] = None,
    ) -> dagger.Container:
        """Build the TTS container image from source (Go, console assets, runtime)."""
        tts_image.check_release_version(version)
        return self._image(await fetch_tts_source(version, tts_source))

    def _image(self, src: TtsSource) -> dagger.Container:
        return runtime_image(src, go_binaries(src), console_assets(src))

    @uncached
    async def scan(
        self,
        version: Version = versions.TTS_VERSION,
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
        gate: Annotated[
            bool, Doc("Fail when the gate fails; --gate=false only reports (CI uploads SARIF)")
        ] = True,
    ) -> dagger.Directory:
        """Scan the built image with Trivy; return JSON, SARIF and table reports; gate on them."""
        severities = trivy.parse_severities(severity)
        tts_image.check_release_version(version)
        built = self._image(await fetch_tts_source(version, None))
        reports, summary = await self._scan(built, severities, ignore_unfixed, ignorefile)
        if gate and not summary.passed():
            raise StepFailed(summary.render())
        return reports

    async def _scan(
        self,
        built: dagger.Container,
        severities: tuple[str, ...],
        ignore_unfixed: bool,
        ignorefile: dagger.File | None,
    ) -> tuple[dagger.Directory, trivy.ScanSummary]:
        report = "reports/trivy.json"
        scanner = (
            dag.container()
            .from_(trivy.TRIVY_IMAGE)
            .with_mounted_cache(trivy.TRIVY_CACHE_DIR, dag.cache_volume("trivy-cache"))
            .with_(fresh)  # a fresh vulnerability DB each call
            .with_workdir(WORKDIR)
            .with_file("image.tar", built.as_tarball())
            # Trivy opens --output with a plain create: the directory must exist.
            .with_directory("reports", dag.directory())
        )
        ignore = None
        if ignorefile is not None:
            ignore = ".trivyignore"
            scanner = scanner.with_file(ignore, ignorefile)
        # One full report (every severity); the gate is applied below, in Python.
        scanner = scanner.with_exec(trivy.trivy_scan_argv("image.tar", report, ignorefile=ignore))
        for fmt, output in [("sarif", "reports/trivy.sarif"), ("table", "reports/trivy.txt")]:
            scanner = scanner.with_exec(trivy.trivy_convert_argv(report, fmt, output))
        summary = trivy.summarize(
            json.loads(await scanner.file(report).contents()), severities, ignore_unfixed
        )
        reports = (
            scanner.directory("reports")
            .with_new_file("summary.txt", summary.render() + "\n")
            .with_new_file("gate", "passed\n" if summary.passed() else "failed\n")
        )
        return reports, summary

    @uncached
    async def publish(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name, e.g. ttsprodacr")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        version: Version = versions.TTS_VERSION,
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
    ) -> str:
        """Build, scan-gate, push to ACR as <version> and <version>-<sha>; print the digest last."""
        login = AzureLogin(tenant_id, client_id, oidc_request_url, oidc_request_token, azure_config)
        report = await self._publish(
            registry, resource_group, subscription_id, login, version,
            trivy.parse_severities(severity), ignore_unfixed, ignorefile,
        )  # fmt: skip
        return report

    async def _publish(
        self,
        registry: str,
        resource_group: str,
        subscription_id: str,
        login: AzureLogin,
        version: str,
        severities: tuple[str, ...],
        ignore_unfixed: bool,
        ignorefile: dagger.File | None,
    ) -> str:
        acr.check_registry_name(registry)
        tts_image.check_release_version(version)
        login.check()
        credential = await login.credential(list(azure_auth.AZ_SCOPES))
        async with credential:
            server = await acr.login_server(credential, subscription_id, resource_group, registry)
            imported: list[str] = []

            async def import_dependencies() -> None:
                imported.extend(
                    await acr.import_images(
                        credential,
                        subscription_id,
                        resource_group,
                        registry,
                        tenant_id=login.tenant_id,
                    )
                )

            # The chart's Redis/PostgreSQL images go into ACR while TTS builds and scans.
            async with anyio.create_task_group() as tg:
                tg.start_soon(import_dependencies)
                src = await fetch_tts_source(version, None)
                built = self._image(src)
                _, summary = await self._scan(built, severities, ignore_unfixed, ignorefile)
            if not summary.passed():
                raise StepFailed(f"not publishing: the scan gate failed\n{summary.render()}")
            entra = await credential.get_token(azure_auth.ACR_SCOPE)
            refresh = await acr.exchange_refresh_token(server, login.tenant_id, entra.token)
        authed = built.with_registry_auth(
            server, azure_auth.ACR_USERNAME, dag.set_secret("acr-refresh-token", refresh)
        )
        pushed = [
            await authed.publish(f"{server}/{IMAGE_REPOSITORY}:{tag}")
            for tag in tts_image.image_tags(version, src.commit)
        ]
        digest = pushed[0].rsplit("@", 1)[1]
        lines = [*(f"imported {ref}" for ref in imported), *(f"pushed {ref}" for ref in pushed)]
        lines += [summary.render(), f"{server}/{IMAGE_REPOSITORY}@{digest}"]
        return "\n".join(lines)

    # ---- chart -------------------------------------------------------------------

    @cached
    async def lint_chart(self) -> str:
        """helm lint --strict, render, schema-validate and policy-check every values profile."""
        steps = chart.lint_commands(CHART_DIR)
        ctr, log = await run_steps(toolbox(self.source), steps, "helm lint")
        lines = [log]
        for profile in chart.PROFILES:
            rendered = await self._render(ctr, profile)
            manifest = f"/tmp/{profile}.yaml"  # noqa: S108 - inside the container
            checked = ctr.with_new_file(manifest, rendered)
            _, validated = await run_steps(
                checked, [chart.validate_command(Path(manifest))], f"schema validation ({profile})"
            )
            objects = [o for o in yaml.safe_load_all(rendered) if o]
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

    # ---- kind end-to-end ---------------------------------------------------------

    @uncached
    async def test_e2e(
        self,
        version: Version = versions.TTS_VERSION,
        deadline: Annotated[int, Doc("Seconds to wait for rollout and smoke probes")] = 600,
    ) -> str:
        """Prove the chart on a throw-away kind cluster: healthz, UDP 1700 acks, gateway up."""
        tts_image.check_release_version(version)
        if deadline < 60:  # noqa: PLR2004 - a kind cluster cannot come up faster
            raise ValueError(f"--deadline {deadline} is too short: give at least 60 seconds")
        built = self._image(await fetch_tts_source(version, None))
        dind = await (
            dag.container()
            .from_(versions.DOCKER_DIND_IMAGE)
            .with_env_variable("DOCKER_TLS_CERTDIR", "")
            # The engine's root filesystem is overlayfs, which cannot be an overlay upper
            # dir: without a volume dockerd falls back to vfs and kind's node /var breaks.
            # Private: two concurrent runs must not share one dockerd state.
            .with_mounted_cache(
                "/var/lib/docker",
                dag.cache_volume("tts-e2e-docker"),
                sharing=dagger.CacheSharingMode.PRIVATE,
            )
            .with_exposed_port(2375)
            # kind's API server: up only once the cluster exists.
            .with_exposed_port(kube.API_SERVER_PORT, experimental_skip_healthcheck=True)
            # Through the image's entrypoint: its dind wrapper moves processes out of the
            # root cgroup, so nested containers get cgroup v2 controllers (kind's kubelet).
            .as_service(
                args=["dockerd", "--host=tcp://0.0.0.0:2375", "--tls=false"],
                use_entrypoint=True,
                insecure_root_capabilities=True,
            )
            .start()
        )
        kind_bin = (
            dag.container()
            .from_(versions.GO_IMAGE)
            .with_env_variable("CGO_ENABLED", "0")
            .with_exec(["go", "install", f"sigs.k8s.io/kind@v{versions.KIND_VERSION}"])
            .file("/go/bin/kind")
        )
        docker_cli = dag.container().from_(versions.DOCKER_DIND_IMAGE).file("/usr/local/bin/docker")
        runner = (
            toolbox(self.source)
            .with_file("/usr/local/bin/kind", kind_bin)
            .with_file("/usr/local/bin/docker", docker_cli)
            .with_service_binding(kube.DIND_HOST, dind)
            .with_env_variable("DOCKER_HOST", f"tcp://{kube.DIND_HOST}:2375")
            .with_(fresh)
            .with_new_file("kind.yaml", kube.kind_config())
            .with_file("tts.tar", built.as_tarball())
            .with_file("smoke.tar", smoke_image(self.source).as_tarball())
        )
        tts_ref = f"{KIND_IMAGE_REPOSITORY}:{version}"
        try:
            # A cluster left in the cached dockerd state by a killed run would block create.
            runner = runner.with_exec(kube.kind_delete_argv(), expect=ReturnType.ANY)
            runner, created = await run_steps(
                runner, [kube.kind_create_argv("kind.yaml")], "kind create cluster"
            )
            # Not logged: the kubeconfig holds the cluster admin's client key.
            kubeconfig = await runner.with_exec(kube.kind_kubeconfig_argv()).stdout()
            runner = runner.with_new_file("kubeconfig", kube.reachable_kubeconfig(kubeconfig))
            log = [created]
            try:
                # Restricted Pod Security on the namespace before anything runs in it.
                runner, applied = await run_steps(
                    runner.with_new_file("namespace.yaml", kube.namespace_manifest()),
                    kube.apply_namespace_argvs("namespace.yaml"),
                    "namespace",
                )
                log.append(applied)
                for archive, ref in [("tts.tar", tts_ref), ("smoke.tar", SMOKE_IMAGE)]:
                    runner, loaded = await load_into_kind(runner, archive, ref)
                    log.append(loaded)
                runner, installed = await run_steps(
                    runner,
                    [
                        kube.helm_install_kind_argv(
                            CHART_DIR, "kubeconfig", KIND_IMAGE_REPOSITORY, version,
                            SMOKE_IMAGE, deadline,
                        ),
                        kube.helm_test_argv("kubeconfig", deadline),
                    ],
                    "kind end-to-end",
                )  # fmt: skip
                log.append(installed)
            except StepFailed as failure:
                diagnostics = [
                    await runner.with_exec(argv, expect=ReturnType.ANY).combined_output()
                    for argv in kube.diagnostics_argvs()
                ]
                raise StepFailed(
                    f"{failure}\n--- cluster diagnostics ---\n" + "\n".join(diagnostics)
                ) from None
            return "\n".join(log)
        finally:
            await runner.with_exec(kube.kind_delete_argv(), expect=ReturnType.ANY).sync()
            await dind.stop()

    # ---- AKS ---------------------------------------------------------------------

    @uncached
    async def deploy(
        self,
        cluster: Annotated[str, Doc("AKS cluster name")],
        resource_group: Annotated[str, Doc("Resource group of the cluster")],
        image: Annotated[str, Doc("Image by digest, as printed last by publish")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the cluster")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        values: Annotated[
            dagger.File | None,
            Doc("Your environment's values file (values-aks.yaml filled in with Bicep outputs)"),
        ] = None,
        kubeconfig: Annotated[
            dagger.Secret | None, Doc("A kubeconfig to use instead of fetching one from Azure")
        ] = None,
        context: Annotated[str, Doc("Context of --kubeconfig to deploy to")] = "",
        udp_host: Annotated[
            str,
            Doc("UDP address to probe instead of the UDP Service's load balancer (read live)"),
        ] = "",
        smoke_api_key: Annotated[
            dagger.Secret | None,
            Doc(
                "TTS API key (all rights on a user, e.g. env://TTS_SMOKE_API_KEY): the smoke "
                "then registers a probe gateway and proves it connects; skipped without"
            ),
        ] = None,
        rollout_seconds: Annotated[int, Doc("Seconds helm waits for the rollout")] = 600,
    ) -> str:
        """helm upgrade --install --atomic to AKS, then smoke-probe; roll back on failure."""
        ref = kube.parse_image_ref(image)
        aks.check_cluster_name(cluster)
        login = AzureLogin(tenant_id, client_id, oidc_request_url, oidc_request_token, azure_config)
        if kubeconfig is None:
            login.check()
            context = cluster  # the context name of the cluster user kubeconfig
        if udp_host:
            kube.check_host(udp_host)
        # Pure commands first: a tag instead of a digest fails here.
        upgrade = kube.helm_deploy_argv(
            CHART_DIR, "/run/kubeconfig", ref, ["values-env.yaml"], rollout_seconds, context
        )
        values_text = await (values.contents() if values else self.source.file(
            str(CHART_DIR / "values-aks.yaml")).contents())  # fmt: skip
        host = chart.public_host(values_text)
        gateway_plan = public_smoke.frequency_plan(values_text)
        # GitHub passes an unset secret as "": that is no key, not a bad one.
        has_key = smoke_api_key is not None and bool((await smoke_api_key.plaintext()).strip())
        public_smoke.plan(host, udp_host or None, has_key, gateway_plan)  # bad hosts fail here
        if kubeconfig is not None:
            config_text = await kubeconfig.plaintext()
            kube.check_kube_context(config_text, context)
        else:
            credential = await login.credential([azure_auth.ARM_SCOPE, kube.AKS_AAD_SCOPE])
            async with credential:
                config_text = await aks.cluster_user_kubeconfig(
                    credential, subscription_id, resource_group, cluster
                )
                token = await credential.get_token(kube.AKS_AAD_SCOPE)
                config_text = kube.kubeconfig_with_token(config_text, context, token.token)
        helm = (
            toolbox(self.source)
            .with_(fresh)
            .with_mounted_secret("/run/kubeconfig", dag.set_secret("kubeconfig", config_text))
            .with_new_file("values-env.yaml", values_text)
        )
        _, log = await run_steps(helm, [upgrade], "helm upgrade --atomic")
        try:
            if not udp_host:  # the UDP load balancer's address, read from the live Service
                status = public_smoke.helm_status_argv("/run/kubeconfig", context)
                status_json = await helm.with_(fresh).with_exec(status).stdout()
                udp_host = public_smoke.load_balancer_address(status_json) or ""
            smoke = public_smoke.plan(host, udp_host or None, has_key, gateway_plan)
            prober = helm
            if has_key and smoke_api_key is not None:
                prober = helm.with_secret_variable(API_KEY_ENV, smoke_api_key)
            _, probed = await run_steps(prober, [smoke.argv], "post-deploy smoke")
            probed = "\n".join(["post-deploy smoke:", *smoke.notes, probed])
        except (StepFailed, ValueError, dagger.ExecError) as failure:
            # Tolerated: after a first install there is no previous revision to go back to.
            rollback = kube.helm_rollback_argv("/run/kubeconfig", None, context)
            rolled = await helm.with_exec(rollback, expect=ReturnType.ANY).combined_output()
            raise StepFailed(f"{failure}\n$ {' '.join(rollback)}\n{rolled}") from None
        return f"{log}\n{probed}\ndeployed {ref}"

    @uncached
    async def nightly(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        tenant_id: TenantId,
        client_id: ClientId,
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
    ) -> str:
        """Rebuild, scan and publish the newest upstream TTS release; report what changed."""
        login = AzureLogin(tenant_id, client_id, oidc_request_url, oidc_request_token, azure_config)
        acr.check_registry_name(registry)
        login.check()
        tags = await dag.git(tts_image.TTS_GIT_URL).tags(patterns=releases.TAG_PATTERNS)
        newest = releases.newest_release(tags)
        report = await self._publish(
            registry, resource_group, subscription_id, login, newest,
            trivy.DEFAULT_SEVERITIES, True, None,
        )  # fmt: skip
        pinned = versions.TTS_VERSION
        change = "same as the pinned release" if newest == pinned else f"pinned is {pinned}"
        return f"newest upstream release: {newest} ({change})\n{report}"

    # ---- Bicep -------------------------------------------------------------------

    def _az(self) -> dagger.Container:
        return (
            dag.container()
            .from_(bicep.AZURE_CLI_IMAGE)
            .with_workdir(WORKDIR)
            .with_directory(WORKDIR, self.source, include=[f"{bicep.BICEP_DIR}/**"])
        )

    @uncached
    async def provision(
        self,
        resource_group: Annotated[str, Doc("Target resource group")],
        subscription_id: Annotated[str, Doc("Azure subscription id")],
        tenant_id: TenantId,
        client_id: ClientId,
        parameters: Annotated[
            dagger.Secret,
            Doc("KEY=VALUE lines for the parameter files: " + ", ".join(bicep.PARAMETER_ENV_VARS)),
        ],
        oidc_request_url: OidcRequestUrl = None,
        oidc_request_token: OidcRequestToken = None,
        azure_config: AzureConfig = None,
        environment: Annotated[str, Doc("Parameter set: dev or prod")] = "dev",
        what_if: Annotated[bool, Doc("Only preview the changes (az deployment what-if)")] = True,
    ) -> str:
        """Deploy bicep/main.bicep (AKS Automatic and friends); print the chart's next values."""
        argv = bicep.deployment_argv(resource_group, environment, what_if=what_if)
        env = bicep.deployment_env(bicep.parse_env_lines(await parameters.plaintext()))
        login = AzureLogin(tenant_id, client_id, oidc_request_url, oidc_request_token, azure_config)
        login.check()
        az = fresh(self._az())
        for name, value in env.items():
            az = az.with_secret_variable(name, dag.set_secret(f"bicep-{name}", value))
        az, _ = await run_steps(
            await login.signed_in_az(az),
            [bicep.az_account_set_argv(subscription_id), argv],
            "az deployment",
        )
        output = await az.stdout()
        if what_if:
            return output
        return bicep.outputs_to_settings(json.loads(output)).render()

    @cached
    async def lint_bicep(self) -> str:
        """Run bicep build, bicep lint and build-params over bicep/ (in the azure-cli image)."""
        _, log = await run_steps(self._az(), bicep.lint_commands(), "bicep lint")
        return log
