"""django-oauth-toolkit's models, swapped to carry the tenant and the selected organization.

Every client belongs to one tenant. The organization chosen at sign-in travels
on the grant, the access token and the refresh token, so a refresh keeps it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)

from idp.oidc.keys import tenant_jwk

if TYPE_CHECKING:
    from orgs.tree.models import Organization
    from tenants.models import Tenant

# DOT ships no type information, so the django-stubs plugin cannot see these as
# models and infer their fields' types: they are spelled out below.

DEFAULT_ORG_CLAIM_NAMES = {
    "org_ids": "org_ids",
    "org_names": "org_names",
    "org_id": "org_id",
    "org_name": "org_name",
    "org_acting_for": "org_acting_for",
}


class Application(AbstractApplication):
    ES256_ALGORITHM = "ES256"
    ALGORITHM_TYPES = (
        ("", "No OIDC support"),
        ("RS256", "RS256 (RSA with SHA-256, tenant key)"),
        ("ES256", "ES256 (ECDSA P-256 with SHA-256, tenant key)"),
    )

    class OrgNameSource(models.TextChoices):
        IDENTIFIER = "identifier", "Identifier"
        DISPLAY_NAME = "display_name", "Display name"

    class TokenFormat(models.TextChoices):
        JWT = "jwt", "Signed JWT (RFC 9068)"
        OPAQUE = "opaque", "Opaque"

    tenant: models.ForeignKey[Tenant, Tenant] = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="oidc_clients"
    )
    algorithm: models.CharField[str, str] = models.CharField(
        max_length=5, choices=ALGORITHM_TYPES, default="RS256", blank=True
    )
    organization_required: models.BooleanField[bool, bool] = models.BooleanField(
        default=False, help_text="Refuse to issue tokens to a user who has no eligible organization."
    )
    org_name_source: models.CharField[str, str] = models.CharField(
        max_length=16, choices=OrgNameSource.choices, default=OrgNameSource.IDENTIFIER
    )
    org_claim_names = models.JSONField(
        default=dict, blank=True, help_text='Rename organization claims, e.g. {"org_id": "tenant_org"}.'
    )
    access_token_format: models.CharField[str, str] = models.CharField(
        max_length=8, choices=TokenFormat.choices, default=TokenFormat.JWT
    )
    allow_token_exchange: models.BooleanField[bool, bool] = models.BooleanField(
        default=True, help_text="Allow switching organization with RFC 8693 token exchange."
    )
    # OpenID Connect Back-Channel Logout 1.0 (idp/oidc/backchannel.py): where Canopy POSTs a logout
    # token when a session the client received tokens in ends; blank: the client is not told.
    backchannel_logout_uri: models.CharField[str, str] = models.CharField(
        max_length=2000,
        blank=True,
        default="",
        help_text="Where Canopy POSTs a logout token when the user's session ends (https, or http on 127.0.0.1).",
    )
    backchannel_logout_session_required: models.BooleanField[bool, bool] = models.BooleanField(
        default=False, help_text="The client needs the sid claim in logout tokens."
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = "OIDC client"

    def clean(self) -> None:
        # DOT checks for a global RSA key; ours are per tenant (see jwk_key).
        try:
            super().clean()
        except ValidationError as exc:
            errors = {
                field: messages
                for field, messages in exc.message_dict.items()
                if not (field == "algorithm" and all("OIDC_RSA_PRIVATE_KEY" in m for m in messages))
            }
            if errors:
                raise ValidationError(errors) from exc

    @property
    def first_party(self) -> bool:
        return bool(self.skip_authorization)

    def claim_name(self, key: str) -> str:
        names: dict[str, Any] = {**DEFAULT_ORG_CLAIM_NAMES, **(self.org_claim_names or {})}
        return str(names[key])

    @property
    def jwk_key(self) -> Any:
        """The tenant's active signing key for this client's algorithm, as a jwcrypto JWK."""
        return tenant_jwk(tenant_id=self.tenant_id, algorithm=self.algorithm or "RS256")


class TenantOrganizationFields(models.Model):
    """What the grant, the access token and the refresh token carry beyond DOT's fields:
    the tenant, the organization chosen at sign-in and, for an acts-for choice, the member
    organization it came through.

    The foreign keys are ``SET_NULL`` (deleting an organization must not need its tokens
    deleted first, and the rows stay for reuse detection and the audit trail), so the ids are
    also kept in ``organization_uuid`` / ``acting_via_uuid``, which nothing clears: a token whose
    organization was deleted is told apart from one issued without an organization
    (:attr:`organization_gone`), and a refresh of it is refused instead of issuing a token
    without an organization."""

    tenant: models.ForeignKey[Tenant, Tenant] = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+"
    )
    organization: models.ForeignKey[Organization | None, Organization | None] = models.ForeignKey(
        "orgs.Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acting_via: models.ForeignKey[Organization | None, Organization | None] = models.ForeignKey(
        "orgs.Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    organization_uuid: models.UUIDField[uuid.UUID | None, uuid.UUID | None] = models.UUIDField(
        null=True, blank=True, editable=False
    )
    acting_via_uuid: models.UUIDField[uuid.UUID | None, uuid.UUID | None] = models.UUIDField(
        null=True, blank=True, editable=False
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The ids follow the foreign keys while they are set; a deleted organization clears
        # only the foreign key (SET_NULL is an UPDATE of that column), never these.
        if self.organization_id is not None:
            self.organization_uuid = self.organization_id
        if self.acting_via_id is not None:
            self.acting_via_uuid = self.acting_via_id
        super().save(*args, **kwargs)

    @property
    def organization_gone(self) -> bool:
        """The organization (or the one it was acted for through) was deleted after issuance."""
        return (self.organization_uuid is not None and self.organization_id is None) or (
            self.acting_via_uuid is not None and self.acting_via_id is None
        )


class AuthenticationFields(models.Model):
    """When and how the person signed in, kept so a refresh issues the same auth_time/amr/idp.

    ``upstream`` is the slug of the upstream IdP of a federated sign-in (blank: signed in here);
    tokens, userinfo and introspection name that IdP in the ``idp`` claim.

    ``sid`` is the Canopy login session the tokens were issued in (the ID token's ``sid`` claim):
    back-channel logout finds the clients to tell, and the refresh tokens to revoke, by it."""

    auth_time: models.DateTimeField[datetime | None, datetime | None] = models.DateTimeField(null=True, blank=True)
    amr: models.CharField[str, str] = models.CharField(max_length=100, blank=True, default="")
    upstream: models.CharField[str, str] = models.CharField(max_length=64, blank=True, default="")
    sid: models.CharField[str, str] = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        abstract = True


class Grant(AbstractGrant, TenantOrganizationFields, AuthenticationFields):  # noqa: DJ008 - __str__ from DOT
    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AbstractAccessToken, TenantOrganizationFields, AuthenticationFields):  # noqa: DJ008 - __str__ from DOT
    grant_code_hash: models.CharField[str, str] = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"


class RefreshToken(AbstractRefreshToken, TenantOrganizationFields, AuthenticationFields):  # noqa: DJ008 - __str__ from DOT
    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    tenant: models.ForeignKey[Tenant, Tenant] = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+"
    )

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
