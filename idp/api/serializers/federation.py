"""Upstream identity providers and the domains they claim; the client secret is write-only."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from idp.api.serializers.common import HTTP_URL, refuse_nul
from idp.federation.backchannel import backchannel_logout_uri
from idp.federation.models import UpstreamIdP
from idp.federation.services import domain_challenge


class UpstreamDomainSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    domain = serializers.CharField(read_only=True)
    verified = serializers.BooleanField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    verified_how = serializers.CharField(read_only=True)
    last_check = serializers.CharField(read_only=True, help_text="Why the last check did not verify it.")
    challenge = serializers.SerializerMethodField(help_text="The DNS TXT record to publish to verify the domain.")

    def get_challenge(self, obj: Any) -> dict[str, str]:

        name, value = domain_challenge(obj)
        return {"type": "TXT", "name": name, "value": value}


class UpstreamDomainCreateSerializer(serializers.Serializer):
    domain = serializers.CharField(max_length=253, validators=[refuse_nul])


class UpstreamIdPSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    enabled = serializers.BooleanField(read_only=True)
    show_button = serializers.BooleanField(read_only=True)
    issuer = serializers.CharField(read_only=True)
    discovery_url = serializers.CharField(read_only=True)
    authorization_endpoint = serializers.CharField(read_only=True)
    token_endpoint = serializers.CharField(read_only=True)
    jwks_uri = serializers.CharField(read_only=True)
    client_id = serializers.CharField(read_only=True)
    has_client_secret = serializers.SerializerMethodField(help_text="The secret itself is never returned.")
    scopes = serializers.CharField(read_only=True)
    use_pkce = serializers.BooleanField(read_only=True)
    saml_metadata = serializers.CharField(read_only=True)
    jit_enabled = serializers.BooleanField(read_only=True)
    jit_organizations = serializers.SerializerMethodField()
    jit_claim = serializers.CharField(read_only=True)
    jit_claim_map = serializers.DictField(read_only=True)
    jit_role = serializers.CharField(read_only=True)
    sync_on_login = serializers.BooleanField(read_only=True)
    linking = serializers.CharField(read_only=True)
    end_session_endpoint = serializers.CharField(read_only=True)
    saml_metadata_url = serializers.CharField(read_only=True)
    saml_metadata_fetched_at = serializers.DateTimeField(read_only=True, allow_null=True)
    saml_metadata_error = serializers.CharField(read_only=True, help_text="Why the last fetch failed (else empty).")
    saml_sign_requests = serializers.BooleanField(read_only=True)
    attribute_map = serializers.DictField(child=serializers.CharField(), read_only=True)
    backchannel_logout_uri = serializers.SerializerMethodField(
        help_text="OIDC: register this at the partner for its back-channel logout (else empty)."
    )
    created_at = serializers.DateTimeField(read_only=True)

    def get_has_client_secret(self, obj: Any) -> bool:
        return bool(obj.client_secret_encrypted)

    def get_backchannel_logout_uri(self, obj: Any) -> str:

        return backchannel_logout_uri(obj) if obj.kind == UpstreamIdP.Kind.OIDC else ""

    def get_jit_organizations(self, obj: Any) -> list[str]:
        return sorted(str(pk) for pk in obj.jit_organizations.values_list("pk", flat=True))


def _idp_fields(required: bool) -> dict[str, serializers.Field]:

    def url() -> serializers.Field:
        return serializers.URLField(max_length=500, required=False, allow_blank=True)

    return {
        "name": serializers.CharField(max_length=200, required=required),
        "organization": serializers.CharField(
            max_length=64, required=False, allow_null=True, help_text="Owning organization (id or identifier)."
        ),
        "enabled": serializers.BooleanField(required=False),
        "show_button": serializers.BooleanField(required=False),
        "issuer": url(),
        "discovery_url": url(),
        "authorization_endpoint": url(),
        "token_endpoint": url(),
        "jwks_uri": url(),
        "client_id": serializers.CharField(max_length=255, required=False, allow_blank=True),
        "client_secret": serializers.CharField(
            max_length=500, required=False, allow_blank=True, write_only=True, style={"input_type": "password"}
        ),
        "scopes": serializers.CharField(max_length=500, required=False),
        "use_pkce": serializers.BooleanField(required=False),
        "saml_metadata": serializers.CharField(max_length=2 * 1024 * 1024, required=False, allow_blank=True),
        "jit_enabled": serializers.BooleanField(required=False),
        "jit_organizations": serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=200
        ),
        "jit_claim": serializers.CharField(max_length=100, required=False, allow_blank=True),
        "jit_claim_map": serializers.DictField(
            child=serializers.CharField(max_length=64), required=False, validators=[refuse_nul]
        ),
        "jit_role": serializers.CharField(
            max_length=10, required=False, help_text="Role of provisioned members: owner, admin or member."
        ),
        "sync_on_login": serializers.BooleanField(required=False),
        "linking": serializers.ChoiceField(choices=UpstreamIdP.Linking.choices, required=False),
        "end_session_endpoint": url(),
        "saml_metadata_url": serializers.URLField(
            max_length=500,
            required=False,
            allow_blank=True,
            help_text="SAML: fetch the partner's metadata from here now, and again periodically.",
            validators=[HTTP_URL],
        ),
        "saml_sign_requests": serializers.BooleanField(required=False),
        "attribute_map": serializers.DictField(
            child=serializers.CharField(max_length=200),
            required=False,
            validators=[refuse_nul],
            help_text='User field or "profile:<attribute>" → upstream claim, e.g. {"first_name": "given_name"}.',
        ),
    }


class UpstreamIdPUpdateSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return _idp_fields(required=False)


class UpstreamIdPCreateSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:

        return {
            "slug": serializers.SlugField(max_length=64),
            "kind": serializers.ChoiceField(choices=UpstreamIdP.Kind.choices, default=UpstreamIdP.Kind.OIDC),
            "domains": serializers.ListField(
                child=serializers.CharField(max_length=253, validators=[refuse_nul]), required=False, max_length=50
            ),
            **_idp_fields(required=True),
        }
