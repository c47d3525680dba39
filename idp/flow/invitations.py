"""The invitation step of the login journey: /t/<slug>/invitations/accept/?token=…

GET checks the signed link (bad, expired or used → an error page), sends a visitor who is
not signed in to this tenant through the login journey and back, then shows what accepting
means. POST (CSRF-protected, the token in the form) accepts with ``orgs.invitations``: the
signed-in user's email must be the invited one.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from idp.flow.redirects import HttpResponseSeeOther
from idp.flow.session import current_auth, login_url
from orgs.invitations import invitation_accept, invitation_from_token
from tenants.selectors import tenant_get_by_slug


@never_cache
@require_http_methods(["GET", "POST"])
def accept_invitation_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    from idp.flow.views import _page  # the journey's page renderer (branding)

    tenant = tenant_get_by_slug(tenant_slug)
    token = (request.POST.get("token") if request.method == "POST" else request.GET.get("token")) or ""
    try:
        invitation = invitation_from_token(tenant=tenant, token=token)
    except ValidationError:
        return _page(
            request,
            "error.html",
            tenant,
            status=400,
            title="Invitation not valid",
            message="This invitation link is invalid, has expired or was already used. Ask for a new one.",
        )
    auth = current_auth(request, tenant)
    if auth is None:
        return HttpResponseSeeOther(login_url(tenant, request.get_full_path()))
    org = invitation.organization
    if request.method == "GET":
        return _page(request, "invitation.html", tenant, invitation=invitation, organization=org, token=token)
    try:
        invitation_accept(actor=auth.user, invitation=invitation)
    except PermissionDenied:
        return _page(
            request,
            "error.html",
            tenant,
            status=403,
            title="Invitation for someone else",
            message="This invitation was sent to another email address. Sign in with that account.",
        )
    except ValidationError as exc:
        return _page(request, "error.html", tenant, status=400, title="Cannot accept", message=" ".join(exc.messages))
    return _page(request, "invitation_done.html", tenant, organization=org, role=invitation.role)
