"""Partner processes for the federation tests: the independent OIDC OP (``oidc_op.py``), the SAML IdP
(``saml_idp.py``), each its own process started from here, and a DNS server."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
CLIENT_ID = "canopy-at-partner"
CLIENT_SECRET = "partner-issued-secret"  # noqa: S105 - a test fixture


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PartnerOP:
    url: str
    process: subprocess.Popen

    def control(self, **state: Any) -> None:
        requests.post(f"{self.url}/control", json=state, timeout=5).raise_for_status()


def start_partner_op() -> Iterator[PartnerOP]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(HERE / "oidc_op.py"), str(port), CLIENT_ID, CLIENT_SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield PartnerOP(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class PartnerIdP:
    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, **state: Any) -> None:
        requests.post(f"{self.url}/control", json=state, timeout=5).raise_for_status()


def start_partner_idp(sp_entity_id: str, sp_acs_url: str) -> Iterator[PartnerIdP]:
    """The SAML IdP process (pysaml2), told the SP's entity id and ACS URL; stopped at the end."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(HERE / "saml_idp.py"), str(port), sp_entity_id, sp_acs_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield PartnerIdP(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class DNSServer:
    """A real UDP DNS server on 127.0.0.1 (dnslib) answering TXT records from ``records``."""

    address: str
    records: dict[str, list[str]] = field(default_factory=dict)


def start_dns_server() -> Iterator[DNSServer]:
    from dnslib import QTYPE, RR, TXT
    from dnslib.server import BaseResolver
    from dnslib.server import DNSServer as LibServer

    port = free_port(socket.SOCK_DGRAM)
    state = DNSServer(address=f"127.0.0.1:{port}")

    class Resolver(BaseResolver):
        def resolve(self, request, handler):  # type: ignore[no-untyped-def]
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            values = state.records.get(name)
            if values is None:
                reply.header.rcode = 3  # NXDOMAIN
            elif request.q.qtype == QTYPE.TXT:
                for value in values:
                    reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
            return reply

    server = LibServer(Resolver(), port=port, address="127.0.0.1", logger=_Quiet())
    server.start_thread()
    try:
        yield state
    finally:
        server.stop()


class _Quiet:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *a, **k: None
