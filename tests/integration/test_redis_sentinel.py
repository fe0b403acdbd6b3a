"""The chart's Redis with Sentinel, run for real: a full restart never elects a stale pod.

Three "pods" of the rendered StatefulSet on this machine, each a real redis-server and
redis-sentinel started by the chart's own scripts (the ConfigMap), on its own loopback
address (127.0.0.2-4, the ports the chart uses) with its own data directory as the volume.
As in the cluster, PEERS and SELF_ADDRESS name the pods; only the mount paths and addresses
are local. The scenario the issue names: pod 0 is the primary, crashes, the Sentinels fail
over and newer data is written; then every pod stops and all start together. Pod 0's own
files still call it the primary; the newer data must survive all the same.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.sentinel_pods import Pod, chart_scripts, known, sentinel_pods


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[list[Pod]]:
    with sentinel_pods(tmp_path) as made:
        yield made


def _primaries(pods: list[Pod]) -> list[Pod]:
    return [pod for pod in pods if pod.role() == "master"]


def test_a_full_restart_keeps_the_data_written_after_a_failover(pods: list[Pod]) -> None:
    scripts = chart_scripts()
    for pod in pods:  # podManagementPolicy: Parallel
        pod.start(scripts)
    eventually("pod 0 primary, two replicas", lambda: [p.role() for p in pods] ==
               ["master", "slave", "slave"])  # fmt: skip
    eventually("every Sentinel to know both replicas and the other Sentinels",
               lambda: all(known(pod) == ("2", "2") for pod in pods))  # fmt: skip
    first = pods[0]
    assert first.cli("SET", "frame-counter", "1") == "OK"

    first.stop(signal.SIGKILL)  # the primary's node dies
    started = time.monotonic()
    eventually("a Sentinel failover", lambda: len(_primaries(pods[1:])) == 1)
    [primary] = _primaries(pods[1:])
    print(f"failover to {primary.address} in {time.monotonic() - started:.1f} s")
    # Sentinel repoints the other replica only after the promotion, and its full sync waits
    # for the diskless-sync delay (5 s): write once it is online.
    eventually("the other replica to follow the new primary",
               lambda: "state=online" in primary.info("replication", "slave0"))  # fmt: skip
    assert primary.cli("SET", "frame-counter", "2") == "OK"
    assert primary.cli("WAIT", "1", "10000") == "1"  # the other replica has it too
    # Redis ignores SIGTERM while it writes the AOF that follows a full sync (the kubelet
    # would SIGKILL it after the grace period); stop once every copy is on disk.
    eventually("the AOF rewrites after the sync to finish",
               lambda: all(p.info("persistence", "aof_rewrite_in_progress") == "0"
                           for p in pods[1:]))  # fmt: skip

    for pod in pods[1:]:
        pod.stop()  # every pod stops (e.g. all nodes replaced)
    conf = (first.root / "data" / "sentinel" / "sentinel.conf").read_text()
    assert f"sentinel monitor tts {first.address} 6379" in conf  # pod 0 still thinks it leads

    for pod in pods:
        pod.start(scripts)
    eventually("one primary again", lambda: len(_primaries(pods)) == 1)
    [after] = _primaries(pods)
    print(f"after the full restart the primary is {after.address}")
    assert after is not first
    assert after.cli("GET", "frame-counter") == "2"
    eventually(
        "pod 0 to follow the new primary with the newer data",
        lambda: first.role() == "slave" and first.cli("GET", "frame-counter") == "2",
    )
    log = (first.root / "start-redis.sh.log").read_text()
    assert f"primary: {after.address} (this pod: {first.address})" in log
