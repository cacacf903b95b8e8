"""``kb demo``: the demo accounts, content, workflow history, search synonyms and ratings."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from sqlmodel import Session

from cli.common import console, engine, fail, settings_or_exit
from expertise.demo_ratings import DemoExpertiseReport, load_demo_expertise
from kb.demo_accounts_and_content import DemoContentReport, load_demo_accounts, load_demo_content
from search.synonyms import load_demo_synonyms
from workflow.demo_states import DemoWorkflowReport, load_demo_workflow


@dataclass
class DemoLoad:
    """What ``load_demo`` added (each part reports what was already there)."""

    accounts: list[str]  # the emails created
    content: DemoContentReport
    states: DemoWorkflowReport
    synonyms_added: int
    ratings: DemoExpertiseReport


def load_demo(*, session: Session) -> DemoLoad:
    """Every package's demo data, in dependency order, in the caller's transaction (``kb demo``, tests)."""
    return DemoLoad(accounts=load_demo_accounts(session=session), content=load_demo_content(session=session),
                    states=load_demo_workflow(session=session), synonyms_added=load_demo_synonyms(session=session),
                    ratings=load_demo_expertise(session=session))


def demo() -> None:
    """Load the demo accounts and content (development mode only; safe to run twice)."""
    from kb.db import unit_of_work
    from kb.demo_accounts_and_content import DEMO_ACCOUNTS, DEMO_AGENTS, DEMO_AUTHORS, DEMO_PASSWORD
    from kb.errors import DomainError

    if settings_or_exit().is_production:
        fail("demo data is only for development mode (KB_ENV=development).", 2)
    try:
        with unit_of_work(engine()) as session:
            loaded = load_demo(session=session)
    except DomainError as exc:
        fail(exc.message)
    created, content, states = loaded.accounts, loaded.content, loaded.states
    ratings, synonyms_added = loaded.ratings, loaded.synonyms_added
    console.print(f"Demo accounts: {len(created)} created, {len(DEMO_ACCOUNTS) - len(created)} already there.")
    if content.articles or content.questions:
        console.print(f"Demo content: {content.articles} articles, {content.questions} questions and "
                      f"{content.answers} answers loaded ({content.skipped} already there).")
    else:
        console.print(f"Demo content: already loaded ({content.skipped} entries there).")
    if not states.skipped:
        summary = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(states.states.items()))
        console.print(f"Demo workflow: articles {summary}; {states.flags} flagged; "
                      f"{states.needs_reverification} need re-verification.")
    if not ratings.skipped:
        console.print(f"Demo ratings: {ratings.votes} votes, {ratings.reuses} case links, {ratings.searches} searches, "
                      f"{ratings.endorsements} endorsements; {ratings.scores} expertise scores computed.")
    if synonyms_added:
        console.print(f"Demo search synonyms: {synonyms_added} rules added (kb synonyms list).")
    table = Table(title="Demo logins (password: " + DEMO_PASSWORD + ")")
    table.add_column("Email")
    table.add_column("Roles")
    for email, _, roles in (*DEMO_ACCOUNTS, *DEMO_AUTHORS, *DEMO_AGENTS):
        table.add_row(email, ", ".join(r.value for r in roles))
    console.print(table)
