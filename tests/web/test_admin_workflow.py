"""Admins designate topic experts, set review policies and export the audit trail."""

import csv
import io
from datetime import date

import pytest

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import form_post, login, rows
from workflow.models import Action, Policy, TopicExpert
from workflow.service import transition


@pytest.fixture
def setup(db, make_user):
    admin, expert, author = make_user("admin"), make_user("expert", name="Erin"), make_user("author")
    entry = create_article(session=db, actor=author, data=ArticleCreate(title="Parcel lost", body="Steps.",
                                                                        tags=["shipping"]))
    db.commit()
    return {"admin": admin, "expert": expert, "author": author, "entry": entry}


def test_admin_designates_and_removes_a_topic_expert(client, db, setup):
    login(client, setup["admin"].email)
    page = client.get("/admin/topics").text
    assert "shipping" in page
    added = form_post(client, "/admin/topics/shipping/experts", {"email": setup["expert"].email}, page="/admin/topics")
    assert added.status_code == 303
    assert [(t.user_id) for t in rows(db, TopicExpert)] == [setup["expert"].id]
    assert "Erin" in client.get("/admin/topics").text
    removed = form_post(client, f"/admin/topics/shipping/experts/{setup['expert'].id}/remove", page="/admin/topics")
    assert removed.status_code == 303 and rows(db, TopicExpert) == []


@pytest.mark.parametrize(("email", "message"), [("ghost@example.com", "No user with the email"),
                                                 (None, "does not have the expert role")])
def test_bad_expert_designations_are_explained(client, db, setup, email, message):
    login(client, setup["admin"].email)
    response = form_post(client, "/admin/topics/shipping/experts", {"email": email or setup["author"].email},
                         page="/admin/topics")
    assert response.status_code in (404, 409) and message in response.text
    assert rows(db, TopicExpert) == []


def test_policy_per_topic_and_validation(client, db, setup):
    login(client, setup["admin"].email)
    saved = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 2, "validity_days": 30,
                                                 "reminder_days": 7}, page="/admin/topics")
    assert saved.status_code == 303
    policy = rows(db, Policy)[0]
    assert (policy.required_approvals, policy.validity_days, policy.reminder_days) == (2, 30, 7)
    bad = form_post(client, "/admin/policy", {"topic": "", "required_approvals": 1, "validity_days": 10,
                                               "reminder_days": 20}, page="/admin/topics")
    assert bad.status_code == 422 and "reminder must come before" in bad.text
    assert len(rows(db, Policy)) == 1


def test_policy_the_approver_may_not_also_certify(client, db, setup):
    login(client, setup["admin"].email)
    page = client.get("/admin/topics").text
    assert 'name="approver_cannot_certify"' in page and "The approver may not also certify" in page
    saved = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 1, "validity_days": 90,
                                                 "reminder_days": 14, "approver_cannot_certify": "true"},
                      page="/admin/topics")
    assert saved.status_code == 303
    assert [(p.approver_cannot_certify, p.approval_certifies) for p in rows(db, Policy)] == [(True, False)]
    assert 'name="approver_cannot_certify" type="checkbox" value="true" checked' in client.get("/admin/topics").text
    # Both options at once contradict each other: refused with a sentence, nothing saved.
    both = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 1, "validity_days": 90,
                                                "reminder_days": 14, "approver_cannot_certify": "true",
                                                "approval_certifies": "true"}, page="/admin/topics")
    assert both.status_code == 422 and "may not also certify; untick one of the two" in both.text
    assert [(p.approver_cannot_certify, p.approval_certifies) for p in rows(db, Policy)] == [(True, False)]


def test_non_admins_get_403_on_workflow_admin(client, setup):
    login(client, setup["expert"].email)
    assert client.get("/admin/topics").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv?start=2026-01-01&end=2026-12-31").status_code == 403
    assert form_post(client, "/admin/topics/shipping/experts", {"email": setup["expert"].email}).status_code == 403


def test_audit_csv_export_of_a_date_range(client, db, setup):
    transition(session=db, actor=setup["author"], revision_id=setup["entry"].latest_revision_id, action=Action.submit)
    db.commit()
    login(client, setup["admin"].email)
    today = date.today().isoformat()
    response = client.get(f"/admin/audit.csv?start={today}&end={today}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    # The fixture created three users at the command line: administrative events come first.
    created = [("user.create", "", "system", u.email) for u in (setup["admin"], setup["expert"], setup["author"])]
    assert [(r["action"], r["to_state"], r["actor"], r["target"]) for r in table] == [
        *created, ("submit", "in_review", setup["author"].email, "")]
    empty = client.get("/admin/audit.csv?start=2020-01-01&end=2020-01-31")
    assert len(list(csv.DictReader(io.StringIO(empty.text)))) == 0
    backwards = client.get(f"/admin/audit.csv?start={today}&end=2020-01-01")
    assert backwards.status_code == 422


def test_audit_csv_neutralises_spreadsheet_formulas_in_comments(client, db, setup):
    transition(session=db, actor=setup["author"], revision_id=setup["entry"].latest_revision_id, action=Action.submit,
               comment='=HYPERLINK("http://evil.example","click")')
    db.commit()
    login(client, setup["admin"].email)
    today = date.today().isoformat()
    table = list(csv.DictReader(io.StringIO(client.get(f"/admin/audit.csv?start={today}&end={today}").text)))
    submitted = [r for r in table if r["action"] == "submit"]
    assert submitted[0]["comment"] == '\'=HYPERLINK("http://evil.example","click")'


def test_the_audit_page_and_csv_show_administrative_changes(client, db, setup):
    login(client, setup["admin"].email)
    form_post(client, "/admin/topics/shipping/experts", {"email": setup["expert"].email}, page="/admin/topics")
    form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": "2", "validity_days": "30",
                                        "reminder_days": "7"}, page="/admin/topics")
    page = client.get("/admin/audit").text
    assert 'data-action="expert.designate"' in page and "Designated expert of shipping." in page
    assert 'data-action="policy.set"' in page and "policy of shipping" in page
    assert setup["admin"].email in page and "command line" in page  # the fixture's users came from the CLI
    today = date.today().isoformat()
    table = list(csv.DictReader(io.StringIO(client.get(f"/admin/audit.csv?start={today}&end={today}").text)))
    changes = [(r["action"], r["actor"], r["target"]) for r in table if r["action"] in ("expert.designate",
                                                                                       "policy.set")]
    assert changes == [("expert.designate", setup["admin"].email, setup["expert"].email),
                       ("policy.set", setup["admin"].email, "policy of shipping")]


def test_the_policy_summary_shows_every_non_default_option(client, db, setup):
    """The summary of a topic's policy once hid "approval certifies at once" (and experts-only review)."""
    login(client, setup["admin"].email)
    saved = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 1, "validity_days": 90,
                                                 "reminder_days": 14, "approval_certifies": "true",
                                                 "experts_only_review": "true"}, page="/admin/topics")
    assert saved.status_code == 303
    page = client.get("/admin/topics").text
    row = page[page.index('id="topic-shipping"'):]
    summary = row[row.index("<summary"):row.index("</summary>")]
    assert "approval certifies at once" in summary and "only the topic&#39;s experts review" in summary
    assert "approval" in summary and "days" not in summary  # approvals and validity are the defaults here
    form_post(client, "/admin/policy", {"topic": "", "required_approvals": 2, "validity_days": 30,
                                        "reminder_days": 7}, page="/admin/topics")
    page = client.get("/admin/topics").text
    assert "Differs from kb's defaults: 2 approvals required, certification valid 30 days, reminder 7 days " \
           "before expiry." in page
