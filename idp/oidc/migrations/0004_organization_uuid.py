"""Keep the organization ids on grants and tokens after the organization is deleted.

The foreign keys stay SET_NULL; ``organization_uuid`` / ``acting_via_uuid`` are filled from
them for existing rows and by ``TenantOrganizationFields.save`` from then on.
"""

from typing import Any

from django.db import migrations, models
from django.db.models import F

MODELS = ("Grant", "AccessToken", "RefreshToken")


def copy_ids(apps: Any, schema_editor: Any) -> None:
    for name in MODELS:
        model = apps.get_model("oidc", name)
        model.objects.filter(organization__isnull=False).update(organization_uuid=F("organization_id"))
        model.objects.filter(acting_via__isnull=False).update(acting_via_uuid=F("acting_via_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("oidc", "0003_backchannel_logout"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name.lower(),
                name=field,
                field=models.UUIDField(blank=True, editable=False, null=True),
            )
            for name in MODELS
            for field in ("organization_uuid", "acting_via_uuid")
        ),
        migrations.RunPython(copy_ids, migrations.RunPython.noop, elidable=True),
    ]
