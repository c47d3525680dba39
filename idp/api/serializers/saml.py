"""SAML service providers, from metadata or from fields."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from idp.api.serializers.common import HTTP_URL, refuse_nul
from idp.saml.models import ServiceProvider


class SamlSPSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    entity_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    acs = serializers.ListField(child=serializers.DictField(), read_only=True)
    slo = serializers.ListField(child=serializers.DictField(), read_only=True)
    signing_certificates = serializers.ListField(child=serializers.CharField(), read_only=True)
    encryption_certificate = serializers.CharField(read_only=True)
    nameid_format = serializers.CharField(read_only=True)
    attribute_release = serializers.ListField(child=serializers.CharField(), read_only=True)
    attribute_names = serializers.DictField(read_only=True)
    org_name_source = serializers.CharField(read_only=True)
    sign_response = serializers.BooleanField(read_only=True)
    sign_assertion = serializers.BooleanField(read_only=True)
    encrypt_assertion = serializers.BooleanField(read_only=True)
    want_authn_requests_signed = serializers.BooleanField(read_only=True)
    idp_initiated = serializers.BooleanField(read_only=True)
    organization_required = serializers.BooleanField(read_only=True)
    default_organization = serializers.UUIDField(source="default_organization_id", read_only=True, allow_null=True)
    metadata_source = serializers.CharField(read_only=True)
    metadata_url = serializers.SerializerMethodField(help_text="The http(s) URL its metadata is fetched from, if any.")
    metadata_fetched_at = serializers.DateTimeField(read_only=True, allow_null=True)
    metadata_error = serializers.CharField(read_only=True, help_text="Why the last fetch failed (else empty).")
    created_at = serializers.DateTimeField(read_only=True)

    def get_metadata_url(self, obj: Any) -> str:
        source = str(obj.metadata_source or "")
        return source if source.startswith(("https://", "http://")) else ""


def _sp_fields() -> dict[str, serializers.Field]:

    return {
        "name": serializers.CharField(max_length=200, required=False, allow_blank=True),
        "acs": serializers.ListField(child=serializers.DictField(), required=False, max_length=50),
        "slo": serializers.ListField(child=serializers.DictField(), required=False, max_length=50),
        "signing_certificates": serializers.ListField(
            child=serializers.CharField(max_length=20000), required=False, max_length=10
        ),
        "encryption_certificate": serializers.CharField(max_length=20000, required=False, allow_blank=True),
        "nameid_format": serializers.ChoiceField(choices=ServiceProvider.NameIDFormat.choices, required=False),
        "attribute_release": serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=50
        ),
        "attribute_names": serializers.DictField(required=False),
        "org_name_source": serializers.ChoiceField(choices=ServiceProvider.OrgNameSource.choices, required=False),
        "sign_response": serializers.BooleanField(required=False),
        "sign_assertion": serializers.BooleanField(required=False),
        "encrypt_assertion": serializers.BooleanField(required=False),
        "want_authn_requests_signed": serializers.BooleanField(required=False),
        "idp_initiated": serializers.BooleanField(required=False),
        "organization_required": serializers.BooleanField(required=False),
        "default_organization": serializers.CharField(
            max_length=64, required=False, allow_null=True, help_text="Id or identifier."
        ),
        "metadata_url": serializers.URLField(
            max_length=1024,
            required=False,
            help_text="Fetch the SP's metadata from this http(s) URL now, and again periodically.",
            validators=[HTTP_URL],
        ),
    }


class SamlSPUpdateSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return _sp_fields()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("acs", "slo", "attribute_names"):
            if name in attrs:
                try:
                    refuse_nul(attrs[name])
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({name: exc.detail}) from exc
        return attrs


class SamlSPCreateSerializer(SamlSPUpdateSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "metadata": serializers.CharField(
                max_length=2 * 1024 * 1024,
                required=False,
                help_text="The SP's metadata XML (parsed safely: no DTDs, entities or external references).",
            ),
            "entity_id": serializers.CharField(max_length=1024, required=False),
            **_sp_fields(),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("metadata") and not attrs.get("entity_id") and not attrs.get("metadata_url"):
            raise serializers.ValidationError(
                {"metadata": ["Post the SP's metadata XML or its metadata_url, or its entity_id and fields (acs, …)."]}
            )
        return attrs
