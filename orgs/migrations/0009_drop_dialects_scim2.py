"""``dialects.scim2`` left the schema (nothing read it; SCIM provisioning will define its own mapping).

Stored overrides and materialized effective rows lose the key, so the admin, the API and a later
PUT of the section never meet a field the schema no longer knows. Readers already ignored it
(``orgs.settings_schema.merge`` skips unknown names), so running this late is harmless.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

FIELD = "scim2"


def drop(apps: Any, schema_editor: Any) -> None:
    for model, attrs in (("SettingsOverride", ("values",)), ("EffectiveSettings", ("data", "sources"))):
        rows = apps.get_model("orgs", model).objects.filter(section="dialects")
        for row in rows.iterator():
            changed = False
            for attr in attrs:
                stored = getattr(row, attr) or {}
                if FIELD in stored:
                    stored.pop(FIELD)
                    setattr(row, attr, stored)
                    changed = True
            if changed:
                row.save(update_fields=list(attrs))


class Migration(migrations.Migration):
    dependencies = [("orgs", "0008_invitation_revoked")]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
