"""kb.accounts.sso: what the validated claims of an ID token mean for kb (the protocol itself is
Authlib's, tested through the pages against a real provider in tests/web/test_sso.py)."""

from __future__ import annotations

import pytest

from kb.accounts import sso
from kb.accounts.models import ExternalIdentity, Role
from kb.errors import Conflict, Forbidden
from kb.settings import ConfigurationError, Settings
from tests.helpers import rows

ISSUER = "https://id.example.com"


def claims(sub="s1", email="pat@example.com", verified=True, **extra):
    return sso.ProviderClaims.from_id_token(
        {"iss": ISSUER, "sub": sub, "email": email, "email_verified": verified, **extra}, roles_claim="groups")


@pytest.fixture
def sso_settings(settings):
    return settings.model_copy(update={"oidc_discovery_url": f"{ISSUER}/.well-known/openid-configuration",
                                       "oidc_client_id": "kb", "oidc_role_map": "kb-experts=expert,kb-staff=author,"
                                                                                "kb-staff=agent"})


def test_the_role_map_is_read_and_refused_when_it_names_no_role():
    s = Settings(oidc_role_map=" kb-experts = expert , kb-staff=author,kb-staff=agent ")
    assert s.oidc_roles == {"kb-experts": frozenset({"expert"}), "kb-staff": frozenset({"author", "agent"})}
    with pytest.raises(ConfigurationError, match="KB_OIDC_ROLE_MAP: 'kb-boss=boss'"):
        Settings(oidc_role_map="kb-boss=boss")
    with pytest.raises(ConfigurationError, match="needs both"):
        Settings(oidc_discovery_url="https://id.example.com")
    with pytest.raises(ConfigurationError, match="nobody could sign in"):
        Settings(password_login=False)


def test_groups_come_from_the_configured_claim_in_any_usual_shape():
    role_map = {"a": frozenset({"expert"}), "b": frozenset({"admin"})}
    take = sso.ProviderClaims.from_id_token
    assert take({"groups": ["a", "x"]}, roles_claim="groups").groups == ("a", "x")
    assert take({"groups": "b"}, roles_claim="groups").groups == ("b",)
    assert take({"realm_access": {"roles": ["a"]}}, roles_claim="realm_access.roles").groups == ("a",)
    assert take({"groups": {"a": 1}}, roles_claim="groups").groups == ()
    assert sso.roles_for_groups(("a", "b"), role_map) == {Role.expert, Role.admin}
    assert sso.roles_for_groups(("x",), role_map) == {Role.agent}
    assert take({"email_verified": "true"}, roles_claim="groups").email_verified
    assert not take({"email_verified": "yes"}, roles_claim="groups").email_verified


def test_a_new_person_gets_an_account_named_as_the_provider_says(db, sso_settings):
    user = sso.sign_in(session=db, claims=claims(name="  Pat   Doe ", groups=["kb-staff"]), settings=sso_settings)
    assert (user.email, user.display_name, user.roles) == ("pat@example.com", "Pat Doe", {Role.author, Role.agent})
    assert user.password_hash is None
    again = sso.sign_in(session=db, claims=claims(email="pat@example.com"), settings=sso_settings)
    assert again.id == user.id


def test_without_a_verified_email_nobody_is_signed_in(db, sso_settings):
    with pytest.raises(Forbidden, match="did not confirm your email"):
        sso.sign_in(session=db, claims=claims(verified=False), settings=sso_settings)
    with pytest.raises(Forbidden, match="did not tell kb your email"):
        sso.sign_in(session=db, claims=claims(email=""), settings=sso_settings)


def test_an_account_linked_to_another_subject_is_not_taken_over_by_email(db, sso_settings, make_user):
    make_user("agent", email="quinn@example.com")
    sso.sign_in(session=db, claims=claims(sub="first", email="quinn@example.com"), settings=sso_settings)
    db.commit()
    with pytest.raises(Conflict, match="already linked to another account"):
        sso.sign_in(session=db, claims=claims(sub="second", email="Quinn@example.com"), settings=sso_settings)
    db.rollback()
    assert [i.subject for i in rows(db, ExternalIdentity)] == ["first"]


def test_a_new_email_already_used_by_another_account_is_not_taken(db, sso_settings, make_user):
    make_user("agent", email="taken@example.com")
    user = sso.sign_in(session=db, claims=claims(sub="r", email="rae@example.com"), settings=sso_settings)
    again = sso.sign_in(session=db, claims=claims(sub="r", email="taken@example.com"), settings=sso_settings)
    assert again.id == user.id and again.email == "rae@example.com"


def test_the_providers_groups_fill_kbs_groups_of_the_same_names(db, sso_settings):
    from kb.accounts import groups
    from kb.accounts.actors import SYSTEM
    from kb.accounts.models import GroupMember, MembershipSource, UserGroup

    tier2 = groups.create_group(session=db, actor=SYSTEM, name="Tier 2")
    billing = groups.create_group(session=db, actor=SYSTEM, name="Billing team")
    user = sso.sign_in(session=db, claims=claims(groups=["tier 2", "Unknown team"]), settings=sso_settings)
    db.commit()
    assert {(m.group_id, m.source) for m in rows(db, GroupMember)} == {(tier2.id, MembershipSource.sso.value)}
    assert "Unknown team" not in {g.name for g in rows(db, UserGroup)}  # created only with KB_SSO_CREATE_GROUPS
    db.add(GroupMember(group_id=billing.id, user_id=user.id, source=MembershipSource.admin.value))
    db.commit()
    sso.sign_in(session=db, claims=claims(groups=[]), settings=sso_settings)  # left Tier 2 at the provider
    db.commit()
    assert {m.group_id for m in rows(db, GroupMember)} == {billing.id}  # an administrator's membership stays
    creating = sso_settings.model_copy(update={"sso_create_groups": True})
    sso.sign_in(session=db, claims=claims(groups=["Unknown team"]), settings=creating)
    db.commit()
    assert "Unknown team" in {g.name for g in rows(db, UserGroup)}
