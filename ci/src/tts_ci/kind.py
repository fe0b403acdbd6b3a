"""The kind e2e: a Docker-in-Dagger daemon, kind in it, the chart installed and helm-tested.

What the helm test does is the chart's (templates/tests): GET /healthz, then the smoke pod,
whose init container makes an API key in the Identity Server database so that the probe
can register its own gateway, check the UDP acks, see exactly that gateway connected, and
remove it (docs/smoke.md).
"""

import dagger
from dagger import ReturnType, dag

from pipelines import helm, kind, versions

from .containers import CHART_DIR, StepFailed, fresh, run_steps, smoke_image, toolbox

KIND_IMAGE_REPOSITORY = "tts-ci/thethingsstack"
SMOKE_IMAGE = "tts-ci/smoke:local"
DOCKER_PORT = 2375


def docker_daemon() -> dagger.Service:
    """A throw-away dockerd (DOCKER_DIND_IMAGE) for kind's node container."""
    return (
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
        .with_exposed_port(DOCKER_PORT)
        # kind's API server: up only once the cluster exists.
        .with_exposed_port(kind.API_SERVER_PORT, experimental_skip_healthcheck=True)
        # Through the image's entrypoint: its dind wrapper moves processes out of the
        # root cgroup, so nested containers get cgroup v2 controllers (kind's kubelet).
        .as_service(
            args=["dockerd", f"--host=tcp://0.0.0.0:{DOCKER_PORT}", "--tls=false"],
            use_entrypoint=True,
            insecure_root_capabilities=True,
        )
    )


def runner(repo: dagger.Directory, daemon: dagger.Service) -> dagger.Container:
    """helm, the chart, the docker CLI and kind, talking to `daemon` as host `docker`."""
    kind_bin = (
        dag.container()
        .from_(versions.GO_IMAGE)
        .with_env_variable("CGO_ENABLED", "0")
        .with_exec(["go", "install", f"sigs.k8s.io/kind@v{versions.KIND_VERSION}"])
        .file("/go/bin/kind")
    )
    docker_cli = dag.container().from_(versions.DOCKER_DIND_IMAGE).file("/usr/local/bin/docker")
    return (
        toolbox(repo)
        .with_file("/usr/local/bin/kind", kind_bin)
        .with_file("/usr/local/bin/docker", docker_cli)
        .with_service_binding(kind.DIND_HOST, daemon)
        .with_env_variable("DOCKER_HOST", f"tcp://{kind.DIND_HOST}:{DOCKER_PORT}")
    )


async def _load(ctr: dagger.Container, archive: str, ref: str) -> tuple[dagger.Container, str]:
    """Load an image tarball into kind under `ref` (Dagger tarballs may carry no name)."""
    ctr, _ = await run_steps(ctr, [kind.docker_load_argv(archive)], "docker load")
    image_id = kind.loaded_image(await ctr.stdout())
    steps = [kind.docker_tag_argv(image_id, ref), kind.kind_load_image_argv(ref)]
    return await run_steps(ctr, steps, f"kind load {ref}")


async def end_to_end(
    repo: dagger.Directory, image: dagger.Container, tag: str, deadline: int
) -> str:
    """kind create, namespace, images, helm install --wait, helm test; diagnostics on failure."""
    if deadline < 60:  # noqa: PLR2004 - a kind cluster cannot come up faster
        raise ValueError(f"--deadline {deadline} is too short: give at least 60 seconds")
    install = helm.install_kind_argv(
        CHART_DIR, "kubeconfig", KIND_IMAGE_REPOSITORY, tag, SMOKE_IMAGE, deadline
    )  # bad input fails here, before the daemon starts
    daemon = await docker_daemon().start()
    ctr = (
        runner(repo, daemon)
        .with_(fresh)
        .with_new_file("kind.yaml", kind.kind_config())
        .with_new_file("namespace.yaml", kind.namespace_manifest())
        .with_file("tts.tar", image.as_tarball())
        .with_file("smoke.tar", smoke_image(repo).as_tarball())
    )
    try:
        # A cluster left in the cached dockerd state by a killed run would block create.
        ctr = ctr.with_exec(kind.kind_delete_argv(), expect=ReturnType.ANY)
        ctr, created = await run_steps(ctr, [kind.kind_create_argv("kind.yaml")], "kind create")
        # Not logged: the kubeconfig holds the cluster admin's client key.
        config = await ctr.with_exec(kind.kind_kubeconfig_argv()).stdout()
        ctr = ctr.with_new_file("kubeconfig", kind.reachable_kubeconfig(config))
        log = [created]
        try:
            # Restricted Pod Security on the namespace before anything runs in it.
            ctr, applied = await run_steps(
                ctr, kind.apply_namespace_argvs("namespace.yaml"), "namespace"
            )
            log.append(applied)
            for archive, ref in [("tts.tar", f"{KIND_IMAGE_REPOSITORY}:{tag}"),
                                 ("smoke.tar", SMOKE_IMAGE)]:  # fmt: skip
                ctr, loaded = await _load(ctr, archive, ref)
                log.append(loaded)
            steps = [install, helm.test_argv("kubeconfig", deadline)]
            ctr, tested = await run_steps(ctr, steps, "kind end-to-end")
            log.append(tested)
        except StepFailed as failure:
            diagnostics = [
                await ctr.with_exec(argv, expect=ReturnType.ANY).combined_output()
                for argv in kind.diagnostics_argvs()
            ]
            raise StepFailed(
                f"{failure}\n--- cluster diagnostics ---\n" + "\n".join(diagnostics)
            ) from None
        return "\n".join(log)
    finally:
        await ctr.with_exec(kind.kind_delete_argv(), expect=ReturnType.ANY).sync()
        await daemon.stop()
