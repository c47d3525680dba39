"""Django settings for Canopy.

Everything comes from the environment. With nothing set, Canopy runs in its
*embedded default*: a SQLite file, Celery tasks executed eagerly in-process and
the local-memory cache, so ``make run`` needs no server. Setting
``DATABASE_URL`` and ``REDIS_URL`` switches to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

_INSECURE_DEV_KEY = "canopy-insecure-development-key-change-me-0123456789abcdef"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or env_bool("CANOPY_ALLOW_INSECURE_SECRET", False):
        SECRET_KEY = _INSECURE_DEV_KEY
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for local development."
        )

CANOPY_BASE_URL = os.environ.get("CANOPY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "tenants.apps.CanopyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tenants",
    "orgs",
    "idp",
    "idp.flow",
    "oauth2_provider",
    "idp.oidc",
    "idp.saml",
    "idp.federation",
    "idp.api",
    "idp.passkeys",
    "idp.account",
    "rest_framework",
    "drf_spectacular",
]

# django-oauth-toolkit, with models swapped to carry tenant and organization.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oidc.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oidc.AccessToken"  # noqa: S105 - a model label, not a secret
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oidc.RefreshToken"  # noqa: S105 - a model label, not a secret
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oidc.IDToken"  # noqa: S105 - a model label, not a secret
OAUTH2_PROVIDER_GRANT_MODEL = "oidc.Grant"

CANOPY_ACCESS_TOKEN_SECONDS = int(os.environ.get("CANOPY_ACCESS_TOKEN_SECONDS", "600"))
CANOPY_REFRESH_TOKEN_SECONDS = int(os.environ.get("CANOPY_REFRESH_TOKEN_SECONDS", str(30 * 24 * 3600)))
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OAUTH2_SERVER_CLASS": "idp.oidc.server.CanopyServer",  # oauthlib's OIDC server + token exchange (RFC 8693)
    "OAUTH2_VALIDATOR_CLASS": "idp.oidc.validators.CanopyValidator",
    "SCOPES_BACKEND_CLASS": "idp.oidc.scopes.CanopyScopes",
    "ACCESS_TOKEN_GENERATOR": "idp.oidc.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "idp.oidc.tokens.generate_refresh_token",
    "CLIENT_SECRET_HASHER": "canopy_hmac_sha256",
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Your name and username",
        "email": "Your email address",
        "organization": "The organizations you belong to and the one you act for",
        "offline_access": "Stay signed in to the application",
        "canopy:admin": "Manage this tenant's organizations and members through the management API",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,  # refined per client by CanopyValidator.is_pkce_required
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": CANOPY_ACCESS_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": CANOPY_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": CANOPY_REFRESH_TOKEN_SECONDS,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REQUEST_APPROVAL_PROMPT": "auto",
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    # iss (RFC 9207) is added per tenant by idp.oidc.views.AuthorizationView.redirect.
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": False,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.routing.TenantPathMiddleware",  # request.tenant for /t/<slug>/ (tenants.routing.tenant_of)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "idp.urls"
WSGI_APPLICATION = "idp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "canopy.sqlite3")),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery ------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache may live in another Redis database than the broker (CANOPY_CACHE_URL).
CACHE_URL = os.environ.get("CANOPY_CACHE_URL", "") or REDIS_URL
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("CANOPY_CACHE_PREFIX", "canopy"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
# No broker configured -> run tasks in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env_bool("CANOPY_CELERY_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CANOPY_CELERY_QUEUE", "canopy")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "rotate-signing-keys": {
        "task": "tenants.tasks.rotate_due_signing_keys",
        "schedule": 3600.0,
    },
    # A propagation job whose worker died (its lease expired) is picked up again.
    "resume-stalled-propagation-jobs": {
        "task": "orgs.tasks.resume_stalled_propagation_jobs",
        "schedule": 60.0,
    },
    # Federation: partners' SAML metadata by URL, and DNS TXT records of verified domains.
    "federation-refresh-saml-metadata": {
        "task": "idp.federation.tasks.refresh_saml_metadata",
        "schedule": float(os.environ.get("CANOPY_FEDERATION_METADATA_REFRESH_SECONDS", "21600")),
    },
    "federation-recheck-domains": {
        "task": "idp.federation.tasks.recheck_domains",
        "schedule": float(os.environ.get("CANOPY_FEDERATION_DOMAIN_RECHECK_SECONDS", "86400")),
    },
    # SAML: service providers registered from a metadata URL (idp.saml.tasks).
    "saml-refresh-sp-metadata": {
        "task": "idp.saml.tasks.refresh_sp_metadata",
        "schedule": float(os.environ.get("CANOPY_SAML_SP_METADATA_REFRESH_SECONDS", "21600")),
    },
}

# --- Authentication ---------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = ["tenants.backends.TenantModelBackend"]
# Usernames are unique per tenant, not globally; our backend knows that.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

PASSWORD_HASHERS = [
    "tenants.hashers.CanopyArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    # Client secrets only (OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]): fast and keyed.
    "idp.oidc.hashers.ClientSecretHasher",
]
# Argon2id cost, on purpose: OWASP's minimum profile by default.
CANOPY_ARGON2_TIME_COST = int(os.environ.get("CANOPY_ARGON2_TIME_COST", "2"))
CANOPY_ARGON2_MEMORY_KIB = int(os.environ.get("CANOPY_ARGON2_MEMORY_KIB", "19456"))
CANOPY_ARGON2_PARALLELISM = int(os.environ.get("CANOPY_ARGON2_PARALLELISM", "1"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "admin:login"

# --- Signing keys -----------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).
# Unset: a key is derived from SECRET_KEY.
CANOPY_KEY_ENCRYPTION_KEYS = env_list("CANOPY_KEY_ENCRYPTION_KEYS", "")
# How long a key signs before the beat job rotates it, and how long a retired
# key stays in JWKS (must cover the longest token lifetime).
CANOPY_SIGNING_KEY_MAX_AGE_DAYS = int(os.environ.get("CANOPY_SIGNING_KEY_MAX_AGE_DAYS", "90"))
CANOPY_SIGNING_KEY_RETENTION_HOURS = int(os.environ.get("CANOPY_SIGNING_KEY_RETENTION_HOURS", "24"))

# --- Sessions and security headers ----------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", CANOPY_BASE_URL.startswith("https://"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- I18N / static ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Logging: never log secrets or tokens ----------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Management API (idp.api) -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["idp.api.authentication.CanopyBearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "idp.api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Management API rate limits, "<requests>/<seconds>" fixed windows in the shared cache (idp/api/base.py):
# per principal (user or API client), changes per principal, all callers of a tenant, and requests
# without valid credentials per client address (counted before any authentication work).
CANOPY_API_RATE_LIMIT = os.environ.get("CANOPY_API_RATE_LIMIT", "600/60")
CANOPY_API_WRITE_RATE_LIMIT = os.environ.get("CANOPY_API_WRITE_RATE_LIMIT", "120/60")
CANOPY_API_TENANT_RATE_LIMIT = os.environ.get("CANOPY_API_TENANT_RATE_LIMIT", "6000/60")
CANOPY_API_ANON_RATE_LIMIT = os.environ.get("CANOPY_API_ANON_RATE_LIMIT", "300/60")
SPECTACULAR_SETTINGS = {
    "TITLE": "Canopy management API",
    "DESCRIPTION": "Organizations, members and users of one tenant. Bearer tokens with the `canopy:admin` scope.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/t/\{tenant_slug\}/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "idp.api.schema.drop_tenant_parameter",
        "idp.api.schema.add_rate_limit_response",
    ],
}

# Federation (idp/federation): the DNS resolver for domain verification ("host" or "host:port";
# empty = the system resolver) and its timeout in seconds.
CANOPY_DNS_RESOLVER = os.environ.get("CANOPY_DNS_RESOLVER", "")
CANOPY_DNS_TIMEOUT = float(os.environ.get("CANOPY_DNS_TIMEOUT", "5"))

# Login journey (idp/flow): one-time codes are stored as HMAC-SHA-256 under CANOPY_OTP_KEY
# (empty = SECRET_KEY); text messages go through CANOPY_SMS_GATEWAY ("console": one JSON line
# per message to CANOPY_SMS_FILE or standard error, local use only; "webhook": a signed POST to
# CANOPY_SMS_WEBHOOK_URL with CANOPY_SMS_WEBHOOK_SECRET, see idp/flow/sms.py).
CANOPY_OTP_KEY = os.environ.get("CANOPY_OTP_KEY", "")
CANOPY_SMS_GATEWAY = os.environ.get("CANOPY_SMS_GATEWAY", "console")
CANOPY_SMS_FILE = os.environ.get("CANOPY_SMS_FILE", "")
CANOPY_SMS_WEBHOOK_URL = os.environ.get("CANOPY_SMS_WEBHOOK_URL", "")
CANOPY_SMS_WEBHOOK_SECRET = os.environ.get("CANOPY_SMS_WEBHOOK_SECRET", "")
CANOPY_SMS_WEBHOOK_TIMEOUT = float(os.environ.get("CANOPY_SMS_WEBHOOK_TIMEOUT", "10"))
# Push approvals (idp/flow/push.py): a POST signed like the SMS webhook to CANOPY_PUSH_WEBHOOK_URL
# with CANOPY_PUSH_WEBHOOK_SECRET; the push service answers with a callback signed with the same
# secret. Without them a push sign-in cannot reach the device and offers the code fallback.
CANOPY_PUSH_WEBHOOK_URL = os.environ.get("CANOPY_PUSH_WEBHOOK_URL", "")
CANOPY_PUSH_WEBHOOK_SECRET = os.environ.get("CANOPY_PUSH_WEBHOOK_SECRET", "")
CANOPY_PUSH_WEBHOOK_TIMEOUT = float(os.environ.get("CANOPY_PUSH_WEBHOOK_TIMEOUT", "10"))
# Password recovery links (idp/flow/recovery.py) expire after this many seconds.
CANOPY_RECOVERY_SECONDS = int(os.environ.get("CANOPY_RECOVERY_SECONDS", "1800"))
