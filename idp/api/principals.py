"""Who calls the management API: a user (with their roles) or a client acting as the tenant's machine admin."""

from __future__ import annotations

from dataclasses import dataclass

from tenants.actors import SystemActor

ADMIN_SCOPE = "canopy:admin"


@dataclass(frozen=True)
class ApiClientActor(SystemActor):
    """A client-credentials token with the admin scope: the machine administrator of one tenant.

    It is a ``SystemActor`` for the services (tenant-admin powers); the API binds it to the
    tenant that issued the token, so it never reaches another tenant's rows.
    """

    label: str = "api-client"
    tenant_id: int = 0
    is_authenticated = True
    is_active = True
