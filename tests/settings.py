"""Settings for the test suite: the project's settings with test-friendly defaults.

``make test`` exports DATABASE_URL (PostgreSQL) and REDIS_URL; these defaults
only fill in what the environment leaves unset.
"""

import os

os.environ.setdefault("SECRET_KEY", "canopy-test-secret-key-not-for-production-0123456789")
# Tasks run in-process unless a test starts a real worker (see tests/conftest.py).
os.environ.setdefault("CANOPY_CELERY_EAGER", "1")
# Argon2id still, with a small cost so the suite is quick.
os.environ.setdefault("CANOPY_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("CANOPY_ARGON2_TIME_COST", "1")

from idp.settings import *  # noqa: E402,F403

CANOPY_CACHE_PREFIX = "canopy-test"
# The API's rate limits (idp/api/base.py) stay out of the way of the matrices and fuzzers that send
# thousands of requests per token; tests/api/test_rate_limit.py sets small ones with ``settings``.
CANOPY_API_RATE_LIMIT = "1000000/60"
CANOPY_API_WRITE_RATE_LIMIT = "1000000/60"
CANOPY_API_TENANT_RATE_LIMIT = "1000000/60"
CANOPY_API_ANON_RATE_LIMIT = "1000000/60"
