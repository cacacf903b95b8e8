"""The world of the authorisation matrix (tests/web/test_authz_matrix.py): one of each kind of
content and one person per role, built once per module through the services.

Secret words mark what only some people may open; the matrix checks that they never reach anyone
else, on any channel.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel import Session

from expertise import people
from kb.accounts import service as accounts
from kb.accounts.models import Role, User
from kb.accounts.schemas import TokenCreate, UserCreate
from kb.accounts import groups
from kb.content import attachments, audiences
from kb.content import service as content
from kb.content.forum import answer_question, ask_question
from kb.content.models import Entry
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from search import synonyms
from tests.helpers import PASSWORD
from kb.clock import utcnow
from kb.settings import Settings
from workflow import flags, webhooks
from workflow.models import Action, FlagReason, WebhookDelivery
from workflow.notify import notify
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

ROLES = ("anonymous", "agent", "author", "other_author", "expert", "other_expert", "admin")
TOPIC, OTHER_TOPIC = "refunds", "shipping"
# Words that exist only where their name says; each must never reach those who may not open it.
DRAFT_WORD = "Quokkadraft"  # the author's private draft on top of the certified article
DRAFT_TAG = "quokka-pricing"  # a tag only that draft carries
PRIVATE_WORD = "Wombatprivate"  # an article never submitted
REVIEW_WORD = "Numbatreview"  # a revision in review (experts and admins may read it)
PARENT_WORD = "Dugongparent"  # the unsubmitted draft the revision in review was edited from
REJECTED_WORD = "Bilbyrejected"  # a rejected revision
COMMENT_WORD = "Potoroocomment"  # a reviewer's comment on a revision in review
# A certified article limited to a group (audiences) that only the agent is in: its author, the
# agent and admins may open it; the topic's expert (who certified it before it was limited) may not.
LIMITED_WORD = "Kowarilimited"
LIMITED_TAG = "kowari-routes"
LIMITED_GROUP = "Tier two"
CERTIFIED_TARGETS = ("revisable", "revisable_api", "flaggable", "flaggable_api", "dismissable", "dismissable_api",
                     "reverifiable", "reverifiable_api", "archivable", "archivable_api", "votable", "votable_api")
SUBMITTED_TARGETS = ("approvable", "rejectable", "assignable")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["ids"][name]
        except KeyError:
            raise AttributeError(name) from None


def _user(db: Session, role: str, *roles: Role) -> User:
    data = UserCreate(email=f"{role.replace('_', '-')}@matrix.example.com", display_name=role.replace("_", " ").title(),
                      roles=list(roles), password=PASSWORD)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


def _article(db, author, title, body, tags=(TOPIC,)) -> Entry:
    return content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body, tags=list(tags)))


def _revise(db, actor, entry: Entry, body: str, tags=(TOPIC,), title=None):
    db.refresh(entry)
    return content.save_revision(session=db, actor=actor, entry=entry, data=RevisionCreate(
        title=title or "Revised", body=body, tags=list(tags), base_revision_id=entry.latest_revision_id))


def _act(db, revision_id: int, *steps, comment: str = "") -> None:
    for actor, action in steps:
        transition(session=db, actor=actor, revision_id=revision_id, action=action,
                   comment=comment if action in (Action.reject, Action.request_changes) else "")


def _upload(db, actor, entry, data_dir, name: str):
    import io

    return attachments.store_upload(session=db, actor=actor, stream=io.BytesIO(PNG + name.encode()), filename=name,
                                    data_dir=data_dir, max_bytes=1024 * 1024, entry=entry)


def build(db: Session, data_dir) -> World:
    world = World()
    u = world.users
    u["agent"] = _user(db, "agent", Role.agent)
    u["author"] = _user(db, "author", Role.author)
    u["other_author"] = _user(db, "other_author", Role.author)
    u["expert"] = _user(db, "expert", Role.expert)
    u["other_expert"] = _user(db, "other_expert", Role.expert)
    u["admin"] = _user(db, "admin", Role.admin)
    author, expert, other_expert = u["author"], u["expert"], u["other_expert"]
    ids = world.ids
    certify = ((author, Action.submit), (expert, Action.approve), (expert, Action.certify))

    # A certified article with the author's private draft on top (secret word, secret tag, a file).
    certified = _article(db, author, "Refund to a closed card", "The bank forwards the refund to the new card.")
    designate_expert(session=db, actor=SYSTEM, topic=TOPIC, user=expert)
    _article(db, other_expert, "Shipping options", "Standard and express.", tags=(OTHER_TOPIC,))
    designate_expert(session=db, actor=SYSTEM, topic=OTHER_TOPIC, user=other_expert)
    public_file = _upload(db, author, certified, data_dir, "public.png")
    db.refresh(certified)
    first = _revise(db, author, certified, f"The bank forwards the refund. ![chart]({attachments.attachment_url(public_file)})",
                    title="Refund to a closed card")
    _act(db, first.id, *certify)
    draft_file = _upload(db, author, certified, data_dir, "draft.png")
    draft = _revise(db, author, certified, f"{DRAFT_WORD} plan. ![draft]({attachments.attachment_url(draft_file)})",
                    tags=(TOPIC, DRAFT_TAG), title=f"Closed cards {DRAFT_WORD}")
    ids.update(certified=certified.id, certified_rev=first.id, draft_rev=draft.id, public_file=public_file.id,
               draft_file=draft_file.id)

    # An article never submitted.
    private = _article(db, author, f"Private {PRIVATE_WORD}", f"Only mine: {PRIVATE_WORD}.")
    ids.update(private=private.id, private_rev=private.latest_revision_id)

    # A revision in review, edited from an unsubmitted draft, with a file.
    in_review = _article(db, author, "Partial refunds", f"First thoughts {PARENT_WORD}.")
    parent = in_review.latest_revision_id
    review_file = _upload(db, author, in_review, data_dir, "review.png")
    submitted = _revise(db, author, in_review, f"Refund up to 20 euros {REVIEW_WORD}. "
                        f"![shot]({attachments.attachment_url(review_file)})", title="Partial refunds")
    _act(db, submitted.id, (author, Action.submit))
    ids.update(in_review=in_review.id, parent_rev=parent, review_rev=submitted.id, review_file=review_file.id)

    # A certified article whose newer revision got a reviewer's comment (changes requested).
    commented = _article(db, author, "Refund windows", "Shoes: 30 days.")
    _act(db, commented.latest_revision_id, *certify)
    newer = _revise(db, author, commented, "Shoes: 45 days.", title="Refund windows")
    _act(db, newer.id, (author, Action.submit))
    _act(db, newer.id, (expert, Action.request_changes), comment=f"Do not promise {COMMENT_WORD}.")
    ids.update(commented=commented.id, commented_rev=newer.id)

    # A rejected article.
    rejected = _article(db, author, "Goodwill", f"Always refund {REJECTED_WORD}.")
    _act(db, rejected.latest_revision_id, (author, Action.submit))
    _act(db, rejected.latest_revision_id, (expert, Action.reject), comment="Not our policy.")
    ids.update(rejected=rejected.id, rejected_rev=rejected.latest_revision_id)

    # A certified article limited to a group with only the agent in it, with a picture; everyone got
    # a notification about it before it was limited (the inbox must drop it for those outside).
    tier = groups.create_group(session=db, actor=u["admin"], name=LIMITED_GROUP, description="Second line")
    groups.add_member(session=db, actor=u["admin"], group=tier, user=u["agent"])
    limited = _article(db, author, f"Escalation {LIMITED_WORD}", "Draft.", tags=(TOPIC, LIMITED_TAG))
    limited_file = _upload(db, author, limited, data_dir, f"{LIMITED_WORD}.png")
    db.refresh(limited)
    picture = attachments.attachment_url(limited_file)
    limited_rev = _revise(db, author, limited, f"Call {LIMITED_WORD} first. ![map]({picture})",
                          tags=(TOPIC, LIMITED_TAG), title=f"Escalation {LIMITED_WORD}")
    _act(db, limited_rev.id, *certify)
    notify(session=db, users=list(u.values()), kind="test", message=f"Read {LIMITED_WORD}", link="/",
           entry_id=limited.id)
    db.refresh(limited)
    audiences.set_audience(session=db, actor=author, entry=limited, group_ids=[tier.id])
    # ... and a newer revision of it in review (the topic's expert, outside the group, may not review it).
    limited_review = _revise(db, author, limited, f"Call {LIMITED_WORD} second.", tags=(TOPIC, LIMITED_TAG),
                             title=f"Escalation {LIMITED_WORD} again")
    _act(db, limited_review.id, (author, Action.submit))
    ids.update(limited=limited.id, limited_rev=limited_rev.id, limited_file=limited_file.id, tier=tier.id,
               limited_review_rev=limited_review.id)

    # What the mutating routes act on, one per person and route (so that one person's success never
    # hides the next person's refusal, and the content above keeps its state). Anonymous requests
    # name the agent's targets: they are refused before anything is read.
    for role in ROLES[1:]:
        for key in ("audience", "audience_api"):  # drafts whose audience each person tries to set
            ids[f"{key}_{role}"] = _article(db, author, f"Spare {key} {role}", "Who sees it?").id
        for name in CERTIFIED_TARGETS + SUBMITTED_TARGETS + ("certifiable", "submittable"):
            entry = _article(db, author, f"Spare {name} {role}", f"Spare article {name}.")
            ids[f"{name}_{role}"] = entry.id
            ids[f"{name}_rev_{role}"] = entry.latest_revision_id
        for name in CERTIFIED_TARGETS:
            _act(db, ids[f"{name}_rev_{role}"], *certify)
        for name in SUBMITTED_TARGETS:
            _act(db, ids[f"{name}_rev_{role}"], (author, Action.submit))
        _act(db, ids[f"certifiable_rev_{role}"], (author, Action.submit), (expert, Action.approve))
        for key in ("dismissable", "dismissable_api"):
            flag = flags.raise_flag(session=db, actor=u["agent"], entry=db.get(Entry, ids[f"{key}_{role}"]),
                                    reason=FlagReason.outdated, comment="Out of date.")
            ids[f"flag_{key}_{role}"] = flag.id
        # Drafts to throw away (kb.content.removal): a draft on top of a certified article, and a
        # draft article never submitted; one for the page and one for the API.
        for key in ("discardable", "discardable_api"):
            entry = _article(db, author, f"Spare {key} {role}", "Certified text.")
            _act(db, entry.latest_revision_id, *certify)
            db.refresh(entry)
            ids[f"{key}_rev_{role}"] = _revise(db, author, entry, "A draft edit.", title=f"Spare {key} {role}").id
        for key in ("deletable", "deletable_api"):
            ids[f"{key}_{role}"] = _article(db, author, f"Spare {key} {role}", "A duplicate draft.").id
    ids.update({key.replace("_agent", "_anonymous"): value for key, value in list(ids.items()) if key.endswith("_agent")})
    u["spare"] = _user(db, "spare", Role.expert)
    spare_group = groups.create_group(session=db, actor=u["admin"], name="Spare group")
    groups.add_member(session=db, actor=u["admin"], group=spare_group, user=u["spare"])
    ids.update(spare_group=spare_group.id,
               deletable_group=groups.create_group(session=db, actor=u["admin"], name="Old group").id)
    _article(db, u["admin"], "Spare topic", "For the admin pages.", tags=("spare-topic",))

    # The forum: a question by the agent, an answer by the other author.
    question = ask_question(session=db, actor=u["agent"], data=QuestionCreate(
        title="Refund to an expired card?", body="The customer's card expired.", tags=[TOPIC]))
    answer = answer_question(session=db, actor=u["other_author"], question=question,
                             data=AnswerCreate(body="The bank forwards it."))
    ids.update(question=question.id, answer=answer.id)
    # An answer is turned into an article once: one answer per role for the page and for the API.
    for role in ("anonymous", "agent", "author", "other_author", "expert", "other_expert", "admin"):
        for key in ("promote", "api_promote"):
            ids[f"{key}_{role}"] = answer_question(session=db, actor=u["other_author"], question=question,
                                                   data=AnswerCreate(body=f"Answer to turn into an article ({key}).")).id

    # Per-user things: an API token each, a notification each, an interest, a synonym rule.
    for role, user in u.items():
        for key in ("page_token", "api_token"):
            token, _ = accounts.create_api_token(session=db, actor=user, user=user, data=TokenCreate(name=key))
            ids[f"{role}_{key}"] = token.id
        ids[f"{role}_note"] = notify(session=db, users=[user], kind="test", message="Hello", link="/")[0].id
    people.declare_interest(session=db, actor=author, topic=DRAFT_TAG)
    rule = synonyms.save_rule(session=db, actor=u["admin"], phrase="money back", alternatives=["refund"])
    ids["synonym"] = rule.id
    # Webhooks: one to act on (with a delivery to retry), one to delete.
    dev = Settings(env="development", secret_key="x" * 40)
    hook = webhooks.create_webhook(session=db, actor=u["admin"], settings=dev, url="http://127.0.0.1:9/kb",
                                   events=["question.asked"])
    delivery = WebhookDelivery(webhook_id=hook.id, delivery_id=str(uuid.uuid4()), event="question.asked",
                               payload={"event": "question.asked"}, failed_at=utcnow(), attempts=12)
    db.add(delivery)
    db.flush()
    ids.update(webhook=hook.id, webhook_delivery=delivery.id, webhook_deletable=webhooks.create_webhook(
        session=db, actor=u["admin"], settings=dev, url="http://127.0.0.1:9/old", events=["entry.flagged"]).id)
    ids.update({f"{role}_id": user.id for role, user in u.items()})
    db.commit()
    return world
