"""Configuration from the environment (prefix ``KB_``), read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-change-me"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


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
        return self

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
