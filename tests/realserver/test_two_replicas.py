"""Why the chart runs one pod: two all-in-one ttn-lw-stack replicas on one Redis and PostgreSQL.

The real server, configured by the chart's kind profile (tests.support.real_server.py), twice
on the same stores, as `replicaCount: 2` would run it. lorawan-stack v3.32.0's reference
cluster (pkg/cluster/cluster.go GetPeer) knows one instance of each component: itself. The
Network Server's downlink tasks live in Redis and either replica takes them
(pkg/networkserver/downlink.go processDownlinkTask); it then asks its own Gateway Server to
send, and only the replica whose Gateway Server accepted the gateway's UDP packets holds the
connection. Meanwhile the connection stats, kept in Redis, report the gateway connected on
both. The tests drive a registered gateway and a class C device over real UDP: with one
replica every downlink reaches the gateway; with two, each one the other replica takes is
dropped.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipelines.smoke import semtech
from tests.realserver.conftest import require_ttn_lw_stack
from tests.support import lorawan, tts_api
from tests.support.real_server import (
    Stack,
    admin_api_key,
    chart_stores,
    running_stack,
)
from tests.support.servers import LOOPBACK, Postgres, Redis

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite

DEV_ADDR = "26011BDA"
NWK_S_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
APP_S_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
DROPPED = "Downlink paths invalid, fail application downlink"  # the NS's log line


@dataclass
class Network:
    a: Stack
    redis: Redis
    pg: Postgres
    key: str
    gateway: Gateway


def _register(stack: Stack, key: str, eui: bytes) -> None:
    """A gateway, and an ABP class C device with its NS and AS session (LoRaWAN 1.0.3)."""
    tts_api.gateway(stack, key, f"eui-{eui.hex()}", eui.hex())
    tts_api.application(stack, key, "app-1")
    ids = tts_api.device(stack, key, "app-1", "dev-c", "70B3D57ED00000C1")
    session = tts_api.AbpSession(DEV_ADDR, NWK_S_KEY.hex(), app_s_key=APP_S_KEY.hex())
    tts_api.abp_session(stack, key, ids, session, class_c=True)


class Gateway:
    """A Semtech UDP packet forwarder talking to one replica's Gateway Server."""

    def __init__(self, eui: bytes, port: int) -> None:
        self.eui = eui
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((LOOPBACK, port))
        self.sock.settimeout(0.2)
        self.last_pull = 0.0
        self.downlinks = 0  # PULL_RESP received

    def send(self, packet: semtech.Packet) -> None:
        self.sock.send(semtech.encode(packet))

    def pump(self) -> None:
        """Keep the downlink path open (PULL_DATA every 5 s) and count what arrives."""
        if time.monotonic() - self.last_pull > 5:  # TTS drops the path after 15 s silence
            self.send(semtech.pull_data(self.eui))
            self.last_pull = time.monotonic()
        try:
            datagram = self.sock.recv(65535)
        except TimeoutError:
            return
        if semtech.decode(datagram).type is semtech.PacketType.PULL_RESP:
            self.downlinks += 1

    def uplink(self, f_cnt: int) -> None:
        frame = lorawan.data_uplink(DEV_ADDR, f_cnt, NWK_S_KEY)
        tmst = int(time.monotonic() * 1e6) & 0xFFFFFFFF
        body = {"rxpk": [lorawan.rxpk(frame, tmst)]}
        self.send(semtech.Packet(semtech.PacketType.PUSH_DATA, semtech.new_token(), self.eui, body))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory, ttn_lw_stack: Path) -> Iterator[Network]:
    """One replica (A) with a registered gateway connected to it and a class C device."""
    workdir = tmp_path_factory.mktemp("replicas")
    with chart_stores(workdir) as stores, ExitStack() as stack:
        redis, pg = stores.redis, stores.pg
        a = stack.enter_context(running_stack(ttn_lw_stack, workdir / "a", redis, pg))
        key = admin_api_key(ttn_lw_stack, stores.db)
        gateway = Gateway(os.urandom(8), a.udp_port)
        _register(a, key, gateway.eui)
        _pump_for(gateway, 2)  # PULL_DATA: the gateway connects to A
        gateway.uplink(1)  # the NS learns the downlink path through this gateway
        # The NS answers a device's first uplink in its class A window (a DevStatusReq):
        # that downlink shows the NS took the uplink and knows the path to the device.
        deadline = time.monotonic() + 10
        while gateway.downlinks == 0:
            assert time.monotonic() < deadline, "no class A answer to the device's uplink"
            gateway.pump()
        yield Network(a, redis, pg, key, gateway)


def _stats(stack: Stack, key: str, gateway: Gateway) -> httpx.Response:
    """The Gateway Server's connection stats of the gateway, as `stack` reports them."""
    return stack.api("GET", f"/gs/gateways/eui-{gateway.eui.hex()}/connection/stats", key)


def _pump_for(gateway: Gateway, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        gateway.pump()


def _push_downlinks(network: Network, count: int, *logs: Stack) -> tuple[int, int]:
    """Queue `count` downlinks; (delivered to the gateway, dropped by a Network Server)."""
    gateway = network.gateway
    delivered_before = gateway.downlinks
    dropped_before = sum(s.log_text().count(DROPPED) for s in logs)
    for n in range(count):
        payload = base64.b64encode(bytes([n])).decode()
        push = {"downlinks": [{"f_port": 1, "frm_payload": payload}]}
        path = "/as/applications/app-1/devices/dev-c/down/push"
        tts_api.ok(network.a.api("POST", path, network.key, push))
        expected = delivered_before + dropped_before + n + 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            gateway.pump()
            dropped = sum(s.log_text().count(DROPPED) for s in logs)
            if gateway.downlinks + dropped >= expected:
                break
        time.sleep(1)  # class C: the NS spaces downlinks to one device
    dropped = sum(s.log_text().count(DROPPED) for s in logs) - dropped_before
    return gateway.downlinks - delivered_before, dropped


def test_one_replica_delivers_every_downlink(network: Network) -> None:
    delivered, dropped = _push_downlinks(network, 4, network.a)
    print(f"one replica: {delivered} of 4 downlinks reached the gateway, {dropped} dropped")
    assert (delivered, dropped) == (4, 0)


def test_the_chart_cluster_key_keeps_a_generated_one_out_of_the_log(network: Network) -> None:
    assert network.a.env["TTN_LW_CLUSTER_KEYS"]  # from the chart's Secret
    assert "No cluster key configured" not in network.a.log_text()


MAX_PUSHES = 40


def test_a_second_replica_drops_the_downlinks_it_takes(
    network: Network, ttn_lw_stack: Path, tmp_path: Path
) -> None:
    with running_stack(ttn_lw_stack, tmp_path / "b", network.redis, network.pg) as b:
        # Which replica takes a downlink task is a race for Redis's task queue, so push until
        # each has taken one (B none in 40 would be a 2^-40 chance, or B never takes any).
        pushed = delivered = dropped = 0
        while not (delivered and dropped):
            assert pushed < MAX_PUSHES, (
                f"in {pushed} downlinks: {delivered} delivered, {dropped} dropped"
            )
            one_delivered, one_dropped = _push_downlinks(network, 1, network.a, b)
            pushed, delivered, dropped = (
                pushed + 1,
                delivered + one_delivered,
                dropped + one_dropped,
            )
        print(f"two replicas, {pushed} downlinks: {delivered} delivered, {dropped} dropped")
        # Every downlink the second replica took was lost, and only those.
        assert delivered + dropped == pushed
        assert DROPPED not in network.a.log_text()
        assert b.log_text().count(DROPPED) == dropped
        assert "error:pkg/gatewayserver:schedule" in b.log_text()
        # Yet B's Gateway Server reports the gateway connected (stats live in Redis).
        stats = _stats(b, network.key, network.gateway)
        print(f"B: GET .../connection/stats -> {stats.status_code} {stats.text[:120]}")
        assert stats.status_code == 200
        assert stats.json()["protocol"] == "udp"
