"""The queue report in Debian's Chromium: Chart.js draws under the CSP, the table follows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallCategory, CallEvent, CallPurpose, User, utcnow
from models.session import transaction
from tests.web.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser]

#: A week's pattern per queue and day: (answered, missed, abandoned, short abandons, closed).
WEEK = [
    (14, 2, 3, 1, 2),
    (18, 1, 2, 2, 0),
    (11, 3, 4, 0, 1),
    (16, 0, 1, 1, 0),
    (20, 2, 2, 1, 3),
    (6, 1, 1, 0, 4),
    (4, 0, 1, 0, 5),
]


def _week_of_calls(sessions: sessionmaker[Session]) -> None:
    """A plausible week in both demo queues, so the screenshot shows the report in use."""
    now = utcnow()
    with transaction(sessions) as session:
        operators = list(
            session.scalars(select(User).where(User.role == "operator").order_by(User.login))
        )
        purposes = list(session.scalars(select(CallPurpose.id).order_by(CallPurpose.position)))
        categories = list(session.scalars(select(CallCategory).order_by(CallCategory.position)))
        serial = 0
        for day, counts in enumerate(WEEK):
            for queue, scale in (("reception", 1.0), ("appointments", 0.6)):
                kinds = (
                    ["answered"] * round(counts[0] * scale)
                    + ["missed"] * counts[1]
                    + ["abandoned"] * counts[2]
                    + ["short"] * counts[3]
                    + ["closed"] * counts[4]
                )
                for kind in kinds:
                    serial += 1
                    start = now - timedelta(days=day, hours=1 + serial % 9, minutes=serial % 57)
                    wait = 4 + (serial * 7) % 45
                    operator = operators[serial % len(operators)]
                    answered = kind == "answered"
                    category = categories[serial % len(categories)]
                    call = Call(
                        uniqueid=f"week-{serial}",
                        linkedid=f"week-{serial}",
                        queue=None if kind == "closed" else queue,
                        direction="inbound",
                        status={"answered": "answered", "missed": "missed"}.get(
                            kind, ("missed" if kind == "closed" else "abandoned")
                        ),
                        end_reason={
                            "missed": "queue_timeout",
                            "closed": "closed_hours",
                            "answered": "caller_hangup",
                        }.get(kind, "caller_hangup_queue"),
                        started_at=start,
                        queue_entered_at=None if kind == "closed" else start,
                        wait_sec=2 if kind == "short" else wait,
                        answered_at=start + timedelta(seconds=wait) if answered else None,
                        ended_at=start
                        + timedelta(
                            seconds=2
                            if kind == "short"
                            else wait + (90 + serial % 240 if answered else 0)
                        ),
                        talk_sec=90 + serial % 240 if answered else 0,
                        hold_sec=0,
                        operator_id=operator.id if answered else None,
                        completed_at=(
                            start + timedelta(seconds=wait + 400 + serial % 60)
                            if answered
                            else None
                        ),
                        purpose_id=purposes[serial % 5] if answered else None,
                        category_id=category.id if answered else None,
                        needs_callback=answered and serial % 6 == 0,
                        src_number=f"+7916{serial:07d}",
                    )
                    if not answered and kind != "closed":
                        call.events = [
                            CallEvent(
                                at=start,
                                kind="operator_rang",
                                data={"extension": operator.extension},
                            )
                        ]
                    session.add(call)


def test_supervisor_sees_the_queue_chart_drawn(
    new_page: Callable[[], object], sessions: sessionmaker[Session]
) -> None:
    _week_of_calls(sessions)
    page = new_page()
    problems: list[str] = []
    # The site has no favicon yet; Chromium's request for it is not this page's problem.
    page.on(
        "console",
        lambda message: (
            problems.append(  # type: ignore[attr-defined]
                f"{message.text} {message.location}"
            )
            if message.type == "error"
            and not message.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))  # type: ignore[attr-defined]
    page.on(
        "response",
        lambda response: (
            problems.append(  # type: ignore[attr-defined]
                f"{response.status} {response.url}"
            )
            if response.status >= 400
            else None
        ),
    )
    sign_in(page, "supervisor")
    page.click("nav.mainnav >> text=Отчёты")  # type: ignore[attr-defined]
    page.wait_for_selector('canvas[data-chart="queues"][data-rendered="true"]')  # type: ignore[attr-defined]
    painted = page.evaluate("""() => {
        const canvas = document.querySelector('canvas[data-chart="queues"]');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) inked++; }
        return {inked: inked, width: canvas.width, height: canvas.height};
    }""")  # type: ignore[attr-defined]
    assert painted["width"] > 300 and painted["height"] > 200
    assert painted["inked"] > 5000, painted  # bars, axes and legend, not a blank canvas
    rows = page.locator("#queue-table tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 2
    assert "Регистратура" in page.inner_text("#queue-table")  # type: ignore[attr-defined]
    assert problems == []  # no CSP refusal, no script error
    screenshot(page, "reports-queues")
    page.click("nav.report-tabs >> text=Эффективность операторов")  # type: ignore[attr-defined]
    page.wait_for_selector('canvas[data-chart="purposes"][data-rendered="true"]')  # type: ignore[attr-defined]
    screenshot(page, "reports-operators")
    page.click("nav.report-tabs >> text=Категории")  # type: ignore[attr-defined]
    page.wait_for_selector('canvas[data-chart="weeks"][data-rendered="true"]')  # type: ignore[attr-defined]
    screenshot(page, "reports-categories")
    assert problems == []
