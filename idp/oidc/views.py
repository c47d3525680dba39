"""Per-tenant OIDC endpoints: django-oauth-toolkit's views inside the tenant's scope."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.views.mixins import OAuthLibMixin

from idp.flow import decision, selection, stepup
from idp.flow import session as flow_session
from idp.flow.branding import Branding, page_branding
from idp.flow.logout import logout_chain_start, logout_prepare, logout_redirect
from idp.flow.redirects import with_query_param
from idp.oidc import errors, introspection
from idp.oidc.claims import ORGANIZATION_SCOPE, requested_organization_scopes, wants_organization
from idp.oidc.context import issuer_for, tenant_scope
from idp.oidc.grants.token_exchange import TOKEN_EXCHANGE
from idp.oidc.models import Application
from idp.oidc.scopes import describe
from idp.oidc.token_context import TokenContext
from orgs.inheritance.selectors import organization_in_context
from orgs.tree.selectors import EligibleOrganization
from tenants.models import Tenant
from tenants.routing import tenant_of


def tenant_url(tenant: Tenant, name: str) -> str:
    return reverse(name, kwargs={"tenant_slug": tenant.slug})


def absolute(tenant: Tenant, name: str) -> str:
    return issuer_for(tenant).rsplit("/t/", 1)[0] + tenant_url(tenant, name)


class TenantScopedMixin:
    """Resolve the tenant from the URL and run the view inside its scope."""

    tenant: Tenant

    def dispatch(self, request: HttpRequest, *args: Any, tenant_slug: str, **kwargs: Any) -> HttpResponse:
        self.tenant = tenant_of(request)
        self.auth = flow_session.current_auth(request, self.tenant)
        with tenant_scope(self.tenant, self.auth):
            return self.scoped_dispatch(request, *args, **kwargs)

    def scoped_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def _fingerprint(client_id: str, params: dict[str, Any]) -> str:
    """What ties a stored decision to one authorization request (it cannot be moved to another)."""
    raw = "|".join(str(params.get(k) or "") for k in ("redirect_uri", "state", "nonce", "code_challenge"))
    return hashlib.sha256(f"{client_id}|{raw}".encode()).hexdigest()[:32]


# The parts of an authorization request a code is issued from, kept with its decision.
CREDENTIAL_KEYS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "claims",
    "resource",
)


class ConsentForm(forms.Form):
    """The consent page posts only the transaction it answers and the answer."""

    txn = forms.CharField(widget=forms.HiddenInput, max_length=64)
    allow = forms.CharField(required=False, max_length=20)


class PolicyUnmet(Exception):
    """The chosen organization's policy is not met by what the session proved."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


class AuthorizationView(TenantScopedMixin, dot_views.AuthorizationView):
    """The authorization endpoint. Its GET makes the organization decision (``idp.flow.decision``)
    and keeps it in the session under a transaction id; the consent POST and the code issuance
    read it from there. The policy is checked in ``create_authorization_response``, the one
    place every code comes from (consent, skip-authorization, an earlier grant)."""

    template_name = "oidc/authorize.html"
    form_class = ConsentForm

    def scoped_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.canopy_context: decision.SignInContext | None = None
        self.canopy_selection: EligibleOrganization | None = None
        self.canopy_txn_id = ""
        self.canopy_response_mode = request.GET.get("response_mode", "")
        if self.auth is None:
            # A session of another tenant (or none) is not a sign-in here.
            return self.handle_no_permission()
        max_age = request.GET.get("max_age")
        if max_age is not None and request.method == "GET":
            try:
                too_old = time.time() - self.auth.auth_time > int(max_age)
            except ValueError:
                too_old = False
            if too_old and "none" not in request.GET.get("prompt", "").split():
                return self.redirect_to_login(force=True)
        return dot_views.AuthorizationView.dispatch(self, request, *args, **kwargs)

    # --- login hand-off -----------------------------------------------------
    def get_login_url(self) -> str:
        return flow_session.login_url(self.tenant, self.request.get_full_path())

    def redirect_to_login(self, *, force: bool, next_url: str | None = None) -> HttpResponse:
        return HttpResponseRedirect(
            flow_session.login_url(self.tenant, next_url or self.request.get_full_path(), prompt_login=force)
        )

    def handle_no_permission(self) -> HttpResponse:
        prompt = set(self.request.GET.get("prompt", "").split())
        if "none" in prompt or "login" in prompt or "create" in prompt:
            return super().handle_no_permission()
        if stepup.mfa_requested(self.request.GET.get(stepup.ACR_VALUES, "")):
            # The journey will ask for a factor; coming back below MFA means it could not (see step_up).
            marked = with_query_param(self.request.get_full_path(), name=stepup.STEPUP_MARK, value="1")
            return self.redirect_to_login(force=False, next_url=marked)
        return self.redirect_to_login(force=False)

    def step_up(self, credentials: dict[str, Any], application: Application, prompt: set[str]) -> HttpResponse:
        """``acr_values`` asks for MFA and this sign-in is below it: through the journey once, then refuse."""
        if "none" in prompt or self.request.GET.get(stepup.STEPUP_MARK):
            return self.error_redirect(
                credentials,
                application,
                errors.UnmetAuthenticationRequirements(
                    "The application asked for a second factor, and none could be used for this account."
                ),
            )
        marked = with_query_param(self.request.get_full_path(), name=stepup.STEPUP_MARK, value="1")
        return self.redirect_to_login(force=True, next_url=marked)

    def handle_prompt_login(self) -> HttpResponse:
        parts = urlsplit(self.request.get_full_path())
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "prompt"]
        next_url = urlunsplit(("", "", parts.path, urlencode(query), ""))
        return self.redirect_to_login(force=True, next_url=next_url)

    # --- the decision -------------------------------------------------------
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if "login" in set(request.GET.get("prompt", "").split()):
            return self.handle_prompt_login()
        application = Application.objects.get(client_id=credentials["client_id"])
        prompt = set(request.GET.get("prompt", "").split())
        if stepup.mfa_requested(request.GET.get(stepup.ACR_VALUES, "")) and (
            self.auth is None or self.auth.acr != flow_session.ACR_MFA
        ):
            return self.step_up(credentials, application, prompt)
        if "consent" in prompt and not application.skip_authorization:
            # Ask again even if an earlier grant covers these scopes.
            query = request.GET.copy()
            query["approval_prompt"] = "force"
            request.GET = query  # type: ignore[assignment]  # deliberately replace the immutable QueryDict
        context = self.decide(request, application, scopes, credentials, force_picker="select_account" in prompt)
        if isinstance(context, HttpResponse):
            return context
        self.canopy_context = context
        try:
            self.check(application)  # before a consent page too: never ask to allow what cannot be issued
        except (PolicyUnmet, errors.AccessDenied) as refusal:
            return self.refusal_response(refusal, credentials, application, prompt)
        self.canopy_txn_id = self.store(request, context, scopes, credentials)
        try:
            return super().get(request, *args, **kwargs)
        except (PolicyUnmet, errors.AccessDenied) as refusal:
            return self.refusal_response(refusal, credentials, application, prompt)

    def decide(  # noqa: PLR0911 - one return per outcome of the selection
        self,
        request: HttpRequest,
        application: Application,
        scopes: list[str],
        credentials: dict[str, Any],
        *,
        force_picker: bool = False,
    ) -> decision.SignInContext | HttpResponse:
        """The organization decision for this request: made once, or the one stored for it (after a step-up)."""
        assert self.auth is not None  # scoped_dispatch turned away requests without a sign-in
        stored = self.stored(request, credentials)
        if stored is not None:
            return stored
        context = decision.SignInContext(
            tenant_id=self.tenant.pk, rp_kind="oidc", rp_id=application.client_id, rp_name=application.name
        )
        parameter = (request.GET.get("organization") or "").strip()
        in_scope = requested_organization_scopes(scopes)
        pick_id = request.GET.get(selection.PICK_PARAM)
        picked = selection.consume(request, tenant=self.tenant, pick_id=pick_id) if pick_id else None
        found = decision.select(
            user=self.auth.user,
            wanted=wants_organization(scopes),
            required=application.organization_required,
            parameter=parameter,
            scope=in_scope[0] if in_scope else "",
            picked=picked,
            force_picker=force_picker and not pick_id,
        )
        context.requested = parameter or (in_scope[0] if in_scope else "")
        outcome = found.outcome
        if outcome is decision.Outcome.CHOSEN and found.choice is not None:
            self.canopy_selection = found.choice  # the rows at hand: check() needs not read them again
            return context.chose(found.choice, found.source)
        if outcome is decision.Outcome.NONE:
            return context
        if outcome is decision.Outcome.CONFLICT:
            return self.error_redirect(
                credentials, application, errors.InvalidRequest("The organization parameter and scope disagree.")
            )
        if outcome is decision.Outcome.DENIED:
            decision.record_refusal(tenant=self.tenant, user=self.auth.user, context=context, reason="not eligible")
            return self.error_redirect(
                credentials,
                application,
                errors.AccessDenied(f"The user may not act for the organization '{context.requested}'."),
            )
        if outcome is decision.Outcome.NO_ORGANIZATION:
            return selection.error_page(
                request,
                tenant=self.tenant,
                title="No organization",
                message=f"{application.name} requires you to belong to an organization, and you belong to none. "
                "Ask your administrator to add you to one.",
                status=403,
            )
        if "none" in set(request.GET.get("prompt", "").split()):
            return self.error_redirect(
                credentials, application, errors.AccountSelectionRequired("The user must choose an organization.")
            )
        next_url = _without_param(request.get_full_path(), selection.PICK_PARAM)
        return selection.begin(
            request, tenant=self.tenant, eligible=list(found.eligible), next_url=next_url, client_name=application.name
        )

    def check(self, application: Application) -> tuple[decision.Policy | None, decision.Proven]:
        """The decision against the rules, immediately before a code: raises ``AccessDenied`` or ``PolicyUnmet``."""
        assert self.auth is not None and self.canopy_context is not None
        context = self.canopy_context
        proven = decision.Proven.of(self.auth)
        if context.organization_id is None:
            if application.organization_required:
                raise errors.AccessDenied(f"{application.name} requires an organization, and none was chosen.")
            return None, proven
        chosen = self.canopy_selection
        if chosen is None or str(chosen.organization.pk) != context.organization_id:
            chosen = decision.chosen_organization(context, tenant=self.tenant)
        if chosen is None or not decision.still_eligible(
            user=self.auth.user, organization_id=context.organization_id, via_id=context.via_id, fresh=False
        ):
            raise errors.AccessDenied("The user may no longer act for that organization.")
        self.canopy_selection = chosen
        policy = decision.policy_for(tenant=self.tenant, organization=context.organization_id)
        missing = decision.unmet(policy, proven)
        if missing:
            raise PolicyUnmet(missing)
        return policy, proven

    def refusal_response(
        self, refusal: Exception, credentials: dict[str, Any], application: Application, prompt: set[str]
    ) -> HttpResponse:
        """``AccessDenied``: the error to the client. ``PolicyUnmet``: the journey's step-up, once; then refuse."""
        context = self.canopy_context
        assert context is not None and self.auth is not None
        if isinstance(refusal, errors.AccessDenied):
            decision.record_refusal(tenant=self.tenant, user=self.auth.user, context=context, reason=refusal.error)
            return self.error_redirect(credentials, application, refusal)
        assert isinstance(refusal, PolicyUnmet)
        if "none" in prompt:
            decision.record_refusal(tenant=self.tenant, user=self.auth.user, context=context, reason="interaction")
            return self.error_redirect(
                credentials,
                application,
                errors.InteractionRequired(
                    "The organization asks for another sign-in step; send the user without prompt=none."
                ),
            )
        if self.request.GET.get(decision.STEPUP_DONE) or decision.UNAVAILABLE in refusal.missing:
            decision.record_refusal(tenant=self.tenant, user=self.auth.user, context=context, reason="policy unmet")
            return self.error_redirect(
                credentials,
                application,
                errors.AccessDenied("The organization's sign-in requirements were not met."),
            )
        context.stepped_up = list(refusal.missing)
        txn_id = self.canopy_txn_id or self.store(self.request, context, [], credentials)
        back = _without_param(self.request.get_full_path(), selection.PICK_PARAM)
        back = with_query_param(
            with_query_param(back, name=TXN_PARAM, value=txn_id), name=decision.STEPUP_DONE, value="1"
        )
        return HttpResponseRedirect(
            decision.step_up_url(tenant=self.tenant, organization_id=context.organization_id, next_url=back)
        )

    # --- the decision, server-side -------------------------------------------
    def store(
        self, request: HttpRequest, context: decision.SignInContext, scopes: list[str], credentials: dict[str, Any]
    ) -> str:
        """Keep the decision and the request it answers under a new transaction id (bounded, expiring)."""
        now = int(time.time())
        txns = {k: v for k, v in _txns(request).items() if now - int(v.get("created", 0)) < TXN_TTL_SECONDS}
        old = request.GET.get(TXN_PARAM, "")
        txns.pop(old, None)
        while len(txns) >= MAX_TXNS:
            txns.pop(min(txns, key=lambda k: txns[k]["created"]))
        txn_id = secrets.token_urlsafe(16)
        txns[txn_id] = {
            "tenant_id": self.tenant.pk,
            "user_id": self.auth.user.pk if self.auth else None,
            "fingerprint": _fingerprint(str(credentials.get("client_id")), credentials),
            "context": context.to_dict(),
            "scopes": list(scopes),
            "credentials": {k: credentials[k] for k in CREDENTIAL_KEYS if credentials.get(k) not in (None, "")},
            "response_mode": request.GET.get("response_mode", ""),
            "created": now,
        }
        request.session[SESSION_TXNS] = txns
        return txn_id

    def stored(self, request: HttpRequest, credentials: dict[str, Any]) -> decision.SignInContext | None:
        """The decision kept for this very request (``canopy_txn`` after a step-up), if it is still there."""
        entry = _txn_entry(request, request.GET.get(TXN_PARAM, ""), tenant=self.tenant, auth=self.auth)
        if entry is None or entry["fingerprint"] != _fingerprint(str(credentials.get("client_id")), credentials):
            return None
        return decision.SignInContext.from_dict(entry["context"])

    def get_initial(self) -> dict[str, Any]:
        return {"txn": self.canopy_txn_id}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The consent answer: it confirms the stored decision; nothing else in the form counts."""
        txn_id = request.POST.get("txn", "")[:64]
        entry = _txn_entry(request, txn_id, tenant=self.tenant, auth=self.auth)
        txns = _txns(request)
        if txns.pop(txn_id, None) is not None:  # one answer per transaction
            request.session[SESSION_TXNS] = txns
        application = (
            Application.objects.filter(client_id=entry["credentials"].get("client_id"), tenant=self.tenant).first()
            if entry is not None
            else None
        )
        if entry is None or application is None:
            return selection.error_page(
                request,
                tenant=self.tenant,
                title="Sign in again",
                message="This sign-in request took too long or was already answered. "
                "Go back to the application and sign in again.",
            )
        self.canopy_context = decision.SignInContext.from_dict(entry["context"])
        self.canopy_response_mode = str(entry.get("response_mode") or "")
        credentials = dict(entry["credentials"])
        allow = bool(request.POST.get("allow"))
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(entry["scopes"]), credentials=credentials, allow=allow
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        except (PolicyUnmet, errors.AccessDenied) as refusal:
            return self.refusal_response(refusal, credentials, application, set())
        return self.redirect(uri, application)

    def error_redirect(
        self, credentials: dict[str, Any], application: Application, error: errors.OAuthError
    ) -> HttpResponse:
        """An authorization error for the client, at its (validated) redirect URI, with iss (and form_post)."""
        uri = error.redirect_to(redirect_uri=credentials["redirect_uri"], state=credentials.get("state"))
        return self.redirect(uri, application)

    def create_authorization_response(
        self, request: HttpRequest, scopes: Any, credentials: dict[str, Any], allow: bool
    ) -> Any:
        """Every code comes through here: the decision is checked against the rules first."""
        if allow:
            application = Application.objects.get(client_id=credentials["client_id"], tenant=self.tenant)
            policy, proven = self.check(application)
            context = self.canopy_context
            assert context is not None and self.auth is not None
            if self.canopy_selection is not None:  # becomes request.canopy for the grant row
                credentials["canopy"] = TokenContext.chosen(self.canopy_selection, source=context.source)
            decision.record(
                tenant=self.tenant, user=self.auth.user, context=context, policy=policy, proven=proven, issued="code"
            )
            if policy is not None:  # several organizations in one session: the shortest lifetime wins
                flow_session.limit_lifetime(request, self.tenant, policy.session_minutes)
        _forget_txn(request, self.request.GET.get(TXN_PARAM, ""))
        _forget_txn(request, self.canopy_txn_id)
        return super().create_authorization_response(request, scopes, credentials, allow)

    # --- the response: iss (RFC 9207) and response_mode=form_post --------------
    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        parts = urlsplit(redirect_to)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
        query.append(("iss", issuer_for(self.tenant)))
        if self.canopy_response_mode == "form_post":
            action = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            response = render(self.request, "oidc/form_post.html", {"action": action, "fields": query})
            response["Cache-Control"] = "no-store"
            return response
        return super().redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), "")), application)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        all_scopes = get_scopes_backend().get_all_scopes()
        context["scope_descriptions"] = [describe(s, all_scopes) for s in kwargs.get("scopes", [])]
        context["selection"] = self.canopy_selection
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        """The consent page, and DOT's error page (which skips ``get_context_data``), both branded."""
        context.setdefault("tenant", self.tenant)
        context.setdefault("branding", self._branding())
        return super().render_to_response(context, **kwargs)

    def _branding(self) -> Branding | None:
        """The chosen organization's; before a choice (an error page), the one the request names."""
        chosen = self.canopy_selection
        organization: uuid.UUID | None
        if chosen is not None:
            organization = chosen.organization.pk
        else:
            organization = organization_in_context(tenant=self.tenant, key=self.request.GET.get("organization", ""))
        return page_branding(self.request, tenant=self.tenant, organization=organization)


SESSION_TXNS = "canopy.oidc.txns"
TXN_PARAM = "canopy_txn"
TXN_TTL_SECONDS = 15 * 60
MAX_TXNS = 10


def _txns(request: HttpRequest) -> dict[str, dict[str, Any]]:
    found = request.session.get(SESSION_TXNS)
    return found if isinstance(found, dict) else {}


def _txn_entry(request: HttpRequest, txn_id: str, *, tenant: Tenant, auth: Any) -> dict[str, Any] | None:
    entry = _txns(request).get(txn_id) if txn_id else None
    if (
        not isinstance(entry, dict)
        or entry.get("tenant_id") != tenant.pk
        or auth is None
        or entry.get("user_id") != auth.user.pk
        or time.time() - int(entry.get("created", 0)) >= TXN_TTL_SECONDS
    ):
        return None
    return entry


def _forget_txn(request: HttpRequest, txn_id: str) -> None:
    txns = _txns(request)
    if txn_id and txns.pop(txn_id, None) is not None:
        request.session[SESSION_TXNS] = txns


def _without_param(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


# The back-channel endpoints below are called by clients, not browsers with a session:
# they authenticate the client (secret, PKCE) or a bearer token, never a cookie, so CSRF
# does not apply. tests/oidc/test_oidc_protocol.py and test_oidc_tokens.py check that each one
# refuses a wrong or missing client credential or token.
@method_decorator(csrf_exempt, name="dispatch")
class TokenView(TenantScopedMixin, dot_views.TokenView):
    """Every grant, token exchange too (``idp.oidc.server.CanopyServer``), through DOT and oauthlib."""

    def authorization_flow_token_response(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # DOT re-reads the new token only to send its app_authorized signal, which Canopy
        # does not use: one query less on every token request.
        _url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for key, value in headers.items():
            response[key] = value
        return response


@method_decorator(csrf_exempt, name="dispatch")
class RevokeTokenView(TenantScopedMixin, dot_views.RevokeTokenView):
    pass


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(TenantScopedMixin, dot_views.UserInfoView):
    pass


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(TenantScopedMixin, OAuthLibMixin, View):
    """RFC 7662, answered only about this tenant's tokens issued to the calling client."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return introspection.introspect(request, core=self.get_oauthlib_core(), validator=self.get_validator_class()())


class LogoutView(TenantScopedMixin, dot_views.RPInitiatedLogoutView):
    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: Any = None,
    ) -> HttpResponse:
        """Sign out here, then through the logout participants (upstream IdPs…), then to the RP."""
        pending = logout_prepare(self.request, tenant=self.tenant)  # before the session is flushed
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        if not pending or not response.has_header("Location"):
            return response
        # The RP's destination was validated above (registered post_logout_redirect_uri).
        return logout_redirect(
            logout_chain_start(self.request, tenant=self.tenant, pending=pending, final_url=response["Location"])
        )


@require_GET
def discovery(request: HttpRequest, tenant_slug: str) -> JsonResponse:
    tenant = tenant_of(request)
    base = issuer_for(tenant)
    with tenant_scope(tenant):  # the scopes this tenant's root defined are advertised too
        scopes = [*get_scopes_backend().get_all_scopes().keys()]
    data = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize/",
        "token_endpoint": f"{base}/oauth/token/",
        "userinfo_endpoint": f"{base}/oauth/userinfo/",
        "jwks_uri": f"{base}/jwks.json",
        "revocation_endpoint": f"{base}/oauth/revoke/",
        "introspection_endpoint": f"{base}/oauth/introspect/",
        "end_session_endpoint": f"{base}/oauth/logout/",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            TOKEN_EXCHANGE,
        ],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [*scopes, f"{ORGANIZATION_SCOPE}:<identifier>"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "acr",
            "amr",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "email",
            "email_verified",
            "org_ids",
            "org_names",
            "org_id",
            "org_name",
            "org_acting_for",
        ],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "acr_values_supported": [flow_session.ACR_PASSWORD, flow_session.ACR_MFA],
    }
    response = JsonResponse(data)
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response
