"""``kb publish``: the static help centre holds the certified text of customer-facing articles only
(never a draft, nothing internal or limited to a group), copies their pictures, and a new run
replaces the folder without ever deleting what kb did not write."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.accounts import groups
from kb.accounts.actors import SYSTEM
from kb.content import attachments, audiences
from kb.content import service as content
from kb.content.help_centre import MARKER, publish_help_centre
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb.errors import ValidationFailed
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def everything_in(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def _certify(db, people, entry, body=None, title=None):
    if body is not None:
        db.refresh(entry)
        content.save_revision(session=db, actor=people["author"], entry=entry, data=RevisionCreate(
            title=title or entry_title(db, entry), body=body, tags=["returns"], base_revision_id=entry.latest_revision_id))
        db.refresh(entry)
    for actor, action in ((people["author"], Action.submit), (people["expert"], Action.approve),
                          (people["expert"], Action.certify)):
        transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
    db.refresh(entry)
    return entry


def entry_title(db, entry):
    from kb.content.models import Revision

    return db.get(Revision, entry.latest_revision_id).title


@pytest.fixture
def site(db, make_user, settings):
    """A public certified article with a picture and a draft on top, a public but uncertified one,
    a certified internal one and a public one limited to a group."""
    people = {"author": make_user("author"), "expert": make_user("expert"), "admin": make_user("admin")}

    def article(title, body):
        return content.create_article(session=db, actor=people["author"],
                                      data=ArticleCreate(title=title, body=body, tags=["returns"]))

    public = article("Return a parcel", "Draft.")
    designate_expert(session=db, actor=SYSTEM, topic="returns", user=people["expert"])
    picture = attachments.store_upload(session=db, actor=people["author"], stream=io.BytesIO(PNG), filename="label.png",
                                       data_dir=settings.data_dir, max_bytes=1 << 20, entry=public)
    pdf = attachments.store_upload(session=db, actor=people["author"], stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
                                   filename="form.pdf", data_dir=settings.data_dir, max_bytes=1 << 20, entry=public)
    internal = _certify(db, people, article("Warehouse codes", "Internal Yakcode list."))
    _certify(db, people, public, body=f"Print the Labelword label. ![label]({attachments.attachment_url(picture)}) "
                                      f"See [the codes](/articles/{internal.id}) and [Returns](/search?q=x), "
                                      f"[the form]({attachments.attachment_url(pdf)}) "
                                      f"![as picture]({attachments.attachment_url(pdf)}).")
    db.refresh(public)
    content.save_revision(session=db, actor=people["author"], entry=public, data=RevisionCreate(
        title="Return a parcel", body="Draftword: not yet.", tags=["returns"], base_revision_id=public.latest_revision_id))
    uncertified = article("Exchange an item", "Uncertword steps.")
    limited = _certify(db, people, article("Escalate a return", "Limitword steps."))
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    for entry in (public, uncertified, limited):
        db.refresh(entry)
        audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[], public=True)
    audiences.set_audience(session=db, actor=people["author"], entry=limited, group_ids=[tier.id], public=True)
    db.commit()
    return {"public": public, "picture": picture, "internal": internal}


def test_only_the_certified_text_of_public_articles_is_published(db, site, settings, tmp_path):
    out = tmp_path / "help"
    report = publish_help_centre(session=db, data_dir=settings.data_dir, path=out)
    assert report.articles == 1 and report.files == 1 and report.topics == ["returns"]
    written = everything_in(out)
    assert "Labelword" in written and "Return a parcel" in written
    for secret in ("Draftword", "Yakcode", "Warehouse codes", "Uncertword", "Exchange an item", "Limitword",
                   "Escalate a return"):
        assert secret not in written, secret
    page = (out / f"article-{site['public'].id}.html").read_text()
    picture = f"files/{site['picture'].id}-label.png"
    assert f'src="{picture}"' in page and (out / picture).read_bytes() == PNG
    assert 'href="/' not in page and 'src="/' not in page and "the codes" in page  # links into kb: text
    assert "the form" in page and not list(out.rglob("*.pdf"))  # only pictures are published
    index = (out / "index.html").read_text()
    assert f'href="article-{site["public"].id}.html"' in index and 'src="search.js"' in index
    assert "Labelword" in (out / "search-index.js").read_text()


def test_a_new_run_replaces_the_folder_and_never_deletes_what_kb_did_not_write(db, site, settings, tmp_path):
    out = tmp_path / "sites" / "help"
    publish_help_centre(session=db, data_dir=settings.data_dir, path=out)
    (out / "stale.html").write_text("old")
    beside = out.parent / "keep.txt"
    beside.write_text("mine")
    publish_help_centre(session=db, data_dir=settings.data_dir, path=out)
    assert not (out / "stale.html").exists() and (out / MARKER).exists() and beside.read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["help", "keep.txt"]  # no temporary folder left

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("not kb's")
    with pytest.raises(ValidationFailed, match="did not write"):
        publish_help_centre(session=db, data_dir=settings.data_dir, path=theirs)
    assert (theirs / "notes.txt").read_text() == "not kb's"


def test_kb_publish_command(tmp_path, monkeypatch):
    from cli.main import app
    from kb.db import get_engine
    from kb.migrate import upgrade
    from kb.settings import get_settings

    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_ENV", "development")
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        upgrade(get_engine(get_settings().sqlalchemy_url))
        result = CliRunner().invoke(app, ["publish", str(tmp_path / "site")])
        (tmp_path / "taken").mkdir()
        (tmp_path / "taken" / "a.txt").write_text("x")
        refused = CliRunner().invoke(app, ["publish", str(tmp_path / "taken")])
    finally:
        get_engine(get_settings().sqlalchemy_url).dispose()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Published 0 articles in 0 topics (0 files)" in result.output
    assert "No articles are published yet." in (tmp_path / "site" / "index.html").read_text()
    assert refused.exit_code == 2 and "did not write" in refused.output
