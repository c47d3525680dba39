"""Which step follows the identifier: a small registry of login steps.

The identifier page asks :func:`choose_step` where to send the browser next. Today
only the password step is registered; other apps (an upstream-IdP step, for
instance) register theirs from their ``AppConfig.ready`` without this app knowing
about them::

    @register_step("upstream")
    class UpstreamStep(Step):
        priority = 10

        @classmethod
        def applies(cls, *, request, tenant, identifier):
            return identifier.endswith("@partner.example")

        @classmethod
        def url(cls, *, request, tenant, next_url):
            return reverse("federation:start", ...)

Steps are asked in ``priority`` order (lowest first, then by name); the first that
applies wins. The password step applies to everything and is asked last. A step
must decide on the identifier's *form* (a domain, say), never on whether an
account exists, so the next page does not reveal it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from tenants.models import Tenant
from tenants.registry import Registry

PASSWORD = "password"  # noqa: S105 - the password step's name


class Step:
    """A login step. Subclasses set ``priority`` and override ``applies`` and ``url``."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 100

    @classmethod
    def applies(cls, *, request: HttpRequest, tenant: Tenant, identifier: str) -> bool:
        return False

    @classmethod
    def url(cls, *, request: HttpRequest, tenant: Tenant, next_url: str) -> str:
        """Where the browser goes for this step: a path that carries ``next_url`` on.

        ``next_url`` is a checked path inside the tenant, or "" for the tenant's home page.
        """
        raise NotImplementedError


S = TypeVar("S", bound=type[Step])
STEPS: Registry[type[Step]] = Registry("login step")


def register_step(name: str) -> Callable[[S], S]:
    """Class decorator: ``@register_step("password")``. A name is registered once."""

    return STEPS.named(name)


def unregister_step(name: str) -> None:
    """For tests and apps that replace a step."""
    STEPS.unregister(name)


def get_step(name: str) -> type[Step] | None:
    return STEPS.get(name)


def registered_steps() -> dict[str, type[Step]]:
    return STEPS.all()


def choose_step(*, request: HttpRequest, tenant: Tenant, identifier: str) -> type[Step]:
    for step in STEPS.by_priority():
        if step.applies(request=request, tenant=tenant, identifier=identifier):
            return step
    return STEPS[PASSWORD]


def step_url(view_name: str, *, tenant: Tenant, next_url: str) -> str:
    """``reverse`` for a tenant page, with ``?next=`` when there is one."""
    url = reverse(view_name, kwargs={"tenant_slug": tenant.slug})
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@register_step(PASSWORD)
class PasswordStep(Step):
    priority = 1000  # the fallback: asked last, applies to every identifier

    @classmethod
    def applies(cls, *, request: HttpRequest, tenant: Tenant, identifier: str) -> bool:
        return True

    @classmethod
    def url(cls, *, request: HttpRequest, tenant: Tenant, next_url: str) -> str:
        return step_url("flow:password", tenant=tenant, next_url=next_url)
