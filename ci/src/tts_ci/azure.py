"""Azure: one login (GitHub OIDC or your `az login`) and everything that needs it.

`dagger call with-azure --tenant-id … --client-id … (--oidc-request-url env://…
--oidc-request-token env://… | --azure-config ~/.azure)
publish|deploy|nightly|provision|restore-drill …`

GitHub Actions: the OIDC request URL/token arrive as Secrets and feed a
ClientAssertionCredential that fetches a fresh GitHub token on every use (GitHub tokens
live 5 minutes). Laptop: `az account get-access-token` runs in the pinned azure-cli image
against the mounted ~/.azure, once per scope (the module has no `az` itself).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import anyio
import dagger
from azure.core.credentials_async import AsyncTokenCredential
from dagger import Doc, dag, field, object_type

from pipelines import (
    acr,
    aks,
    azure_auth,
    bicep,
    chart,
    helm,
    names,
    oci,
    public_smoke,
    release_state,
    releases,
    signing,
    versions,
)
from pipelines import image as plan
from pipelines import scan as trivy
from pipelines.kubeconfig import check_context as check_kube_context
from pipelines.smoke.registry import API_KEY_ENV

from . import backups, supply_chain
from .arguments import (
    DEFAULT_SEVERITY,
    BackupContainer,
    BackupId,
    IgnoreFile,
    IgnoreUnfixed,
    MaxAge,
    Severity,
    Version,
)
from .containers import (
    CHART_DIR,
    WORKDIR,
    StepFailed,
    fresh,
    run_steps,
    runner,
    toolbox,
    tts_source,
)
from .functions import new, uncached
from .tts_image import TtsImage, build_image

SigningKeyId = Annotated[
    str,
    Doc(
        "Key Vault key that signs what publish pushes and that deploy verifies: "
        "https://<vault>.vault.azure.net/keys/<name> (Bicep output signingKeyId)"
    ),
]
# Where the azure-cli image keeps its login (your ~/.azure on a laptop).
AZURE_CONFIG_DIR = "/root/.azure"
# Repository of the TTS image in ACR, and of the backup CronJob's uploader (same tags).
IMAGE_REPOSITORY = "thethingsstack"
BACKUP_REPOSITORY = "thethingsstack-backup"


@object_type
class Azure:
    """An Azure login and the steps that use it: ACR publish, AKS deploy, nightly, Bicep."""

    tenant_id: Annotated[str, Doc("Entra tenant id (Bicep output tenantId)")] = field()
    client_id: Annotated[
        str, Doc("Client id of the CI identity (Bicep output githubActionsClientId)")
    ] = field()
    repo: dagger.Directory
    oidc_request_url: dagger.Secret | None = None
    oidc_request_token: dagger.Secret | None = None
    azure_config: dagger.Directory | None = None

    # ---- the login ----------------------------------------------------------------

    def check(self) -> None:
        """Fail before any work when neither way to authenticate was given."""
        has_oidc = self.oidc_request_url is not None and self.oidc_request_token is not None
        if not has_oidc and self.azure_config is None:
            raise ValueError(
                "no Azure login: in GitHub Actions pass --oidc-request-url "
                "env://ACTIONS_ID_TOKEN_REQUEST_URL --oidc-request-token "
                "env://ACTIONS_ID_TOKEN_REQUEST_TOKEN (job permission id-token: write); "
                "on a laptop run `az login` and pass --azure-config ~/.azure"
            )

    def _oidc(self) -> tuple[dagger.Secret, dagger.Secret] | None:
        """The GitHub OIDC request URL and token when given (then preferred over az)."""
        self.check()
        if self.oidc_request_url is None or self.oidc_request_token is None:
            return None
        return self.oidc_request_url, self.oidc_request_token

    def _azure_config(self) -> dagger.Directory:
        assert self.azure_config is not None  # check(): no OIDC means a config was given
        return self.azure_config

    async def credential(self, scopes: Sequence[str]) -> AsyncTokenCredential:
        """A credential for `scopes` (the caller closes it)."""
        oidc = self._oidc()
        if oidc is not None:
            url, token = oidc
            return azure_auth.credential(
                self.tenant_id,
                self.client_id,
                oidc_request_url=await url.plaintext(),
                oidc_request_token=await token.plaintext(),
                az_tokens=None,
            )
        az = fresh(dag.container().from_(bicep.AZURE_CLI_IMAGE)).with_directory(
            AZURE_CONFIG_DIR, self._azure_config()
        )
        tokens = {
            scope: await az.with_exec(
                azure_auth.az_access_token_argv(scope, self.tenant_id)
            ).stdout()
            for scope in scopes
        }
        return azure_auth.credential(
            self.tenant_id,
            self.client_id,
            oidc_request_url=None,
            oidc_request_token=None,
            az_tokens=tokens,
        )

    async def signed_in_az(self, az: dagger.Container) -> dagger.Container:
        """An azure-cli container signed in: a federated login, or the mounted ~/.azure."""
        oidc = self._oidc()
        if oidc is None:
            return az.with_directory(AZURE_CONFIG_DIR, self._azure_config())
        url, token = oidc
        jwt = await azure_auth.github_oidc_token(await url.plaintext(), await token.plaintext())
        az = az.with_secret_variable("AZURE_FEDERATED_TOKEN", dag.set_secret("gh-oidc", jwt))
        argv = azure_auth.az_login_federated_argv(self.tenant_id, self.client_id)
        az, _ = await run_steps(az, [argv], "az login")
        return az

    # ---- ACR ------------------------------------------------------------------------

    @uncached
    async def publish(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name, e.g. ttsprodacr")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        signing_key_id: SigningKeyId,
        version: Version = versions.TTS_VERSION,
        severity: Severity = DEFAULT_SEVERITY,
        ignore_unfixed: IgnoreUnfixed = True,
        ignorefile: IgnoreFile = None,
    ) -> str:
        """Build, scan-gate, push to ACR (<version>, <version>-<sha>), attach SBOM, sign."""
        return await self._publish(
            registry, resource_group, subscription_id, signing_key_id, version,
            trivy.parse_severities(severity), ignore_unfixed, ignorefile,
        )  # fmt: skip

    async def _publish(
        self,
        registry: str,
        resource_group: str,
        subscription_id: str,
        signing_key_id: str,
        version: str,
        severities: tuple[str, ...],
        ignore_unfixed: bool,
        ignorefile: dagger.File | None,
    ) -> str:
        acr.check_registry_name(registry)
        plan.check_release_version(version)
        signing.check_key_vault_key_id(signing_key_id)
        self.check()
        credential = await self.credential([*azure_auth.AZ_SCOPES, signing.KEY_VAULT_SCOPE])
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
                        tenant_id=self.tenant_id,
                    )
                )

            # The chart's Redis/PostgreSQL images go into ACR while TTS builds.
            async with anyio.create_task_group() as tg:
                tg.start_soon(import_dependencies)
                built = await build_image(self.repo, version, None)
            refresh = await self._acr_refresh_token(credential, server)
            addresses = [
                f"{server}/{IMAGE_REPOSITORY}:{tag}"
                for tag in plan.image_tags(version, built.commit)
            ]
            password = dag.set_secret("acr-refresh-token", refresh)
            signer = signing.KeyVaultSigner(signing_key_id, credential)
            pushed = await built.gated_push(
                addresses, azure_auth.ACR_USERNAME, password,
                severities, ignore_unfixed, ignorefile, signer=signer,
            )  # fmt: skip
            # The backup CronJob's uploader, through the same gate, under the same tags.
            uploader = new(TtsImage, container=backups.backup_image(self.repo), version=version,
                           commit=built.commit, repo=self.repo)  # fmt: skip
            pushed += await uploader.gated_push(
                [a.replace(f"/{IMAGE_REPOSITORY}:", f"/{BACKUP_REPOSITORY}:") for a in addresses],
                azure_auth.ACR_USERNAME, password,
                severities, ignore_unfixed, ignorefile, signer=signer,
            )  # fmt: skip
        return "\n".join([*(f"imported {ref}" for ref in imported), *pushed])

    @uncached
    async def nightly(
        self,
        registry: Annotated[str, Doc("Azure Container Registry name")],
        resource_group: Annotated[str, Doc("Resource group of the registry")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the registry")],
        signing_key_id: SigningKeyId,
    ) -> str:
        """Rebuild, scan, publish and sign the newest upstream TTS release; report what changed."""
        acr.check_registry_name(registry)
        signing.check_key_vault_key_id(signing_key_id)
        self.check()
        tags = await dag.git(plan.TTS_GIT_URL).tags(patterns=releases.TAG_PATTERNS)
        newest = releases.newest_release(tags)
        report = await self._publish(
            registry, resource_group, subscription_id, signing_key_id, newest,
            trivy.DEFAULT_SEVERITIES, True, None,
        )  # fmt: skip
        pinned = versions.TTS_VERSION
        if newest == pinned:
            return f"newest upstream release: {newest} (same as the pinned release)\n{report}"
        src = await tts_source(newest, None)  # the clone the build used (cached)
        pins = releases.newest_release_pins(newest, src.commit, src.date, src.toolchain)
        return f"newest upstream release: {newest} (pinned is {pinned}; {pins})\n{report}"

    # ---- backups --------------------------------------------------------------------

    @uncached
    async def restore_drill(
        self,
        storage_account: Annotated[str, Doc("Storage account (Bicep output storageAccountName)")],
        container: BackupContainer = "tts-backups",
        backup: BackupId = "",
        max_age: MaxAge = "26h",
        version: Version = versions.TTS_VERSION,
    ) -> str:
        """The restore drill (`dagger call restore-drill`) with this login's storage token."""
        account_url = backups.account_url(storage_account)
        backups.check_location(account_url, container, backup, max_age)
        plan.check_release_version(version)
        self.check()
        credential = await self.credential([azure_auth.STORAGE_SCOPE])
        async with credential:
            token = await credential.get_token(azure_auth.STORAGE_SCOPE)
        return await backups.restore_drill(
            self.repo, version, None, account_url, container,
            dag.set_secret("storage-token", token.token), None, backup, max_age,
        )  # fmt: skip

    # ---- AKS ------------------------------------------------------------------------

    @uncached
    async def deploy(
        self,
        cluster: Annotated[str, Doc("AKS cluster name")],
        resource_group: Annotated[str, Doc("Resource group of the cluster")],
        image: Annotated[str, Doc("Image by digest, as printed last by publish")],
        subscription_id: Annotated[str, Doc("Azure subscription id of the cluster")],
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
        signing_key_id: Annotated[
            str,
            Doc(
                "Key Vault key whose signature the image must carry (Bicep output "
                "signingKeyId); or give --signing-public-key"
            ),
        ] = "",
        signing_public_key: Annotated[
            dagger.File | None,
            Doc("PEM public key whose signature the image must carry (instead of the Key Vault)"),
        ] = None,
    ) -> str:
        """Verify the signature, recover, helm upgrade --atomic to AKS, smoke, undo on failure."""
        # Before the upgrade, a revision left pending by an interrupted run is rolled back (or
        # a release that never worked uninstalled). A failed smoke rolls back to the previous
        # revision, or uninstalls a first install; a failed rollback is reported, not ignored.
        ref = signing.digest_ref(image)
        if bool(signing_key_id) == (signing_public_key is not None):
            raise ValueError(
                "deploy verifies the image's signature before helm runs: pass --signing-key-id "
                "(Bicep output signingKeyId) or --signing-public-key <PEM>, one of them"
            )
        if signing_key_id:
            signing.check_key_vault_key_id(signing_key_id)
        context = _deploy_context(cluster, kubeconfig is not None, context)
        if udp_host:
            names.check_host(udp_host)
        # Pure commands first: a tag instead of a digest fails here.
        upgrade = helm.deploy_argv(
            CHART_DIR, KUBECONFIG_PATH, ref, ["values-env.yaml"], rollout_seconds, context
        )
        if kubeconfig is None:
            self.check()
        values_text = await (values.contents() if values else self.repo.file(
            str(CHART_DIR / "values-aks.yaml")).contents())  # fmt: skip
        smoke = _Smoke(
            chart.public_host(values_text),
            public_smoke.frequency_plan(values_text),
            # GitHub passes an unset secret as "": that is no key, not a bad one.
            smoke_api_key if smoke_api_key and (await smoke_api_key.plaintext()).strip() else None,
            public_smoke.tcp_host(values_text),
        )
        smoke.plan(udp_host)  # bad hosts fail here, before anything is deployed
        verified = await self._verify_signature(ref, signing_key_id, signing_public_key)
        config_text = await (
            _given_kubeconfig(kubeconfig, context) if kubeconfig is not None
            else self._cluster_kubeconfig(subscription_id, resource_group, cluster)
        )  # fmt: skip
        ctr = (
            toolbox(self.repo)
            .with_(fresh)
            .with_mounted_secret(KUBECONFIG_PATH, dag.set_secret("kubeconfig", config_text))
            .with_new_file("values-env.yaml", values_text)
        )
        run = runner(ctr)
        target = release_state.Cluster(KUBECONFIG_PATH, context)
        recovered = await release_state.recover(run, target)
        _, upgraded = await run_steps(ctr, [upgrade], "helm upgrade --atomic")
        try:
            probed = await smoke.run(ctr, udp_host, await _release_status(ctr, context))
        except (StepFailed, ValueError, dagger.ExecError) as failure:
            await release_state.undo(run, target, str(failure))
        return f"{verified}\n{recovered}\n{upgraded}\n{probed}\ndeployed {ref}"

    async def _verify_signature(
        self, ref: oci.ImageRef, key_id: str, public_key: dagger.File | None
    ) -> str:
        """cosign verify of `ref` with the Key Vault key's public half or the given PEM; an
        ACR image is read with this login. Raises deploy's one-line refusal."""
        server = ref.registry
        config = None
        if public_key is not None:
            pem, expected = (await public_key.contents()).encode(), "--signing-public-key"
        if key_id or acr.is_login_server(server):
            credential = await self.credential([signing.KEY_VAULT_SCOPE, azure_auth.ACR_SCOPE])
            async with credential:
                if key_id:
                    signer = signing.KeyVaultSigner(key_id, credential)
                    pem, expected = await signer.public_key_pem(), signer.description
                if acr.is_login_server(server):
                    refresh = await self._acr_refresh_token(credential, server)
                    config = supply_chain.docker_config(server, azure_auth.ACR_USERNAME, refresh)
        try:
            return await signing.verify(
                supply_chain.workspace(config), ref, pem, expected, plain_http=False
            )
        except signing.SignatureRefused as refused:
            raise StepFailed(str(refused)) from None

    async def _acr_refresh_token(self, credential: AsyncTokenCredential, server: str) -> str:
        """The registry password for ACR_USERNAME: an Entra token exchanged at the registry."""
        entra = await credential.get_token(azure_auth.ACR_SCOPE)
        return await acr.exchange_refresh_token(server, self.tenant_id, entra.token)

    async def _cluster_kubeconfig(
        self, subscription_id: str, resource_group: str, cluster: str
    ) -> str:
        """The cluster user kubeconfig from ARM, with an Entra token for the AKS server."""
        credential = await self.credential([azure_auth.ARM_SCOPE, aks.AKS_AAD_SCOPE])
        async with credential:
            config_text = await aks.cluster_user_kubeconfig(
                credential, subscription_id, resource_group, cluster
            )
            token = await credential.get_token(aks.AKS_AAD_SCOPE)
        return aks.kubeconfig_with_token(config_text, cluster, token.token)

    # ---- Bicep ----------------------------------------------------------------------

    @uncached
    async def provision(
        self,
        resource_group: Annotated[str, Doc("Target resource group")],
        subscription_id: Annotated[str, Doc("Azure subscription id")],
        parameters: Annotated[
            dagger.Secret,
            Doc("KEY=VALUE lines for the parameter files: " + ", ".join(bicep.PARAMETER_ENV_VARS)),
        ],
        environment: Annotated[str, Doc("Parameter set: dev or prod")] = "dev",
        what_if: Annotated[bool, Doc("Only preview the changes (az deployment what-if)")] = True,
    ) -> str:
        """Deploy bicep/main.bicep (AKS Automatic and friends); print the chart's next values."""
        argv = bicep.deployment_argv(resource_group, environment, what_if=what_if)
        self.check()
        env = bicep.deployment_env(bicep.parse_env_lines(await parameters.plaintext()))
        az = fresh(bicep_container(self.repo))
        for name, value in env.items():
            az = az.with_secret_variable(name, dag.set_secret(f"bicep-{name}", value))
        az, _ = await run_steps(
            await self.signed_in_az(az),
            [azure_auth.az_account_set_argv(subscription_id), argv],
            "az deployment",
        )
        output = await az.stdout()
        if what_if:
            return output
        return bicep.outputs_to_settings(json.loads(output)).render()


# Where deploy mounts the kubeconfig (a secret) in its containers.
KUBECONFIG_PATH = "/run/kubeconfig"


def _deploy_context(cluster: str, has_kubeconfig: bool, context: str) -> str:
    """The kubeconfig context deploy uses; --context only names one of --kubeconfig's."""
    aks.check_cluster_name(cluster)
    if has_kubeconfig:
        return context
    if context and context != cluster:
        raise ValueError(
            f"--context {context!r} needs --kubeconfig: without it deploy fetches the cluster "
            f"user kubeconfig from Azure, whose one context is the cluster, {cluster!r}"
        )
    return cluster


async def _given_kubeconfig(kubeconfig: dagger.Secret, context: str) -> str:
    config_text = await kubeconfig.plaintext()
    check_kube_context(config_text, context)
    return config_text


async def _release_status(ctr: dagger.Container, context: str) -> str:
    """`helm status --show-resources -o json` of the live release: its Services' addresses."""
    return await ctr.with_(fresh).with_exec(helm.status_argv(KUBECONFIG_PATH, context)).stdout()


@dataclass(frozen=True)
class _Smoke:
    """deploy's public smoke: the host, plan and TCP host from the values, and the optional
    API key."""

    host: str
    gateway_plan: str
    api_key: dagger.Secret | None
    tcp_host: str | None = None

    def plan(
        self, udp_host: str, tcp: public_smoke.TcpEndpoint | None = None
    ) -> public_smoke.SmokePlan:
        return public_smoke.plan(self.host, udp_host or None, self.api_key is not None,
                                 self.gateway_plan, tcp=tcp)  # fmt: skip

    async def run(self, ctr: dagger.Container, udp_host: str, status: str) -> str:
        """Each check said ran or skipped (and why), then the probes' own reports. The
        addresses come from the live Services (`status`), `udp_host` overrides UDP's."""
        udp_host = udp_host or public_smoke.load_balancer_address(status) or ""
        tcp = None
        if self.tcp_host:
            address = public_smoke.load_balancer_address(status, public_smoke.TCP_SERVICE)
            tcp = public_smoke.TcpEndpoint(self.tcp_host, address, await _resolve(self.tcp_host))
        smoke = self.plan(udp_host, tcp)
        if self.api_key is not None:
            ctr = ctr.with_secret_variable(API_KEY_ENV, self.api_key)
        _, probed = await run_steps(ctr, smoke.argvs, "post-deploy smoke")
        return "\n".join(["post-deploy smoke:", *smoke.notes, probed])


async def _resolve(host: str) -> tuple[str, ...]:
    """The addresses `host` resolves to here; none when it does not resolve."""
    try:
        infos = await anyio.getaddrinfo(host, None)
    except OSError:
        return ()
    return tuple(sorted({str(info[4][0]) for info in infos}))


def bicep_container(repo: dagger.Directory) -> dagger.Container:
    """The azure-cli image with bicep/ at /work."""
    return (
        dag.container()
        .from_(bicep.AZURE_CLI_IMAGE)
        .with_workdir(WORKDIR)
        .with_directory(WORKDIR, repo, include=[f"{bicep.BICEP_DIR}/**"])
    )
