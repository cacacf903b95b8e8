"""``kb expire`` runs every periodic job once: a failing job is reported as a sentence (exit 1)
while the others still do their work and report it."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from kb import jobs
from kb.db import get_engine
from kb.migrate import upgrade
from kb.settings import get_settings


def test_a_failing_job_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KB_ENV", "development")
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        upgrade(get_engine(get_settings().sqlalchemy_url))

        def broken(*, session, settings, now):
            raise RuntimeError("the mail relay refused us")

        monkeypatch.setattr(jobs, "_jobs", {"broken mail": broken})  # bootstrap() adds the real jobs after it
        result = CliRunner().invoke(app, ["expire", "--now", "2030-01-31T09:00"])
    finally:
        get_engine(get_settings().sqlalchemy_url).dispose()
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "Sent 0 expiry reminders; 0 entries now need re-verification." in result.output
    assert "Escalated 0 unanswered questions to more experts." in result.output
    assert "the periodic job broken mail failed (RuntimeError: the mail relay refused us)" in result.output
    assert "Traceback" not in result.output
