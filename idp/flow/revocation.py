"""What to revoke when a user's credentials change: a registry other apps fill at ready().

The login journey must not import the protocol apps, so ``idp.oidc`` registers a function that
revokes the user's refresh tokens and deletes their access tokens; a password reset calls
:func:`revoke_everything`. Django sessions need no hook: changing the password changes the
session auth hash, so every other session of the user is signed out on its next request.
"""

from __future__ import annotations

from collections.abc import Callable

from tenants.models import User

Revoker = Callable[[User], int]
_revokers: list[Revoker] = []


def register_revoker(revoker: Revoker) -> Revoker:
    """``revoker(user)`` → how many credentials it revoked; registered once."""
    if revoker not in _revokers:
        _revokers.append(revoker)
    return revoker


def revoke_everything(user: User) -> int:
    return sum(revoker(user) for revoker in list(_revokers))
