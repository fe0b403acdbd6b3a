"""The kind e2e: a Docker-in-Dagger daemon, kind in it, the chart installed and helm-tested.

What the helm test does is the chart's (templates/tests): the smoke pods, whose init
container makes an API key in the Identity Server database so that the probe can register
its own gateway, check the UDP acks, see exactly that gateway connected, then join a device
through it, pass its uplink to MQTT and a downlink back (one pod with the gateway on UDP,
one as a Basic Station), and remove all it made; then GET /healthz (docs/smoke.md).
"""

import sys
from dataclasses import dataclass

import anyio
import dagger
from dagger import ReturnType, dag

from pipelines import helm, kind, versions
from pipelines.oci import parse_image_ref
from pipelines.phases import Phases

from .containers import CHART_DIR, StepFailed, fresh, go_install, run_steps, smoke_image, toolbox

KIND_IMAGE_REPOSITORY = "tts-ci/thethingsstack"
SMOKE_IMAGE = "tts-ci/smoke:local"
DOCKER_PORT = 2375


@dataclass(frozen=True)
class Cluster:
    """What the e2e cluster is made of; checked before anything starts."""

    deadline: int
    node_image: str
    mirror: kind.RegistryMirror | None

    @classmethod
    def checked(cls, deadline: int, node_image: str, registry_mirror: str) -> "Cluster":
        if deadline < 60:  # noqa: PLR2004 - a kind cluster cannot come up faster
            raise ValueError(f"--deadline {deadline} is too short: give at least 60 seconds")
        parse_image_ref(node_image)
        mirror = kind.parse_registry_mirror(registry_mirror) if registry_mirror else None
        return cls(deadline, node_image, mirror)


def docker_daemon(mirror: kind.RegistryMirror | None = None) -> dagger.Service:
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
            args=kind.dockerd_argv(DOCKER_PORT, mirror),
            use_entrypoint=True,
            insecure_root_capabilities=True,
        )
    )


def tools(repo: dagger.Directory) -> dagger.Container:
    """helm, the chart, the docker CLI and kind (the pinned versions)."""
    kind_bin = go_install("sigs.k8s.io/kind", f"v{versions.KIND_VERSION}")
    docker_cli = dag.container().from_(versions.DOCKER_DIND_IMAGE).file("/usr/local/bin/docker")
    return (
        toolbox(repo)
        .with_file("/usr/local/bin/kind", kind_bin)
        .with_file("/usr/local/bin/docker", docker_cli)
    )


def runner(tooled: dagger.Container, daemon: dagger.Service) -> dagger.Container:
    """`tooled` talking to `daemon` as host `docker`."""
    return tooled.with_service_binding(kind.DIND_HOST, daemon).with_env_variable(
        "DOCKER_HOST", f"tcp://{kind.DIND_HOST}:{DOCKER_PORT}"
    )


async def _load(ctr: dagger.Container, archive: str, ref: str) -> tuple[dagger.Container, str]:
    """Load an image tarball into kind under `ref` (Dagger tarballs may carry no name)."""
    ctr, _ = await run_steps(ctr, [kind.docker_load_argv(archive)], "docker load")
    image_id = kind.loaded_image(await ctr.stdout())
    steps = [kind.docker_tag_argv(image_id, ref), kind.kind_load_image_argv(ref)]
    return await run_steps(ctr, steps, f"kind load {ref}")


async def _built(containers: dict[str, dagger.Container]) -> dict[str, dagger.Container]:
    """Each container evaluated, all at once; the first build that fails stops the others
    and is raised as it is (a dagger.QueryError naming the failed step)."""
    done: dict[str, dagger.Container] = {}
    failed: list[dagger.QueryError] = []

    async def sync(name: str, group: anyio.abc.TaskGroup) -> None:
        try:
            done[name] = await containers[name].sync()
        except dagger.QueryError as err:
            failed.append(err)
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for name in containers:
            group.start_soon(sync, name, group)
    if failed:
        raise failed[0]
    return {name: done[name] for name in containers}


async def end_to_end(
    repo: dagger.Directory, image: dagger.Container, tag: str, cluster: Cluster
) -> str:
    """Images, dockerd, kind create, helm install --wait, helm test; diagnostics on failure.

    Progress goes to stderr phase by phase; the result ends with each phase's time, and a
    failure names the phase that failed first.
    """
    install = helm.install_kind_argv(
        CHART_DIR, "kubeconfig", KIND_IMAGE_REPOSITORY, tag, SMOKE_IMAGE, cluster.deadline
    )  # bad input fails here, before anything starts
    phases = Phases(report=lambda line: print(f"e2e: {line}", file=sys.stderr, flush=True))
    log: list[str] = []
    try:
        with phases("images built"):  # the TTS build, the smoke image and the runner's tools
            images = {f"{KIND_IMAGE_REPOSITORY}:{tag}": image, SMOKE_IMAGE: smoke_image(repo)}
            images = await _built({**images, "tools": tools(repo)})
            tooled = images.pop("tools")
        with phases("daemon up"):
            # Started explicitly: a bound service that no exec uses for a while may be
            # stopped, and the kind node container would stop with it.
            daemon = await docker_daemon(cluster.mirror).start()
    except dagger.QueryError as failure:  # a build step or the daemon failed: say which
        raise StepFailed(f"kind e2e {phases.failure()}\n{failure}") from None
    ctr = (
        runner(tooled, daemon)
        .with_(fresh)
        .with_new_file("kind.yaml", kind.kind_config(registry_hosts=cluster.mirror is not None))
        .with_new_file("namespace.yaml", kind.namespace_manifest())
    )
    if cluster.mirror is not None:
        ctr = ctr.with_new_file("hosts.toml", kind.mirror_hosts_toml(cluster.mirror))
    try:
        with phases("cluster created"):
            # A cluster left in the cached dockerd state by a killed run would block create.
            ctr = ctr.with_exec(kind.kind_delete_argv(), expect=ReturnType.ANY)
            create = kind.kind_create_argv("kind.yaml", image=cluster.node_image)
            ctr, created = await run_steps(ctr, [create], "kind create")
            log.append(created)
            # Not logged: the kubeconfig holds the cluster admin's client key.
            config = await ctr.with_exec(kind.kind_kubeconfig_argv()).stdout()
            ctr = ctr.with_new_file("kubeconfig", kind.reachable_kubeconfig(config))
            # Restricted Pod Security on the namespace before anything runs in it.
            steps = kind.apply_namespace_argvs("namespace.yaml")
            if cluster.mirror is not None:
                steps += kind.node_mirror_argvs("hosts.toml")
            ctr, configured = await run_steps(ctr, steps, "cluster setup")
            log.append(configured)
        with phases("images loaded"):
            for ref, built in images.items():
                ctr = ctr.with_file("image.tar", built.as_tarball())
                ctr, loaded = await _load(ctr, "image.tar", ref)
                log.append(loaded)
        with phases("install ready"):
            ctr, installed = await run_steps(ctr, [install], "helm install")
            log.append(installed)
        with phases("helm test"):
            test = helm.test_argv("kubeconfig", cluster.deadline)
            ctr, tested = await run_steps(ctr, [test], "helm test")
            log.append(tested)
    except (StepFailed, dagger.QueryError) as failure:
        diagnostics = []
        if "cluster created" in dict(phases.done):  # ask the cluster what went wrong
            diagnostics = [
                await ctr.with_exec(argv, expect=ReturnType.ANY).combined_output()
                for argv in kind.diagnostics_argvs()
            ]
        raise StepFailed(
            f"kind e2e {phases.failure()}\n{failure}\n--- cluster diagnostics ---\n"
            + ("\n".join(diagnostics) or "(no cluster to ask)")
        ) from None
    finally:
        await ctr.with_exec(kind.kind_delete_argv(), expect=ReturnType.ANY).sync()
        await daemon.stop()
    return "\n".join([*log, f"kind e2e passed: {phases.summary()}"])
