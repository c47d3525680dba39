"""Writes on tenants, users and signing keys. One transaction each."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from tenants import keys
from tenants.actors import Actor, SystemActor, is_platform_staff, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.models import SigningKey, Tenant, User, slug_validator, username_validator

SIGNING_ALGORITHMS = (SigningKey.Algorithm.RS256, SigningKey.Algorithm.ES256)


def _require_platform(actor: Actor) -> None:

    if not (isinstance(actor, SystemActor) or is_platform_staff(actor)):
        raise PermissionDenied("Only platform staff can manage tenants.")


def tenant_create(*, actor: Actor, slug: str, display_name: str = "") -> Tenant:
    """Create a tenant with a fresh RS256 and ES256 signing key."""
    _require_platform(actor)
    slug = (slug or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        slug_validator(slug)
    except ValidationError as exc:
        errors["slug"] = list(exc.messages)
    if not errors and Tenant.objects.filter(slug=slug).exists():
        errors["slug"] = [f"A tenant with slug '{slug}' already exists."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        tenant = Tenant.objects.create(slug=slug, display_name=display_name.strip() or slug)
        for algorithm in SIGNING_ALGORITHMS:
            _signing_key_create(tenant=tenant, algorithm=algorithm)
        audit_record(actor=actor, tenant=tenant, action=AuditAction.TENANT_CREATE, target=tenant)
    return tenant


def _signing_key_create(*, tenant: Tenant, algorithm: str) -> SigningKey:
    private = keys.generate_private_key(algorithm)
    jwk = keys.public_jwk(private, algorithm)
    return SigningKey.objects.create(
        tenant=tenant,
        kid=jwk["kid"],
        algorithm=algorithm,
        status=SigningKey.Status.ACTIVE,
        public_jwk=jwk,
        private_key_encrypted=keys.encrypt_private_key(private),
    )


def signing_keys_rotate(
    *, actor: Actor, tenant: Tenant, algorithms: tuple[str, ...] = SIGNING_ALGORITHMS
) -> list[SigningKey]:
    """Retire the active key of each algorithm and activate a new one.

    Retired keys stay published in JWKS until ``signing_keys_prune`` removes them,
    after the retention period, so tokens they signed still verify.
    """
    if not is_tenant_admin(actor, tenant):
        raise PermissionDenied("Only a tenant administrator can rotate this tenant's keys.")
    created: list[SigningKey] = []
    with transaction.atomic():
        # Lock the tenant row: two concurrent rotations must not both retire and create.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        now = timezone.now()
        for algorithm in algorithms:
            SigningKey.objects.filter(tenant=tenant, algorithm=algorithm, status=SigningKey.Status.ACTIVE).update(
                status=SigningKey.Status.RETIRED, retired_at=now
            )
            created.append(_signing_key_create(tenant=tenant, algorithm=algorithm))
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.SIGNING_KEYS_ROTATE,
            target=tenant,
            data={"new_kids": [k.kid for k in created]},
        )
    return created


def signing_keys_prune(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Delete retired keys older than the retention period. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.CANOPY_SIGNING_KEY_RETENTION_HOURS)
    deleted, _ = SigningKey.objects.filter(
        tenant=tenant, status=SigningKey.Status.RETIRED, retired_at__lt=cutoff
    ).delete()
    return deleted


def user_create(
    *,
    actor: Actor,
    tenant: Tenant,
    username: str,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    is_tenant_admin_flag: bool = False,
    validate_password_strength: bool = True,
) -> User:
    """Create a user in a tenant. Field errors name the field; nothing is written on error."""
    if is_tenant_admin_flag and not is_tenant_admin(actor, tenant):
        raise PermissionDenied("Only a tenant administrator can create another tenant administrator.")
    username = (username or "").strip()
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        username_validator(username)
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    if (
        "username" not in errors
        and User.objects.annotate(u=Lower("username")).filter(tenant=tenant, u=username.lower()).exists()
    ):
        errors["username"] = [f"A user named '{username}' already exists in tenant '{tenant.slug}'."]
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = list(exc.messages)
        if "email" not in errors and User.objects.filter(tenant=tenant, email=email).exists():
            errors["email"] = [f"A user with email '{email}' already exists in tenant '{tenant.slug}'."]
    user = User(
        tenant=tenant,
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_tenant_admin=is_tenant_admin_flag,
        is_staff=is_tenant_admin_flag,
    )
    if password is not None and validate_password_strength and "username" not in errors:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    with transaction.atomic():
        user.save()
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.USER_CREATE,
            target=user,
            data={"username": username, "tenant_admin": is_tenant_admin_flag},
        )
    return user
