"""Each report's table as columns, so the page and its CSV download show the same figures.

A column carries its definition (METRICS.md, with the thresholds in force), shown beside
the table and as the header's tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from callcards.config import FCR_REPEAT_DAYS
from reports.figures import (
    SERVICE_LEVEL_SEC,
    CategoryFigures,
    OperatorFigures,
    QueueFigures,
)
from reports.recovery import WINDOWS_HOURS, RecoveryFigures
from webadmin.words import flow_names

TEXT, COUNT, SECONDS, PERCENT = "text", "count", "seconds", "percent"


def queue_title(name: str) -> str:
    """A queue's title from the published flow."""
    return flow_names().queue(name)


@dataclass(frozen=True)
class Column:
    """A figure: its header, how it is shown, how it is read from a row, and its definition."""

    label: str
    kind: str
    value: Callable[[Any], Any]
    definition: str = ""


@dataclass(frozen=True)
class Table:
    """Rows under columns, with a total row at the bottom when it makes sense."""

    columns: Sequence[Column]
    rows: Sequence[Any]
    total: Any | None = None

    def header(self) -> list[str]:
        """The column labels."""
        return [column.label for column in self.columns]

    def records(self) -> Iterator[list[Any]]:
        """Each row (then the total) as raw values: numbers stay numbers, missing is None."""
        for row in [*self.rows, *([self.total] if self.total is not None else [])]:
            yield [column.value(row) for column in self.columns]


def _first_call_columns(repeat_days: int) -> list[Column]:
    """First-call resolution as the operator and the category reports show it."""
    return [
        Column(
            _("FCR declared, %"),
            PERCENT,
            lambda row: row.first_call.declared_rate,
            _(
                "First-call resolution, declared: cards marked resolved at first call / "
                "inbound calls answered × 100."
            ),
        ),
        Column(
            _("FCR measured, %"),
            PERCENT,
            lambda row: row.first_call.measured_rate,
            _(
                "First-call resolution, measured: inbound calls answered from a number "
                "that did not call again within N days (N = %(days)d) / inbound calls "
                "answered × 100; anonymous numbers left out of both.",
                days=repeat_days,
            ),
        ),
    ]


def _purpose_count(name: str) -> Callable[[OperatorFigures], int]:
    return lambda row: row.purposes.get(name, 0)


def _week_count(week: str) -> Callable[[CategoryFigures], int]:
    return lambda row: row.weeks.get(week, 0)


def queue_table(rows: Sequence[QueueFigures], total: QueueFigures, short_sec: int) -> Table:
    """The queue report: offered and what became of them, rates, service level, ASA."""
    return Table(
        [
            Column(_("Queue"), TEXT, lambda row: row.title),
            Column(
                _("T, s"),
                COUNT,
                lambda row: row.service_level_sec or None,
                _(
                    "The queue's service-level target in seconds (default %(sec)d s).",
                    sec=SERVICE_LEVEL_SEC,
                ),
            ),
            Column(
                _("Offered"),
                COUNT,
                lambda row: row.offered,
                _(
                    "Calls that entered the queue. Calls arriving while closed or refused by the "
                    "queue are counted apart, not as offered."
                ),
            ),
            Column(
                _("Answered calls"),
                COUNT,
                lambda row: row.answered,
                _("Offered calls that an operator answered."),
            ),
            Column(
                _("Missed"),
                COUNT,
                lambda row: row.missed,
                _(
                    "Offered calls that left the queue unanswered without the caller hanging up "
                    "(timeout, no operator available)."
                ),
            ),
            Column(
                _("Abandoned"),
                COUNT,
                lambda row: row.abandoned,
                _(
                    "Offered calls where the caller hung up before an operator answered "
                    "(short abandons included)."
                ),
            ),
            Column(
                _("Short abandons"),
                COUNT,
                lambda row: row.short_abandoned,
                _(
                    "Abandoned within N = %(sec)d s of entering the queue (queue entry to "
                    "hang-up ≤ %(sec)d s); left out of the abandon rate.",
                    sec=short_sec,
                ),
            ),
            Column(
                _("Callback requested"),
                COUNT,
                lambda row: row.callback_requested,
                _(
                    "Offered calls whose caller pressed the queue's callback key and left a "
                    "number to be called back on (virtual hold); neither answered nor abandoned."
                ),
            ),
            Column(
                _("Answer rate, %"),
                PERCENT,
                lambda row: row.answer_rate,
                _("answered / offered × 100"),
            ),
            Column(
                _("Abandon rate, %"),
                PERCENT,
                lambda row: row.abandon_rate,
                _("(abandoned − short abandons) / (offered − short abandons) × 100"),
            ),
            Column(
                _("Service level, %"),
                PERCENT,
                lambda row: row.service_level,
                _(
                    "answered within T seconds / (offered − short abandons) × 100, where the wait "
                    "(queue entry to answer) ≤ T. Some peers divide by answered calls only."
                ),
            ),
            Column(
                _("ASA"),
                SECONDS,
                lambda row: row.asa,
                _(
                    "Average speed of answer: total wait of answered calls / answered calls "
                    "(wait = queue entry to answer, ring time included)."
                ),
            ),
            Column(
                _("Closed hours"),
                COUNT,
                lambda row: row.closed,
                _("Calls that arrived outside business hours; not offered."),
            ),
            Column(
                _("Refused"),
                COUNT,
                lambda row: row.refused,
                _(
                    "Calls the queue refused as they arrived: it was full, or no operator was "
                    "logged in; not offered."
                ),
            ),
        ],
        rows,
        total,
    )


def operator_table(
    rows: Sequence[OperatorFigures],
    total: OperatorFigures,
    purposes: Sequence[str] = (),
    repeat_days: int = FCR_REPEAT_DAYS,
) -> Table:
    """The efficiency report; with `purposes`, one more column per purpose (for the CSV)."""
    columns = [
        Column(_("Operator"), TEXT, lambda row: row.name),
        Column(
            _("Answered calls"),
            COUNT,
            lambda row: row.answered,
            _(
                "The operator's cards with status answered: inbound calls answered and "
                "outbound calls connected (the calls handled)."
            ),
        ),
        Column(
            _("Missed"),
            COUNT,
            lambda row: row.missed,
            _(
                "Calls that rang at the operator's extension and were not answered by them, "
                "each call once."
            ),
        ),
        Column(
            _("Talk, total"),
            SECONDS,
            lambda row: row.talk_sec,
            _("Sum of talk time: answer to hang-up or transfer away."),
        ),
        Column(
            _("Talk, average"),
            SECONDS,
            lambda row: row.talk_avg,
            _("total talk time / answered calls"),
        ),
        Column(
            _("Hold, total"),
            SECONDS,
            lambda row: row.hold_sec,
            _("Sum of hold time, apart from talk time."),
        ),
        Column(
            _("After-call work, average"),
            SECONDS,
            lambda row: row.after_call_avg,
            _(
                "Hang-up to the moment the operator saves the card, averaged over saved "
                "cards; a card saved during the call counts 0."
            ),
        ),
        Column(
            _("AHT"),
            SECONDS,
            lambda row: row.aht,
            _("Average handling time: (talk + hold + after-call work) / calls handled."),
        ),
        Column(
            _("Cards saved"),
            COUNT,
            lambda row: row.completed,
            _("Answered calls whose card the operator has saved."),
        ),
        *_first_call_columns(repeat_days),
    ]
    columns += [Column(name, COUNT, _purpose_count(name)) for name in purposes]
    return Table(columns, rows, total)


def purpose_table(rows: Sequence[OperatorFigures], purposes: Sequence[str]) -> Table:
    """Answered calls per operator and purpose."""
    return Table(
        [Column(_("Operator"), TEXT, lambda row: row.name)]
        + [Column(name, COUNT, _purpose_count(name)) for name in purposes],
        rows,
    )


def category_table(
    rows: Sequence[CategoryFigures],
    total: CategoryFigures,
    weeks: Sequence[str],
    repeat_days: int = FCR_REPEAT_DAYS,
) -> Table:
    """Cards and callbacks per category, then one column per ISO week."""
    return Table(
        [
            Column(_("Category"), TEXT, lambda row: row.name),
            Column(
                _("Cards"),
                COUNT,
                lambda row: row.cards,
                _("Cards with this category whose call started in the period."),
            ),
            Column(
                _("Needs a callback"),
                COUNT,
                lambda row: row.needs_callback,
                _("Cards of this category marked as needing a callback."),
            ),
            Column(
                _("Callback share, %"),
                PERCENT,
                lambda row: row.callback_share,
                _("cards with needs callback / cards × 100, per category"),
            ),
            *_first_call_columns(repeat_days),
        ]
        + [Column(week, COUNT, _week_count(week)) for week in weeks],
        rows,
        total,
    )


def recovery_table(rows: Sequence[RecoveryFigures], total: RecoveryFigures) -> Table:
    """Lost callers won back per queue, operator and day (docs/metrics.md, "Callbacks")."""
    return Table(
        [
            Column(_("Day"), TEXT, lambda row: row.day.isoformat() if row.day else _("Total")),
            Column(_("Queue"), TEXT, lambda row: queue_title(row.queue) if row.queue else ""),
            Column(_("Operator"), TEXT, lambda row: row.operator),
            Column(
                _("Lost calls"),
                COUNT,
                lambda row: row.lost_calls,
                _(
                    "Missed, abandoned (short abandons left out), voicemail, out-of-hours, "
                    "marked and callback-requested cards with a number to call."
                ),
            ),
            Column(
                _("Tasks made"),
                COUNT,
                lambda row: row.tasks,
                _("Callback tasks: one per caller's number and queue while it is open."),
            ),
            *[
                Column(
                    _("Recovered within %(hours)d h", hours=hours),
                    COUNT,
                    _within(hours),
                    _(
                        "Tasks closed reached or got through on their own within %(hours)d h "
                        "of the first lost call.",
                        hours=hours,
                    ),
                )
                for hours in WINDOWS_HOURS
            ],
            Column(_("Reached by us"), COUNT, lambda row: row.reached, _("Tasks closed reached.")),
            Column(
                _("Got through"),
                COUNT,
                lambda row: row.got_through,
                _("Tasks closed by an answered inbound call from the number."),
            ),
            Column(
                _("Median time to first attempt"),
                SECONDS,
                lambda row: row.median_first_attempt_sec,
                _("Median of (first call back − first lost call) over tasks called back."),
            ),
            Column(
                _("Attempts per recovery"),
                PERCENT,
                lambda row: row.attempts_per_recovery,
                _("Call backs made on tasks closed reached / tasks closed reached."),
            ),
            Column(
                _("Unreachable"),
                COUNT,
                lambda row: row.unreachable,
                _("Tasks closed when the queue's attempts ran out."),
            ),
            Column(
                _("Anonymous"),
                COUNT,
                lambda row: row.anonymous,
                _("Lost calls with a withheld or malformed number: no task, counted apart."),
            ),
        ],
        rows,
        total,
    )


def _within(hours: int) -> Callable[[RecoveryFigures], int]:
    return lambda row: row.within[hours]
