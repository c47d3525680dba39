"""A software WebAuthn authenticator for tests without a browser.

It builds what a real authenticator and browser send (CBOR attestation object with
``fmt: none``, authenticator data, client data JSON, an ES256 signature) with
``cryptography`` and ``cbor2`` only, so the server's checks (py_webauthn) run on real bytes.
Tests can point it at another relying-party id or origin to produce answers a browser would
never send. At the end: the steps Chromium tests share (a CDP virtual authenticator, signing
in and out, adding a first passkey on the account page).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse

from tenants.models import Tenant, User
from tests.support.oidc import sign_in

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential (P-256) on a pretend platform authenticator."""

    def __init__(self, *, rp_id: str, origin: str, user_verifies: bool = True) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.user_verifies = user_verifies
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.user_handle = secrets.token_bytes(32)
        self.sign_count = 0

    @property
    def credential_id_b64(self) -> str:
        return b64u(self.credential_id)

    @property
    def user_handle_b64(self) -> str:
        return b64u(self.user_handle)

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _flags(self) -> int:
        return FLAG_UP | (FLAG_UV if self.user_verifies else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def _auth_data(self, rp_id: str | None, flags: int) -> bytes:
        """Authenticator data up to the sign count: RP id hash, flags, counter (big-endian)."""
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.sign_count)

    def _credential(self, response: dict[str, Any]) -> dict[str, Any]:
        """The PublicKeyCredential JSON a browser posts, around a ceremony's ``response``."""
        return {
            "id": self.credential_id_b64,
            "rawId": self.credential_id_b64,
            "type": "public-key",
            "clientExtensionResults": {},
            "response": response,
        }

    def create(self, options: dict[str, Any], *, rp_id: str | None = None, origin: str | None = None) -> dict[str, Any]:
        """The answer to ``navigator.credentials.create`` for these (JSON) options."""
        self.user_handle = unb64u(options["user"]["id"])
        attested = (
            b"\x00" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_public_key()
        )
        auth_data = self._auth_data(rp_id, self._flags() | FLAG_AT) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential(
            {
                "clientDataJSON": b64u(self._client_data("webauthn.create", options["challenge"], origin)),
                "attestationObject": b64u(attestation),
                "transports": ["internal"],
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        rp_id: str | None = None,
        origin: str | None = None,
        challenge: str | None = None,
    ) -> dict[str, Any]:
        """The answer to ``navigator.credentials.get``: a signed assertion."""
        self.sign_count += 1
        auth_data = self._auth_data(rp_id, self._flags())
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return self._credential(
            {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": self.user_handle_b64,
            }
        )


# --- in Chromium (Playwright) ---------------------------------------------------------------


def with_authenticator(browser: Any) -> tuple[Any, Any, str]:
    """A page whose browser has a platform authenticator that keeps resident keys and verifies the user."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return page, cdp, added["authenticatorId"]


def password_sign_in(page: Any, username: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(f"{username}-demo-pass")
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Any, base: str) -> None:
    page.goto(f"{base}/t/mightybank/logout/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def add_first_passkey(page: Any, base: str, username: str) -> None:
    """Sign in with the password at the tenant root, add a passkey on the account page, sign out."""
    page.goto(f"{base}/t/mightybank/login/?next=/t/mightybank/account/")
    password_sign_in(page, username)
    page.wait_for_url(f"{base}/t/mightybank/account/")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_selector("text=Passkey 1")
    sign_out(page, base)


# --- Canopy's passkey endpoints through Django's test client --------------------------------------------

BASE = "http://localhost:8000"  # CANOPY_BASE_URL of the passkey tests (the ``relying_party`` fixture)
RP_ID = "localhost"


def post_json(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def url(tenant: Tenant, name: str) -> str:
    return reverse(f"passkeys:{name}", kwargs={"tenant_slug": tenant.slug})


def enroll(
    tenant: Tenant,
    who: User,
    *,
    name: str = "Laptop",
    user_verifies: bool = True,
    rp_id: str = RP_ID,
    origin: str = BASE,
) -> SoftAuthenticator:
    """Register a software passkey for ``who`` from the account page (signed in with a password)."""
    client = Client()
    sign_in(client, tenant, who)
    key = SoftAuthenticator(rp_id=rp_id, origin=origin, user_verifies=user_verifies)
    options = post_json(client, url(tenant, "register_options"), {"mode": "account"})
    assert options.status_code == 200, options.content
    done = post_json(
        client, url(tenant, "register"), {"mode": "account", "credential": key.create(options.json()), "name": name}
    )
    assert done.status_code == 200, done.content
    return key
