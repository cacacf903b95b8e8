"""The `kb` command line, run as a real process against a temporary data directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

KB = str(Path(sys.executable).parent / "kb")


def run(args, tmp_path, **env):
    environment = {**os.environ, "KB_DATA_DIR": str(tmp_path), "KB_ENV": "development", **env}
    environment.pop("KB_DATABASE_URL", None)
    environment.update(env)
    return subprocess.run([KB, *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def initialised(tmp_path):
    result = run(["init"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_help_everywhere(tmp_path):
    for args in (["--help"], ["init", "--help"], ["serve", "--help"], ["demo", "--help"], ["user", "create", "--help"],
                 ["user", "token", "--help"]):
        result = run(args, tmp_path)
        assert result.returncode == 0 and "Usage" in result.stdout, args


def test_init_demo_and_token(initialised):
    demo = run(["demo"], initialised)
    assert demo.returncode == 0, demo.stderr
    assert "agent@example.com" in demo.stdout and "demo-password" in demo.stdout
    again = run(["demo"], initialised)
    assert "0 created, 4 already there" in again.stdout
    token = run(["user", "token", "--email", "admin@example.com"], initialised)
    assert token.returncode == 0 and token.stdout.strip().startswith("kb_")


def test_user_create_bootstraps_an_admin_and_explains_bad_input(initialised):
    ok = run(["user", "create", "--email", "Boss@Example.com", "--name", "Boss", "--role", "admin", "--password",
              "long-enough-password"], initialised)
    assert ok.returncode == 0 and "Created boss@example.com (admin)" in ok.stdout
    duplicate = run(["user", "create", "--email", "boss@example.com", "--name", "B", "--role", "agent", "--password",
                     "long-enough-password"], initialised)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad = run(["user", "create", "--email", "nope", "--name", "", "--role", "wizard", "--password", "x"], initialised)
    assert bad.returncode == 1
    assert "valid email" in bad.stderr and "wizard" in bad.stderr and "Traceback" not in bad.stderr


def test_token_for_unknown_user_is_a_clear_error(initialised):
    result = run(["user", "token", "--email", "ghost@example.com"], initialised)
    assert result.returncode == 1 and "no user with the email ghost@example.com" in result.stderr


def test_production_serve_without_secret_refuses_to_start(initialised):
    result = run(["serve"], initialised, KB_ENV="production", KB_SECRET_KEY="")
    assert result.returncode == 2
    assert "KB_SECRET_KEY must be set" in result.stderr


def test_demo_is_refused_in_production(initialised):
    result = run(["demo"], initialised, KB_ENV="production", KB_SECRET_KEY="s" * 40)
    assert result.returncode == 2 and "only for development" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = run(["serve"], tmp_path)
    assert result.returncode == 1 and "Run `kb init` first" in result.stderr
