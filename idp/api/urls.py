"""The management API, per tenant under /t/<slug>/api/: one row per v1 endpoint."""

from django.urls import URLPattern, include, path, re_path
from drf_spectacular.views import SpectacularRedocView
from rest_framework.views import APIView

from idp.api.problems import not_found
from idp.api.schema import TenantSchemaView
from idp.api.views import (
    acts_for,
    clients,
    domains,
    federation,
    invitations,
    jobs,
    members,
    organizations,
    saml,
    settings,
    sharing,
)

app_name = "api"

ORG = "organizations/<str:org>/"
IDP = "upstream-idps/<int:idp_id>/"

# (route under v1/, view, URL name). Order matters where routes overlap: "tree/" before "<org>/".
ROUTES: list[tuple[str, type[APIView], str]] = [
    # organizations, their members and invitations, sharing
    ("organizations/", organizations.OrganizationListView, "organizations"),
    ("organizations/tree/", organizations.OrganizationTreeView, "organizations-tree"),
    (ORG, organizations.OrganizationDetailView, "organization"),
    (ORG + "move/", organizations.OrganizationMoveView, "organization-move"),
    (ORG + "members/", members.MemberListView, "members"),
    (ORG + "members/<int:user_id>/", members.MemberDetailView, "member"),
    (ORG + "users/", members.OrganizationUserCreateView, "organization-users"),
    (ORG + "invitations/", invitations.InvitationListView, "invitations"),
    (ORG + "invitations/<int:invitation_id>/", invitations.InvitationDetailView, "invitation"),
    (ORG + "invitations/<int:invitation_id>/resend/", invitations.InvitationResendView, "invitation-resend"),
    ("sharing-policies/", sharing.SharingPolicyListView, "sharing-policies"),
    ("sharing-policies/<int:policy_id>/", sharing.SharingPolicyDetailView, "sharing-policy"),
    # settings: an organization's, then the tenant root's
    (ORG + "settings/", settings.OrganizationSettingsView, "settings"),
    (ORG + "settings/<str:section>/", settings.SectionSettingsView, "settings-section"),
    (ORG + "effective-settings/", settings.EffectiveSettingsView, "effective-settings"),
    ("settings/", settings.RootSettingsView, "root-settings"),
    ("settings/<str:section>/", settings.RootSectionSettingsView, "root-settings-section"),
    ("effective-settings/", settings.RootEffectiveSettingsView, "root-effective-settings"),
    # jobs
    ("jobs/propagation/", jobs.PropagationJobListView, "propagation-jobs"),
    ("jobs/propagation/<int:propagation_job_id>/", jobs.PropagationJobDetailView, "propagation-job"),
    ("jobs/propagation/<int:propagation_job_id>/resume/", jobs.PropagationJobResumeView, "propagation-job-resume"),
    ("jobs/sharing/", jobs.SharingJobListView, "sharing-jobs"),
    ("jobs/sharing/<int:sharing_job_id>/", jobs.SharingJobDetailView, "sharing-job"),
    ("jobs/sharing/<int:sharing_job_id>/resume/", jobs.SharingJobResumeView, "sharing-job-resume"),
    # protocol integrations: OIDC clients, upstream IdPs and their domains, SAML SPs
    ("oidc-clients/", clients.OIDCClientListView, "oidc-clients"),
    ("oidc-clients/<int:client_pk>/", clients.OIDCClientDetailView, "oidc-client"),
    ("oidc-clients/<int:client_pk>/rotate-secret/", clients.OIDCClientRotateSecretView, "oidc-client-rotate-secret"),
    ("upstream-idps/", federation.UpstreamIdPListView, "upstream-idps"),
    (IDP, federation.UpstreamIdPDetailView, "upstream-idp"),
    (IDP + "domains/", federation.UpstreamDomainListView, "upstream-domains"),
    (IDP + "domains/<int:upstream_domain_id>/", federation.UpstreamDomainDetailView, "upstream-domain"),
    (IDP + "domains/<int:upstream_domain_id>/verify/", federation.UpstreamDomainVerifyView, "upstream-domain-verify"),
    ("saml-sps/", saml.SamlSPListView, "saml-sps"),
    ("saml-sps/<int:sp_id>/", saml.SamlSPDetailView, "saml-sp"),
    # an organization's domains, acts-for links, and members' profile values there
    (ORG + "domains/", domains.OrganizationDomainListView, "organization-domains"),
    (ORG + "domains/<int:domain_id>/", domains.OrganizationDomainDetailView, "organization-domain"),
    (ORG + "acts-for/", acts_for.ActsForListView, "acts-for"),
    (ORG + "acts-for/<int:link_id>/", acts_for.ActsForDetailView, "acts-for-link"),
    (ORG + "members/<int:user_id>/profile/", members.MemberProfileView, "member-profile"),
]

v1: list[URLPattern] = [path(route, view.as_view(), name=name) for route, view, name in ROUTES]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", TenantSchemaView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url="../schema/"), name="docs"),
    # Anything else under the API is a problem+json 404, not the site's HTML page.
    re_path(r"^.*$", not_found, name="not-found"),
]
