"""Beat job: re-read the metadata of SPs registered from a metadata URL.

Each SP is handled on its own (a failure is recorded on it and stops nothing) and a run is
safe to repeat. Scheduled in ``CELERY_BEAT_SCHEDULE`` (``CANOPY_SAML_SP_METADATA_REFRESH_SECONDS``).
"""

from __future__ import annotations

from celery import shared_task

from idp.saml.services import service_providers_refresh_metadata
from tenants.actors import SystemActor


@shared_task(name="idp.saml.tasks.refresh_sp_metadata")
def refresh_sp_metadata() -> dict[str, int]:
    return service_providers_refresh_metadata(actor=SystemActor("celery"))
