"""Argon2id with costs taken from settings, so they are a deliberate choice.

The algorithm name stays ``argon2``: when the settings change, Django's
``must_update`` sees the new parameters and rehashes on the next login.
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class CanopyArgon2PasswordHasher(Argon2PasswordHasher):
    @property
    def time_cost(self) -> int:  # type: ignore[override]  # settings may change at runtime
        return int(settings.CANOPY_ARGON2_TIME_COST)

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return int(settings.CANOPY_ARGON2_MEMORY_KIB)

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return int(settings.CANOPY_ARGON2_PARALLELISM)
