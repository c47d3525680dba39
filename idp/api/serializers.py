"""Shapes of the management API. Validation of content stays in ``orgs.services``."""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from rest_framework import serializers

from orgs.selectors import LeasedJobStatus, MembershipOrigin, MembershipRole, SharingJobKind, SharingMode


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    identifier = serializers.CharField(
        read_only=True, help_text="Short name, unique in the tenant; may be changed. The id never changes."
    )
    display_name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    logo_uri = serializers.URLField(read_only=True)
    parent = serializers.UUIDField(source="parent_id", read_only=True, allow_null=True)
    depth = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class OrganizationTreeSerializer(OrganizationSerializer):
    children = serializers.SerializerMethodField()

    def get_children(self, obj: Any) -> list[dict[str, Any]]:
        kids = self.context["children"].get(obj.pk, [])
        return [OrganizationTreeSerializer(k, context=self.context).data for k in kids]


class OrganizationCreateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    logo_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    parent = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=64, help_text="Parent organization id or identifier."
    )
    become_admin = serializers.BooleanField(
        required=False,
        default=False,
        help_text="A tenant-level user (no home organization) is shared into the new organization as its admin.",
    )


class OrganizationUpdateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=64, required=False)
    display_name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    logo_uri = serializers.CharField(required=False, allow_blank=True, max_length=500)


class OrganizationMoveSerializer(serializers.Serializer):
    parent = serializers.CharField(
        allow_null=True, max_length=64, help_text="New parent id or identifier; null for top level."
    )


class OrganizationDeleteQuerySerializer(serializers.Serializer):
    cascade = serializers.BooleanField(required=False, default=False)


class MembershipSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    origin = serializers.ChoiceField(choices=MembershipOrigin.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MembershipAddSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=MembershipRole.choices)


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=256, required=False, allow_null=True, default=None, write_only=True, style={"input_type": "password"}
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class SharingPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    mode = serializers.ChoiceField(choices=SharingMode.choices, read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class SharingPolicyCreateSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="User id or username, in this tenant.")
    organization = serializers.CharField(
        max_length=64, allow_null=True, required=False, default=None, help_text="Id or identifier; null for mode all."
    )
    mode = serializers.ChoiceField(choices=SharingMode.choices, default=SharingMode.SELECTED)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    accepted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.CharField(
        max_length=254,
        help_text="The address to invite. A person without an account here creates one from the emailed link "
        "(password and profile), and joins the organization.",
    )
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


# --- Shared checks ---------------------------------------------------------------------


def refuse_nul(value: Any, field: str = "value") -> Any:
    """PostgreSQL cannot store NUL characters (in text or JSON): refuse them as a field error."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError(f"The {field} must not contain NUL characters.")
    if isinstance(value, dict):
        for k, v in value.items():
            refuse_nul(k, field)
            refuse_nul(v, field)
    elif isinstance(value, list):
        for v in value:
            refuse_nul(v, field)
    return value


# --- Settings and jobs ---------------------------------------------------------------------


class _LeasedJobSerializer(serializers.Serializer):
    """The fields every leased job (propagation, sharing) shows the same way."""

    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=LeasedJobStatus.choices, read_only=True)
    total = serializers.IntegerField(read_only=True)
    processed = serializers.IntegerField(read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent of the organizations done.")
    attempts = serializers.IntegerField(read_only=True)
    errors = serializers.ListField(child=serializers.DictField(), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    #: Every field, in the order an answer shows them (the kind's own among the common ones).
    field_order: tuple[str, ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.field_order}


class PropagationJobSerializer(_LeasedJobSerializer):
    section = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True)
    written = serializers.IntegerField(read_only=True, help_text="Rows changed (older-version rows only).")
    field_order = (
        "id",
        "section",
        "organization",
        "version",
        "reason",
        "status",
        "total",
        "processed",
        "written",
        "progress",
        "attempts",
        "errors",
        "created_at",
        "started_at",
        "finished_at",
    )


class SharingJobSerializer(_LeasedJobSerializer):
    kind = serializers.ChoiceField(choices=SharingJobKind.choices, read_only=True)
    policy = serializers.IntegerField(source="policy_id", read_only=True, allow_null=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    mode = serializers.ChoiceField(choices=SharingMode.choices, read_only=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, read_only=True)
    changed = serializers.IntegerField(read_only=True, help_text="Memberships added (share) or removed (unshare).")
    field_order = (
        "id",
        "kind",
        "policy",
        "user",
        "organization",
        "mode",
        "role",
        "status",
        "total",
        "processed",
        "changed",
        "progress",
        "attempts",
        "errors",
        "created_at",
        "started_at",
        "finished_at",
    )


class SettingsOverridesSerializer(serializers.Serializer):
    organization = serializers.UUIDField(allow_null=True, help_text="Null: the tenant root.")
    sections = serializers.DictField(
        child=serializers.DictField(), help_text="Section → the fields this organization overrides (only those)."
    )


class SectionOverridesSerializer(serializers.Serializer):
    section = serializers.CharField()
    overrides = serializers.DictField(help_text="The fields this organization overrides in the section.")
    job = PropagationJobSerializer(allow_null=True, required=False, help_text="The propagation a change started.")


class EffectiveFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    source = serializers.CharField(help_text='"default", "root" or the id (hex) of the organization that set it.')
    source_organization = serializers.UUIDField(allow_null=True)
    source_label = serializers.CharField()
    overridden_here = serializers.BooleanField()
    editable = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why an organization cannot override it (empty when it can).")


class EffectiveSectionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    fields = EffectiveFieldSerializer(many=True)


class EffectiveSettingsSerializer(serializers.Serializer):
    organization = serializers.UUIDField(allow_null=True, help_text="Null: the tenant root.")
    sections = EffectiveSectionSerializer(many=True)


class SharingPolicyResultSerializer(SharingPolicySerializer):
    job = serializers.SerializerMethodField()

    def get_job(self, obj: Any) -> dict[str, Any] | None:
        job = self.context.get("job")
        return dict(SharingJobSerializer(job).data) if job is not None else None


# --- Organization domains and acts-for links ------------------------------------------------


class OrganizationDomainSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    domain = serializers.CharField(max_length=253)
    verified = serializers.BooleanField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class ActsForLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    on_behalf_of = serializers.UUIDField(source="on_behalf_of_id", read_only=True)
    on_behalf_of_identifier = serializers.CharField(source="on_behalf_of.identifier", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ActsForCreateSerializer(serializers.Serializer):
    on_behalf_of = serializers.CharField(max_length=64, help_text="Id or identifier of the represented organization.")


# --- Organization profile values -----------------------------------------------------------


class MemberProfileSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    organization = serializers.UUIDField()
    resolved = serializers.DictField(
        child=serializers.CharField(allow_blank=True), help_text="Values with this organization selected."
    )
    own_values = serializers.DictField(
        child=serializers.CharField(), help_text="The values this organization set for the user."
    )
    modes = serializers.DictField(child=serializers.CharField(), help_text="Attribute → source mode (tenant root).")


class MemberProfilePatchSerializer(serializers.Serializer):
    given_name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    family_name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    name = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    email = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)


# --- OIDC clients -------------------------------------------------------------------------


def check_redirect_uri(uri: str) -> str:
    """The service's rule (idp.oidc.services.redirect_uri_problem), as a field error here."""
    from idp.oidc.services import redirect_uri_problem

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
        from idp.oidc.services import GRANT_TYPES

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


# --- Upstream IdPs ------------------------------------------------------------------------


class UpstreamDomainSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    domain = serializers.CharField(read_only=True)
    verified = serializers.BooleanField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    verified_how = serializers.CharField(read_only=True)
    last_check = serializers.CharField(read_only=True, help_text="Why the last check did not verify it.")
    challenge = serializers.SerializerMethodField(help_text="The DNS TXT record to publish to verify the domain.")

    def get_challenge(self, obj: Any) -> dict[str, str]:
        from idp.federation.services import domain_challenge

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
        from idp.federation.backchannel import backchannel_logout_uri
        from idp.federation.models import UpstreamIdP

        return backchannel_logout_uri(obj) if obj.kind == UpstreamIdP.Kind.OIDC else ""

    def get_jit_organizations(self, obj: Any) -> list[str]:
        return sorted(str(pk) for pk in obj.jit_organizations.values_list("pk", flat=True))


HTTP_URL = URLValidator(schemes=["http", "https"], message="Use an absolute http(s) URL.")


def _idp_fields(required: bool) -> dict[str, serializers.Field]:
    from idp.federation.models import UpstreamIdP

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
        from idp.federation.models import UpstreamIdP

        return {
            "slug": serializers.SlugField(max_length=64),
            "kind": serializers.ChoiceField(choices=UpstreamIdP.Kind.choices, default=UpstreamIdP.Kind.OIDC),
            "domains": serializers.ListField(
                child=serializers.CharField(max_length=253, validators=[refuse_nul]), required=False, max_length=50
            ),
            **_idp_fields(required=True),
        }


# --- SAML service providers -----------------------------------------------------------------


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
    from idp.saml.models import ServiceProvider

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
