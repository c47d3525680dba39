"""Upstream identity providers of a tenant, the domains they claim, and the identities they link."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.models import ClaimedDomain, Tenant


class UpstreamIdP(models.Model):
    class Kind(models.TextChoices):
        OIDC = "oidc", "OpenID Connect"
        SAML = "saml", "SAML 2.0"

    class Linking(models.TextChoices):
        LINK_VERIFIED_EMAIL = "link-verified-email", "Link on a verified email in a verified domain"
        CREATE_NEW = "create-new", "Never link: create a new user"
        REFUSE = "refuse", "Never link: refuse when an account with that email exists"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Owning organization",
    )
    slug = models.SlugField(max_length=64, help_text="Stable name in URLs (callback, SP metadata).")
    name = models.CharField(max_length=200, help_text='Shown as "Sign in with <name>".')
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.OIDC)
    enabled = models.BooleanField(default=True)
    show_button = models.BooleanField(default=True, help_text="Offer a button on the login page.")
    # OIDC
    issuer = models.URLField(max_length=500, blank=True)
    discovery_url = models.URLField(max_length=500, blank=True)
    authorization_endpoint = models.URLField(max_length=500, blank=True)
    token_endpoint = models.URLField(max_length=500, blank=True)
    jwks_uri = models.URLField(max_length=500, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    scopes = models.CharField(max_length=500, default="openid email profile")
    use_pkce = models.BooleanField(default=True)
    end_session_endpoint = models.URLField(
        max_length=500, blank=True, help_text="Upstream logout; empty: the one its discovery document names, if any."
    )
    # SAML
    saml_metadata = models.TextField(blank=True)
    saml_metadata_url = models.URLField(
        max_length=500, blank=True, help_text="Fetch the partner's metadata from here (and again periodically)."
    )
    saml_metadata_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    saml_metadata_error = models.CharField(max_length=300, blank=True, editable=False)  # the last failed fetch
    saml_sign_requests = models.BooleanField(default=True, help_text="Sign AuthnRequests and LogoutRequests.")
    # Canopy's SP key pair for this upstream: signs requests, decrypts encrypted assertions.
    sp_key_encrypted = models.TextField(blank=True, editable=False)
    sp_cert = models.TextField(blank=True, editable=False)
    # Attribute mapping: user field or "profile:<custom attribute>" → upstream claim/attribute name.
    attribute_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"first_name": "given_name", "phone": "mobile", "profile:cost_center": "costCenter"}.',
    )
    # JIT provisioning
    jit_enabled = models.BooleanField(default=True)
    jit_organizations = models.ManyToManyField("orgs.Organization", blank=True, related_name="+")
    jit_claim = models.CharField(max_length=100, blank=True, help_text="Upstream claim mapped to organizations.")
    jit_claim_map = models.JSONField(default=dict, blank=True, help_text="Claim value → organization identifier.")
    jit_role = models.CharField(max_length=10, default="member")
    sync_on_login = models.BooleanField(default=False)
    linking = models.CharField(max_length=24, choices=Linking.choices, default=Linking.LINK_VERIFIED_EMAIL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="upstream_idp_unique_slug")]
        verbose_name = "upstream identity provider"

    def __str__(self) -> str:
        return self.name


class UpstreamDomain(ClaimedDomain):
    idp = models.ForeignKey(UpstreamIdP, on_delete=models.CASCADE, related_name="domains")
    verification_token = models.CharField(max_length=64, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_how = models.CharField(max_length=10, blank=True, editable=False)  # "dns" | "manual"
    last_check = models.CharField(max_length=300, blank=True, editable=False)  # why it is not verified
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(ClaimedDomain.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "domain"],
                name="upstream_domain_unique",
                violation_error_message="Another upstream identity provider of this tenant claims this domain.",
            )
        ]


class UpstreamIdentity(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    idp = models.ForeignKey(UpstreamIdP, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upstream_identities")
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["idp_id", "subject"]
        constraints = [models.UniqueConstraint(fields=["idp", "subject"], name="upstream_identity_unique")]
        verbose_name_plural = "upstream identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.idp}"
