"""publish's SBOM referrer and signature, deploy's verification: pipelines.signing's steps
run in a container with the pinned cosign and oras (built from their Go modules)."""

import dagger
from dagger import dag

from pipelines import signing, versions

from .containers import WORKDIR, fresh, go_install

# Where cosign and oras both read registry credentials (Docker's config file).
DOCKER_CONFIG_PATH = "/root/.docker/config.json"


class ContainerWorkspace:
    """signing.Workspace in a container: files accumulate, each run is never cached."""

    def __init__(self, ctr: dagger.Container) -> None:
        self.ctr = ctr

    async def write(self, name: str, text: str) -> None:
        self.ctr = self.ctr.with_new_file(name, text)

    def add_file(self, name: str, file: dagger.File) -> None:
        """A file the engine already has (the SBOM), without reading it into the module."""
        self.ctr = self.ctr.with_file(name, file)

    async def run(self, argv: list[str]) -> tuple[int, str, str]:
        done = self.ctr.with_(fresh).with_exec(argv, expect=dagger.ReturnType.ANY)
        return await done.exit_code(), await done.stdout(), await done.stderr()


def workspace(docker_config: dagger.Secret | None) -> ContainerWorkspace:
    """cosign and oras on Debian (CA certificates), logged in with `docker_config`."""
    ctr = (
        dag.container()
        .from_(versions.PYTHON_IMAGE)
        .with_file("/usr/local/bin/cosign", go_install(
            "github.com/sigstore/cosign/v2/cmd/cosign", f"v{versions.COSIGN_VERSION}"))
        .with_file("/usr/local/bin/oras", go_install(
            "oras.land/oras/cmd/oras", f"v{versions.ORAS_VERSION}"))
        .with_workdir(WORKDIR)
    )  # fmt: skip
    if docker_config is not None:
        ctr = ctr.with_mounted_secret(DOCKER_CONFIG_PATH, docker_config)
    return ContainerWorkspace(ctr)


def docker_config(server: str, username: str, password: str) -> dagger.Secret:
    return dag.set_secret(
        f"docker-config-{server}", signing.docker_config(server, username, password)
    )
