"""Per-tenant OIDC endpoints: django-oauth-toolkit's views inside the tenant's scope."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.settings import oauth2_settings

from idp.flow import selection, stepup
from idp.flow import session as flow_session
from idp.flow.logout import logout_chain_start, logout_prepare, logout_redirect
from idp.flow.redirects import with_query_param
from idp.oidc import endpoints
from idp.oidc.claims import (
    ORGANIZATION_SCOPE,
    Selection,
    requested_organization_scopes,
    wants_organization,
)
from idp.oidc.context import issuer_for, tenant_scope
from idp.oidc.models import Application
from idp.oidc.scopes import describe
from orgs.selectors import EligibleOrganization, user_eligible_organizations
from tenants.models import Tenant
from tenants.selectors import tenant_get_by_slug

SESSION_SELECTIONS = "canopy.oidc.selections"


def tenant_url(tenant: Tenant, name: str) -> str:
    return reverse(name, kwargs={"tenant_slug": tenant.slug})


def absolute(tenant: Tenant, name: str) -> str:
    return issuer_for(tenant).rsplit("/t/", 1)[0] + tenant_url(tenant, name)


class TenantScopedMixin:
    """Resolve the tenant from the URL and run the view inside its scope."""

    tenant: Tenant

    def dispatch(self, request: HttpRequest, *args: Any, tenant_slug: str, **kwargs: Any) -> HttpResponse:
        self.tenant = tenant_get_by_slug(tenant_slug)
        self.auth = flow_session.current_auth(request, self.tenant)
        with tenant_scope(self.tenant, self.auth):
            return self.scoped_dispatch(request, *args, **kwargs)

    def scoped_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def _selection_key(client_id: str, params: dict[str, Any]) -> str:
    raw = "|".join(str(params.get(k) or "") for k in ("redirect_uri", "state", "nonce", "code_challenge"))
    return hashlib.sha256(f"{client_id}|{raw}".encode()).hexdigest()[:32]


class AuthorizationView(TenantScopedMixin, dot_views.AuthorizationView):
    template_name = "oidc/authorize.html"

    def scoped_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.canopy_selection: Selection | None = None
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
        from django.shortcuts import redirect

        return redirect(
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
            return self.oauth_error(
                credentials,
                application,
                "unmet_authentication_requirements",
                "The application asked for a second factor, and none could be used for this account.",
            )
        marked = with_query_param(self.request.get_full_path(), name=stepup.STEPUP_MARK, value="1")
        return self.redirect_to_login(force=True, next_url=marked)

    def handle_prompt_login(self) -> HttpResponse:
        parts = urlsplit(self.request.get_full_path())
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "prompt"]
        next_url = urlunsplit(("", "", parts.path, urlencode(query), ""))
        return self.redirect_to_login(force=True, next_url=next_url)

    # --- organization selection ----------------------------------------------
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
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
        outcome = self.select_organization(
            request, application, scopes, credentials, force_picker="select_account" in prompt
        )
        if isinstance(outcome, HttpResponse):
            return outcome
        self.canopy_selection = outcome
        if outcome is not None:
            request.session.setdefault(SESSION_SELECTIONS, {})[_selection_key(application.client_id, credentials)] = [
                str(outcome.organization.pk),
                str(outcome.via.pk) if outcome.via else None,
            ]
            request.session.modified = True
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The consent form: the selection made on GET is in the session.
        key = _selection_key(request.POST.get("client_id", ""), request.POST)
        stored = request.session.get(SESSION_SELECTIONS, {}).pop(key, None)
        request.session.modified = True
        if stored:
            from orgs.models import Organization

            orgs = {o.pk: o for o in Organization.objects.filter(tenant=self.tenant, pk__in=[i for i in stored if i])}
            org = next((o for o in orgs.values() if str(o.pk) == stored[0]), None)
            via = next((o for o in orgs.values() if stored[1] and str(o.pk) == stored[1]), None)
            if org is not None:
                self.canopy_selection = Selection(org, via)
        return super().post(request, *args, **kwargs)

    def select_organization(  # noqa: PLR0911 - one return per outcome of the selection
        self,
        request: HttpRequest,
        application: Application,
        scopes: list[str],
        credentials: dict[str, Any],
        *,
        force_picker: bool = False,
    ) -> Selection | HttpResponse | None:
        requested_param = (request.GET.get("organization") or "").strip()
        requested_scopes = requested_organization_scopes(scopes)
        if not (wants_organization(scopes) or requested_param or application.organization_required):
            return None
        assert self.auth is not None  # scoped_dispatch turned away requests without a sign-in
        eligible = user_eligible_organizations(user=self.auth.user)
        requested = requested_param or (requested_scopes[0] if requested_scopes else "")
        if requested_param and requested_scopes and requested_param not in requested_scopes:
            return self.oauth_error(
                credentials, application, "invalid_request", "The organization parameter and scope disagree."
            )
        if requested:
            match = _find(eligible, requested)
            if match is None:
                return self.oauth_error(
                    credentials,
                    application,
                    "access_denied",
                    f"The user may not act for the organization '{requested}'.",
                )
            return Selection(match.organization, match.via)
        if not eligible:
            if application.organization_required:
                return selection.error_page(
                    request,
                    tenant=self.tenant,
                    title="No organization",
                    message=f"{application.name} requires you to belong to an organization, and you belong to none. "
                    "Ask your administrator to add you to one.",
                    status=403,
                )
            return None
        pick_id = request.GET.get("canopy_pick")
        if len(eligible) == 1 and not (force_picker and not pick_id):
            return Selection(eligible[0].organization, eligible[0].via)
        if pick_id:
            chosen = selection.consume(request, tenant=self.tenant, pick_id=pick_id)
            if chosen is not None:
                return Selection(chosen[0], chosen[1])
        next_url = _without_param(request.get_full_path(), "canopy_pick")
        return selection.begin(
            request, tenant=self.tenant, eligible=eligible, next_url=next_url, client_name=application.name
        )

    def oauth_error(
        self, credentials: dict[str, Any], application: Application, error: str, description: str
    ) -> HttpResponse:
        params = {"error": error, "error_description": description}
        if credentials.get("state"):
            params["state"] = credentials["state"]
        uri = credentials["redirect_uri"]
        return self.redirect(uri + ("&" if "?" in uri else "?") + urlencode(params), application)

    def create_authorization_response(
        self, request: HttpRequest, scopes: Any, credentials: dict[str, Any], allow: bool
    ) -> Any:
        if self.canopy_selection is not None:
            credentials["canopy_organization"] = self.canopy_selection.organization
            credentials["canopy_via"] = self.canopy_selection.via
        return super().create_authorization_response(request, scopes, credentials, allow)

    # --- the response: iss (RFC 9207) and response_mode=form_post --------------
    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        parts = urlsplit(redirect_to)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
        query.append(("iss", issuer_for(self.tenant)))
        mode = self.request.GET.get("response_mode") or self.request.POST.get("response_mode")
        if mode == "form_post":
            action = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            response = render(self.request, "oidc/form_post.html", {"action": action, "fields": query})
            response["Cache-Control"] = "no-store"
            return response
        return super().redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), "")), application)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        from oauth2_provider.scopes import get_scopes_backend

        all_scopes = get_scopes_backend().get_all_scopes()
        context["scope_descriptions"] = [describe(s, all_scopes) for s in kwargs.get("scopes", [])]
        context["tenant"] = self.tenant
        context["selection"] = self.canopy_selection
        return context


def _find(eligible: list[EligibleOrganization], key: str) -> EligibleOrganization | None:
    key = key.lower()
    for item in eligible:
        if str(item.organization.pk) == key or item.organization.identifier.lower() == key:
            return item
    return None


def _without_param(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


# The back-channel endpoints below are called by clients, not browsers with a session:
# they authenticate the client (secret, PKCE) or a bearer token, never a cookie, so CSRF
# does not apply. tests/test_oidc_protocol.py and test_oidc_tokens.py check that each one
# refuses a wrong or missing client credential or token.
@method_decorator(csrf_exempt, name="dispatch")
class TokenView(TenantScopedMixin, dot_views.TokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("grant_type") == endpoints.TOKEN_EXCHANGE:
            return endpoints.token_exchange(request, self.get_validator_class()())
        return super().post(request, *args, **kwargs)

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
class IntrospectTokenView(TenantScopedMixin, View):
    """RFC 7662, answered only about this tenant's tokens issued to the calling client."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return endpoints.introspect(request)


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
    tenant = tenant_get_by_slug(tenant_slug)
    base = issuer_for(tenant)
    scopes = [*oauth2_settings.SCOPES.keys()]
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
            "urn:ietf:params:oauth:grant-type:token-exchange",
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
