"""Configuration: defaults, database URLs, refusing unsafe production settings."""

import pytest

from kb.settings import DEFAULT_SECRET_KEY, ConfigurationError, Settings, get_settings


def test_defaults_are_sqlite_in_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.env == "development"
    assert settings.search_backend == "embedded"
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'kb.sqlite3').resolve()}"


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_postgres_urls_use_psycopg3(url):
    assert Settings(database_url=url).sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_reads_kb_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_SEARCH_BACKEND", "meilisearch")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.search_backend == "meilisearch"


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_a_missing_or_default_secret(monkeypatch, secret):
    monkeypatch.setenv("KB_ENV", "production")
    if secret is None:
        monkeypatch.delenv("KB_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("KB_SECRET_KEY", secret)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="KB_SECRET_KEY must be set"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_production_with_a_real_secret_is_fine():
    settings = Settings(env="production", secret_key="x" * 40)
    assert settings.cookies_secure  # production cookies are Secure


def test_semantic_search_is_on_by_default_and_kb_semantic_off_turns_it_off(monkeypatch):
    assert Settings().semantic is True
    monkeypatch.setenv("KB_SEMANTIC", "off")
    assert Settings().semantic is False
