"""Writes on organizations, memberships, domains and acts-for links.

Each service takes keyword-only arguments, checks the actor's power through
``orgs.tree.permissions``, validates everything before writing (errors name the
field), writes in one transaction and records an audit event.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Lower, Substr
from django.utils import timezone

from orgs.tree import hooks, permissions
from orgs.tree.models import MAX_DEPTH, ActsForLink, Membership, Organization, OrganizationDomain, identifier_validator
from orgs.tree.selectors import organization_descendants
from tenants.actors import Actor
from tenants.audit import AuditAction, audit_record, audited_change
from tenants.models import Tenant, User
from tenants.services import user_create

# Shared mailbox providers: nobody can prove they speak for everyone at these.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "mail.com",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "web.de",
        "fastmail.com",
        "hey.com",
        "example.com",
        "example.net",
        "example.org",
    }
)
SHARED_DOMAIN_SUFFIXES = (".onmicrosoft.com",)
DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class OrganizationHasChildren(ValidationError):
    pass


def _deny(message: str) -> PermissionDenied:
    return PermissionDenied(message)


def _errors_or_raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# --- Organizations ----------------------------------------------------------


def organization_validate(
    *,
    tenant: Tenant,
    identifier: str,
    display_name: str,
    logo_uri: str = "",
    parent: Organization | None = None,
    instance: Organization | None = None,
) -> dict[str, Any]:
    """Check the fields of a new or changed organization; return cleaned values."""
    errors: dict[str, list[str]] = {}
    identifier = (identifier or "").strip().lower()
    display_name = (display_name or "").strip()
    logo_uri = (logo_uri or "").strip()
    try:
        identifier_validator(identifier)
    except ValidationError as exc:
        errors["identifier"] = list(exc.messages)
    else:
        clash = Organization.objects.annotate(i=Lower("identifier")).filter(tenant=tenant, i=identifier)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["identifier"] = [f"An organization with identifier '{identifier}' already exists in this tenant."]
    if not display_name:
        errors["display_name"] = ["A display name is required."]
    elif len(display_name) > 200:
        errors["display_name"] = ["Use at most 200 characters."]
    if logo_uri:
        try:
            URLValidator(schemes=["https", "http"])(logo_uri)
        except ValidationError:
            errors["logo_uri"] = ["Enter a valid http(s) URL for the logo."]
    if parent is not None:
        if parent.tenant_id != tenant.pk:
            errors["parent"] = ["The parent organization must belong to the same tenant."]
        elif parent.depth + 1 >= MAX_DEPTH:
            errors["parent"] = [f"The hierarchy may be at most {MAX_DEPTH} levels deep."]
    _errors_or_raise(errors)
    return {"identifier": identifier, "display_name": display_name, "logo_uri": logo_uri}


def organization_create(
    *,
    actor: Actor,
    tenant: Tenant,
    identifier: str,
    display_name: str,
    description: str = "",
    logo_uri: str = "",
    parent: Organization | None = None,
) -> Organization:
    if not permissions.can_create_organization(actor, tenant=tenant, parent=parent):
        raise _deny(
            "Only tenant administrators create top-level organizations."
            if parent is None
            else f"Only an owner of '{parent.identifier}' or a tenant administrator can create sub-organizations there."
        )
    cleaned = organization_validate(
        tenant=tenant, identifier=identifier, display_name=display_name, logo_uri=logo_uri, parent=parent
    )
    with transaction.atomic():
        if parent is not None:
            # Lock the parent so a concurrent move or delete cannot leave us a stale path.
            parent = Organization.objects.select_for_update().get(pk=parent.pk)
        org = Organization(tenant=tenant, parent=parent, description=description.strip(), **cleaned)
        org.depth = parent.depth + 1 if parent else 0
        org.path = (parent.path if parent else "") + org.id.hex + "/"
        try:
            org.save(force_insert=True)
        except IntegrityError as exc:  # a concurrent create won the identifier
            raise ValidationError(
                {"identifier": ["An organization with this identifier already exists in this tenant."]}
            ) from exc
        # Subscribers (OrgsConfig.ready): effective settings from the parent, at once; users shared
        # with the parent's subtree.
        hooks.organization_created(organization=org)
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.ORGANIZATION_CREATE,
            target=org,
            data={"identifier": org.identifier, "parent": str(parent.pk) if parent else None},
        )
    return org


def organization_update(
    *,
    actor: Actor,
    organization: Organization,
    identifier: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    logo_uri: str | None = None,
) -> Organization:
    """Change the descriptive fields. The id never changes; the parent changes only by a move."""
    if not permissions.can_edit_organization(actor, organization):
        raise _deny("Only an owner of this organization (or above) or a tenant administrator can change it.")
    cleaned = organization_validate(
        tenant=organization.tenant,
        identifier=organization.identifier if identifier is None else identifier,
        display_name=organization.display_name if display_name is None else display_name,
        logo_uri=organization.logo_uri if logo_uri is None else logo_uri,
        instance=organization,
    )
    before = {f: getattr(organization, f) for f in ("identifier", "display_name", "description", "logo_uri")}
    for field, value in cleaned.items():
        setattr(organization, field, value)
    if description is not None:
        organization.description = description.strip()
    changed = {f: getattr(organization, f) for f in before if getattr(organization, f) != before[f]}
    with transaction.atomic():
        try:
            organization.save(update_fields=[*before.keys(), "updated_at"])
        except IntegrityError as exc:
            raise ValidationError(
                {"identifier": ["An organization with this identifier already exists in this tenant."]}
            ) from exc
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.ORGANIZATION_UPDATE,
            target=organization,
            data=changed,
        )
    return organization


def organization_move(*, actor: Actor, organization: Organization, new_parent: Organization | None) -> Organization:
    """Re-parent an organization and its whole subtree (one UPDATE for the paths)."""
    if new_parent is not None:
        if new_parent.tenant_id != organization.tenant_id:
            raise ValidationError({"parent": ["The new parent must belong to the same tenant."]})
        if new_parent.pk == organization.pk or new_parent.path.startswith(organization.path):
            cycle = (
                f"'{new_parent.identifier}' is '{organization.identifier}' or one of its descendants: "
                "that would make a cycle."
            )
            raise ValidationError({"parent": [cycle]})
    if not permissions.can_move_organization(actor, organization, new_parent):
        raise _deny(
            "Moving an organization needs ownership above it and over the destination, or tenant administration."
        )
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        if new_parent is not None:
            new_parent = Organization.objects.select_for_update().get(pk=new_parent.pk)
            if new_parent.path.startswith(locked.path):  # re-check under the lock
                raise ValidationError({"parent": ["That would make a cycle."]})
            max_depth_below = (
                organization_descendants(organization=locked, include_self=True)
                .order_by("-depth")
                .values_list("depth", flat=True)
                .first()
            ) or locked.depth
            if new_parent.depth + 1 + (max_depth_below - locked.depth) >= MAX_DEPTH:
                raise ValidationError({"parent": [f"The hierarchy may be at most {MAX_DEPTH} levels deep."]})
        old_path = locked.path
        new_path = (new_parent.path if new_parent else "") + locked.id.hex + "/"
        delta = (new_parent.depth + 1 if new_parent else 0) - locked.depth
        Organization.objects.filter(tenant_id=locked.tenant_id, path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
            depth=F("depth") + delta,
        )
        Organization.objects.filter(pk=locked.pk).update(parent=new_parent, updated_at=timezone.now())
        locked.path = new_path
        hooks.organization_moved(organization=locked)  # the moved subtree inherits from its new lineage
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.ORGANIZATION_MOVE,
            target=locked,
            data={
                "from": str(locked.parent_id) if locked.parent_id else None,
                "to": str(new_parent.pk) if new_parent else None,
            },
        )
    organization.refresh_from_db()
    return organization


def organization_delete(*, actor: Actor, organization: Organization, cascade: bool = False) -> int:
    """Delete an organization. Refused while it has sub-organizations unless ``cascade``.

    Returns how many organizations were deleted.
    """
    if not permissions.can_delete_organization(actor, organization):
        raise _deny("Only an owner above this organization or a tenant administrator can delete it.")
    with transaction.atomic():
        subtree = organization_descendants(organization=organization, include_self=True).select_for_update()
        rows = list(subtree.values_list("pk", "depth", "identifier"))
        children = [r for r in rows if r[0] != organization.pk]
        if children and not cascade:
            names = ", ".join(sorted(r[2] for r in children if r[1] == organization.depth + 1))
            raise OrganizationHasChildren(
                {
                    "organization": [
                        f"'{organization.identifier}' has {len(children)} sub-organization(s) ({names}); "
                        "delete or move them first, or delete with cascade."
                    ]
                }
            )
        for depth in sorted({r[1] for r in rows}, reverse=True):  # leaves first (parent is PROTECT)
            Organization.objects.filter(pk__in=[r[0] for r in rows if r[1] == depth]).delete()
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.ORGANIZATION_DELETE,
            target=None,
            data={"id": str(organization.pk), "identifier": organization.identifier, "deleted": len(rows)},
        )
    return len(rows)


# --- Memberships ------------------------------------------------------------


def _validate_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'. Use one of: {', '.join(Membership.Role.values)}."]})


def membership_validate(*, organization: Organization, user: User, origin: str = Membership.Origin.DIRECT) -> None:
    """The parent rule and the obvious ones; raises with a ``user`` field error."""
    errors: dict[str, list[str]] = {}
    if user.tenant_id != organization.tenant_id:
        errors["user"] = ["The user belongs to another tenant."]
    elif Membership.objects.filter(user=user, organization=organization).exists():
        errors["user"] = [f"'{user.username}' is already a member of '{organization.identifier}'."]
    elif (
        organization.parent_id is not None
        and origin != Membership.Origin.CREATED_HERE
        and not Membership.objects.filter(user=user, organization_id=organization.parent_id).exists()
    ):
        parent = organization.parent
        errors["user"] = [
            f"'{user.username}' is not a member of the parent organization '{parent.identifier if parent else ''}'. "
            "Add them there first, or create a new user directly in this organization."
        ]
    _errors_or_raise(errors)


def membership_create(
    *,
    organization: Organization,
    user: User,
    role: str,
    origin: str,
    duplicate: str = "This user is already a member of this organization.",
) -> Membership:
    """The one writer of a membership row (sharing's batched rows aside): the parent rule, then the row.

    Callers check who may do it and write their own audit event (added, invited, JIT, …) in the
    same transaction. An existing membership is a ValidationError with ``duplicate`` as its message.
    """
    membership_validate(organization=organization, user=user, origin=origin)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a duplicate
            return Membership.objects.create(
                tenant_id=organization.tenant_id, user=user, organization=organization, role=role, origin=origin
            )
    except IntegrityError as exc:
        raise ValidationError({"user": [duplicate]}) from exc


def membership_add(
    *,
    actor: Actor,
    organization: Organization,
    user: User,
    role: str = Membership.Role.MEMBER,
    origin: str = Membership.Origin.DIRECT,
) -> Membership:
    """Add an existing user. In a sub-organization, the user must already belong to its parent."""
    _validate_role(role)
    if not permissions.can_manage_members(actor, organization):
        raise _deny("Only an owner or administrator of this organization (or above) can add members.")
    if not permissions.can_grant_role(actor, organization, role):
        raise _deny(f"You may not grant the role '{role}' in '{organization.identifier}'.")
    with transaction.atomic():
        membership = membership_create(organization=organization, user=user, role=role, origin=origin)
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.MEMBERSHIP_ADD,
            target=membership,
            data={"user": user.pk, "organization": str(organization.pk), "role": role, "origin": origin},
        )
    return membership


def membership_set_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    _validate_role(role)
    org = membership.organization
    if not permissions.can_manage_members(actor, org) or not permissions.can_grant_role(actor, org, role):
        raise _deny(f"You may not grant the role '{role}' in '{org.identifier}'.")
    if membership.role == Membership.Role.OWNER and not permissions.can_grant_role(actor, org, Membership.Role.OWNER):
        raise _deny("Only an owner above this organization or a tenant administrator can demote an owner.")
    return audited_change(
        actor=actor,
        tenant=org.tenant,
        action=AuditAction.MEMBERSHIP_SET_ROLE,
        target=membership,
        field="role",
        value=role,
        keys=("from", "to"),
    )


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    """Remove a membership and the user's memberships in that organization's sub-organizations."""
    org = membership.organization
    if not permissions.can_manage_members(actor, org):
        raise _deny("Only an owner or administrator of this organization (or above) can remove members.")
    if membership.role == Membership.Role.OWNER and not permissions.can_grant_role(actor, org, Membership.Role.OWNER):
        raise _deny("Only an owner above this organization or a tenant administrator can remove an owner.")
    with transaction.atomic():
        below = Membership.objects.filter(
            user_id=membership.user_id,
            organization__tenant_id=org.tenant_id,
            organization__path__startswith=org.path,
        )
        removed = list(below.values_list("organization__identifier", flat=True))
        below.delete()
        audit_record(
            actor=actor,
            tenant=org.tenant,
            action=AuditAction.MEMBERSHIP_REMOVE,
            target=org,
            data={"user": membership.user_id, "organizations": removed},
        )


def organization_user_create(
    *,
    actor: Actor,
    organization: Organization,
    username: str,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    role: str = Membership.Role.MEMBER,
    validate_password_strength: bool = True,
) -> User:
    """Create a new profile directly in an organization (its home organization)."""
    _validate_role(role)
    if not permissions.can_manage_members(actor, organization):
        raise _deny("Only an owner or administrator of this organization (or above) can create users in it.")
    if not permissions.can_grant_role(actor, organization, role):
        raise _deny(f"You may not grant the role '{role}' in '{organization.identifier}'.")
    with transaction.atomic():
        user = user_create(
            actor=actor,
            tenant=organization.tenant,
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            validate_password_strength=validate_password_strength,
        )
        membership_add(
            actor=actor, organization=organization, user=user, role=role, origin=Membership.Origin.CREATED_HERE
        )
    return user


# --- Domains ----------------------------------------------------------------


def normalize_domain(raw: str) -> str:
    """Lower-case, IDNA-encode and check a DNS domain name; raise with a field error."""
    domain = (raw or "").strip().rstrip(".").lower()
    if domain.startswith("@"):
        domain = domain[1:]
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        ascii_domain = ""
    labels = ascii_domain.split(".")
    if (
        not ascii_domain
        or len(ascii_domain) > 253
        or len(labels) < 2
        or not all(DOMAIN_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError({"domain": [f"'{raw}' is not a valid domain name (for example: acme.example)."]})
    if ascii_domain in FREE_MAIL_DOMAINS or ascii_domain.endswith(SHARED_DOMAIN_SUFFIXES):
        raise ValidationError(
            {"domain": [f"'{ascii_domain}' is a shared or public mail domain and cannot belong to one organization."]}
        )
    return ascii_domain


def domain_validate(*, tenant_id: int, domain: str) -> str:
    """Normalize and check a domain is valid, not shared mail, and unclaimed in the tenant."""
    name = normalize_domain(domain)
    existing = (
        OrganizationDomain.objects.filter(tenant_id=tenant_id, domain=name).select_related("organization").first()
    )
    if existing is not None:
        raise ValidationError(
            {"domain": [f"'{name}' is already claimed by organization '{existing.organization.identifier}'."]}
        )
    return name


def domain_add(*, actor: Actor, organization: Organization, domain: str, verified: bool = False) -> OrganizationDomain:
    if not permissions.can_edit_organization(actor, organization):
        raise _deny("Only an owner of this organization (or above) or a tenant administrator can add domains.")
    if verified and not permissions.can_manage_tenant_links(actor, organization.tenant):
        raise _deny("Only a tenant administrator can mark a domain verified.")
    name = domain_validate(tenant_id=organization.tenant_id, domain=domain)
    with transaction.atomic():
        try:
            row = OrganizationDomain.objects.create(
                tenant_id=organization.tenant_id,
                organization=organization,
                domain=name,
                verified=verified,
                verified_at=timezone.now() if verified else None,
            )
        except IntegrityError as exc:
            raise ValidationError({"domain": [f"'{name}' is already claimed in this tenant."]}) from exc
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.DOMAIN_ADD,
            target=row,
            data={"domain": name, "verified": verified},
        )
    return row


def domain_set_verified(*, actor: Actor, domain: OrganizationDomain, verified: bool) -> OrganizationDomain:
    if not permissions.can_manage_tenant_links(actor, domain.organization.tenant):
        raise _deny("Only a tenant administrator can verify domains.")
    with transaction.atomic():
        domain.verified = verified
        domain.verified_at = timezone.now() if verified else None
        domain.save(update_fields=["verified", "verified_at"])
        audit_record(
            actor=actor,
            tenant=domain.organization.tenant,
            action=AuditAction.DOMAIN_VERIFY,
            target=domain,
            data={"verified": verified},
        )
    return domain


def domain_remove(*, actor: Actor, domain: OrganizationDomain) -> None:
    if not permissions.can_edit_organization(actor, domain.organization):
        raise _deny("Only an owner of this organization (or above) or a tenant administrator can remove domains.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=domain.organization.tenant,
            action=AuditAction.DOMAIN_REMOVE,
            target=domain,
            data={"domain": domain.domain},
        )
        domain.delete()


# --- Acts-for links ---------------------------------------------------------


def acts_for_validate(*, organization: Organization, on_behalf_of: Organization) -> None:
    errors: dict[str, list[str]] = {}
    if on_behalf_of.tenant_id != organization.tenant_id:
        errors["on_behalf_of"] = ["The represented organization must belong to the same tenant."]
    elif on_behalf_of.pk == organization.pk:
        errors["on_behalf_of"] = ["An organization cannot act on behalf of itself."]
    elif ActsForLink.objects.filter(organization=organization, on_behalf_of=on_behalf_of).exists():
        errors["on_behalf_of"] = [f"'{organization.identifier}' already acts for '{on_behalf_of.identifier}'."]
    _errors_or_raise(errors)


def acts_for_add(*, actor: Actor, organization: Organization, on_behalf_of: Organization) -> ActsForLink:
    """Let members of ``organization`` act on behalf of ``on_behalf_of``."""
    if not permissions.can_manage_tenant_links(actor, organization.tenant):
        raise _deny("Only a tenant administrator can create acts-for links.")
    acts_for_validate(organization=organization, on_behalf_of=on_behalf_of)
    with transaction.atomic():
        link = ActsForLink.objects.create(
            tenant_id=organization.tenant_id, organization=organization, on_behalf_of=on_behalf_of
        )
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.ACTS_FOR_ADD,
            target=link,
            data={"organization": str(organization.pk), "on_behalf_of": str(on_behalf_of.pk)},
        )
    return link


def acts_for_remove(*, actor: Actor, link: ActsForLink) -> None:
    if not permissions.can_manage_tenant_links(actor, link.organization.tenant):
        raise _deny("Only a tenant administrator can remove acts-for links.")
    with transaction.atomic():
        audit_record(actor=actor, tenant=link.organization.tenant, action=AuditAction.ACTS_FOR_REMOVE, target=link)
        link.delete()


# --- written by idp.api ---
# (also by idp.federation; each names the feature module it belongs to after the orgs split)
