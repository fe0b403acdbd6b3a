"""``python -m pipelines.smoke``: probe a running Things Stack; exit 0 pass, 1 fail, 2 bad usage."""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import socket
import ssl
import sys
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn, TextIO

import anyio

from pipelines.smoke import device_probe, polling, probes, radio, registry, semtech
from pipelines.smoke import target as targets
from pipelines.smoke.registry import API_KEY_ENV

# The variable holding the /metrics password (a secret: environment only, never argv).
PASSWORD_ENV = "TTS_METRICS_PASSWORD"  # noqa: S105 - a variable name, not a password
MAX_KEY_FILE = 64 * 1024


MAX_PORT = 65535


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, no usage dump, exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port {value} is out of range: use 1-{MAX_PORT}")
    return value


def _eui(text: str) -> bytes:
    try:
        return semtech.parse_eui(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _plan(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frequency plan ID (e.g. EU_863_870_TTN, US_902_928_FSB_2)"
        )
    return text


def _checks(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in probes.CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check(s) {','.join(unknown) or '(none)'}: use {','.join(probes.CHECKS)}"
        )
    return names


def _deadline(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} s is not a deadline: use 0 or more seconds")
    return value


def _parser() -> _Parser:
    p = _Parser(
        prog="python -m pipelines.smoke",
        description="Smoke-probe a Things Stack: GET /healthz, Semtech UDP PULL/PUSH acks with "
        "our token, and the gateway-connected gauge on /metrics. Checks are retried with "
        "capped backoff until --deadline. Exit 0: all pass; 1: a check failed; 2: bad usage.",
        epilog=f"If /metrics needs a password (http.metrics.password), put it in ${PASSWORD_ENV}.",
    )
    p.add_argument("--host", default=targets.DEFAULT_HOST, help="TTS host (default %(default)s)")
    p.add_argument("--udp-host", help="host gateways send UDP to, if not --host (e.g. the LB IP)")
    p.add_argument(
        "--checks",
        type=_checks,
        default=probes.CHECKS,
        help=f"comma-separated subset of {','.join(probes.CHECKS)} (default: all)",
    )
    p.add_argument("--http-port", type=_port, default=targets.DEFAULT_HTTP_PORT,
                   help="HTTP port of /healthz and /metrics (default %(default)s)")  # fmt: skip
    p.add_argument("--udp-port", type=_port, default=targets.DEFAULT_UDP_PORT,
                   help="Semtech UDP packet-forwarder port (default %(default)s)")  # fmt: skip
    p.add_argument("--gateway-eui", type=_eui,
                   help="16 hex digits the probe sends as (default: "
                   f"{targets.DEFAULT_GATEWAY_EUI}; with an API key a random AA555A…)")  # fmt: skip
    p.add_argument("--deadline", type=_deadline, default=targets.DEFAULT_DEADLINE,
                   help="seconds to keep retrying (default %(default)s)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    reg = p.add_argument_group(
        "Registering the probe gateway",
        "A Things Stack refuses UDP gateways it does not know. With an API key (all rights "
        f"on a user; ${API_KEY_ENV} or --api-key-file) the probe registers its gateway, asks "
        "the Gateway Server whether exactly that gateway is connected, and removes it again, "
        "also when a check fails.",
    )
    reg.add_argument("--api-key-file", type=Path,
                     help="file with the API key: the bare key, or the JSON that "
                     "`ttn-lw-stack is-db create-user-api-key` prints")  # fmt: skip
    reg.add_argument("--frequency-plan", type=_plan,
                     help="frequency plan ID of the registered gateway: the deployment's "
                     "(required with an API key)")  # fmt: skip
    dev = p.add_argument_group(
        "The device probe",
        "With --device (and an API key) an OTAA device of a new application joins through "
        "the probe gateway, its uplink must reach the application over MQTT, and a downlink "
        "queued over MQTT must come back in RX1 or RX2. The application, its key and the "
        "device are removed again, also when a step fails.",
    )
    dev.add_argument("--device", action="store_true",
                     help="run the device probe: LoRaWAN 1.0.3 OTAA via the gateway")  # fmt: skip
    dev.add_argument("--device-deadline", type=_deadline,
                     default=device_probe.DEFAULT_DEVICE_DEADLINE,
                     help="seconds the device steps may take (default %(default)s)")  # fmt: skip
    dev.add_argument("--mqtt-host", help="host of the MQTT server, if not --host")
    dev.add_argument("--mqtt-port", type=_port, default=targets.DEFAULT_MQTT_PORT,
                     help="MQTT port of the Application Server (default %(default)s; 8883 "
                     "with --mqtt-tls)")  # fmt: skip
    dev.add_argument("--mqtt-tls", action="store_true",
                     help="MQTT over TLS, verified as --ca-bundle/--insecure say")  # fmt: skip
    dev.add_argument("--gateway-protocol", choices=targets.GATEWAY_PROTOCOLS, default="udp",
                     help="how the device's gateway talks to the network: Semtech UDP "
                     "(default) or LoRa Basic Station (LNS, websockets)")  # fmt: skip
    dev.add_argument("--lns-uri", help="the LNS endpoint of --gateway-protocol basic-station "
                     f"(default ws://HOST:{targets.DEFAULT_LNS_PORT}; wss:// verified as "
                     "--ca-bundle/--insecure say)")  # fmt: skip
    tls = p.add_argument_group("TLS")
    tls.add_argument("--https", action="store_true", help="use HTTPS on --http-port (e.g. 8885)")
    tls.add_argument("--ca-bundle", type=Path, help="PEM CA bundle to verify the server with")
    tls.add_argument("--insecure", action="store_true", help="HTTPS without verifying the server")
    return p


def _api_key(p: _Parser, args: argparse.Namespace) -> str | None:
    """The key from --api-key-file or $TTS_API_KEY; None when neither is given."""
    path: Path | None = args.api_key_file
    if path is None:
        return os.environ.get(API_KEY_ENV) or None
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_KEY_FILE + 1)
    except OSError as err:
        p.error(f"--api-key-file {path}: {err.strerror}: pass a readable file with the key")
    text = raw.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):  # create-user-api-key's JSON: {"id": …, "key": …, …}
        try:
            text = str(json.loads(text).get("key") or "")
        except (ValueError, AttributeError):
            text = ""
    # TTS keys are NNSXS.<base32>.<base32>; never echo what the file holds.
    if len(raw) > MAX_KEY_FILE or not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,1024}", text):
        p.error(
            f"--api-key-file {path} holds no API key: write the bare key or the JSON of "
            "`ttn-lw-stack is-db create-user-api-key` into it"
        )
    return text


def _tls(p: _Parser, args: argparse.Namespace) -> Path | None:
    """The checked CA bundle; contradictions and non-PEM files are bad usage."""
    ca: Path | None = args.ca_bundle
    wss = (args.lns_uri or "").startswith("wss://")
    if (ca is not None or args.insecure) and not (args.https or args.mqtt_tls or wss):
        p.error(
            "--ca-bundle and --insecure only apply with --https, --mqtt-tls or a wss:// "
            "--lns-uri: add one"
        )
    if ca is not None and args.insecure:
        p.error("--ca-bundle and --insecure contradict each other: pass one")
    if ca is not None and not ca.is_file():
        p.error(f"--ca-bundle {ca} is not a file: pass the PEM file of the CA")
    if ca is not None:
        try:
            ssl.create_default_context(cafile=str(ca))
        except (ssl.SSLError, ValueError, OSError):
            p.error(f"--ca-bundle {ca} holds no PEM certificate: pass the CA as PEM")
    return ca


def _target(p: _Parser, args: argparse.Namespace) -> targets.Target:
    ca = _tls(p, args)
    api_key = _api_key(p, args)
    if api_key is not None and args.frequency_plan is None:
        p.error(
            "an API key makes the probe register its gateway, which needs --frequency-plan: "
            "pass the deployment's plan ID (e.g. EU_863_870_TTN)"
        )
    if args.device:
        _device_usage(p, args, api_key)
    elif args.gateway_protocol != "udp" or args.lns_uri is not None:
        p.error("--gateway-protocol and --lns-uri choose the device's gateway: add --device")
    eui = args.gateway_eui
    if eui is None:
        eui = registry.random_probe_eui() if api_key else bytes.fromhex(targets.DEFAULT_GATEWAY_EUI)
    hosts = [("--host", args.host), ("--udp-host", args.udp_host)]
    if args.device:
        hosts.append(("--mqtt-host", args.mqtt_host))
    for flag, host in hosts:
        if host is None:
            continue
        try:
            socket.getaddrinfo(host, None)
        except (OSError, UnicodeError) as err:
            p.error(f"cannot resolve {flag} {host!r} ({err}): pass a resolvable name or an IP")
    return targets.Target(
        host=args.host,
        udp_host=args.udp_host,
        http_port=args.http_port,
        udp_port=args.udp_port,
        gateway_eui=eui,
        https=args.https,
        ca_bundle=ca,
        insecure=args.insecure,
        metrics_password=os.environ.get(PASSWORD_ENV) or None,
        api_key=api_key,
        frequency_plan=args.frequency_plan,
        device=args.device,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_tls=args.mqtt_tls,
        gateway_protocol=args.gateway_protocol,
        lns_uri=args.lns_uri,
    )


def _device_usage(p: _Parser, args: argparse.Namespace, api_key: str | None) -> None:
    """What --device needs, refused before any packet is sent."""
    if api_key is None:
        p.error(
            f"--device registers an application and a device, which needs an API key: "
            f"pass --api-key-file or set ${API_KEY_ENV}"
        )
    missing = [c for c in ("udp-ack", "gateway-connected") if c not in args.checks]
    if missing:
        p.error(f"--device runs on the probe gateway: --checks must include {','.join(missing)}")
    try:
        radio.uplink_channel(args.frequency_plan)
    except ValueError as err:
        p.error(f"--frequency-plan: {err}")
    lns = args.lns_uri
    if lns is not None and (
        not re.fullmatch(r"wss?://[^/\s]+/?", lns) or args.gateway_protocol == "udp"
    ):
        p.error(
            f"--lns-uri {lns!r}: give ws://host:port or wss://host:port, with "
            "--gateway-protocol basic-station"
        )


class _Progress:
    """One line per attempt on stderr; on a terminal the line is rewritten in place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.tty, self.dirty = stream, stream.isatty(), False

    def __call__(self, a: polling.Attempt) -> None:
        line = f"smoke: {a.at:7.2f}s {a.check} #{a.number} {'ok' if a.ok else 'fail'}: {a.detail}"
        if self.tty:
            self.stream.write(f"\r\033[K{line[:150]}")
            self.dirty = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.dirty:
            self.stream.write("\r\033[K")


def _summary(results: list[polling.CheckResult]) -> str:
    lines = []
    for r in results:
        n = len(r.attempts)
        if r.skipped:
            lines.append(f"SKIP  {r.name:<18} {r.detail}")
            continue
        lines.append(
            f"{'PASS' if r.ok else 'FAIL'}  {r.name:<18} {r.detail}"
            f"  [{n} attempt{'s' * (n != 1)}, {r.elapsed:.2f} s]"
        )
    ran = [r for r in results if not r.skipped]
    failed = [r.name for r in ran if not r.ok]
    tail = f"; failed: {', '.join(failed)}" if failed else ""
    lines.append(f"smoke: {len(ran) - len(failed)} of {len(ran)} checks passed{tail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse, probe, report; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    target = _target(parser, args)
    progress = _Progress(sys.stderr)
    try:
        run = functools.partial(
            probes.run_checks, target, args.deadline, on_attempt=progress, checks=args.checks,
            device_deadline=args.device_deadline,
        )  # fmt: skip
        results = anyio.run(run)
    except Exception as err:  # a probe bug must still end in one line, not a traceback
        progress.close()
        print(f"smoke: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    if not target.device:
        why = "not asked: --device not given"
        results += [polling.skipped(name, why) for name in device_probe.STEPS]
    ok = all(r.ok or r.skipped for r in results)
    if args.json:
        report = {
            "ok": ok,
            "target": {
                "host": target.host,
                "udp_host": target.udp_address,
                "http_url": target.base_url,
                "udp_port": target.udp_port,
                "gateway_eui": target.gateway_eui.hex().upper(),
                "registers_gateway": target.api_key is not None,
                "device": target.device,
            },
            "deadline": args.deadline,
            "checks": [asdict(r) for r in results],
        }
        print(json.dumps(report, indent=2))
    else:
        print(_summary(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
