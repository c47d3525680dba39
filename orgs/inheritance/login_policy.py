"""The lockout thresholds an organization sets (``login.lockout_max_attempts`` / ``lockout_minutes``).

Registered with ``tenants.lockout`` at ready(): an account's failures are counted with the
effective ``login`` section of the user's home organization, else the tenant root's; an
identifier with no account gets the root's. Only values someone set (at the root or on an
organization of the lineage) replace the deployment's settings; built-in defaults do not.
"""

from __future__ import annotations

from dataclasses import replace

from orgs.inheritance.schema import DEFAULT
from orgs.inheritance.selectors import effective_section
from orgs.tree.models import Membership
from tenants.lockout import LockoutPolicy
from tenants.models import Tenant


def lockout_policy_for(*, tenant: Tenant, user_id: int | None, base: LockoutPolicy) -> LockoutPolicy:
    home = None
    if user_id is not None:
        home = (
            Membership.objects.filter(user_id=user_id, origin=Membership.Origin.CREATED_HERE)
            .values_list("organization_id", flat=True)
            .first()
        )
    try:
        login = effective_section(tenant=tenant, organization=home, section="login")
    except LookupError:
        login = effective_section(tenant=tenant, organization=None, section="login")
    policy = base
    if login.sources.get("lockout_max_attempts", DEFAULT) != DEFAULT:
        policy = replace(policy, max_failures=int(login["lockout_max_attempts"]))
    if login.sources.get("lockout_minutes", DEFAULT) != DEFAULT:
        policy = replace(policy, lockout_seconds=int(login["lockout_minutes"]) * 60)
    return policy
