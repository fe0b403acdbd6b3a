"""AKS Automatic deployment safeguards and restricted Pod Security, as plain Python.

`check(objects)` takes rendered manifests (dicts, e.g. from `yaml.safe_load_all` of `helm
template`) and returns one readable line per violation. It encodes:

- AKS deployment safeguards: CPU/memory requests and limits on every container, readiness
  and liveness probes on every long-running container, pinned image tags (no `latest`, no
  untagged image), unique Service selectors.
- Pod Security "restricted": runAsNonRoot, allowPrivilegeEscalation false, all capabilities
  dropped (only NET_BIND_SERVICE may be added), seccomp RuntimeDefault/Localhost, no
  hostPath/hostNetwork/hostPID/hostIPC/hostPort, no privileged containers.

Probes are required on `containers` of workloads that serve (Deployment, StatefulSet,
DaemonSet, ReplicaSet). Run-to-completion pods (Jobs, `helm test` Pods) and init containers
are exempt: Kubernetes rejects probes on init containers, and a migration has no server to
probe.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pipelines import oci

Manifest = Mapping[str, Any]

WORKLOAD_KINDS: Final = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
)
SERVING_KINDS: Final = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
ALLOWED_SECCOMP: Final = frozenset({"RuntimeDefault", "Localhost"})


def pod_spec(obj: Manifest) -> Mapping[str, Any] | None:
    """The pod spec inside a workload object, or None for other kinds."""
    kind = obj.get("kind")
    if kind not in WORKLOAD_KINDS:
        return None
    spec: Mapping[str, Any] = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    result: Mapping[str, Any] = (spec.get("template") or {}).get("spec") or {}
    return result


def _name(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def _container_violations(
    where: str, c: Mapping[str, Any], pod_sc: Mapping[str, Any], probes: bool
) -> list[str]:
    out: list[str] = []
    at = f"{where} container {c.get('name')}"
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if not (res.get(part) or {}).get(r):
                out.append(f"{at}: missing resources.{part}.{r}")
    if probes:
        for probe in ("readinessProbe", "livenessProbe"):
            if not c.get(probe):
                out.append(f"{at}: missing {probe}")
    image = str(c.get("image", ""))
    if not oci.is_pinned(image):
        out.append(f"{at}: image {image!r} is not pinned (use a version tag or digest)")
    return out + _security_violations(at, c, pod_sc)


def _security_violations(at: str, c: Mapping[str, Any], pod_sc: Mapping[str, Any]) -> list[str]:
    """Pod Security "restricted" rules of one container (pod-level settings inherited)."""
    out: list[str] = []
    sc = c.get("securityContext") or {}
    if sc.get("privileged"):
        out.append(f"{at}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{at}: securityContext.allowPrivilegeEscalation must be false")
    if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        out.append(f"{at}: runAsNonRoot must be true (container or pod)")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        out.append(f"{at}: runAsUser 0")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        out.append(f"{at}: capabilities.drop must include ALL")
    added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        out.append(f"{at}: adds capabilities {sorted(added)}")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ALLOWED_SECCOMP:
        out.append(f"{at}: seccompProfile.type must be RuntimeDefault or Localhost")
    for port in c.get("ports") or []:
        if port.get("hostPort"):
            out.append(f"{at}: hostPort {port['hostPort']}")
    return out


def workload_violations(obj: Manifest) -> list[str]:
    """Violations of one workload object (empty for non-workloads)."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    where = _name(obj)
    out: list[str] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append(f"{where}: {key} is set")
    for vol in spec.get("volumes") or []:
        if "hostPath" in vol:
            out.append(f"{where}: volume {vol.get('name')} uses hostPath")
    pod_sc = spec.get("securityContext") or {}
    serving = obj.get("kind") in SERVING_KINDS
    for c in spec.get("containers") or []:
        out += _container_violations(where, c, pod_sc, probes=serving)
    for c in spec.get("initContainers") or []:
        # A restartable init container is a sidecar: it serves, so it needs probes.
        sidecar = c.get("restartPolicy") == "Always"
        out += _container_violations(where, c, pod_sc, probes=serving and sidecar)
    return out


def service_selector_violations(objects: Iterable[Manifest]) -> list[str]:
    """Services in one namespace must not share the same selector (AKS safeguard)."""
    seen: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}
    out: list[str] = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        selector = (obj.get("spec") or {}).get("selector") or {}
        if not selector:
            continue
        ns = (obj.get("metadata") or {}).get("namespace", "")
        key = (ns, frozenset(selector.items()))
        if key in seen:
            out.append(f"{_name(obj)}: same selector as {seen[key]} ({dict(selector)})")
        else:
            seen[key] = _name(obj)
    return out


def check(objects: Iterable[Manifest | None]) -> list[str]:
    """All violations over rendered manifests (None documents are ignored)."""
    present = [o for o in objects if o]
    out: list[str] = []
    for obj in present:
        out += workload_violations(obj)
    out += service_selector_violations(present)
    return out
