"""Hostile content in a real Chromium: no payload runs, and none reaches the DOM as markup, anywhere kb shows it.

The payloads (tests/browser/hostile_payloads.py) go in through the services (or, where the browser
is the way in, the editor and forms) as titles, bodies, answers, review comments, flag reasons,
display names, synonyms, attachment file names, search queries and query parameters. Every page
that shows them is then opened by someone allowed to see it, in a context that **ignores the
Content-Security-Policy** (``bypass_csp``): the CSP is a second wall, so escaping and sanitising
are judged without it (and every page must still send it). After each load:

- ``__xss(N)`` (defined by an init script before any page script) was never called, and no
  ``alert``/``confirm``/``prompt`` dialog opened;
- no request went to a path containing ``__xss`` (an ``hx-get``, ``<img src>`` or ``<script src>``
  that got through would ask for one), no uncaught page error happened, and no response (page,
  htmx swap, autosave, upload) was a 5xx;
- the DOM has no ``on*`` attribute at all, no ``hx-*``/``data-hx-*`` attribute from content,
  no ``javascript:``/``vbscript:``/``data:`` URL (save raster images), no inline or foreign
  ``<script>``, no ``iframe``/``object``/``embed``/``base``/``meta http-equiv``, no element in
  rendered content outside the sanitiser's list, no ``__xss`` in any attribute that could act;
- the template product ``7*7191`` appears nowhere: no template ran;
- each payload's sentinel word is visible, so a payload was really shown there and did not
  swallow what follows it.

Places (about 100 page views per backend): article (also with a hostile ``?q=`` for the
highlighter), revision, history, diff, review (diff, reviews, events, a refused action echoing its
comment), entry audit, "copy answer" plain text; editor (server-rendered preview, the htmx
preview swap with every payload incl. NUL, an upload and a refused upload with hostile file
names, a refused save echoing the form, the 409 conflict page, prefill from ``?title=``),
attachments (PNG/HTML polyglot inline, SVG only as a download, file names in links); articles
list, home, inbox (workflow comments and flag reasons in notifications), review dashboard
(queue, open flag); questions list (and its echoed tag filter), thread, ask prefill, a promoted
answer's credit line; search results and highlighted snippets, the echoed query and tags, results
swapped in as one types (search page and home); experts finder and directory; people profiles
(and the endorsement error echoing the topic), own profile (API token names); knowledge health
(failed searches); admin users (list, edit, a refused new user), topics, audit export (no formula
cells), synonyms (rules, flash echo, validation error echo); tag suggestions; login ``next`` (and
signing in with it); 404 and 422 pages.
"""

from __future__ import annotations

import csv
import io
import re
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from cli.bootstrap import bootstrap
from kb.accounts import service as accounts
from kb.accounts.schemas import TokenCreate
from kb.content import attachments
from kb.content.forum import accept_answer, answer_question, ask_question
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from kb.content.service import create_article, save_revision
from kb.clock import utcnow
from kb.errors import DomainError
from kb.settings import Settings
from search import synonyms
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.browser.hostile_payloads import (
    BY_NUMBER, ONE_LINE, PAYLOADS, STORABLE, Payload, body_with, line_with,
)
from tests.browser.hostile_watch import Watch
from tests.helpers import PASSWORD
from workflow import flags, webhooks
from workflow.models import Action, FlagReason, WebhookDelivery
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.browser

assert len(PAYLOADS) >= 60


@pytest.fixture
def watch(browser, live_server):
    """``watch(user)``: a signed-in, CSP-bypassing, instrumented context. Fails the test on any finding."""
    problems: list[str] = []
    watches: list[Watch] = []

    def _open(user=None) -> Watch:
        w = Watch(browser, live_server, problems)
        watches.append(w)
        return w.login(user) if user is not None else w

    started = time.monotonic()
    yield _open
    for w in watches:
        w.context.close()
    checked = sum(w.pages_checked for w in watches)
    print(f"\nhostile content: {checked} page views checked in {time.monotonic() - started:.1f} s")
    assert checked or not watches, "no page was checked"
    assert not problems, f"{len(problems)} finding(s):\n" + "\n".join(problems[:200])


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5e1a5c10000000049454e44ae426082")


# --- the world: hostile people and hostile content, made through the services ------------------


def _name(payload: Payload) -> str:
    return line_with(payload, 120)


@pytest.fixture
def cast(db, make_user):
    """People whose display names are payloads (each can sign in)."""
    names = iter(ONE_LINE)
    people_ = {
        "author": make_user("author", name=_name(next(names))),
        "writer": make_user("author", name=_name(next(names))),
        "expert": make_user("expert", "author", name=_name(next(names))),
        "agent": make_user("agent", name=_name(next(names))),
        "flagger": make_user("agent", name=_name(next(names))),
        "admin": make_user("admin", name=_name(next(names))),
    }
    people_["names"] = [BY_NUMBER[int(u.display_name[3:6])] for u in people_.values()]
    create_article(session=db, actor=people_["author"], data=ArticleCreate(  # the topic exists from here on
        title="Hostile content", body="Where every hostile test entry is tagged.", tags=["hostile"]))
    designate_expert(session=db, actor=SYSTEM, topic="hostile", user=people_["expert"])
    db.commit()
    return people_


def _certify(db, cast, revision_id: int, comment: str = "") -> None:
    for who, action in ((cast["author"], Action.submit), (cast["expert"], Action.approve),
                        (cast["expert"], Action.certify)):
        transition(session=db, actor=who, revision_id=revision_id, action=action, comment=comment)


@pytest.fixture
def article(db, cast, settings):
    """One article whose bodies hold every storable payload, taken through the whole workflow.

    Revision 1 (half the payloads) gets changes requested with a hostile comment; revision 2 (all
    payloads) is approved and certified with hostile comments; an agent's flag with a hostile
    reason is dismissed with a hostile reason, another agent's flag (a spreadsheet formula) stays
    open; revision 3 (a hostile title; links to a text file with a hostile name, a PNG/HTML
    polyglot and an SVG with a script) waits in review.
    """
    author, expert = cast["author"], cast["expert"]
    comments = iter(p for p in ONE_LINE if p.kind in ("html", "htmx", "template"))
    seen: dict[str, list[Payload]] = {"comments": []}

    def comment() -> str:
        payload = next(comments)
        seen["comments"].append(payload)
        return line_with(payload, 500)

    title1, title2, title3 = ONE_LINE[10], ONE_LINE[11], ONE_LINE[12]
    half = STORABLE[: len(STORABLE) // 2]
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title=line_with(title1), body=body_with(half), tags=["hostile", "<script>alert(1)</script>", '"><b>']))
    first = entry.latest_revision_id
    transition(session=db, actor=author, revision_id=first, action=Action.submit)
    transition(session=db, actor=expert, revision_id=first, action=Action.request_changes, comment=comment())
    second = save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title=line_with(title2), body=body_with(STORABLE), tags=["hostile"], base_revision_id=first))
    transition(session=db, actor=author, revision_id=second.id, action=Action.submit, comment=comment())
    transition(session=db, actor=expert, revision_id=second.id, action=Action.approve, comment=comment())
    transition(session=db, actor=expert, revision_id=second.id, action=Action.certify, comment=comment())
    flag = flags.raise_flag(session=db, actor=cast["agent"], entry=entry, reason=FlagReason.incorrect,
                            comment=comment())
    flags.dismiss_flag(session=db, actor=expert, flag=flag, reason=comment())
    # A spreadsheet formula as it is, for the audit CSV.
    flags.raise_flag(session=db, actor=cast["flagger"], entry=entry, reason=FlagReason.unclear,
                     comment=BY_NUMBER[89].text)
    upload_name = line_with(BY_NUMBER[3], 150) + ".txt"
    attachment = attachments.store_upload(
        session=db, actor=author, stream=io.BytesIO(b"plain text\n"), filename=upload_name,
        data_dir=settings.data_dir, max_bytes=1_000_000, entry=entry)
    # A PNG that is also HTML, and an SVG with a script: what the browser gets must be inert.
    polyglot = attachments.store_upload(
        session=db, actor=author, stream=io.BytesIO(PNG_1PX + b"<html><script>__xss(1)</script>"),
        filename=line_with(BY_NUMBER[28], 100) + ".png", data_dir=settings.data_dir, max_bytes=1_000_000, entry=entry)
    svg = attachments.store_upload(
        session=db, actor=author, stream=io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg" onload="__xss(6)">'
                                                    b'<script>__xss(7)</script></svg>'),
        filename="drawing.svg", data_dir=settings.data_dir, max_bytes=1_000_000, entry=entry)
    third_body = (body_with(list(reversed(STORABLE))) + "\n" + "\n\n".join(
        attachments.markdown_link(a) for a in (attachment, polyglot, svg)) + "\n")
    third = save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title=line_with(title3), body=third_body, tags=["hostile"], base_revision_id=second.id))
    transition(session=db, actor=author, revision_id=third.id, action=Action.submit, comment=comment())
    db.commit()
    return {"entry": entry, "revisions": (first, second.id, third.id), "titles": (title1, title2, title3),
            "comments": seen["comments"], "attachment": attachment, "polyglot": polyglot, "svg": svg}


@pytest.fixture
def titled(db, cast):
    """A certified article per one-line payload, the payload as its title (lists, search, profiles)."""
    entries = []
    for payload in ONE_LINE:
        entry = create_article(session=db, actor=cast["author"], data=ArticleCreate(
            title=line_with(payload), body=f"Hostile title test {payload.sentinel}.\n\n{payload.text}",
            tags=["hostile"]))
        _certify(db, cast, entry.latest_revision_id)
        entries.append((payload, entry))
    db.commit()
    return entries


@pytest.fixture
def forum(db, cast):
    """Questions titled with payloads; one thread with every payload in the question and its answers."""
    questions = []
    for payload in ONE_LINE[:25]:
        questions.append(ask_question(session=db, actor=cast["agent"], data=QuestionCreate(
            title=line_with(payload), body=f"{payload.sentinel} {payload.text}", tags=["hostile"])))
    thread = ask_question(session=db, actor=cast["flagger"], data=QuestionCreate(  # brackets: see promote below
        title=line_with(BY_NUMBER[62]) + " x](https://evil.example/) [y", body=body_with(STORABLE[:30]),
        tags=["hostile"]))
    answers = [
        answer_question(session=db, actor=who, question=thread, data=AnswerCreate(body=body_with(chunk)))
        for who, chunk in ((cast["author"], STORABLE[30:60]), (cast["writer"], STORABLE[60:]))
    ]
    accept_answer(session=db, actor=cast["flagger"], answer=answers[1])
    db.commit()
    return {"questions": questions, "thread": thread, "answers": answers}


# --- the tests -------------------------------------------------------------------------------


def test_article_workflow_pages_show_hostile_content_inertly(watch, db, cast, article):
    entry_id = article["entry"].id
    first, second, third = article["revisions"]
    t1, t2, t3 = article["titles"]
    comments = article["comments"]

    author = watch(cast["author"])
    author.see(f"/articles/{entry_id}", STORABLE + [t2], also=("KBEND",))  # the certified revision
    author.see(f"/articles/{entry_id}?q={quote(BY_NUMBER[1].text)}", STORABLE)  # highlight.js marks the query
    author.see(f"/revisions/{first}", STORABLE[: len(STORABLE) // 2] + [t1])
    author.see(f"/entries/{entry_id}/history", [t1, t2, t3])
    author.see(f"/entries/{entry_id}/diff?old={first}&new={second}", STORABLE + [t1, t2])
    author.see(f"/entries/{entry_id}/audit", comments)
    author.see(f"/revisions/{third}/discard", [t3], status=409)  # in review: refused, naming the revision
    author.see(f"/entries/{entry_id}/delete", [t3], status=409)  # certified: refused, naming the article
    author.see("/inbox", [comments[0]])  # "… asked for changes to …: <comment>"
    author.see("/articles", [t3])
    author.see("/", [])
    # The editor: the server renders the preview, then htmx posts /preview and swaps it in.
    author.see(f"/entries/{entry_id}/edit", STORABLE + [t3])
    author.page.locator("#preview p", has_text="KBEND").wait_for()
    author.judge(STORABLE)

    expert = watch(cast["expert"])
    expert.see(f"/review/{third}", STORABLE + [t3])  # diff certified (2) -> in review (3)
    expert.see("/review", [t3])  # queue and open flag
    expert.see("/inbox", [])
    # A refused action (certify before approval) shows the page again with the comment as typed.
    expert.post(f"/revisions/{third}/certify", {"comment": line_with(BY_NUMBER[35], 500)}, [BY_NUMBER[35]])
    assert expert.page.locator("#comment").input_value() == line_with(BY_NUMBER[35], 500)

    # Someone saves while the author edits: the 409 page shows both versions side by side. The other
    # writer edits what they may see (the certified revision; the author's revision in review is not theirs).
    save_revision(session=db, actor=cast["writer"], entry=article["entry"], data=RevisionCreate(
        title=line_with(BY_NUMBER[36]), body=body_with(STORABLE[::2]), tags=["hostile"], base_revision_id=second))
    db.commit()
    author.page.locator("#title").fill(line_with(BY_NUMBER[37]))
    with author.page.expect_navigation():
        author.page.get_by_role("button", name="Save").click()
    author.where = "POST edit (409 conflict)"
    author.judge(STORABLE + [BY_NUMBER[36], BY_NUMBER[37]])
    assert author.page.locator("#conflict").count() == 1, "no conflict page"

    # The hostile file name reaches the download only percent-encoded, as an attachment.
    download = expert.page.request.get(f"{expert.base_url}/attachments/{article['attachment'].id}")
    disposition = download.headers["content-disposition"]
    assert re.fullmatch(r"attachment; filename\*=UTF-8''[A-Za-z0-9%._~-]+", disposition), disposition
    assert download.headers["x-content-type-options"] == "nosniff"
    svg = expert.page.request.get(f"{expert.base_url}/attachments/{article['svg'].id}")
    assert svg.headers["content-disposition"].startswith("attachment;"), svg.headers  # never inline
    # The PNG/HTML polyglot is shown inline: as an image, nothing else.
    expert.see(f"/attachments/{article['polyglot'].id}")
    assert expert.page.evaluate("document.contentType") == "image/png"
    expert.see(f"/review/{third}", [BY_NUMBER[3], BY_NUMBER[28]])  # file names in the links
    agent = watch(cast["agent"])
    agent.see(f"/articles/{entry_id}", STORABLE + [t2])
    agent.see("/inbox", [comments[5]])  # "… dismissed your flag on …: <reason>"
    # "Used to solve a case" with a hostile case reference: htmx swaps the panel and the message in.
    agent.see(f"/articles/{entry_id}")
    case_ref = line_with(BY_NUMBER[31], 100)
    agent.page.locator(f"#case-ref-{entry_id}").fill(case_ref)
    agent.page.locator(f"#reuse-{entry_id}").click()
    agent.page.locator(f"#rating-status-{entry_id}", has_text="Recorded").wait_for()
    agent.where = "reuse recorded (htmx swap)"
    agent.judge([BY_NUMBER[31]])
    agent.see(f"/entries/{entry_id}/plain")  # "Copy answer": text/plain, never HTML
    assert agent.page.evaluate("document.contentType") == "text/plain"

    admin = watch(cast["admin"])
    admin.see("/admin/audit")
    # The audit CSV: hostile comments and names, but no cell a spreadsheet would evaluate.
    csv_text = admin.page.request.get(f"{admin.base_url}/admin/audit.csv?start=2000-01-01&end=2100-01-01").text()
    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    assert any("=cmd" in cell for cell in cells), "the formula comment is not in the export"
    formulas = [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert not formulas, formulas
    admin.see(f"/review/{second}", STORABLE + [t2, comments[2]])  # reviews: the approval's comment


STATUS_LOG = """() => {
  const status = document.getElementById("autosave-status");
  window.__statusLog = [];
  new MutationObserver(() => window.__statusLog.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""


def test_editor_preview_upload_and_refused_save_echo_hostile_input(watch, cast):
    author = watch(cast["author"])
    author.see("/articles/new")
    page = author.page
    # Every payload, the one with NUL bytes too, typed into the editor: htmx posts /preview.
    page.locator("#body").fill(body_with(PAYLOADS))
    page.locator("#preview p", has_text="KBEND").wait_for()
    author.where = "/articles/new (htmx preview)"
    author.judge(PAYLOADS)

    # The status line is rewritten by autosave every 1.5 s: keep every text it shows.
    page.evaluate(STATUS_LOG)
    # A file with a hostile name, uploaded through the editor (its link is inserted in the body).
    name = line_with(BY_NUMBER[31], 120) + ".txt"
    page.locator("#file-input").set_input_files(files=[{"name": name, "mimeType": "text/plain",
                                                        "buffer": b"plain text\n"}])
    page.wait_for_function("text => window.__statusLog.some((s) => s.includes(text))", arg="Uploaded KBP031")  # the name as kb stored it
    page.locator("#preview a", has_text="KBP031").wait_for()
    author.where = "/articles/new (after upload)"
    author.judge([BY_NUMBER[31]])

    # A refused upload (HTML is not an allowed type): the message names the file, as text.
    refused = line_with(BY_NUMBER[33], 120) + ".html"  # no "/": kb keeps a name's last path segment
    page.locator("#file-input").set_input_files(files=[{"name": refused, "mimeType": "text/html",
                                                        "buffer": b"<html><script>__xss(33)</script></html>"}])
    # Since issue 14 (item 8) a refusal has its own box, which stays until dismissed, not the status line.
    refusal = page.locator("#editor-error-text")
    expect(refusal).to_contain_text("Upload refused")
    expect(refusal).to_contain_text("KBP033")
    author.where = "/articles/new (refused upload)"
    author.judge()

    # A save refused (eleven tags): the page comes back with the title, tags and body as typed.
    page.locator("#title").fill(line_with(BY_NUMBER[35]))  # </textarea> breakout
    page.locator("#tags").fill(", ".join(f"t{n} {BY_NUMBER[n].text}" for n in range(31, 43)))
    page.locator("#body").fill(body_with(STORABLE))
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    author.where = "POST /articles (refused, echoing the form)"
    author.judge(STORABLE)
    assert page.locator(".field-error").count() >= 1, "the save was not refused"
    assert page.locator("#title").input_value() == line_with(BY_NUMBER[35])


def test_lists_search_people_and_admin_pages_show_hostile_titles_and_names_inertly(
        watch, db, engine, app, cast, titled):
    for n in (31, 35, 36):
        accounts.create_api_token(session=db, actor=cast["author"], user=cast["author"],
                                  data=TokenCreate(name=line_with(BY_NUMBER[n], 100)))
    db.commit()
    bootstrap()
    reset_backends()
    try:
        drain(engine=engine, backend=backend_for(app.state.settings))
        names = cast["names"]
        titles = [payload for payload, _ in titled]
        agent = watch(cast["agent"])
        agent.see("/articles", some=titles, at_least=20)
        # Search: highlighted titles and snippets of many hostile entries, then one by its sentinel.
        agent.see("/search?q=hostile+title+test", some=titles, at_least=20)
        agent.see("/search?q=script+onerror+xss", some=titles, at_least=10)
        for payload in titles[:6]:
            agent.see(f"/search?q={payload.sentinel}", [payload])
        # The query itself, echoed in the box, the title and the links (and sent again by htmx).
        for payload in ONE_LINE[:12]:
            agent.see(f"/search?q={quote(payload.text)}&tag={quote(payload.text)}&tag=hostile")
        # Typed into the search box: htmx swaps the results in and pushes the URL.
        for start in ("/search", "/"):
            agent.see(start)
            agent.page.locator("#q").fill(f"hostile {BY_NUMBER[31].text}")
            agent.page.wait_for_url(re.compile(r".*q=hostile.*"))
            agent.where = f"{start} (typed, htmx)"
            agent.judge()
        agent.see(f"/search?q={quote(body_with(ONE_LINE[:8])[:490])}")
        # The helpdesk side panel: hostile titles among its answers, the ticket echoed in its fields.
        agent.see("/panel?subject=hostile+title+test&ticket=ZD-1", some=titles, at_least=3)
        for payload in ONE_LINE[:8]:
            agent.see(f"/panel?subject={quote(payload.text[:500])}&text={quote(payload.text)}"
                      f"&ticket={quote(payload.text[:100])}", status=200)
        agent.see("/experts?q=hostile+title+test", [names[0]])
        agent.see("/experts", [names[2]])
        agent.see(f"/people/{cast['author'].id}", [names[0]], some=titles, at_least=3)
        agent.see(f"/people/{cast['expert'].id}", [names[2]])

        author = watch(cast["author"])
        author.see(f"/articles/new?title={quote(BY_NUMBER[35].text)}&tags={quote(BY_NUMBER[31].text)}")
        author.see("/profile", [BY_NUMBER[n] for n in (31, 35, 36)])  # API token names

        admin = watch(cast["admin"])
        admin.see("/knowledge-health", some=ONE_LINE[:12], at_least=3)  # failed searches: the agent's queries
        admin.see("/admin/users", names)
        admin.see(f"/admin/users/{cast['author'].id}", [names[0]])
        admin.see("/admin/topics", [names[2]])
        admin.see("/admin/routing")
    finally:
        reset_backends()


def test_forum_pages_show_hostile_questions_and_answers_inertly(watch, cast, forum):
    thread = forum["thread"]
    agent = watch(cast["agent"])
    titles = ONE_LINE[:25]
    agent.see("/questions", some=titles, at_least=20)
    agent.see(f"/questions/{thread.id}", STORABLE + [BY_NUMBER[62]] + [cast["names"][0], cast["names"][1]])
    for payload in ONE_LINE[:6]:  # the tag filter echoes its parameter
        agent.see(f"/questions?tag={quote(payload.text)}")
    agent.see(f"/questions/ask?title={quote(BY_NUMBER[35].text)}")  # prefilled from a failed search

    # Turning the accepted answer into an article writes a credit line with the answerer's
    # (hostile) name and the question's (bracketed) title: both must stay text.
    author = watch(cast["author"])
    author.see(f"/questions/{forum['questions'][0].id}", [titles[0]])
    author.see(f"/people/{cast['writer'].id}", [cast["names"][1]])
    author.see(f"/questions/{thread.id}")
    accepted = forum["answers"][1]
    with author.page.expect_navigation():
        author.page.locator(f"#answer-{accepted.id}").get_by_role("button", name="Turn into an article").click()
    author.page.locator("#preview p", has_text="Based on the answer by").wait_for()
    author.where = "promoted answer in the editor"
    author.judge(STORABLE[60:] + [BY_NUMBER[62], cast["names"][1]])
    credit = author.page.locator("#preview p", has_text="Based on the answer by")
    back_link = f"/questions/{thread.id}#answer-{accepted.id}"
    assert [credit.locator("a").nth(i).get_attribute("href") for i in range(credit.locator("a").count())] == [
        back_link], credit.inner_html()
    assert credit.locator("img").count() == 0
    with author.page.expect_navigation():
        author.page.get_by_role("button", name="Save").click()
    author.where = "promoted article"
    author.judge(STORABLE[60:] + [BY_NUMBER[62], cast["names"][1]])


def test_error_messages_and_echoed_parameters_stay_text(watch, db, cast):
    saved = 0
    for payload in ONE_LINE:  # synonym rules whose words are payloads, where validation lets them
        try:
            with db.begin_nested():
                synonyms.save_rule(session=db, actor=cast["admin"], phrase=payload.text[:100],
                                   alternatives=[f"kbp{payload.n:03d} alternative"])
            saved += 1
        except DomainError:
            pass
    db.commit()
    assert saved >= 10, saved

    admin = watch(cast["admin"])
    admin.see("/admin/synonyms")
    for payload in ONE_LINE[:8]:
        admin.see(f"/admin/synonyms?saved={quote(payload.text)}&deleted={quote(payload.text)}")
    # A refused rule: the message quotes the phrase; the form keeps it.
    page = admin.page
    for payload in (BY_NUMBER[31], BY_NUMBER[35], BY_NUMBER[40]):
        page.locator("#phrase").fill(f"{payload.text} one two three four five")
        page.locator("#alternatives").fill(payload.text)
        with page.expect_navigation():
            page.locator("form", has=page.locator("#phrase")).locator("button[type=submit]").click()
        admin.where = f"POST /admin/synonyms {payload.sentinel}"
        text = admin.judge()
        assert "words" in text

    # Webhooks: what a receiver answered is someone else's text, shown in the delivery log; the
    # address an administrator typed is shown in the list (and echoed after a deletion).
    hook = webhooks.create_webhook(session=db, actor=cast["admin"], settings=Settings(secret_key="x" * 40),
                                   url=f"http://127.0.0.1:9/{quote(BY_NUMBER[3].text, safe='')}",
                                   events=list(webhooks.EVENTS))
    said = [p for p in ONE_LINE if len(p.text) <= 300][:12]
    for n, payload in enumerate(said):
        db.add(WebhookDelivery(webhook_id=hook.id, delivery_id=f"hostile-{n}", event="question.asked", payload={},
                               attempts=12, failed_at=utcnow(), last_status=400,
                               last_error=f"The receiver answered 400: {line_with(payload, 300)}"))
    db.commit()
    admin.see("/admin/webhooks")
    admin.see(f"/admin/webhooks/{hook.id}", said)
    admin.see(f"/admin/webhooks?deleted={quote(BY_NUMBER[3].text)}")

    # Error pages that quote what was asked for (the name of a table; a number of days).
    admin.see(f"/knowledge-health/{quote(BY_NUMBER[3].text, safe='')}.csv", status=404,
              also=("“<img src=x onerror=__xss(3)>”",))
    admin.see(f"/knowledge-health/hostile.csv?days={quote(BY_NUMBER[31].text)}")
    admin.see(f"/knowledge-health?days={quote(BY_NUMBER[31].text)}")

    # A new user refused (no role, bad e-mail): the form comes back with what was typed.
    admin.see("/admin/users")
    page.locator("#email").fill(f"{BY_NUMBER[33].text}@example.com")
    page.locator("#display_name").fill(line_with(BY_NUMBER[35], 120))
    with page.expect_navigation():
        page.get_by_role("button", name="Add user").click()
    admin.where = "POST /admin/users (refused)"
    admin.judge()
    assert page.locator("#display_name").input_value() == line_with(BY_NUMBER[35], 120)

    # Endorsing for a topic that does not exist: the error names the topic as typed.
    agent = watch(cast["agent"])
    agent.see(f"/people/{cast['author'].id}")
    for payload in (BY_NUMBER[31], BY_NUMBER[36], BY_NUMBER[38]):
        agent.page.locator("#endorse-topic").fill(payload.text)
        with agent.page.expect_navigation():
            agent.page.get_by_role("button", name="Endorse").click()
        agent.where = f"POST endorsement {payload.sentinel}"
        agent.judge()
    agent.see(f"/articles/999999?q={quote(BY_NUMBER[1].text)}", status=404)
    agent.see(f"/no/such/{quote(BY_NUMBER[1].text, safe='')}", status=404)
    agent.see(f"/search?q=x&kind={quote(BY_NUMBER[31].text)}")
    agent.see(f"/tags/suggest?tags={quote(BY_NUMBER[31].text)},ho")  # the datalist options echo what was typed

    anonymous = watch()
    anonymous.see(f"/login?next={quote(BY_NUMBER[31].text)}")
    anonymous.see(f"/login?next={quote('//evil.example/__xss')}")
    # Signing in from a hostile "next" stays on kb.
    anonymous.see(f"/login?next={quote('javascript:__xss(1)')}")
    anonymous.page.fill("#email", cast["writer"].email)
    anonymous.page.fill("#password", PASSWORD)
    with anonymous.page.expect_navigation():
        anonymous.page.get_by_role("button", name="Sign in").click()
    anonymous.where = "after sign-in with a hostile next"
    anonymous.judge()
    assert anonymous.page.url.startswith(anonymous.base_url + "/"), anonymous.page.url


def test_groups_and_audiences_show_hostile_names_inertly(watch, db, cast):
    """Group names and descriptions (audiences) are an administrator's text, shown on the admin
    pages, on the article page ("Visible to") and in its form."""
    from kb.accounts import groups
    from kb.content import audiences

    made = []
    for payload in ONE_LINE[:12]:
        try:
            with db.begin_nested():
                made.append((payload, groups.create_group(session=db, actor=cast["admin"], name=line_with(payload, 80),
                                                          description=line_with(payload, 300))))
        except DomainError:
            pass
    assert len(made) >= 8, len(made)
    groups.add_member(session=db, actor=cast["admin"], group=made[0][1], user=cast["agent"])
    article = create_article(session=db, actor=cast["author"], data=ArticleCreate(
        title="Limited hostile", body="Only for some groups.", tags=["hostile"]))
    _certify(db, cast, article.latest_revision_id)
    db.refresh(article)
    audiences.set_audience(session=db, actor=cast["author"], entry=article, group_ids=[g.id for _, g in made[:4]])
    db.commit()
    admin = watch(cast["admin"])
    admin.see("/admin/groups", [p for p, _ in made])
    admin.see(f"/admin/groups/{made[0][1].id}", [made[0][0], cast["names"][3]])
    admin.see(f"/admin/groups/{made[1][1].id}/delete", [made[1][0]])
    admin.see(f"/admin/groups?deleted={quote(made[2][0].text)}")
    admin.see(f"/articles/{article.id}", [p for p, _ in made[:4]])
    watch(cast["author"]).see(f"/articles/{article.id}", [p for p, _ in made[:4]])
    watch(cast["agent"]).see(f"/articles/{article.id}", [p for p, _ in made[:4]])
