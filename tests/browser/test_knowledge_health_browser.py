"""An expert finds a failed search on the knowledge-health dashboard and starts the missing article."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from search.factory import reset_backends
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

QUERY = "Wombat invoice & refunds"


@pytest.fixture
def people(make_user):
    reset_backends()
    yield {"agent": make_user("agent", name="Alex Agent"), "expert": make_user("expert", name="Erin Expert")}
    reset_backends()


def test_a_failed_search_leads_to_a_prefilled_editor(page, live_server, login_as, people):
    # An agent searches on the search page and finds nothing.
    login_as(page, live_server, people["agent"].email, PASSWORD)
    page.goto(f"{live_server}/search")
    page.locator("#q").fill(QUERY)
    page.locator("#q").press("Enter")
    expect(page.locator("#search-results")).to_contain_text("No answer found")
    page.context.clear_cookies()

    # An expert opens the dashboard from the navigation.
    login_as(page, live_server, people["expert"].email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge health").click()
    expect(page.get_by_role("heading", name="Knowledge health", level=1)).to_be_visible()
    row = page.locator("table.failed-searches tbody tr", has_text=QUERY)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("1")  # one failed search
    expect(page.get_by_role("img", name="Searches per day")).to_be_visible()

    # "Write an article" opens the editor with the query as the title.
    row.get_by_role("link", name="Write an article").click()
    expect(page.get_by_role("heading", name="New article")).to_be_visible()
    expect(page.locator("#title")).to_have_value(QUERY)

    # The period selector keeps the search within 7 days too.
    page.goto(f"{live_server}/knowledge-health?days=7")
    expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "page")
    expect(page.locator("table.failed-searches tbody tr", has_text=QUERY)).to_have_count(1)
