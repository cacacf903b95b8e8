"""The static, customer-facing help centre that ``kb publish PATH`` writes: plain HTML files that
need no kb server (open ``index.html`` from disk, or put the folder on any static host).

What goes in: the **certified** revision of every article marked customer-facing
(``Entry.public``) that is not limited to groups (audiences are internal by definition), not
deleted and still certified (an archived article has no certified revision). Never a draft, a
revision in review, a reviewer's comment or an author's name. Its text is rendered by kb's one
sanitising Markdown renderer (``kb.markdown.render``); the pictures it shows (raster images from
``/attachments/...``; other files are left out) are copied into ``files/``, links to other published articles point at their pages, and any other
link into kb (which customers cannot open) is kept as text.

Layout, all links relative (works from ``file://``): ``index.html`` (articles by topic, and a
search box), ``article-<id>.html``, ``style.css``, ``search.js`` with ``search-index.js`` (the
index as a script, since browsers refuse ``fetch`` on ``file://``), ``files/``.

A new run replaces the folder in one swap: everything is written to a temporary folder beside it,
then the old folder is renamed away, the new one into its place, and the old one deleted. A folder
that holds anything kb did not write is refused, never emptied.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from kb.content.attachments import attachment_path, is_inline
from kb.content.models import Attachment, Entry, EntryKind, Revision
from kb.content.service import tags_of
from kb.errors import ValidationFailed
from kb.markdown import plain_text, render

MARKER = ".kb-help-centre"  # in every folder kb publish writes: a later run may replace it
NO_TOPIC = "General"
INDEX_TEXT_CHARS = 5000  # of each article's text in the search index
_ATTACHMENT = re.compile(r'(src|href)="/attachments/(\d+)(?:/[^"]*)?"')
_ARTICLE = re.compile(r'href="/(?:articles|entries)/(\d+)(?:[?#][^"]*)?"')
_OTHER_LINK = re.compile(r'<a\b([^>]*?)\shref="/[^"]*"([^>]*)>')
_UNPUBLISHED_IMAGE = re.compile(r'<img\b[^>]*\ssrc="/[^"]*"[^>]*>')


@dataclass
class Published:
    entry_id: int
    title: str
    body: str
    tags: list[str]
    certified_at: datetime

    @property
    def page(self) -> str:
        return f"article-{self.entry_id}.html"


@dataclass
class PublishReport:
    path: Path
    articles: int = 0
    files: int = 0
    topics: list[str] = field(default_factory=list)


def published_articles(*, session: Session) -> list[Published]:
    """The certified revisions of the customer-facing articles, by title."""
    rows = session.exec(
        select(Entry, Revision).join(Revision, Revision.id == Entry.certified_revision_id)
        .where(Entry.kind == EntryKind.article.value, Entry.public.is_(True), Entry.limited_to_groups.is_(False),
               Entry.deleted_at.is_(None))
    ).all()
    tags = tags_of(session=session, revision_ids=[revision.id for _, revision in rows])
    articles = [Published(entry.id, revision.title, revision.body, tags[revision.id], revision.created_at)
                for entry, revision in rows]
    return sorted(articles, key=lambda a: (a.title.lower(), a.entry_id))


def _attachment_ids(body: str) -> set[int]:
    return {int(i) for i in re.findall(r"/attachments/(\d+)", body)}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "file"


def _article_html(article: Published, files: dict[int, str], pages: dict[int, str]) -> str:
    body = render(article.body)
    body = _ATTACHMENT.sub(lambda m: f'{m[1]}="{files[int(m[2])]}"' if int(m[2]) in files else f'{m[1]}="/"', body)
    body = _ARTICLE.sub(lambda m: f'href="{pages[int(m[1])]}"' if int(m[1]) in pages else 'href="/"', body)
    body = _OTHER_LINK.sub(r"<a\1\2>", body)  # a link into kb customers cannot open: its text stays
    body = _UNPUBLISHED_IMAGE.sub("", body)
    tags = "".join(f'<span class="tag">{html.escape(t)}</span> ' for t in article.tags)
    return _page(article.title, f"""<p><a href="index.html">← All articles</a></p>
<article>
<h1>{html.escape(article.title)}</h1>
<p class="meta">{tags}Verified {article.certified_at:%Y-%m-%d}</p>
<div class="body">{body}</div>
</article>""")


def _page(title: str, content: str, *, scripts: tuple[str, ...] = ()) -> str:
    tags = "".join(f'<script src="{s}" defer></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{html.escape(title)} · Help centre</title>
<link rel="stylesheet" href="style.css">
{tags}
</head>
<body>
<main>
{content}
</main>
</body>
</html>
"""


def _index_html(articles: list[Published]) -> tuple[str, list[str]]:
    topics: dict[str, list[Published]] = {}
    for article in articles:
        for topic in article.tags or [NO_TOPIC]:
            topics.setdefault(topic, []).append(article)
    names = sorted(topics, key=lambda t: (t == NO_TOPIC, t))
    sections = "\n".join(
        f'<section class="topic"><h2>{html.escape(name)}</h2><ul>'
        + "".join(f'<li><a href="{a.page}">{html.escape(a.title)}</a></li>' for a in topics[name])
        + "</ul></section>" for name in names)
    content = f"""<h1>Help centre</h1>
<form class="search" role="search" action="index.html">
<label for="q">Search the help centre</label>
<input id="q" name="q" type="search" autocomplete="off" placeholder="How do I …">
</form>
<div id="results" aria-live="polite" hidden></div>
<div id="topics">
{sections or '<p>No articles are published yet.</p>'}
</div>"""
    return _page("Help centre", content, scripts=("search-index.js", "search.js")), names


def _search_index(articles: list[Published]) -> str:
    entries = [{"t": a.title, "u": a.page, "g": a.tags, "x": plain_text(a.body)[:INDEX_TEXT_CHARS]}
               for a in articles]
    return "window.KB_HELP_INDEX = " + json.dumps(entries, ensure_ascii=True) + ";\n"


def _check_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ValidationFailed(f"{path} is a file; give a folder for the help centre.")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise ValidationFailed(f"{path} already holds files that kb publish did not write; choose an empty or new "
                               "folder (kb never deletes what it did not write).")


def publish_help_centre(*, session: Session, data_dir: Path, path: Path) -> PublishReport:
    """Write the help centre to ``path`` (see the module's docstring), replacing an earlier one."""
    path = Path(path).absolute()
    _check_target(path)
    articles = published_articles(session=session)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        report = _write(session, data_dir, articles, work)
        os.chmod(work, 0o755)  # mkdtemp makes it private; a static host must read it
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if path.exists():
        _check_target(path)  # still ours (or empty) now that the new one is ready
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(path, old)
        os.rename(work, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(work, path)
    report.path = path
    return report


def _write(session: Session, data_dir: Path, articles: list[Published], out: Path) -> PublishReport:
    (out / MARKER).write_text("Written by kb publish; the next run replaces this folder.\n")
    wanted = set().union(*(_attachment_ids(a.body) for a in articles)) if articles else set()
    files: dict[int, str] = {}
    if wanted:
        (out / "files").mkdir()
        for attachment in session.exec(select(Attachment).where(Attachment.id.in_(sorted(wanted)))):
            source = attachment_path(data_dir, attachment)
            # Raster images only (what kb itself shows inline): a static host would serve an SVG or
            # an HTML file inline, script and all; other files stay in kb (their links become text).
            if not is_inline(attachment) or not source.is_file():
                continue
            name = f"files/{attachment.id}-{_safe_name(attachment.filename)}"
            shutil.copyfile(source, out / name)
            files[attachment.id] = name
    pages = {a.entry_id: a.page for a in articles}
    for article in articles:
        (out / article.page).write_text(_article_html(article, files, pages), encoding="utf-8")
    index, topics = _index_html(articles)
    (out / "index.html").write_text(index, encoding="utf-8")
    (out / "search-index.js").write_text(_search_index(articles), encoding="utf-8")
    assets = Path(__file__).with_name("help_centre_assets")
    for asset in ("style.css", "search.js"):
        shutil.copyfile(assets / asset, out / asset)
    return PublishReport(path=out, articles=len(articles), files=len(files), topics=topics)
