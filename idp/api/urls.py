"""The management API, per tenant under /t/<slug>/api/."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularRedocView

from idp.api import views
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
    path("sharing-policies/", views.SharingPolicyListView.as_view(), name="sharing-policies"),
    path("sharing-policies/<int:policy_id>/", views.SharingPolicyDetailView.as_view(), name="sharing-policy"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", TenantSchemaView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url="../schema/"), name="docs"),
    # Anything else under the API is a problem+json 404, not the site's HTML page.
    re_path(r"^.*$", views.not_found, name="not-found"),
]
