"""Service providers registered in a tenant."""

from __future__ import annotations

from typing import Any

from django.db import models

from orgs.claims import ORG_CLAIM_KEYS

NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

# Attributes an SP may receive: key -> default (Name, FriendlyName). Names are configurable per SP.
PROFILE_ATTRIBUTES = ("email", "username", "given_name", "family_name", "name")
RELEASABLE_ATTRIBUTES = PROFILE_ATTRIBUTES + ORG_CLAIM_KEYS
# Opt-in only (not in the default release): ``idp``, the upstream IdP of a federated sign-in.
OPT_IN_ATTRIBUTES = ("idp",)


def default_release() -> list[str]:
    return list(RELEASABLE_ATTRIBUTES)


class ServiceProvider(models.Model):
    """A SAML service provider of one tenant.

    ``acs`` is a list of ``{"url", "binding", "index", "default"}``; only HTTP-POST ACS
    endpoints receive responses. ``slo`` is a list of ``{"url", "binding", "response_url"}``.
    Certificates are PEM (``-----BEGIN CERTIFICATE-----``), from the SP's metadata or typed in.
    """

    class NameIDFormat(models.TextChoices):
        EMAIL = NAMEID_EMAIL, "email address"
        PERSISTENT = NAMEID_PERSISTENT, "persistent (opaque, per SP)"
        TRANSIENT = NAMEID_TRANSIENT, "transient (new each sign-in)"
        UNSPECIFIED = NAMEID_UNSPECIFIED, "unspecified (username)"

    class OrgNameSource(models.TextChoices):
        IDENTIFIER = "identifier", "Identifier"
        DISPLAY_NAME = "display_name", "Display name"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="saml_service_providers")
    entity_id = models.CharField("entity id", max_length=1024)
    name = models.CharField(max_length=200, blank=True)
    acs = models.JSONField("assertion consumer services", default=list)
    slo = models.JSONField("single logout services", default=list, blank=True)
    signing_certificates = models.JSONField(default=list, blank=True, help_text="PEM certificates the SP signs with.")
    encryption_certificate = models.TextField(blank=True, help_text="PEM certificate to encrypt assertions to.")
    nameid_format = models.CharField(
        "NameID format", max_length=100, choices=NameIDFormat.choices, default=NameIDFormat.EMAIL
    )
    attribute_release = models.JSONField(
        default=default_release, blank=True, help_text=f"Attributes sent: any of {', '.join(RELEASABLE_ATTRIBUTES)}."
    )
    attribute_names = models.JSONField(
        default=dict,
        blank=True,
        help_text='Rename attributes: {"org_id": {"name": "urn:example:org", "friendly_name": "orgId"}}.',
    )
    org_name_source = models.CharField(max_length=16, choices=OrgNameSource.choices, default=OrgNameSource.IDENTIFIER)
    sign_response = models.BooleanField(default=True)
    sign_assertion = models.BooleanField(default=True)
    encrypt_assertion = models.BooleanField(default=False)
    want_authn_requests_signed = models.BooleanField(
        "require signed requests",
        default=False,
        help_text="Refuse unsigned AuthnRequests. Requests are verified whenever the SP has a signing certificate.",
    )
    idp_initiated = models.BooleanField("IdP-initiated SSO", default=False)
    organization_required = models.BooleanField(default=False)
    default_organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    metadata_source = models.CharField(
        max_length=1024,
        blank=True,
        help_text="URL or file it was imported from. An http(s) URL is fetched again periodically.",
    )
    metadata_fetched_at = models.DateTimeField(
        "metadata last refreshed", null=True, blank=True, editable=False, help_text="Last successful fetch."
    )
    metadata_error = models.CharField(
        "metadata refresh error", max_length=300, blank=True, editable=False, help_text="Why the last fetch failed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "entity_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entity_id"], name="saml_sp_entity_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name or self.entity_id

    def attribute_name(self, key: str) -> tuple[str, str]:
        """(Name, FriendlyName) of an attribute for this SP."""
        custom: Any = (self.attribute_names or {}).get(key) or {}
        if isinstance(custom, str):
            return custom, key
        return str(custom.get("name") or key), str(custom.get("friendly_name") or key)

    def releases(self, key: str) -> bool:
        return key in (self.attribute_release or [])

    @property
    def wants_organization(self) -> bool:
        return any(self.releases(k) for k in ORG_CLAIM_KEYS)
