"""Upstream sign-in pages: start (to the partner) and callback (back from it)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from saml2 import samlp

from idp.federation import oidc_client, saml_sp
from idp.federation.backchannel import backchannel_logout
from idp.federation.logout import SESSION_UPSTREAM, pop_oidc_logout, remember_upstream_session
from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.federation.services import FederationRefused, button_idps, upstream_sign_in_user
from idp.flow.redirects import home_url, safe_next
from idp.flow.revocation import this_session_ending, upstream_session_started
from idp.flow.selection import error_page
from idp.flow.session import SESSION_LOGIN, sign_in
from idp.flow.session import logout as flow_logout
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant
from tenants.routing import tenant_of

log = logging.getLogger(__name__)
AMR_FEDERATED = "fed"
ACR_FEDERATED = "urn:canopy:acr:fed"
MSG_UPSTREAM = (
    "We could not confirm your sign-in with {name}. Nothing was changed. "
    "Go back to the application and try again; if it keeps happening, tell your administrator."
)
MSG_LOGOUT_GONE = "You are signed out here. Close your browser to be sure you are signed out everywhere."
MSG_GONE = "This sign-in took too long or was already finished. Go back to the application and sign in again."


def _idp(tenant: Tenant, idp_slug: str, kind: str | None = None) -> UpstreamIdP | None:
    """The tenant's enabled upstream with this slug (and of this kind, when given); else None."""
    found = UpstreamIdP.objects.filter(tenant=tenant, slug=idp_slug, enabled=True).first()
    return found if found is not None and kind in (None, found.kind) else None


def _sign_in_unavailable(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return error_page(
        request,
        tenant=tenant,
        title="Sign-in unavailable",
        message="This sign-in option is not available.",
        status=404,
    )


def callback_url(tenant: Tenant, idp: UpstreamIdP) -> str:
    """A distinct redirect URI per upstream IdP (mix-up defence), on the configured base URL."""
    path = reverse("federation:callback", kwargs={"tenant_slug": tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def start_url(tenant: Tenant, idp: UpstreamIdP, next_url: str, login_hint: str = "") -> str:
    view = "federation:saml_start" if idp.kind == UpstreamIdP.Kind.SAML else "federation:start"
    path = reverse(view, kwargs={"tenant_slug": tenant.slug, "idp_slug": idp.slug})
    params = {k: v for k, v in (("next", next_url), ("login_hint", login_hint)) if v}
    return f"{path}?{urlencode(params)}" if params else path


@never_cache
@require_GET
def start_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.OIDC)
    if idp is None:
        return _sign_in_unavailable(request, tenant)
    next_url = safe_next(tenant=tenant, candidate=request.GET.get("next")) or ""
    login_hint = request.GET.get("login_hint", "")[:254]
    if not login_hint:
        state = request.session.get(SESSION_LOGIN)
        if isinstance(state, dict) and state.get("tenant_id") == tenant.pk:
            login_hint = str(state.get("identifier") or "")
    try:
        url = oidc_client.begin(
            request, idp=idp, redirect_uri=callback_url(tenant, idp), next_url=next_url, login_hint=login_hint
        )
    except oidc_client.UpstreamError as exc:
        log.warning("upstream %s unavailable: %s", idp.slug, exc.reason)
        return error_page(
            request,
            tenant=tenant,
            title="Sign-in unavailable",
            message=f"{idp.name} cannot be reached right now. Try again in a few minutes.",
            status=502,
        )
    return HttpResponseRedirect(url)


def _sign_in_and_go(
    request: HttpRequest,
    tenant: Tenant,
    idp: UpstreamIdP,
    user: Any,
    next_url: str,
    *,
    upstream: str,
    id_token: str = "",
    saml: dict[str, Any] | None = None,
    upstream_sid: str = "",
    upstream_subject: str = "",
) -> HttpResponse:
    """Sign in, recording the upstream (tokens name it) and what its logout needs (server-side)."""
    user.backend = "tenants.backends.TenantModelBackend"  # as authenticate() sets it
    if upstream and not idp.issuer:  # SAML entity id, or the OIDC issuer from discovery: tokens name it
        UpstreamIdP.objects.filter(pk=idp.pk, issuer="").update(issuer=upstream[:500])
    sign_in(
        request,
        user=user,
        tenant=tenant,
        amr=[AMR_FEDERATED],
        acr=ACR_FEDERATED,
        upstream=upstream or idp.slug,
        upstream_slug=idp.slug,
    )
    remember_upstream_session(request, tenant=tenant, idp=idp, id_token=id_token, saml=saml)
    upstream_session_started(request=request, idp=idp, sid=upstream_sid, subject=upstream_subject)
    request.session.pop(SESSION_LOGIN, None)
    return HttpResponseRedirect(safe_next(tenant=tenant, candidate=next_url) or home_url(tenant))


def _refuse(request: HttpRequest, tenant: Tenant, idp: UpstreamIdP, reason: str, message: str) -> HttpResponse:
    audit_record(
        actor=SYSTEM, tenant=tenant, action=AuditAction.FEDERATION_REFUSED, target=idp, data={"reason": reason}
    )
    log.info("upstream sign-in via %s refused: %s", idp.slug, reason)
    return error_page(request, tenant=tenant, title="Sign-in failed", message=message, status=403)


@never_cache
@require_GET
def callback_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug)
    if idp is None:
        return error_page(request, tenant=tenant, title="Sign in again", message=MSG_GONE)
    tx = oidc_client.pop_transaction(request, state=request.GET.get("state", "")[:200], idp=idp)
    if tx is None:
        return error_page(request, tenant=tenant, title="Sign in again", message=MSG_GONE)
    if request.GET.get("error"):
        return _refuse(
            request,
            tenant,
            idp,
            "upstream-error",
            f"{idp.name} did not sign you in. Go back to the application and try again.",
        )
    authorization_response = callback_url(tenant, idp) + "?" + request.META.get("QUERY_STRING", "")
    try:
        claims, id_token = oidc_client.finish(
            idp=idp, tx=tx, authorization_response=authorization_response, iss=request.GET.get("iss")
        )
        user = upstream_sign_in_user(idp=idp, claims=claims)
    except oidc_client.UpstreamError as exc:
        return _refuse(request, tenant, idp, exc.reason, MSG_UPSTREAM.format(name=idp.name))
    except FederationRefused as exc:
        return _refuse(request, tenant, idp, exc.reason, exc.message)
    return _sign_in_and_go(
        request,
        tenant,
        idp,
        user,
        str(tx.get("next") or ""),
        upstream=str(claims["iss"]),
        id_token=id_token,
        upstream_sid=str(claims.get("sid") or ""),
        upstream_subject=str(claims["sub"]),
    )


@never_cache
@require_GET
def saml_metadata_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    """Canopy's SP metadata for one upstream SAML IdP, at a stable URL (its entity id)."""
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.SAML)
    if idp is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    return HttpResponse(saml_sp.metadata_xml(idp), content_type="application/samlmetadata+xml")


@never_cache
@require_GET
def saml_start_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.SAML)
    if idp is None:
        return _sign_in_unavailable(request, tenant)
    next_url = safe_next(tenant=tenant, candidate=request.GET.get("next")) or ""
    try:
        return HttpResponseRedirect(saml_sp.begin(request, idp=idp, next_url=next_url))
    except Exception:  # noqa: BLE001 - bad partner metadata must not become a 500
        log.warning("upstream SAML %s: cannot build the request", idp.slug)
        return error_page(
            request,
            tenant=tenant,
            title="Sign-in unavailable",
            message=f"{idp.name} is not set up correctly. Tell your administrator.",
            status=502,
        )


@csrf_exempt  # a cross-site POST from the partner by design; the RelayState transaction is the binding
@never_cache
@require_POST
def saml_acs_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.SAML)
    saml_response = request.POST.get("SAMLResponse", "")
    if idp is None or not saml_response or len(saml_response) > 2_000_000:
        return error_page(request, tenant=tenant, title="Sign in again", message=MSG_GONE)
    relay_state = request.POST.get("RelayState", "")[:200]
    if request.POST.get("canopy_hop") != "1" and relay_state not in (request.session.get(saml_sp.SESSION_SAML) or {}):
        # The partner's cross-site POST carries no SameSite=Lax session cookie: post once more from
        # our own origin, which does. Nothing is parsed or trusted here.
        return render(
            request,
            "federation/saml_hop.html",
            {"action": request.path, "saml_response": saml_response, "relay_state": relay_state},
        )
    try:
        claims = saml_sp.finish(request, idp=idp, saml_response=saml_response, relay_state=relay_state)
        next_url = str(claims.pop("tx_next", ""))
        saml_session = dict(claims.pop("tx_session", {}))
        user = upstream_sign_in_user(idp=idp, claims=claims)
    except saml_sp.SamlError as exc:
        if exc.reason == "no-transaction":
            return error_page(request, tenant=tenant, title="Sign in again", message=MSG_GONE)
        return _refuse(request, tenant, idp, exc.reason, MSG_UPSTREAM.format(name=idp.name))
    except FederationRefused as exc:
        return _refuse(request, tenant, idp, exc.reason, exc.message)
    return _sign_in_and_go(
        request, tenant, idp, user, next_url, upstream=str(saml_session.get("issuer", "")), saml=saml_session
    )


def _continue_logout(request: HttpRequest, tenant: Tenant, continue_url: str | None) -> HttpResponse:
    """Back along the logout chain (a path inside this tenant), or to the signed-out page."""
    done = reverse("flow:logout", kwargs={"tenant_slug": tenant.slug}) + "?done=1"
    return HttpResponseRedirect(safe_next(tenant=tenant, candidate=continue_url) or done)


@never_cache
@require_GET
def logout_return_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    """The upstream OP's ``post_logout_redirect_uri``: its session is over; the chain goes on."""
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.OIDC)
    if idp is None:
        return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=404)
    continue_url = pop_oidc_logout(request, idp=idp, state=request.GET.get("state", "")[:200])
    return _continue_logout(request, tenant, continue_url)


MSG_PARTNER_LOGOUT_BAD = "This sign-out message from {name} could not be read. Nothing was changed."
MSG_REFUSED = "The logout request was not accepted."  # goes back to the partner inside the LogoutResponse


@csrf_exempt  # the partner's cross-site POST (SAML HTTP-POST binding): the signed LogoutRequest is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def saml_sls_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    """Single logout with the partner: its LogoutRequest (HTTP-Redirect or HTTP-POST), or its
    LogoutResponse (HTTP-Redirect) to our signed LogoutRequest."""
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.SAML)
    if idp is None:
        return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=404)
    data = request.POST if request.method == "POST" else request.GET
    saml_request = data.get("SAMLRequest", "")
    relay_state = data.get("RelayState", "")[:200]
    if saml_request:
        if len(saml_request) > 200_000:
            return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=400)
        if request.method == "POST" and request.POST.get("canopy_hop") != "1":
            # Like the ACS: the partner's cross-site POST carries no SameSite=Lax session cookie; post
            # once more from our own origin, which does. Nothing is parsed or trusted here.
            return render(
                request,
                "federation/saml_logout_hop.html",
                {"action": request.path, "saml_request": saml_request, "relay_state": relay_state},
            )
        binding = "post" if request.method == "POST" else "redirect"
        return _partner_logout(
            request, tenant, idp, binding=binding, saml_request=saml_request, relay_state=relay_state
        )
    if request.method == "POST":
        return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=400)
    return _logout_response(request, tenant, idp, relay_state)


def _logout_response(request: HttpRequest, tenant: Tenant, idp: UpstreamIdP, relay_state: str) -> HttpResponse:
    """The partner's LogoutResponse to our signed LogoutRequest: the chain goes on."""
    saml_response = request.GET.get("SAMLResponse", "")
    if not saml_response or len(saml_response) > 200_000:
        return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=400)
    try:
        continue_url = saml_sp.logout_finish(
            request,
            idp=idp,
            saml_response=saml_response,
            relay_state=relay_state,
            raw_query=request.META.get("QUERY_STRING", ""),
        )
    except saml_sp.SamlError as exc:
        log.info("upstream SAML logout via %s not confirmed: %s", idp.slug, exc.reason)
        return error_page(
            request,
            tenant=tenant,
            title="Signed out here",
            message=f"You are signed out here, but {idp.name} did not confirm that you are signed out there. "
            "Close your browser to be sure.",
            status=400,
        )
    return _continue_logout(request, tenant, continue_url)


def _session_matches(request: HttpRequest, tenant: Tenant, idp: UpstreamIdP, logout: saml_sp.PartnerLogout) -> bool:
    """The browser's federated session is the one the partner names (NameID, and SessionIndex if given)."""
    data = request.session.get(SESSION_UPSTREAM)
    if not isinstance(data, dict) or data.get("tenant_id") != tenant.pk or data.get("idp") != idp.pk:
        return False
    facts = data.get("saml") or {}
    if str(facts.get("name_id") or "") != logout.name_id:
        return False
    return not logout.session_indexes or str(facts.get("session_index") or "") in logout.session_indexes


def _has_upstream_session(request: HttpRequest, tenant: Tenant, idp: UpstreamIdP) -> bool:
    data = request.session.get(SESSION_UPSTREAM)
    return isinstance(data, dict) and data.get("tenant_id") == tenant.pk and data.get("idp") == idp.pk


def _partner_logout(
    request: HttpRequest, tenant: Tenant, idp: UpstreamIdP, *, binding: str, saml_request: str, relay_state: str
) -> HttpResponse:
    """The partner signs the person out: check the request, sign out here, answer a signed LogoutResponse.

    Only this browser's Canopy session ends (the logout chain of other participants is not run: the
    partner waits for its answer). A bad request, or one naming another person, signs no one out.
    A browser with no session from this partner is already signed out here: Success.
    """

    logout, reason = saml_sp.partner_logout_request(
        idp=idp, binding=binding, saml_request=saml_request, raw_query=request.META.get("QUERY_STRING", "")
    )
    if logout is None:
        log.info("upstream SAML logout request via %s unreadable: %s", idp.slug, reason)
        return error_page(
            request, tenant=tenant, title="Signed out", message=MSG_PARTNER_LOGOUT_BAD.format(name=idp.name), status=400
        )
    failure = (samlp.STATUS_REQUESTER, samlp.STATUS_REQUEST_DENIED, MSG_REFUSED) if reason else None
    if (
        failure is None
        and _has_upstream_session(request, tenant, idp)
        and not _session_matches(request, tenant, idp, logout)
    ):
        reason = "other-session"
        failure = (samlp.STATUS_REQUESTER, samlp.STATUS_UNKNOWN_PRINCIPAL, MSG_REFUSED)
    if failure is None:
        signed_in_here = _has_upstream_session(request, tenant, idp)
        if signed_in_here:  # a session that did not come from this partner is not its to end
            this_session_ending(request, tenant=tenant)  # Canopy's own RPs hear of it (back-channel)
            flow_logout(request)
        audit_record(
            actor=SYSTEM,
            tenant=tenant,
            action=AuditAction.FEDERATION_PARTNER_LOGOUT,
            target=idp,
            data={"ended": signed_in_here},
        )
    else:
        log.info("upstream SAML logout request via %s refused: %s", idp.slug, reason)
        audit_record(
            actor=SYSTEM,
            tenant=tenant,
            action=AuditAction.FEDERATION_PARTNER_LOGOUT_REFUSED,
            target=idp,
            data={"reason": reason},
        )
    try:
        location = saml_sp.partner_logout_response(idp=idp, logout=logout, relay_state=relay_state, failure=failure)
    except saml_sp.SamlError:
        return error_page(request, tenant=tenant, title="Signed out", message=MSG_LOGOUT_GONE, status=502)
    return HttpResponseRedirect(location)


@csrf_exempt  # a server-to-server POST without cookies; the partner's signed logout token is the proof
@never_cache
@require_POST
def backchannel_logout_view(request: HttpRequest, tenant_slug: str, idp_slug: str) -> HttpResponse:
    """OIDC Back-Channel Logout: the partner ended a session; end the Canopy sessions it started."""
    tenant = tenant_of(request)
    idp = _idp(tenant, idp_slug, UpstreamIdP.Kind.OIDC)
    if idp is None:
        return JsonResponse({"error": "invalid_request", "error_description": "Unknown identity provider."}, status=404)
    response: HttpResponse
    try:
        backchannel_logout(idp=idp, token=request.POST.get("logout_token", ""))
    except oidc_client.UpstreamError as exc:
        log.info("back-channel logout via %s refused: %s", idp.slug, exc.reason)
        response = JsonResponse(
            {"error": "invalid_request", "error_description": f"The logout token was refused ({exc.reason})."},
            status=400,
        )
    else:
        response = HttpResponse(status=200)
    response["Cache-Control"] = "no-store"
    return response


def domain_status(domain: UpstreamDomain) -> str:
    if domain.verified:
        return f"verified ({domain.verified_how})"
    return domain.last_check or "not verified yet: publish the TXT record, then check"


def saml_metadata_status(idp: UpstreamIdP) -> str:
    """For the admin: when the metadata was last fetched, and why the last fetch failed."""
    if not idp.saml_metadata_url:
        return "entered by hand" if idp.saml_metadata else ""
    fetched = f"{idp.saml_metadata_fetched_at:%Y-%m-%d %H:%M} UTC" if idp.saml_metadata_fetched_at else "never"
    if idp.saml_metadata_error:
        return f"Last fetch failed: {idp.saml_metadata_error} Still using the metadata fetched {fetched}."
    return f"Fetched {fetched}."


def login_options(*, request: HttpRequest, tenant: Tenant, next_url: str) -> list[tuple[str, str]]:
    """'Sign in with …' buttons for the login page (registered with idp.flow.views)."""

    return [(f"Sign in with {idp.name}", start_url(tenant, idp, next_url)) for idp in button_idps(tenant=tenant)]
