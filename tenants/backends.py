"""Authentication that knows usernames are unique per tenant, not globally."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.http import HttpRequest

from tenants.models import User


class TenantModelBackend(ModelBackend):
    """``authenticate(request, username=..., password=..., tenant=<slug or "">)``.

    An empty tenant means platform staff. The username may also be the user's
    email. A missing user still costs one password hash, so timing does not
    reveal which usernames exist.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        tenant: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        identifier = username.strip()
        qs = User.objects.select_related("tenant")
        if tenant:
            qs = qs.filter(tenant__slug=tenant.strip().lower(), tenant__is_active=True)
        else:
            qs = qs.filter(tenant__isnull=True)
        match = Q(username__iexact=identifier)
        if "@" in identifier:
            match |= Q(email=identifier.lower())
        candidates = list(qs.filter(match)[:2])
        user = candidates[0] if len(candidates) == 1 else None
        if user is None:
            User().set_password(password)  # equalise timing with a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
