"""Per-tenant SAML endpoints: metadata, SSO (HTTP-Redirect, HTTP-POST, IdP-initiated), SLO.

An AuthnRequest is validated completely (registered issuer, signature, Destination,
IssueInstant window, ACS from the registration, replay) before the browser goes
anywhere. If the user must sign in or pick an organization, the validated request is
parked in the session under a random key and the journey resumes at ``sso/continue``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from lxml import etree

from idp.flow import decision, selection, stepup
from idp.flow import session as flow_session
from idp.saml import crypto, encryption, protocol
from idp.saml import selectors as saml_selectors
from idp.saml.attributes import assertion_attributes
from idp.saml.models import BINDING_POST, BINDING_REDIRECT, ServiceProvider
from idp.saml.selectors import service_provider_by_pk, service_provider_get
from idp.saml.xml import SAML, SAMLP, deflate, text, to_bytes
from orgs.tree.models import Organization
from orgs.tree.selectors import EligibleOrganization, user_eligible_organizations
from tenants.models import Tenant
from tenants.routing import tenant_of

SESSION_PENDING = "canopy.saml.pending"
SESSION_ISSUED = "canopy.saml.issued"
PENDING_TTL_SECONDS = 15 * 60
MAX_PENDING = 10
REPLAY_TTL_SECONDS = int((protocol.ISSUE_INSTANT_PAST + protocol.ISSUE_INSTANT_FUTURE).total_seconds()) + 60


# --- URLs -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1024)
def _absolute(base: str, slug: str, name: str) -> str:
    return base + reverse(f"saml:{name}", kwargs={"tenant_slug": slug})


def absolute(tenant: Tenant, name: str) -> str:
    """``CANOPY_BASE_URL`` + the path: never from the Host header."""
    return _absolute(settings.CANOPY_BASE_URL, tenant.slug, name)


def entity_id(tenant: Tenant) -> str:
    return absolute(tenant, "metadata")


# --- responses to the browser ----------------------------------------------------------------
def error_page(request: HttpRequest, tenant: Tenant, message: str, status: int = 400) -> HttpResponse:
    response = selection.error_page(
        request, tenant=tenant, title="Sign-in request refused", message=message, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


POST_FORM = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
    "<title>Signing you in…</title></head>\n"
    '<body onload="document.forms[0].submit()">\n<form method="post" action="{action}">\n{fields}\n'
    "<noscript><p>Your browser does not run scripts. Press Continue to go on.</p>"
    '<button type="submit">Continue</button></noscript>\n</form>\n</body></html>\n'
)


def post_form(request: HttpRequest, *, action: str, field: str, xml: bytes, relay_state: str) -> HttpResponse:
    """The HTTP-POST binding: an auto-submitting form (built without the template engine: it is on the hot path)."""
    fields = [(field, base64.b64encode(xml).decode("ascii"))]
    if relay_state:
        fields.append(("RelayState", relay_state))
    inputs = "".join(f'<input type="hidden" name="{escape(n)}" value="{escape(v)}">' for n, v in fields)
    response = HttpResponse(POST_FORM.format(action=escape(action), fields=inputs))
    response["Cache-Control"] = "no-store"
    return response


def redirect_binding(tenant: Tenant, *, location: str, field: str, xml: bytes, relay_state: str) -> HttpResponse:
    """HTTP-Redirect with the signature over the query octets (SAML Bindings 3.4.4.1)."""
    query = f"{field}={quote_plus(base64.b64encode(deflate(xml)).decode('ascii'))}"
    if relay_state:
        query += f"&RelayState={quote_plus(relay_state)}"
    query += f"&SigAlg={quote_plus(crypto.RSA_SHA256)}"
    signature = crypto.sign_raw(crypto.idp_key(tenant), query.encode("ascii"))
    query += f"&Signature={quote_plus(base64.b64encode(signature).decode('ascii'))}"
    response = HttpResponseRedirect(location + ("&" if "?" in location else "?") + query)
    response["Cache-Control"] = "no-store"
    return response


def signed(tenant: Tenant, root: etree._Element) -> bytes:
    return to_bytes(crypto.backend().sign(root, [root], crypto.idp_key(tenant)))


# --- metadata ---------------------------------------------------------------------------------
@require_GET
def metadata_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    keys = crypto.idp_keys(tenant)
    key = keys.signing
    root = protocol.build_metadata(
        entity_id=entity_id(tenant),
        certificate_b64=key.certificate_b64,
        other_certificates=[k.certificate_b64 for k in keys.published if k.kid != key.kid],
        sso_redirect=absolute(tenant, "sso_redirect"),
        sso_post=absolute(tenant, "sso_post"),
        slo_redirect=absolute(tenant, "slo_redirect"),
        slo_post=absolute(tenant, "slo_post"),
    )
    xml = to_bytes(crypto.backend().sign(root, [root], key))
    response = HttpResponse(
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml, content_type="application/samlmetadata+xml"
    )
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- SSO ----------------------------------------------------------------------------------------
@dataclass
class Pending:
    """A validated sign-in request waiting for the login journey or the picker."""

    sp_id: int
    request_id: str | None  # None for IdP-initiated
    acs_url: str
    relay_state: str
    force_authn: bool
    is_passive: bool
    organization: str
    received: int
    session_key: str | None
    require_mfa: bool = False  # RequestedAuthnContext: REFEDS MFA (idp.flow.stepup)
    stepped_up: bool = False  # the journey already ran once for it
    decision: dict[str, Any] | None = None  # the organization decision, once made (idp.flow.decision)
    policy_stepped: bool = False  # the step-up to the organization's policy already ran once
    source: str = ""  # where the organization came from (idp.flow.decision.Source), once chosen


@require_GET
@never_cache
def sso_redirect_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    try:
        incoming = protocol.decode_redirect(request.META.get("QUERY_STRING", ""), "SAMLRequest")
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    return _sso(request, tenant, incoming)


# The HTTP-POST binding is a cross-site form post from the SP by design, so there is no
# CSRF token; the AuthnRequest itself is checked instead (registered issuer and ACS,
# signature when required, Destination, IssueInstant window, one use per request ID).
@csrf_exempt
@require_http_methods(["POST"])
@never_cache
def sso_post_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    try:
        incoming = protocol.decode_post(request.POST.get("SAMLRequest", ""), request.POST.get("RelayState", ""))
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    return _sso(request, tenant, incoming)


def _sso(request: HttpRequest, tenant: Tenant, incoming: protocol.Incoming) -> HttpResponse:
    cached = saml_selectors.versions(tenant=tenant)  # one cache round trip for both per-process caches
    sp = service_provider_get(tenant=tenant, entity_id=incoming.issuer, version=cached.service_providers)
    if sp is None:
        return error_page(
            request, tenant, "The application that sent you here is not registered with this sign-in service."
        )
    try:
        was_signed = protocol.verify_signature(incoming, sp, required=sp.want_authn_requests_signed)
        request_id = protocol.check_common(
            incoming,
            expected_tag=SAMLP + "AuthnRequest",
            destinations={absolute(tenant, "sso_redirect"), absolute(tenant, "sso_post")},
            signed=was_signed,
        )
        replay_key = "saml:authn:" + hashlib.sha256(f"{tenant.pk}|{sp.entity_id}|{request_id}".encode()).hexdigest()
        if not cache.add(replay_key, 1, timeout=REPLAY_TTL_SECONDS):
            raise protocol.RequestRejected("this sign-in request was already used")
        authn = protocol.read_authn_request(incoming, sp, request_id=request_id)
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    except protocol.RequestFailed as exc:
        acs = protocol.select_acs(
            sp,
            url=incoming.root.get("AssertionConsumerServiceURL"),
            index=incoming.root.get("AssertionConsumerServiceIndex"),
        )
        if acs is None:
            return error_page(request, tenant, exc.message)
        return _failure(
            request,
            tenant=tenant,
            sp=sp,
            acs_url=acs,
            in_response_to=incoming.root.get("ID"),
            relay_state=incoming.relay_state,
            failure=exc,
        )
    pending = Pending(
        sp_id=sp.pk,
        request_id=authn.request_id,
        acs_url=authn.acs_url,
        relay_state=authn.relay_state,
        force_authn=authn.force_authn,
        is_passive=authn.is_passive,
        organization=(request.GET.get("organization") or "").strip(),
        received=int(time.time()),
        session_key=request.session.session_key,
        require_mfa=authn.require_mfa,
    )
    return _proceed(request, tenant, sp, pending, key=None, org_version=cached.organizations)


@require_GET
@never_cache
def idp_initiated_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """``sso/init?sp=<entity id>[&RelayState=...][&organization=...]``, for SPs that allow it."""
    tenant = tenant_of(request)
    sp = service_provider_get(tenant=tenant, entity_id=request.GET.get("sp", ""))
    if sp is None or not sp.idp_initiated:
        return error_page(request, tenant, "This application does not accept sign-ins started here.")
    acs = protocol.select_acs(sp)
    relay = request.GET.get("RelayState", "")
    if acs is None or len(relay) > protocol.MAX_RELAY_STATE:
        return error_page(request, tenant, "This application has no usable assertion consumer service.")
    pending = Pending(
        sp_id=sp.pk,
        request_id=None,
        acs_url=acs,
        relay_state=relay,
        force_authn=False,
        is_passive=False,
        organization=(request.GET.get("organization") or "").strip(),
        received=int(time.time()),
        session_key=request.session.session_key,
    )
    return _proceed(request, tenant, sp, pending, key=None)


@require_GET
@never_cache
def sso_continue_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    key = request.GET.get("k", "")
    data = _pending_all(request).get(key)
    if (
        not isinstance(data, dict)
        or data.get("tenant_id") != tenant.pk
        or time.time() - data["stored"] > PENDING_TTL_SECONDS
    ):
        return error_page(
            request, tenant, "This sign-in request has expired. Go back to the application and start again."
        )
    pending = Pending(**data["pending"])
    sp = service_provider_by_pk(tenant=tenant, pk=pending.sp_id)
    if sp is None:
        return error_page(request, tenant, "The application is no longer registered.")
    return _proceed(request, tenant, sp, pending, key=key)


def _pending_all(request: HttpRequest) -> dict[str, Any]:
    found = request.session.get(SESSION_PENDING)
    return found if isinstance(found, dict) else {}


def _park(request: HttpRequest, tenant: Tenant, pending: Pending) -> str:
    now = time.time()
    parked = {k: v for k, v in _pending_all(request).items() if now - v.get("stored", 0) < PENDING_TTL_SECONDS}
    while len(parked) >= MAX_PENDING:
        parked.pop(min(parked, key=lambda k: parked[k]["stored"]))
    key = secrets.token_urlsafe(16)
    parked[key] = {"tenant_id": tenant.pk, "stored": now, "pending": asdict(pending)}
    request.session[SESSION_PENDING] = parked
    return key


def _drop(request: HttpRequest, key: str | None) -> None:
    parked = _pending_all(request)
    if key and key in parked:
        del parked[key]
        request.session[SESSION_PENDING] = parked


def _continue_url(tenant: Tenant, key: str, *, organization: str = "") -> str:
    """Where the journey returns to. ``organization`` tells the journey's pages which organization's
    rules and branding to show before sign-in; it decides nothing (the parked request does)."""
    params = {"k": key, **({"organization": organization} if organization else {})}
    return reverse("saml:sso_continue", kwargs={"tenant_slug": tenant.slug}) + "?" + urlencode(params)


def _requested(sp: ServiceProvider, pending: Pending) -> str:
    """The organization the SP asked for: the request's parameter, else the SP's default."""
    return pending.organization or (str(sp.default_organization_id) if sp.default_organization_id else "")


def _proceed(  # noqa: PLR0911 - one return per outcome (step-up added one)
    request: HttpRequest,
    tenant: Tenant,
    sp: ServiceProvider,
    pending: Pending,
    key: str | None,
    *,
    org_version: str | None = None,  # the tenant's organization version, when already read
) -> HttpResponse:
    auth = flow_session.current_auth(request, tenant)
    if auth is None or (
        pending.force_authn
        and not (auth.auth_time >= pending.received and request.session.session_key != pending.session_key)
    ):
        if pending.is_passive:
            _drop(request, key)
            failure = protocol.RequestFailed(
                protocol.STATUS_RESPONDER, "The user is not signed in.", protocol.STATUS_NO_PASSIVE
            )
            return _pending_failure(request, tenant, sp, pending, failure)
        if pending.require_mfa and not pending.stepped_up:
            return _step_up(request, tenant, sp, pending, key)  # the journey asks for a factor at once
        key = key or _park(request, tenant, pending)
        back = _continue_url(tenant, key, organization=_requested(sp, pending))
        return HttpResponseRedirect(flow_session.login_url(tenant, back, prompt_login=pending.force_authn))
    if pending.require_mfa and auth.acr != flow_session.ACR_MFA:
        return _step_up(request, tenant, sp, pending, key)
    eligible: list[EligibleOrganization] = []
    outcome = _select_organization(
        request,
        tenant=tenant,
        sp=sp,
        pending=pending,
        user=auth.user,
        key=key,
        eligible_out=eligible,
        org_version=org_version,
    )
    if isinstance(outcome, HttpResponse):
        return outcome
    if isinstance(outcome, protocol.RequestFailed):
        _drop(request, key)
        return _pending_failure(request, tenant, sp, pending, outcome)
    context = _context(sp, pending, outcome)
    gate = _policy_gate(request, tenant, sp, pending, key, auth=auth, context=context)
    if isinstance(gate, HttpResponse):
        return gate
    _drop(request, key)
    decision.record(
        tenant=tenant, user=auth.user, context=context, policy=gate, proven=decision.Proven.of(auth), issued="assertion"
    )
    if gate is not None:  # several organizations in one session: the shortest lifetime wins
        flow_session.limit_lifetime(request, tenant, gate.session_minutes)
    memberships = [e.organization for e in eligible if e.via is None] if eligible else None
    return _issue(request, tenant=tenant, sp=sp, pending=pending, auth=auth, chosen=outcome, memberships=memberships)


def _context(sp: ServiceProvider, pending: Pending, chosen: EligibleOrganization | None) -> decision.SignInContext:
    """The decision of this request: the one parked with it (after a step-up), or made now."""
    if pending.decision:
        return decision.SignInContext.from_dict(pending.decision)
    context = decision.SignInContext(
        tenant_id=sp.tenant_id, rp_kind="saml", rp_id=sp.entity_id, rp_name=str(sp), requested=_requested(sp, pending)
    )
    if chosen is None:
        return context
    return context.chose(chosen, decision.Source(pending.source or decision.Source.ONLY))


def _policy_gate(
    request: HttpRequest,
    tenant: Tenant,
    sp: ServiceProvider,
    pending: Pending,
    key: str | None,
    *,
    auth: flow_session.AuthState,
    context: decision.SignInContext,
) -> decision.Policy | None | HttpResponse:
    """The chosen organization's policy against what the session proved, immediately before the assertion.

    Met: the policy (None without an organization). Not met: the journey's step-up once (the
    decision parked with the request), ``NoPassive`` for IsPassive, then ``NoAuthnContext``.
    """
    if context.organization_id is None:
        return None
    policy = decision.policy_for(tenant=tenant, organization=context.organization_id)
    missing = decision.unmet(policy, decision.Proven.of(auth))
    if not missing:
        return policy
    if pending.is_passive or pending.policy_stepped or decision.UNAVAILABLE in missing:
        _drop(request, key)
        decision.record_refusal(tenant=tenant, user=auth.user, context=context, reason="policy unmet")
        sub_status = protocol.STATUS_NO_PASSIVE if pending.is_passive else protocol.STATUS_NO_AUTHN_CONTEXT
        failure = protocol.RequestFailed(
            protocol.STATUS_RESPONDER, "The organization's sign-in requirements were not met.", sub_status
        )
        return _pending_failure(request, tenant, sp, pending, failure)
    _drop(request, key)
    context.stepped_up = list(missing)
    pending.decision = context.to_dict()
    pending.policy_stepped = True
    key = _park(request, tenant, pending)
    return HttpResponseRedirect(
        decision.step_up_url(
            tenant=tenant, organization_id=context.organization_id, next_url=_continue_url(tenant, key)
        )
    )


def _step_up(
    request: HttpRequest, tenant: Tenant, sp: ServiceProvider, pending: Pending, key: str | None
) -> HttpResponse:
    """REFEDS MFA was requested and this sign-in is below it: through the journey once, then NoAuthnContext."""
    if pending.stepped_up or pending.is_passive:
        _drop(request, key)
        failure = protocol.RequestFailed(
            protocol.STATUS_RESPONDER, "A second factor could not be used.", protocol.STATUS_NO_AUTHN_CONTEXT
        )
        return _pending_failure(request, tenant, sp, pending, failure)
    _drop(request, key)
    pending.stepped_up = True
    key = _park(request, tenant, pending)
    next_url = f"{_continue_url(tenant, key)}&{urlencode({stepup.ACR_VALUES: flow_session.ACR_MFA})}"
    return HttpResponseRedirect(flow_session.login_url(tenant, next_url, prompt_login=True))


def _select_organization(  # noqa: PLR0911 - one return per outcome, as in the OIDC authorize view
    request: HttpRequest,
    *,
    tenant: Tenant,
    sp: ServiceProvider,
    pending: Pending,
    user: Any,
    key: str | None,
    eligible_out: list[EligibleOrganization],
    org_version: str | None = None,
) -> EligibleOrganization | protocol.RequestFailed | HttpResponse | None:
    """The organization the response is for (None: no organization), a refusal, or a page (picker, error).

    ``eligible_out`` receives the user's eligible organizations when they were read.
    """
    denied = protocol.RequestFailed(
        protocol.STATUS_RESPONDER,
        f"The user may not act for the organization '{_requested(sp, pending)}'.",
        protocol.STATUS_REQUEST_DENIED,
    )
    if pending.decision:  # decided before a step-up: the same organization, if still allowed
        context = decision.SignInContext.from_dict(pending.decision)
        chosen = decision.chosen_organization(context, tenant=tenant)
        if chosen is None or not decision.still_eligible(
            user=user, organization_id=context.organization_id, via_id=context.via_id, fresh=False
        ):
            return denied
        eligible_out.extend(user_eligible_organizations(user=user, version=org_version))
        return chosen
    pick_id = request.GET.get(selection.PICK_PARAM)
    picked = selection.consume(request, tenant=tenant, pick_id=pick_id) if pick_id and key else None
    found = decision.select(
        user=user,
        wanted=sp.wants_organization,
        required=sp.organization_required,
        parameter=pending.organization,
        sp_default=str(sp.default_organization_id) if sp.default_organization_id else "",
        picked=picked,
        version=org_version,
    )
    eligible_out.extend(found.eligible)
    pending.source = str(found.source)
    if found.outcome is decision.Outcome.CHOSEN:
        return found.choice
    if found.outcome is decision.Outcome.NONE:
        return None
    if found.outcome is decision.Outcome.DENIED:
        return denied
    if found.outcome is decision.Outcome.NO_ORGANIZATION:
        _drop(request, key)
        return selection.error_page(
            request,
            tenant=tenant,
            title="No organization",
            message=f"{sp} requires you to belong to an organization, and you belong to none. "
            "Ask your administrator to add you to one.",
            status=403,
        )
    if pending.is_passive:
        _drop(request, key)
        return protocol.RequestFailed(
            protocol.STATUS_RESPONDER, "The user must choose an organization.", protocol.STATUS_NO_PASSIVE
        )
    key = key or _park(request, tenant, pending)
    return selection.begin(
        request, tenant=tenant, eligible=list(found.eligible), next_url=_continue_url(tenant, key), client_name=str(sp)
    )


def _issue(
    request: HttpRequest,
    *,
    tenant: Tenant,
    sp: ServiceProvider,
    pending: Pending,
    auth: flow_session.AuthState,
    chosen: EligibleOrganization | None,
    memberships: list[Organization] | None = None,
) -> HttpResponse:

    key = crypto.idp_key(tenant)
    user = auth.user
    subject = protocol.name_id_for(sp=sp, user=user, fmt=sp.nameid_format)
    session_index = _session_index(request, sp)
    response, assertion = protocol.build_response(
        issuer=entity_id(tenant),
        sp=sp,
        acs_url=pending.acs_url,
        in_response_to=pending.request_id,
        subject=subject,
        attributes=assertion_attributes(
            sp=sp,
            user=user,
            organization=chosen.organization if chosen else None,
            via=chosen.via if chosen else None,
            memberships=memberships,
            upstream=auth.upstream,
        ),
        auth_instant=protocol.datetime.datetime.fromtimestamp(auth.auth_time, tz=protocol.datetime.UTC),
        session_index=session_index,
        authn_context=protocol.authn_context_for(auth.amr),
        authenticating_authority=auth.upstream,
    )

    signer = crypto.backend()
    if sp.encrypt_assertion and sp.encryption_certificate:
        root = signer.sign(response, [assertion] if sp.sign_assertion else [], key)
        encryption.encrypt_assertion(root, sp.encryption_certificate)
        root = signer.sign(root, [root] if sp.sign_response else [], key)
    else:
        nodes = ([assertion] if sp.sign_assertion else []) + ([response] if sp.sign_response else [])
        root = signer.sign(response, nodes, key) if nodes else response
    issued = request.session.get(SESSION_ISSUED)
    issued = issued if isinstance(issued, dict) else {}
    entry = {"name_id": subject.name_id, "format": subject.format, "session_index": session_index}
    if issued.get(sp.entity_id) != entry:  # a returning sign-in writes nothing
        issued[sp.entity_id] = entry
        request.session[SESSION_ISSUED] = issued
    return post_form(
        request, action=pending.acs_url, field="SAMLResponse", xml=to_bytes(root), relay_state=pending.relay_state
    )


def _session_index(request: HttpRequest, sp: ServiceProvider) -> str:
    """Stable for one IdP session and SP (the session key changes at every sign-in), opaque to the SP."""
    if not request.session.session_key:
        request.session.save()
    material = f"saml-session-index|{request.session.session_key}|{sp.pk}".encode()
    return "_" + hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()[:40]


def _failure(
    request: HttpRequest,
    *,
    tenant: Tenant,
    sp: ServiceProvider,
    acs_url: str,
    in_response_to: str | None,
    relay_state: str,
    failure: protocol.RequestFailed,
) -> HttpResponse:
    root = protocol.build_error_response(
        issuer=entity_id(tenant),
        acs_url=acs_url,
        in_response_to=in_response_to,
        status=failure.status,
        sub_status=failure.sub_status,
        message=failure.message,
    )
    xml = signed(tenant, root) if sp.sign_response else to_bytes(root)
    return post_form(request, action=acs_url, field="SAMLResponse", xml=xml, relay_state=relay_state)


def _pending_failure(
    request: HttpRequest, tenant: Tenant, sp: ServiceProvider, pending: Pending, failure: protocol.RequestFailed
) -> HttpResponse:
    """The error Response to a request already parked: to its ACS, answering its ID, with its RelayState."""
    return _failure(
        request,
        tenant=tenant,
        sp=sp,
        acs_url=pending.acs_url,
        in_response_to=pending.request_id,
        relay_state=pending.relay_state,
        failure=failure,
    )


# --- SLO ----------------------------------------------------------------------------------------
@require_GET
@never_cache
def slo_redirect_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    field = "SAMLResponse" if "SAMLResponse" in request.GET else "SAMLRequest"
    try:
        incoming = protocol.decode_redirect(request.META.get("QUERY_STRING", ""), field)
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    return _slo(request, tenant, incoming)


# Same reason as sso_post_view: the SP posts cross-site; LogoutRequests must be signed
# by the SP's key whenever it has one, and LogoutResponses must answer our own request.
@csrf_exempt
@require_http_methods(["POST"])
@never_cache
def slo_post_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    field = "SAMLResponse" if "SAMLResponse" in request.POST else "SAMLRequest"
    try:
        incoming = protocol.decode_post(request.POST.get(field, ""), request.POST.get("RelayState", ""))
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    return _slo(request, tenant, incoming)


def _slo(request: HttpRequest, tenant: Tenant, incoming: protocol.Incoming) -> HttpResponse:
    """An SP's LogoutRequest: sign out of this browser's session, log the session's other SPs out, answer."""
    sp = service_provider_get(tenant=tenant, entity_id=incoming.issuer)
    if sp is None:
        return error_page(
            request, tenant, "The application that sent you here is not registered with this sign-in service."
        )
    if incoming.root.tag == SAMLP + "LogoutResponse":
        return _slo_response(request, tenant, sp, incoming)
    try:
        # Logout requests are signed whenever the SP has a key (no forced logout by a forged request).
        was_signed = protocol.verify_signature(incoming, sp, required=bool(sp.signing_certificates))
        request_id = protocol.check_common(
            incoming, expected_tag=SAMLP + "LogoutRequest", destinations=_slo_destinations(tenant), signed=was_signed
        )
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    if _slo_endpoint(sp, incoming.binding) is None:
        return error_page(request, tenant, "The application has no single logout service registered.")
    name_id = text(incoming.root.find(SAML + "NameID"))
    issued = request.session.get(SESSION_ISSUED)
    issued = issued if isinstance(issued, dict) else {}
    entry = issued.get(sp.entity_id)
    chain: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "origin_sp": sp.pk,
        "in_response_to": request_id,
        "relay_state": incoming.relay_state,
        "binding": incoming.binding,
        "remaining": [],
        "status": protocol.STATUS_SUCCESS,
        "partial": False,
        "awaiting": None,
    }
    if entry is not None and entry.get("name_id") != name_id:
        chain["status"] = protocol.STATUS_REQUESTER  # not this browser's subject at that SP: do not sign out
    elif flow_session.current_auth(request, tenant) is not None or entry is not None:
        chain["remaining"] = [
            {**other, "entity_id": other_id}
            for other_id, other in issued.items()
            if other_id != sp.entity_id and isinstance(other, dict)
        ]
        flow_session.logout(request)
    return _slo_next(request, tenant, chain, token=None)


SLO_CHAIN_PREFIX = "saml:slo:"
SLO_CHAIN_SECONDS = 10 * 60


def _slo_destinations(tenant: Tenant) -> set[str]:
    return {absolute(tenant, "slo_redirect"), absolute(tenant, "slo_post")}


def _slo_next(request: HttpRequest, tenant: Tenant, chain: dict[str, Any], token: str | None) -> HttpResponse:
    """Send a LogoutRequest to the next SP of the session, or, when none is left, answer the SP that asked.

    The chain lives in the cache under an unguessable token that travels as RelayState (the
    browser's session is already gone); each SP's LogoutResponse must answer the request we sent it.
    """
    while chain["remaining"]:
        entry = chain["remaining"].pop(0)
        other = service_provider_get(tenant=tenant, entity_id=str(entry.get("entity_id", "")))
        endpoint = _slo_endpoint(other, BINDING_REDIRECT, response=False) if other is not None else None
        if other is None or endpoint is None:
            chain["partial"] = True
            continue
        token = token or secrets.token_urlsafe(24)
        root = protocol.build_logout_request(
            issuer=entity_id(tenant),
            destination=endpoint[1],
            name_id=str(entry.get("name_id", "")),
            name_id_format=str(entry.get("format", "")),
            sp_entity_id=other.entity_id,
            session_index=str(entry.get("session_index", "")),
        )
        chain["awaiting"] = {"sp_id": other.pk, "request_id": root.get("ID")}
        cache.set(SLO_CHAIN_PREFIX + token, chain, timeout=SLO_CHAIN_SECONDS)
        return _send(request, tenant, endpoint=endpoint, field="SAMLRequest", root=root, relay_state=token)
    if token:
        cache.delete(SLO_CHAIN_PREFIX + token)
    if chain.get("return_to"):  # started by Canopy's own sign-out (idp.saml.logout): back to that chain
        return HttpResponseRedirect(str(chain["return_to"]))
    origin = service_provider_by_pk(tenant=tenant, pk=chain["origin_sp"])
    endpoint = _slo_endpoint(origin, chain["binding"]) if origin is not None else None
    if endpoint is None:
        return error_page(request, tenant, "You are signed out.", status=200)
    root = protocol.build_logout_response(
        issuer=entity_id(tenant),
        destination=endpoint[1],
        in_response_to=chain["in_response_to"],
        status=chain["status"],
        sub_status=protocol.STATUS_PARTIAL_LOGOUT
        if chain["partial"] and chain["status"] == protocol.STATUS_SUCCESS
        else "",
    )
    return _send(request, tenant, endpoint=endpoint, field="SAMLResponse", root=root, relay_state=chain["relay_state"])


@require_GET
@never_cache
def slo_continue_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """``slo/continue?t=``: the SAML part of a sign-out started at Canopy (``idp.saml.logout``), once."""
    tenant = tenant_of(request)
    token = request.GET.get("t", "")[:64]
    chain = cache.get(SLO_CHAIN_PREFIX + token) if token else None
    if isinstance(chain, dict) and chain.get("tenant_id") != tenant.pk:
        raise Http404("No such sign-out.")  # another tenant's chain does not exist here
    if not isinstance(chain, dict) or not chain.get("return_to") or chain.get("started"):
        return error_page(request, tenant, "This sign-out has expired. You are signed out here.")
    chain["started"] = True
    return _slo_next(request, tenant, chain, token=token)


def _slo_response(
    request: HttpRequest, tenant: Tenant, sp: ServiceProvider, incoming: protocol.Incoming
) -> HttpResponse:
    """Another SP's answer to our LogoutRequest: check it belongs to the chain, then go on."""
    token = incoming.relay_state
    chain = cache.get(SLO_CHAIN_PREFIX + token) if token else None
    awaiting = chain.get("awaiting") if isinstance(chain, dict) else None
    if not isinstance(chain, dict) or chain.get("tenant_id") != tenant.pk or not awaiting or awaiting["sp_id"] != sp.pk:
        return error_page(request, tenant, "Unexpected logout response.")
    try:
        was_signed = protocol.verify_signature(incoming, sp, required=bool(sp.signing_certificates))
        protocol.check_common(
            incoming, expected_tag=SAMLP + "LogoutResponse", destinations=_slo_destinations(tenant), signed=was_signed
        )
    except protocol.RequestRejected as exc:
        return error_page(request, tenant, exc.message)
    if incoming.root.get("InResponseTo") != awaiting["request_id"]:
        return error_page(request, tenant, "Unexpected logout response.")
    if protocol.status_code(incoming.root) != protocol.STATUS_SUCCESS:
        chain["partial"] = True
    chain["awaiting"] = None
    return _slo_next(request, tenant, chain, token=token)


def _send(
    request: HttpRequest,
    tenant: Tenant,
    *,
    endpoint: tuple[str, str],
    field: str,
    root: etree._Element,
    relay_state: str,
) -> HttpResponse:
    if endpoint[0] == BINDING_REDIRECT:
        return redirect_binding(tenant, location=endpoint[1], field=field, xml=to_bytes(root), relay_state=relay_state)
    return post_form(request, action=endpoint[1], field=field, xml=signed(tenant, root), relay_state=relay_state)


def _slo_endpoint(sp: ServiceProvider, preferred: str, *, response: bool = True) -> tuple[str, str] | None:
    """(binding, location) of the SP's SLO service; its ResponseLocation when answering."""
    endpoints = [
        e for e in (sp.slo or []) if isinstance(e, dict) and e.get("binding") in (BINDING_REDIRECT, BINDING_POST)
    ]
    endpoints.sort(key=lambda e: e.get("binding") != preferred)
    if not endpoints:
        return None
    chosen = endpoints[0]
    location = (chosen.get("response_url") if response else None) or chosen["url"]
    return str(chosen["binding"]), str(location)
