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
    assert "Demo workflow" in demo.stdout and "Demo workflow" not in again.stdout  # loaded once
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


# --- kb import / kb export ------------------------------------------------------------------

WIDE = {"COLUMNS": "400"}  # rich tables would otherwise wrap the reasons at 80 columns
TRICKY_BODIES = [
    "Trailing newlines.\n\n\n",
    "\n\nLeading blank lines.\n",
    "---\nStarts like front matter\n---\n",
    "Rule\n---\ntitle: not front matter\n---\n",
    "Unicode: café, 日本語, 🎉\n",
    "No final newline",
    "Tabs\tand trailing spaces   \n",
]


@pytest.fixture
def with_admin(initialised):
    result = run(["user", "create", "--email", "admin@example.com", "--name", "Admin", "--role", "admin",
                  "--password", "long-enough-password"], initialised)
    assert result.returncode == 0, result.stderr
    return initialised


def generate(folder: Path, count: int) -> dict[str, tuple[list[str], str, str]]:
    """``count`` files; returns title -> (tags, kind, body) as the knowledge base should store them."""
    expected = {}
    for n in range(count):
        title = f"Generated entry {n}: {'yes' if n % 2 else 'null'} — ünïcode"
        tags = [f"topic-{n % 9}", "imported"][: 1 + n % 2]
        kind = "question" if n % 5 == 0 else "article"
        body = f"# Entry {n}\n\n" + TRICKY_BODIES[n % len(TRICKY_BODIES)]
        text = f"---\ntitle: \"{title}\"\ntags: [{', '.join(tags)}]\nkind: {kind}\n---\n{body}"
        if n == 7:  # a file saved on Windows: stored with LF line endings
            text = text.replace("\n", "\r\n")
        (folder / f"sub{n % 3}").mkdir(parents=True, exist_ok=True)
        (folder / f"sub{n % 3}" / f"file-{n}.md").write_bytes(text.encode("utf-8"))
        expected[title] = (tags, kind, body)
    return expected


def test_import_and_export_round_trip(with_admin, tmp_path_factory):
    from kb.content.transfer import read_document

    source = tmp_path_factory.mktemp("source")
    expected = generate(source, 300)
    imported = run(["import", str(source)], with_admin)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Imported 300 of 300 files (240 articles, 60 questions" in imported.stdout
    assert "as admin@example.com" in imported.stdout

    target = tmp_path_factory.mktemp("export") / "new-folder"
    exported = run(["export", str(target)], with_admin)
    assert exported.returncode == 0, exported.stderr
    assert "Exported 300 entries" in exported.stdout
    found = {}
    for path in target.iterdir():
        meta, body = read_document(path)
        assert path.name.endswith(f"-{meta['id']}.md") and meta["author"] == "admin@example.com"
        found[meta["title"]] = (meta["tags"], meta["kind"], body)
    assert found == expected


def test_import_reports_refused_files_and_exits_1(with_admin, tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    (source / "good.md").write_text("---\ntitle: Good\n---\nFine\n")
    (source / "ghost.md").write_text("---\ntitle: Ghost\nauthor: ghost@example.com\n---\nBoo\n")
    (source / "plain.md").write_text("Just text\n")
    result = run(["import", str(source)], with_admin, **WIDE)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Imported 1 of 3 files" in result.stdout and "2 files refused" in result.stdout
    assert "ghost.md" in result.stdout and "No user has the email ghost@example.com" in result.stdout
    assert "plain.md" in result.stdout and "no front matter" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_import_and_export_usage_errors_exit_2(with_admin, tmp_path_factory):
    missing = run(["import", str(with_admin / "no-such-folder")], with_admin)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    empty = tmp_path_factory.mktemp("empty")
    nothing = run(["import", str(empty)], with_admin)
    assert nothing.returncode == 2 and "no Markdown files" in nothing.stderr
    (empty / "x.md").write_text("---\ntitle: X\n---\nx\n")
    stranger = run(["import", str(empty), "--as", "nobody@example.com"], with_admin)
    assert stranger.returncode == 2 and "no user with the email nobody@example.com" in stranger.stderr
    a_file = run(["export", str(empty / "x.md")], with_admin)
    assert a_file.returncode == 2 and "is a file" in a_file.stderr


def test_import_needs_an_admin_or_as(initialised, tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    (source / "x.md").write_text("---\ntitle: X\nkind: question\n---\nx\n")
    result = run(["import", str(source)], initialised)
    assert result.returncode == 2 and "no administrator" in result.stderr
    assert run(["demo"], initialised).returncode == 0
    as_agent = run(["import", str(source), "--as", "agent@example.com"], initialised)
    assert as_agent.returncode == 0 and "0 articles, 1 questions" in as_agent.stdout


def test_import_before_init_says_what_to_do(tmp_path):
    result = run(["import", str(tmp_path)], tmp_path)
    assert result.returncode == 2 and "Run `kb init` first" in result.stderr


def test_demo_loads_content_once(initialised):
    first = run(["demo"], initialised)
    assert first.returncode == 0, first.stderr
    assert "Demo content: 59 articles, 26 questions" in first.stdout and "maria.lopez@example.com" in first.stdout
    again = run(["demo"], initialised)
    assert again.returncode == 0 and "Demo content: already loaded (85 entries there)" in again.stdout


def test_import_export_help(tmp_path):
    for args in (["import", "--help"], ["export", "--help"]):
        result = run(args, tmp_path)
        assert result.returncode == 0 and "--as" in result.stdout, args


def test_expert_designation_from_the_command_line(initialised):
    assert run(["demo"], initialised).returncode == 0
    added = run(["expert", "add", "--email", "admin@example.com", "--topic", "refunds", "--topic", "billing"],
                initialised)
    assert added.returncode == 0 and "Ada Admin is now a designated expert of refunds" in added.stdout
    listed = run(["expert", "list"], initialised)
    assert "refunds" in listed.stdout and "admin@example.com" in listed.stdout
    agent = run(["expert", "add", "--email", "agent@example.com", "--topic", "refunds"], initialised)
    assert agent.returncode == 1 and "does not have the expert role" in agent.stderr
    unknown = run(["expert", "add", "--email", "admin@example.com", "--topic", "astrology"], initialised)
    assert unknown.returncode == 1 and "no topic called" in unknown.stderr
    removed = run(["expert", "remove", "--email", "admin@example.com", "--topic", "refunds"], initialised)
    assert removed.returncode == 0


def test_import_certified_skips_updates_and_exports_workflow_state(with_admin, tmp_path_factory):
    from kb.content.transfer import read_document

    author = run(["user", "create", "--email", "ann@example.com", "--name", "Ann", "--role", "author", "--password",
                  "long-enough-password"], with_admin)
    assert author.returncode == 0, author.stderr
    source = tmp_path_factory.mktemp("certified")
    (source / "refund.md").write_text("---\ntitle: Refund twice\ntags: [billing]\nauthor: ann@example.com\n---\n"
                                      "Refund the second charge.\n")
    args = ["import", str(source), "--state", "certified", "--certified-by", "admin@example.com", "--valid-days", "30"]
    first = run(args, with_admin, **WIDE)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 created, 0 updated, 0 skipped (imported before), 0 refused; 1 certified on import." in first.stdout

    again = run(args, with_admin, **WIDE)
    assert "0 created, 0 updated, 1 skipped" in again.stdout
    (source / "refund.md").write_text("---\ntitle: Refund twice\ntags: [billing]\nauthor: ann@example.com\n---\n"
                                      "Refund the second charge within 5 days.\n")
    updated = run([*args, "--on-existing", "update"], with_admin, **WIDE)
    assert "0 created, 1 updated, 0 skipped" in updated.stdout and "1 certified on import" in updated.stdout

    target = tmp_path_factory.mktemp("certified-export")
    exported = run(["export", str(target)], with_admin, **WIDE)
    assert exported.returncode == 0 and "1 certified" in exported.stdout
    meta, body = read_document(next(target.iterdir()))
    assert (meta["state"], meta["certified_by"], meta["source_id"], meta["revision"]) == (
        "certified", "admin@example.com", "refund.md", 2)
    assert body == "Refund the second charge within 5 days.\n"

    bad = run(["import", str(source), "--state", "published"], with_admin)
    assert bad.returncode == 2 and "--state must be draft or certified" in bad.stderr
