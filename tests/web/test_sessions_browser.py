"""Reports → Operator sessions in Chromium: the tab, the chart drawn under the CSP, both
tables of the hand-counted day, the CSV links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.web.conftest import console_errors, screenshot, sign_in, visit
from tests.web.test_reports_sessions import scripted_day  # noqa: F401 (a fixture, by name)

pytestmark = [pytest.mark.browser]


@pytest.mark.usefixtures("scripted_day")
def test_a_supervisor_reads_the_sessions_of_the_scripted_day(
    new_page: Callable[[], Any],
) -> None:
    page = new_page()
    problems = console_errors(page)
    sign_in(page, "supervisor")
    visit(page, "/reports/queues")
    page.click("nav.report-tabs >> text=Сеансы операторов")
    page.wait_for_url(lambda url: "/reports/sessions" in url)
    page.fill("#r-from", "2026-03-10")
    page.fill("#r-to", "2026-03-11")
    page.click("#report-period button.primary")
    page.wait_for_selector('canvas[data-chart="sessions"][data-rendered="true"]')
    table = page.inner_text("#session-table")
    assert "Ольга Операторова" in table and "Иван Петров" in table
    assert "15:30:00" in table  # operator1 logged in on the 10th, 08:30 to midnight
    assert "Регистратура" in page.inner_text("#staffing-table")
    assert "table=queues" in (page.get_attribute("#csv-queues", "href") or "")
    assert problems == []
    screenshot(page, "reports-sessions")
