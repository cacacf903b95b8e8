"""Configuration from the environment (prefix ``KB_``), read once per process."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-change-me"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


_ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"
                        r"(?::([0-9]{1,5}))?$")
_LOOPBACK = ("localhost", "127.0.0.1")


def parse_origins(value: str) -> tuple[str, ...]:
    """``KB_PANEL_ORIGINS`` as a tuple of origins (``scheme://host[:port]``, lower case), or a
    ``ConfigurationError`` saying which entry is wrong. Origins only: no path, no wildcard (an
    entry like https://*.zendesk.com would let every customer's helpdesk and app frame kb), and
    HTTPS except on this machine (http://localhost, for trying the panel out)."""
    origins: list[str] = []
    for raw in value.split(","):
        origin = raw.strip().lower().rstrip("/")
        if not raw.strip():
            continue
        match = _ORIGIN_RE.match(origin)
        if match is None or (match.group(3) and not 0 < int(match.group(3)) < 65536):
            raise ConfigurationError(
                f"KB_PANEL_ORIGINS: {raw.strip()!r} is not an origin. Give each helpdesk as "
                "scheme://host or scheme://host:port (like https://acme.zendesk.com), without a path "
                "or wildcards, separated by commas.")
        if match.group(1) == "http" and match.group(2) not in _LOOPBACK:
            raise ConfigurationError(
                f"KB_PANEL_ORIGINS: {raw.strip()!r} is not HTTPS. Helpdesks that frame the panel must "
                "be served over HTTPS (http:// is accepted for localhost only).")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    secret_key: str = DEFAULT_SECRET_KEY
    search_backend: Literal["embedded", "meilisearch"] = "embedded"
    search_url: str | None = None
    search_key: str | None = None
    # Hybrid search: a local sentence-embedding model beside keyword search (KB_SEMANTIC=off: keywords only).
    semantic: bool = True
    # Cookies get the Secure flag when served over HTTPS (always in production).
    secure_cookies: bool | None = None
    session_max_age_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    max_upload_mb: int = 10
    smtp_url: str | None = None
    # The address people open kb at; links in emails (notifications, password links) start with it.
    base_url: str = "http://127.0.0.1:8000"
    # How long a link to set a password works: a reset link (forgotten password, an administrator's
    # reset) and an invitation to a new account.
    password_reset_hours: int = Field(default=24, ge=1, le=24 * 7)
    invitation_days: int = Field(default=7, ge=1, le=60)
    # How often ``kb serve`` runs expiry, reminders and email delivery; 0 turns it off.
    periodic_seconds: int = 60
    mail_from: str = "kb@localhost"
    # Outgoing webhooks in production go to public addresses only; these host names (comma-separated)
    # may also resolve to private or loopback ones (receivers inside your network).
    webhook_private_hosts: str = ""
    # The query log (searches and opened results, for the content-gap reports) is written in batches
    # this many seconds apart, off the request path; 0 writes each search as it is made.
    query_log_seconds: float = Field(default=1.0, ge=0, le=60)
    # Single sign-on with OpenID Connect (docs/admins.md, "Single sign-on"): on when a discovery URL and
    # a client id are set. The secret is a SecretStr: it never shows in a repr, a log line or a page.
    oidc_discovery_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    # The claim of the ID token listing the person's groups, and which group gives which kb role
    # ("kb-experts=expert,kb-admins=admin"); someone in no mapped group is an agent.
    oidc_roles_claim: str = "groups"
    oidc_role_map: str = ""
    oidc_button_label: str = "Sign in with single sign-on"
    # Off: the login page offers single sign-on only and kb refuses passwords (KB_PASSWORD_LOGIN=on
    # brings them back: the documented way in when the identity provider is down).
    password_login: bool = True
    # Helpdesk origins (comma-separated, like https://acme.zendesk.com) that may show the side panel
    # (/panel) in a frame; empty: no site may frame any kb page.
    panel_origins: str = ""
    # Single sign-on: a group named in a sign-in's claims that kb does not know is created (on) or
    # ignored (off, the default: administrators create the groups, the claims fill them).
    # Passed to ``kb.accounts.groups.sync_sso_groups(create_missing=...)``.
    sso_create_groups: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production" and (
            not self.secret_key or self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32
        ):
            raise ConfigurationError(
                "KB_SECRET_KEY must be set to a random value of at least 32 characters when "
                "KB_ENV=production (for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if bool(self.oidc_discovery_url) != bool(self.oidc_client_id):
            raise ConfigurationError("Single sign-on needs both KB_OIDC_DISCOVERY_URL and KB_OIDC_CLIENT_ID "
                                     "(or neither, to turn it off).")
        if not self.password_login and not self.oidc_enabled:
            raise ConfigurationError("KB_PASSWORD_LOGIN=off needs single sign-on (KB_OIDC_DISCOVERY_URL and "
                                     "KB_OIDC_CLIENT_ID): otherwise nobody could sign in.")
        self.oidc_roles  # refuses a role map that names no kb role
        self.panel_origin_list  # refuses a malformed list at startup
        if self.panel_origins.strip() and not self.cookies_secure:
            raise ConfigurationError(
                "KB_PANEL_ORIGINS needs secure cookies: the side panel signs in inside the helpdesk's "
                "frame, where browsers only keep cookies marked Secure. Serve kb over HTTPS and set "
                "KB_SECURE_COOKIES=true (KB_ENV=production does it), or leave KB_PANEL_ORIGINS empty.")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_discovery_url and self.oidc_client_id)

    @property
    def oidc_roles(self) -> dict[str, frozenset[str]]:
        """``KB_OIDC_ROLE_MAP`` read: group name -> the kb role names it gives (a group may be named twice)."""
        known = ("agent", "author", "expert", "admin")
        mapping: dict[str, frozenset[str]] = {}
        for pair in filter(None, (p.strip() for p in self.oidc_role_map.split(","))):
            group, sep, role = (part.strip() for part in pair.rpartition("="))
            if not sep or not group or role not in known:
                raise ConfigurationError(
                    f"KB_OIDC_ROLE_MAP: {pair!r} is not group=role with a role among {', '.join(known)} "
                    "(for example kb-experts=expert,kb-admins=admin).")
            mapping[group] = mapping.get(group, frozenset()) | {role}
        return mapping

    @property
    def panel_origin_list(self) -> tuple[str, ...]:
        """The origins that may frame the side panel, checked (``panel_origins``)."""
        return parse_origins(self.panel_origins)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def cookies_secure(self) -> bool:
        return self.is_production if self.secure_cookies is None else self.secure_cookies

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the usual postgres:// spellings and use psycopg 3.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix):]
            return url
        return f"sqlite:///{(self.data_dir / 'kb.sqlite3').resolve()}"


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ConfigurationError:
        raise
    except ValueError as exc:
        # pydantic wraps validator errors; surface ours as a plain configuration error.
        cause = exc.__cause__ if isinstance(exc.__cause__, ConfigurationError) else None
        errors = getattr(exc, "errors", lambda: [])()
        for err in errors:
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, ConfigurationError):
                raise ctx_err from None
        if cause:
            raise cause from None
        raise ConfigurationError(f"Invalid configuration: {exc}") from None
