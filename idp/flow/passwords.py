"""The password policy a person meets when they choose a password (registration, invitations, recovery).

Two layers, both enforced: the organization's effective ``login`` settings
(``password_min_length``, ``password_require_digit``, ``password_require_symbol``, which
administrators tune per organization) and Django's configured password validators (common
passwords, similarity to the username…), which the deployment sets for everyone.
"""

from __future__ import annotations

import uuid

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from orgs.inheritance.selectors import effective_section
from tenants.models import Tenant, User


def password_problems(
    *, tenant: Tenant, organization: uuid.UUID | None, password: str, user: User | None = None
) -> list[str]:
    """Plain-words reasons ``password`` is refused for the organization in context; empty when it is fine."""
    login = effective_section(tenant=tenant, organization=organization, section="login")
    problems: list[str] = []
    minimum = int(login["password_min_length"])
    if len(password) < minimum:
        problems.append(f"Use at least {minimum} characters.")
    if login["password_require_digit"] and not any(ch.isdigit() for ch in password):
        problems.append("Include at least one digit (0-9).")
    if login["password_require_symbol"] and all(ch.isalnum() or ch.isspace() for ch in password):
        problems.append("Include at least one symbol, such as ! or #.")
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        problems.extend(m for m in exc.messages if m not in problems)
    return problems
