"""OIDC clients; the secret appears only in the answers that create it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from idp.oidc.services import GRANT_TYPES, redirect_uri_problem


def check_redirect_uri(uri: str) -> str:
    """The service's rule (idp.oidc.services.redirect_uri_problem), as a field error here."""
    problem = redirect_uri_problem(uri.strip())
    if problem:
        raise serializers.ValidationError(problem)
    return uri.strip()


class RedirectUriField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=500, **kwargs)
        self.validators.append(check_redirect_uri)


class OIDCClientSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    client_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    client_type = serializers.CharField(read_only=True)
    grant_type = serializers.SerializerMethodField()
    redirect_uris = serializers.SerializerMethodField()
    post_logout_redirect_uris = serializers.SerializerMethodField()
    algorithm = serializers.CharField(read_only=True)
    organization_required = serializers.BooleanField(read_only=True)
    first_party = serializers.BooleanField(read_only=True)
    access_token_format = serializers.CharField(read_only=True)
    backchannel_logout_uri = serializers.CharField(read_only=True)
    backchannel_logout_session_required = serializers.BooleanField(read_only=True)
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)

    def get_grant_type(self, obj: Any) -> str:

        return next((k for k, v in GRANT_TYPES.items() if v == obj.authorization_grant_type), "")

    def get_redirect_uris(self, obj: Any) -> list[str]:
        return list(obj.redirect_uris.split())

    def get_post_logout_redirect_uris(self, obj: Any) -> list[str]:
        return list(obj.post_logout_redirect_uris.split())


class OIDCClientWithSecretSerializer(OIDCClientSerializer):
    client_secret = serializers.SerializerMethodField(help_text="Shown once; Canopy keeps only a hash.")

    def get_client_secret(self, obj: Any) -> str:
        return str(self.context.get("secret", ""))


class OIDCClientCreateSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    client_type = serializers.ChoiceField(choices=["confidential", "public"], default="confidential")
    grant_type = serializers.ChoiceField(
        choices=["authorization_code", "client_credentials"], default="authorization_code"
    )
    redirect_uris = serializers.ListField(child=RedirectUriField(), required=False, default=list, max_length=50)
    post_logout_redirect_uris = serializers.ListField(
        child=RedirectUriField(), required=False, default=list, max_length=50
    )
    algorithm = serializers.ChoiceField(choices=["RS256", "ES256"], default="RS256")
    organization_required = serializers.BooleanField(default=False)
    first_party = serializers.BooleanField(default=False)
    access_token_format = serializers.ChoiceField(choices=["jwt", "opaque"], default="jwt")
    backchannel_logout_uri = RedirectUriField(required=False, allow_blank=True, default="")
    backchannel_logout_session_required = serializers.BooleanField(default=False)


class OIDCClientUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    redirect_uris = serializers.ListField(child=RedirectUriField(), required=False, max_length=50)
    post_logout_redirect_uris = serializers.ListField(child=RedirectUriField(), required=False, max_length=50)
    organization_required = serializers.BooleanField(required=False)
    first_party = serializers.BooleanField(required=False)
    backchannel_logout_uri = RedirectUriField(required=False, allow_blank=True)
    backchannel_logout_session_required = serializers.BooleanField(required=False)
