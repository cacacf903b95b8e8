"""A real OpenID Connect provider for tests: oidc-provider-mock (Flask + Authlib) served in a thread.

It publishes a discovery document and signing keys, signs ID tokens (RS256), checks the client's
redirect URI and code, and asks "who signs in?" on its authorization page (a ``sub`` field, or Deny).
A person's claims (email, email_verified, name, groups) are set beforehand through its own HTTP API
(``PUT /users/<sub>``). kb talks to it exactly as to any provider: nothing of kb is replaced.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

import authlib.deprecate  # noqa: E402,F401 - adds Authlib's "always" filter before ours goes in front of it

with warnings.catch_warnings():  # it imports authlib.jose, which Authlib has deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from oidc_provider_mock import run_server_in_thread

CLIENT_ID = "kb-tests"
CLIENT_SECRET = "kb-tests-secret"
ROLE_MAP = "kb-experts=expert,kb-authors=author,kb-admins=admin"


@dataclass(frozen=True)
class Provider:
    url: str

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def settings(self) -> dict:
        """The KB_OIDC_* settings that point kb at this provider."""
        return {"oidc_discovery_url": self.discovery_url, "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET, "oidc_role_map": ROLE_MAP,
                "oidc_button_label": "Sign in with Test SSO"}

    def set_person(self, sub: str, *, email: str, verified: bool = True, name: str = "",
                   groups: list[str] | None = None) -> None:
        claims = {"email": email, "email_verified": verified, "groups": groups or []}
        if name:
            claims["name"] = name
        httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=10).raise_for_status()

    def answer(self, authorize_url: str, sub: str | None = None) -> str:
        """Fill the provider's authorization page as a person would (``sub`` None: Deny); the address
        it sends the browser back to."""
        data = {"sub": sub} if sub is not None else {"action": "deny"}
        response = httpx.post(authorize_url, data=data, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["location"]


@contextmanager
def running_provider() -> Iterator[Provider]:
    with run_server_in_thread() as server:
        yield Provider(f"http://localhost:{server.server_port}")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    with running_provider() as provider:
        yield provider


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)
