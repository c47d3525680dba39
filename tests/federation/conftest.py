"""Fixtures of the federation tests: the partner OP in its usual mode, an upstream IdP for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.federation.logout import logout_return_url
from idp.federation.models import UpstreamIdP
from tests.support.federation import make_idp
from tests.support.partners import PartnerOP
from tests.support.worlds import World


@pytest.fixture
def partner_ok(partner: PartnerOP) -> Iterator[PartnerOP]:
    """The partner OP answering normally; its users are reset afterwards (a test may change Dana)."""
    partner.control(mode="ok")
    yield partner
    partner.control(
        mode="ok",
        users={
            "dana": {
                "sub": "dana-0001",
                "email": "dana@partner.example",
                "email_verified": True,
                "given_name": "Dana",
                "family_name": "Partner",
                "department": "labs",
            }
        },
    )


@pytest.fixture
def upstream(world_a: World, partner: PartnerOP) -> UpstreamIdP:
    """The partner OP as world A's upstream ``partner``, with its post-logout return URI registered there."""
    partner.control(mode="ok")
    idp = make_idp(world_a, partner)
    partner.control(post_logout_redirect_uris=[logout_return_url(idp)])
    return idp
