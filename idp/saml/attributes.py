"""The attributes of a SAML assertion: the person and organization facts of ``orgs.claims``, the
custom attributes (``idp.flow.attributes``) and the upstream IdP, under each SP's names.

Only what the SP's ``attribute_release`` lists goes out, as ``(Name, FriendlyName, values)``
with ``ServiceProvider.attribute_name``; every value is a string.
"""

from __future__ import annotations

from idp.flow.attributes import released_values
from idp.saml.models import PROFILE_ATTRIBUTES, ServiceProvider
from orgs.claims import ORG_CLAIM_KEYS, organization_facts, person_facts
from orgs.tree.models import Organization
from tenants.models import User

Attribute = tuple[str, str, list[str]]  # (Name, FriendlyName, values)


def assertion_attributes(
    *,
    sp: ServiceProvider,
    user: User,
    organization: Organization | None,
    via: Organization | None,
    memberships: list[Organization] | None = None,
    upstream: str = "",
) -> list[Attribute]:
    """The released attributes, in the release order of ``PROFILE_ATTRIBUTES`` then ``ORG_CLAIM_KEYS``,
    then the custom attributes, then ``idp`` (opt-in: the upstream IdP that vouched for a federated sign-in).

    ``memberships``: the user's organizations if the caller has them already (``organization_facts``).
    """
    values: dict[str, list[str]] = {
        key: [value] if value else [] for key, value in person_facts(user=user, organization=organization).items()
    }
    if sp.wants_organization:
        facts = organization_facts(
            user=user,
            organization=organization,
            via=via,
            by_identifier=sp.org_name_source == ServiceProvider.OrgNameSource.IDENTIFIER,
            memberships=memberships,
        )
        for key in ORG_CLAIM_KEYS:
            fact = facts.get(key)
            values[key] = fact if isinstance(fact, list) else [fact] if fact is not None else []
    out: list[Attribute] = []
    # org_acting_for goes out without a value when an organization is selected directly: the
    # SP can tell "not acting for anyone" from "not released" (OIDC omits the claim instead).
    keep_empty = {"org_acting_for"} if organization is not None else set()
    for key in (*PROFILE_ATTRIBUTES, *ORG_CLAIM_KEYS):
        if sp.releases(key) and (values.get(key) or key in keep_empty):
            out.append((*sp.attribute_name(key), values.get(key, [])))
    for key, value in released_values(user).items():  # custom attributes the SP's release names
        if sp.releases(key):
            items = value if isinstance(value, list) else [value]
            strings = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]
            out.append((*sp.attribute_name(key), strings))
    if upstream and sp.releases("idp"):
        out.append((*sp.attribute_name("idp"), [upstream]))
    return out
