"""`kb user create --invite`: an account without a password, and an emailed link to choose one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.mail_sink import LINK_RE, MailSink, link_in


def run(args, data_dir, **env):
    """``kb ARGS`` from this checkout (``python -m cli.main``, whatever the installed ``kb`` script points to)."""
    environment = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_ENV": "development", "PYTHONPATH": str(ROOT), **env}
    environment.pop("KB_DATABASE_URL", None)
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=environment,
                          timeout=120, cwd=ROOT)


@pytest.fixture
def initialised(tmp_path):
    result = run(["init"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


INVITE = ["user", "create", "--email", "New@Example.com", "--name", "Nora New", "--role", "author", "--invite"]


def test_invite_emails_the_link(initialised):
    with MailSink() as sink:
        result = run(INVITE, initialised, KB_SMTP_URL=sink.url, KB_BASE_URL="https://kb.example.com")
        assert result.returncode == 0, result.stderr
        assert "Created new@example.com (author)" in result.stdout
        assert "Invitation emailed to new@example.com" in result.stdout
        assert not LINK_RE.search(result.stdout)  # the link goes to the person only
        (mail,) = sink.wait_for(1)  # sent before the command exited
    assert mail["To"].addresses[0].addr_spec == "new@example.com"
    assert link_in(mail).startswith("https://kb.example.com/password/set?token=kbp_")


def test_invite_without_email_prints_the_link(initialised):
    result = run(INVITE, initialised, KB_BASE_URL="https://kb.example.com")
    assert result.returncode == 0, result.stderr
    assert "Email is not set up" in result.stdout
    assert LINK_RE.search(result.stdout)


def test_invite_and_password_together_are_refused(initialised):
    result = run([*INVITE, "--password", "long-enough-password"], initialised)
    assert result.returncode == 1 and "either --password or --invite" in result.stderr
