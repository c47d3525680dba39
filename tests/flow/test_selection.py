"""The organization picker: begin() → picker page → choice → consume(), exactly once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow import selection
from idp.flow.redirects import with_query_param
from idp.flow.session import SESSION_PICKS
from orgs.tree.selectors import EligibleOrganization, user_eligible_organizations
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tests.support.login import request_for, sign_in
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db
NEXT = "/t/mightybank/authorize?client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=a%20b"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def signed_in(tenant: Tenant, username: str) -> tuple[Client, User]:
    client = Client()
    assert sign_in(client, username, f"{username}-demo-pass", slug=tenant.slug).status_code == 303
    return client, user(tenant, username)


def begin(
    client: Client,
    who: User,
    tenant: Tenant,
    eligible: list[EligibleOrganization] | None = None,
    *,
    next_url: str = NEXT,
    client_name: str = "Loan Portal",
) -> str:
    request = request_for(client, who)
    response = selection.begin(
        request,
        tenant=tenant,
        eligible=user_eligible_organizations(user=who) if eligible is None else eligible,
        next_url=next_url,
        client_name=client_name,
    )
    request.session.save()
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"/t/{tenant.slug}/select-organization/?pick=")
    return parse_qs(urlsplit(location).query)["pick"][0]


def consume(client: Client, who: User, tenant: Tenant, pick_id: str) -> Any:
    request = request_for(client, who)
    result = selection.consume(request, tenant=tenant, pick_id=pick_id)
    request.session.save()
    return result


def picker(tenant: Tenant, pick_id: str) -> str:
    return f"/t/{tenant.slug}/select-organization/?pick={pick_id}"


def stored(client: Client, pick_id: str) -> dict:
    return client.session[SESSION_PICKS][pick_id]


def test_begin_stores_the_pick(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    pick = stored(client, pick_id)
    americas, acme = org(demo, "mightybank-americas"), org(demo, "acme-bank")
    assert pick["tenant_id"] == demo.pk and pick["next"] == NEXT and pick["client_name"] == "Loan Portal"
    assert pick["eligible"] == [[str(americas.pk), None], [str(acme.pk), None]]
    assert abs(pick["created"] - time.time()) < 5 and "chosen" not in pick


def test_the_picker_lists_alices_organizations(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    page = client.get(picker(demo, begin(client, alice, demo)))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Loan Portal" in html and "MightyBank" in html
    for o in (org(demo, "mightybank-americas"), org(demo, "acme-bank")):
        assert f'name="organization" value="{o.pk}"' in html
        assert o.display_name in html and o.identifier in html
    assert "MexBanco" not in html and "csrfmiddlewaretoken" in html
    assert 'id="org-search"' not in html  # only two entries: no search box


def test_carol_sees_my_corporation_via_the_contractor(demo: Tenant) -> None:
    client, carol = signed_in(demo, "carol")
    html = client.get(picker(demo, begin(client, carol, demo))).content.decode()
    assert "Services Contractor" in html
    assert "on behalf of My Corporation (via Services Contractor)" in html
    assert f'value="{org(demo, "my-corporation").pk}"' in html


def test_many_organizations_get_a_search_box_that_degrades_without_js(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    extra = [
        organization_create(actor=SYSTEM, tenant=demo, identifier=f"branch-{i}", display_name=f"Branch {i}")
        for i in range(8)
    ]
    html = client.get(
        picker(demo, begin(client, alice, demo, [EligibleOrganization(o) for o in extra]))
    ).content.decode()
    assert 'id="org-search"' in html and '<label for="org-search">' in html
    assert re.search(r'id="org-search-field" hidden', html)  # shown by the script; without it, the full list
    assert html.count('name="organization"') == 8


def test_a_valid_choice_returns_to_next_with_the_pick_and_consume_gives_it_once(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    acme = org(demo, "acme-bank")
    response = client.post(picker(demo, pick_id), {"pick": pick_id, "organization": str(acme.pk)})
    assert response.status_code == 303
    assert response["Location"] == f"{NEXT}&canopy_pick={pick_id}"  # the existing query kept as it was
    assert stored(client, pick_id)["chosen"] == [str(acme.pk), None]
    assert consume(client, alice, demo, pick_id) == (acme, None)
    assert consume(client, alice, demo, pick_id) is None
    assert client.get(picker(demo, pick_id)).status_code == 400


def test_carols_choice_comes_back_with_the_organization_it_came_through(demo: Tenant) -> None:
    client, carol = signed_in(demo, "carol")
    pick_id = begin(client, carol, demo)
    corp, contractor = org(demo, "my-corporation"), org(demo, "contractor")
    response = client.post(picker(demo, pick_id), {"pick": pick_id, "organization": str(corp.pk)})
    assert response.status_code == 303
    assert consume(client, carol, demo, pick_id) == (corp, contractor)


def test_an_organization_that_is_not_eligible_is_refused_and_nothing_is_stored(demo: Tenant, world_b) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    for bad in [str(org(demo, "mexbanco").pk), str(world_b.root.pk), "acme-bank", "not-a-uuid", ""]:
        response = client.post(picker(demo, pick_id), {"pick": pick_id, "organization": bad})
        assert response.status_code == 400
        assert "Choose one of the organizations listed here." in response.content.decode()
        assert "chosen" not in stored(client, pick_id)
    assert consume(client, alice, demo, pick_id) is None  # no choice: nothing to return


def test_a_pick_made_for_one_tenant_is_useless_in_another(demo: Tenant, world_b) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    client.post(picker(demo, pick_id), {"pick": pick_id, "organization": str(org(demo, "acme-bank").pk)})
    assert consume(client, alice, world_b.tenant, pick_id) is None
    assert client.get(picker(world_b.tenant, pick_id)).status_code == 400
    assert consume(client, alice, demo, pick_id) is not None  # still there for its own tenant


def test_begin_keeps_only_this_tenants_organizations(demo: Tenant, world_b) -> None:
    client, alice = signed_in(demo, "alice")
    acme = org(demo, "acme-bank")
    pick_id = begin(client, alice, demo, [EligibleOrganization(acme), EligibleOrganization(world_b.root)])
    assert stored(client, pick_id)["eligible"] == [[str(acme.pk), None]]


def test_an_expired_pick_is_refused(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    acme = org(demo, "acme-bank")
    client.post(picker(demo, pick_id), {"pick": pick_id, "organization": str(acme.pk)})
    session = client.session
    session[SESSION_PICKS][pick_id]["created"] -= selection.PICK_TTL_SECONDS + 1
    session.save()
    page = client.get(picker(demo, pick_id))
    assert page.status_code == 400 and "sign in again" in page.content.decode().lower()
    assert consume(client, alice, demo, pick_id) is None


def test_the_picker_needs_the_user_signed_in_to_this_tenant(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    pick_id = begin(client, alice, demo)
    client.post("/t/mightybank/logout/")
    assert client.get(picker(demo, pick_id)).status_code == 400
    assert Client().get(picker(demo, pick_id)).status_code == 400


def test_begin_refuses_a_next_outside_the_tenant(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    for bad in ["https://evil.example/", "//evil.example/", "/t/other/authorize", ""]:
        with pytest.raises(ValueError, match="next_url"):
            begin(client, alice, demo, next_url=bad)


def test_sessions_hold_a_bounded_number_of_picks(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    ids = [begin(client, alice, demo) for _ in range(selection.MAX_PICKS_PER_SESSION + 3)]
    picks = client.session[SESSION_PICKS]
    assert len(picks) == selection.MAX_PICKS_PER_SESSION and ids[-1] in picks and ids[0] not in picks


def test_the_picker_post_needs_a_csrf_token(demo: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/t/mightybank/login/")
    token = client.cookies["csrftoken"].value
    client.post("/t/mightybank/login/", {"identifier": "alice", "csrfmiddlewaretoken": token})
    client.post("/t/mightybank/login/password/", {"password": "alice-demo-pass", "csrfmiddlewaretoken": token})
    alice = user(demo, "alice")
    pick_id = begin(client, alice, demo)
    acme = str(org(demo, "acme-bank").pk)
    assert client.post(picker(demo, pick_id), {"pick": pick_id, "organization": acme}).status_code == 403
    assert "chosen" not in stored(client, pick_id)
    token = client.cookies["csrftoken"].value  # rotated at login
    response = client.post(picker(demo, pick_id), {"pick": pick_id, "organization": acme, "csrfmiddlewaretoken": token})
    assert response.status_code == 303


def test_error_page_says_it_in_plain_words(demo: Tenant) -> None:
    client, alice = signed_in(demo, "alice")
    response = selection.error_page(
        request_for(client, alice),
        tenant=demo,
        title="No access",
        message="You are not a member of any organization this application requires.",
        status=403,
    )
    html = response.content.decode()
    assert response.status_code == 403 and "No access" in html and "any organization this application" in html
    assert "MightyBank" in html


def test_with_query_param_replaces_an_earlier_pick() -> None:
    assert with_query_param("/t/x/a?b=1&canopy_pick=old#f", name="canopy_pick", value="new") == (
        "/t/x/a?b=1&canopy_pick=new#f"
    )
    assert with_query_param("/t/x/a", name="canopy_pick", value="n") == "/t/x/a?canopy_pick=n"
