"""The inheritable configuration: sections as typed schemas, and the merge rule.

Each section is a fixed set of fields. A field has a type (checked on write), a built-in
default, and whether an organization below the root may override it; when it may not, the
schema says why (the admin shows the reason, the services use it in the refusal).

Levels: built-in defaults ⊕ the tenant's root settings ⊕ each ancestor's overrides ⊕ the
organization's own overrides. A field merges by *replace* (the nearest level that sets it
wins) or, for per-key dictionaries (per-locale texts, templates), by *keys* (each key comes
from the nearest level that sets that key). Provenance names, per field (and per key for
keyed fields), the level the value came from: ``"default"``, ``"root"`` or an organization
id in hex.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

DEFAULT = "default"
ROOT = "root"

ROOT_ONLY = "Defined at the tenant root and read-only below it."

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LOCALE_RE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")


def _fail(message: str) -> None:
    raise ValidationError(message)


# --- value checkers ---------------------------------------------------------


def check_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        _fail("Use true or false.")
    return value


def check_int(lo: int, hi: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            _fail(f"Use a whole number from {lo} to {hi}.")
        return value

    return check


def check_str(max_length: int = 200, allow_empty: bool = True) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or len(value) > max_length or (not allow_empty and not value.strip()):
            _fail(f"Use a text of at most {max_length} characters" + ("." if allow_empty else ", not empty."))
        return value.strip()

    return check


def check_choice(*choices: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            _fail(f"Use one of: {', '.join(choices)}.")
        return value

    return check


def check_subset(*choices: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, list) or not all(v in choices for v in value) or len(set(value)) != len(value):
            _fail(f"Use a list of distinct values among: {', '.join(choices)}.")
        return value

    return check


def check_color(value: Any) -> Any:
    if not isinstance(value, str) or not COLOR_RE.match(value):
        _fail("Use a colour like #0b5cad.")
    return value.lower()


def check_url(value: Any) -> Any:
    if value == "":
        return value
    if not isinstance(value, str):
        _fail("Use an http(s) URL.")
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError:
        _fail("Use an http(s) URL.")
    return value


def check_record(**fields: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A dictionary with exactly these keys (missing keys are refused, unknown ones too)."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict) or set(value) != set(fields):
            _fail(f"Use an object with the keys: {', '.join(fields)}.")
        out = {}
        for key, checker in fields.items():
            try:
                out[key] = checker(value[key])
            except ValidationError as exc:
                _fail(f"{key}: {' '.join(exc.messages)}")
        return out

    return check


def check_list_of(item: Callable[[Any], Any], max_items: int = 50) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, list) or len(value) > max_items:
            _fail(f"Use a list of at most {max_items} items.")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except ValidationError as exc:
                _fail(f"item {i + 1}: {' '.join(exc.messages)}")
        return out

    return check


def check_map(key_re: re.Pattern[str], item: Callable[[Any], Any], what: str = "key") -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            _fail(f"Use an object keyed by {what}.")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not key_re.match(k):
                _fail(f"'{k}' is not a valid {what}.")
            try:
                out[k] = item(v)
            except ValidationError as exc:
                _fail(f"{k}: {' '.join(exc.messages)}")
        return out

    return check


NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.:-]{0,63}$")
# Per profile attribute: where the value of a (shared) user comes from, for an organization.
SHARED_VALUE_SOURCES = ("from-origin", "from-shared-profile", "first-found-in-hierarchy")
SHARED_SOURCE_KEY_RE = re.compile(r"^(given_name|family_name|name|email)$")
ATTRIBUTE_TYPES = ("string", "boolean", "integer", "date")


def check_custom_attribute(value: Any) -> Any:
    """A definition; ``required`` (optional key, default false) makes the sign-up forms insist on a value."""
    required = None
    if isinstance(value, dict) and "required" in value:
        value = dict(value)
        required = check_bool(value.pop("required"))
    rec = check_record(
        name=check_str(64, allow_empty=False),
        display_name=check_str(100, allow_empty=False),
        type=check_choice(*ATTRIBUTE_TYPES),
        multi_valued_supported=check_bool,
    )(value)
    if not NAME_RE.match(rec["name"]) or rec["name"] in SYSTEM_ATTRIBUTES:
        _fail(f"'{rec['name']}' is not a valid new attribute name (letters, digits, _.:-; not a system attribute).")
    if required is not None:
        rec["required"] = required
    return rec


def check_unique_names(checker: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        out = checker(value)
        names = [a["name"] for a in out]
        if len(names) != len(set(names)):
            _fail("Attribute names must be unique.")
        return out

    return check


# --- schema -----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    check: Callable[[Any], Any]
    default: Any
    overridable: bool = True
    reason: str = ""  # why a child may not override it
    merge: str = "replace"  # or "keys": per-key merge of a dictionary


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    fields: tuple[Field, ...]
    description: str = ""
    by_name: dict[str, Field] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})

    @property
    def root_only(self) -> bool:
        return not any(f.overridable for f in self.fields)


AUTHENTICATORS = ("password", "email_otp", "sms_otp", "passkey", "push")
FLOW_STEPS = (
    "identifier",
    "password",
    "email_otp",
    "sms_otp",
    "passkey",
    "profile",
    "email_verification",
    "terms",
    "consent",
)

# Attributes every tenant has. ``multi`` = may be switched to multi-valued per user store.
SYSTEM_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "username": {"type": "string", "multi": False},
    "email": {"type": "string", "multi": False},
    "emailAddresses": {"type": "string", "multi": True},
    "givenName": {"type": "string", "multi": False},
    "familyName": {"type": "string", "multi": False},
    "mobile": {"type": "string", "multi": False},
    "mobileNumbers": {"type": "string", "multi": True},
    "locale": {"type": "string", "multi": False},
    "groups": {"type": "string", "multi": True},
}


def _flow(*steps: str, **options: Any) -> dict[str, Any]:
    return {"enabled": True, "steps": list(steps), "options": options}


check_flow = check_record(
    enabled=check_bool,
    steps=check_list_of(check_choice(*FLOW_STEPS), 20),
    options=check_map(NAME_RE, lambda v: v, "option name"),
)
check_otp = check_record(enabled=check_bool, length=check_int(4, 10), ttl_seconds=check_int(30, 3600))
check_email_template = check_map(
    LOCALE_RE,
    check_record(subject=check_str(200, allow_empty=False), body=check_str(10000, allow_empty=False)),
    "locale",
)
check_sms_template = check_map(LOCALE_RE, check_str(480, allow_empty=False), "locale")

# Where each ``branding.texts`` key shows (per locale: a page takes the request's language, else English).
BRANDING_TEXTS: dict[str, str] = {
    "login_heading": "the sign-in page's heading, instead of 'Sign in'",
    "login_notice": "a notice under the sign-in page's heading",
    "consent_notice": "a notice on the consent page",
    "footer": "a line in the footer of every page (sign-in journey, consent, account)",
    "email_footer": "a line at the end of every email the journey sends",
}
TEXT_KEY_RE = re.compile("^(" + "|".join(BRANDING_TEXTS) + ")$")

CONNECTIONS_REASON = (
    "Push and passkey connections are inherited from the root; only email OTP and SMS OTP can be overridden."
)

SECTIONS: dict[str, Section] = {
    s.key: s
    for s in (
        Section(
            "login",
            "Login & registration",
            (
                Field("identifier_first", "Identifier-first login", check_bool, True),
                Field("authenticators", "Allowed authenticators", check_subset(*AUTHENTICATORS), ["password"]),
                Field("password_min_length", "Password minimum length", check_int(8, 128), 8),
                Field("password_require_digit", "Password needs a digit", check_bool, False),
                Field("password_require_symbol", "Password needs a symbol", check_bool, False),
                Field("lockout_max_attempts", "Lockout after failed attempts", check_int(1, 100), 5),
                Field("lockout_minutes", "Lockout duration (minutes)", check_int(1, 1440), 15),
                Field("session_lifetime_minutes", "Session lifetime (minutes)", check_int(5, 43200), 480),
                Field("self_registration", "Self-registration", check_bool, False),
                Field("username_rule", "Usernames", check_choice("email", "free-text"), "free-text"),
            ),
        ),
        Section(
            "connections",
            "Connections",
            (
                Field("email_otp", "Email OTP", check_otp, {"enabled": True, "length": 6, "ttl_seconds": 300}),
                Field("sms_otp", "SMS OTP", check_otp, {"enabled": False, "length": 6, "ttl_seconds": 300}),
                Field(
                    "push",
                    "Push notifications",
                    check_record(enabled=check_bool, timeout_seconds=check_int(10, 600)),
                    {"enabled": False, "timeout_seconds": 60},
                    overridable=False,
                    reason=CONNECTIONS_REASON,
                ),
                Field(
                    "passkey",
                    "Passkey (WebAuthn relying party)",
                    check_record(
                        rp_name=check_str(100),
                        user_verification=check_choice("required", "preferred", "discouraged"),
                        resident_key=check_choice("required", "preferred", "discouraged"),
                    ),
                    {"rp_name": "", "user_verification": "preferred", "resident_key": "preferred"},
                    overridable=False,
                    reason=CONNECTIONS_REASON,
                ),
            ),
        ),
        Section(
            "flows",
            "Flows",
            (
                Field(
                    "self_registration",
                    "Self-registration flow",
                    check_flow,
                    _flow("identifier", "password", "email_verification", "profile"),
                ),
                Field("password_recovery", "Password recovery flow", check_flow, _flow("identifier", "email_otp")),
                Field(
                    "invited_registration",
                    "Invited-user registration flow",
                    check_flow,
                    _flow("password", "profile", "terms"),
                ),
            ),
        ),
        Section(
            "oidc_scopes",
            "OIDC scopes",
            (
                Field(
                    "scopes",
                    "Scopes and their claims",
                    check_map(NAME_RE, check_list_of(check_str(64, allow_empty=False), 100), "scope name"),
                    {
                        "openid": ["sub"],
                        "profile": ["name", "given_name", "family_name", "preferred_username", "locale"],
                        "email": ["email", "email_verified"],
                        "phone": ["phone_number", "phone_number_verified"],
                    },
                    overridable=False,
                    reason=ROOT_ONLY,
                ),
            ),
        ),
        Section(
            "attribute_verification",
            "Attribute-update verification",
            (
                Field("verify_email", "Verify email changes", check_bool, True),
                Field("verify_mobile", "Verify mobile changes", check_bool, False),
                Field("notify_on_change", "Notify the user on change", check_bool, True),
            ),
        ),
        Section(
            "user_attributes",
            "User attributes",
            (
                Field(
                    "custom",
                    "Custom attributes",
                    check_unique_names(check_list_of(check_custom_attribute, 200)),
                    [],
                    overridable=False,
                    reason="Only the tenant root creates custom attributes; organizations inherit them "
                    "(and adapt them per user store).",
                ),
                Field(
                    "shared_value_sources",
                    "Source of attribute values of shared users",
                    check_map(
                        SHARED_SOURCE_KEY_RE,
                        check_choice(*SHARED_VALUE_SOURCES),
                        "profile attribute (given_name, family_name, name, email)",
                    ),
                    {},
                    overridable=False,
                    reason="The tenant decides, per attribute, where the values of shared profiles come from "
                    "(from-origin when unset).",
                ),
            ),
        ),
        Section(
            "dialects",
            "Attribute dialects",
            (
                Field(
                    "oidc",
                    "OIDC claim names",
                    check_map(NAME_RE, check_str(64, allow_empty=False), "attribute name"),
                    {
                        "username": "preferred_username",
                        "email": "email",
                        "givenName": "given_name",
                        "familyName": "family_name",
                        "mobile": "phone_number",
                        "locale": "locale",
                    },
                    overridable=False,
                    reason=ROOT_ONLY,
                ),
            ),
        ),
        Section(
            "branding",
            "Branding",
            (
                Field("display_name", "Display name", check_str(100), ""),
                Field("logo_url", "Logo URL", check_url, ""),
                Field("primary_color", "Primary colour", check_color, "#0b5cad"),
                Field("background_color", "Background colour", check_color, "#f6f8fa"),
                # The sign-up forms' ``terms`` step links here; the user's acceptance is recorded with its time.
                Field("terms_url", "Terms of use URL", check_url, ""),
                Field(
                    "footer_links",
                    "Footer links",
                    check_list_of(check_record(label=check_str(60, allow_empty=False), url=check_url), 10),
                    [],
                ),
                Field(
                    "texts",
                    "Texts per locale",
                    check_map(
                        LOCALE_RE,
                        check_map(TEXT_KEY_RE, check_str(500), f"text key ({', '.join(BRANDING_TEXTS)})"),
                        "locale",
                    ),
                    {},
                    merge="keys",
                ),
            ),
        ),
        Section(
            "templates",
            "Email and SMS templates",
            (
                *(
                    Field(
                        f"email_{kind}",
                        f"Email: {kind.replace('_', ' ')}",
                        check_email_template,
                        {"en": {"subject": subject, "body": body}},
                        merge="keys",
                    )
                    for kind, subject, body in (
                        ("invitation", "You are invited to {org}", "Follow {link} to join {org}."),
                        ("password_recovery", "Reset your password", "Follow {link} to choose a new password."),
                        ("otp", "Your sign-in code", "Your code is {code}."),
                        ("verification", "Confirm your email address", "Follow {link} to confirm {email}."),
                    )
                ),
                *(
                    Field(f"sms_{kind}", f"SMS: {kind}", check_sms_template, {"en": text}, merge="keys")
                    for kind, text in (("otp", "Your code is {code}."), ("verification", "Your code is {code}."))
                ),
            ),
        ),
    )
}


def section_get(key: str) -> Section:
    try:
        return SECTIONS[key]
    except KeyError:
        raise ValidationError({"section": [f"Unknown settings section '{key}'."]}) from None


# --- merge ------------------------------------------------------------------


def defaults(section: Section) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for f in section.fields:
        values[f.name] = f.default
        sources[f.name] = DEFAULT
        if f.merge == "keys":
            for k in f.default:
                sources[f"{f.name}[{k}]"] = DEFAULT
    return values, sources


def merge(
    section: Section,
    parent: tuple[dict[str, Any], dict[str, str]],
    overrides: dict[str, Any] | None,
    source: str,
    *,
    is_root: bool,
) -> tuple[dict[str, Any], dict[str, str]]:
    """One level down: the parent's effective values with this level's overrides on top.

    The result shares unchanged values with the parent (never mutate either). Overrides of
    fields that are not overridable are ignored below the root (the services refuse them; a
    schema that tightens later must not leak old overrides).
    """
    if not overrides:
        return parent
    values, sources = dict(parent[0]), dict(parent[1])
    for name, value in overrides.items():
        f = section.by_name.get(name)
        if f is None or not (is_root or f.overridable):
            continue
        if f.merge == "keys" and isinstance(value, dict):
            merged = dict(values.get(name) or {})
            merged.update(value)
            values[name] = merged
            for k in value:
                sources[f"{name}[{k}]"] = source
        else:
            values[name] = value
        sources[name] = source
    return values, sources


def validate_overrides(section: Section, changes: dict[str, Any], *, is_root: bool) -> dict[str, Any]:
    """Check every changed field; raise one ValidationError keyed by field with clear messages."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if not isinstance(changes, dict):
        raise ValidationError({"section": ["Send an object of field names and values."]})
    for name, value in changes.items():
        f = section.by_name.get(name)
        if f is None:
            errors[name] = [f"'{name}' is not a field of {section.label}. Fields: {', '.join(section.by_name)}."]
            continue
        if not is_root and not f.overridable:
            errors[name] = [f"{f.label} cannot be overridden by an organization: {f.reason}"]
            continue
        try:
            cleaned[name] = f.check(value)
        except ValidationError as exc:
            errors[name] = [f"{f.label}: {' '.join(exc.messages)}"]
    if errors:
        raise ValidationError(errors)
    return cleaned
