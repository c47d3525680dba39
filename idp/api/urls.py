"""The management API, per tenant under /t/<slug>/api/."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularRedocView

from idp.api import views, views_clients, views_federation, views_jobs, views_organizations, views_saml, views_settings
from idp.api.schema import TenantSchemaView

app_name = "api"

v1 = [
    path("organizations/", views.OrganizationListView.as_view(), name="organizations"),
    path("organizations/tree/", views.OrganizationTreeView.as_view(), name="organizations-tree"),
    path("organizations/<str:org>/", views.OrganizationDetailView.as_view(), name="organization"),
    path("organizations/<str:org>/move/", views.OrganizationMoveView.as_view(), name="organization-move"),
    path("organizations/<str:org>/members/", views.MemberListView.as_view(), name="members"),
    path("organizations/<str:org>/members/<int:user_id>/", views.MemberDetailView.as_view(), name="member"),
    path("organizations/<str:org>/users/", views.OrganizationUserCreateView.as_view(), name="organization-users"),
    path("organizations/<str:org>/invitations/", views.InvitationListView.as_view(), name="invitations"),
    path(
        "organizations/<str:org>/invitations/<int:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="invitation",
    ),
    path(
        "organizations/<str:org>/invitations/<int:invitation_id>/resend/",
        views.InvitationResendView.as_view(),
        name="invitation-resend",
    ),
    path("sharing-policies/", views.SharingPolicyListView.as_view(), name="sharing-policies"),
    path("sharing-policies/<int:policy_id>/", views.SharingPolicyDetailView.as_view(), name="sharing-policy"),
    # Settings overrides and effective settings (idp/api/views_settings.py)
    path("organizations/<str:org>/settings/", views_settings.OrganizationSettingsView.as_view(), name="settings"),
    path(
        "organizations/<str:org>/settings/<str:section>/",
        views_settings.SectionSettingsView.as_view(),
        name="settings-section",
    ),
    path(
        "organizations/<str:org>/effective-settings/",
        views_settings.EffectiveSettingsView.as_view(),
        name="effective-settings",
    ),
    path("settings/", views_settings.RootSettingsView.as_view(), name="root-settings"),
    path("settings/<str:section>/", views_settings.RootSectionSettingsView.as_view(), name="root-settings-section"),
    path("effective-settings/", views_settings.RootEffectiveSettingsView.as_view(), name="root-effective-settings"),
    # Jobs (idp/api/views_jobs.py)
    path("jobs/propagation/", views_jobs.PropagationJobListView.as_view(), name="propagation-jobs"),
    path(
        "jobs/propagation/<int:propagation_job_id>/",
        views_jobs.PropagationJobDetailView.as_view(),
        name="propagation-job",
    ),
    path(
        "jobs/propagation/<int:propagation_job_id>/resume/",
        views_jobs.PropagationJobResumeView.as_view(),
        name="propagation-job-resume",
    ),
    path("jobs/sharing/", views_jobs.SharingJobListView.as_view(), name="sharing-jobs"),
    path("jobs/sharing/<int:sharing_job_id>/", views_jobs.SharingJobDetailView.as_view(), name="sharing-job"),
    path(
        "jobs/sharing/<int:sharing_job_id>/resume/",
        views_jobs.SharingJobResumeView.as_view(),
        name="sharing-job-resume",
    ),
    # OIDC clients (idp/api/views_clients.py)
    path("oidc-clients/", views_clients.OIDCClientListView.as_view(), name="oidc-clients"),
    path("oidc-clients/<int:client_pk>/", views_clients.OIDCClientDetailView.as_view(), name="oidc-client"),
    path(
        "oidc-clients/<int:client_pk>/rotate-secret/",
        views_clients.OIDCClientRotateSecretView.as_view(),
        name="oidc-client-rotate-secret",
    ),
    # Upstream IdPs and their domains (idp/api/views_federation.py)
    path("upstream-idps/", views_federation.UpstreamIdPListView.as_view(), name="upstream-idps"),
    path("upstream-idps/<int:idp_id>/", views_federation.UpstreamIdPDetailView.as_view(), name="upstream-idp"),
    path(
        "upstream-idps/<int:idp_id>/domains/",
        views_federation.UpstreamDomainListView.as_view(),
        name="upstream-domains",
    ),
    path(
        "upstream-idps/<int:idp_id>/domains/<int:upstream_domain_id>/",
        views_federation.UpstreamDomainDetailView.as_view(),
        name="upstream-domain",
    ),
    path(
        "upstream-idps/<int:idp_id>/domains/<int:upstream_domain_id>/verify/",
        views_federation.UpstreamDomainVerifyView.as_view(),
        name="upstream-domain-verify",
    ),
    # SAML service providers (idp/api/views_saml.py)
    path("saml-sps/", views_saml.SamlSPListView.as_view(), name="saml-sps"),
    path("saml-sps/<int:sp_id>/", views_saml.SamlSPDetailView.as_view(), name="saml-sp"),
    # Organization domains, acts-for links, members' profile values (idp/api/views_organizations.py)
    path(
        "organizations/<str:org>/domains/",
        views_organizations.OrganizationDomainListView.as_view(),
        name="organization-domains",
    ),
    path(
        "organizations/<str:org>/domains/<int:domain_id>/",
        views_organizations.OrganizationDomainDetailView.as_view(),
        name="organization-domain",
    ),
    path("organizations/<str:org>/acts-for/", views_organizations.ActsForListView.as_view(), name="acts-for"),
    path(
        "organizations/<str:org>/acts-for/<int:link_id>/",
        views_organizations.ActsForDetailView.as_view(),
        name="acts-for-link",
    ),
    path(
        "organizations/<str:org>/members/<int:user_id>/profile/",
        views_organizations.MemberProfileView.as_view(),
        name="member-profile",
    ),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", TenantSchemaView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url="../schema/"), name="docs"),
    # Anything else under the API is a problem+json 404, not the site's HTML page.
    re_path(r"^.*$", views.not_found, name="not-found"),
]
