"""The demo clinic's call flow, seeded into a fresh install and used by the tests."""

from __future__ import annotations

from dialplan.document import ActionDoc, FlowDocument

# Stock prompts from asterisk-core-sounds-en, the shortest that fit (GSM, 8 kHz).
GREETING = "hello"  # 0.8 s
INVALID = "im-sorry"  # 1.0 s
TRY_AGAIN = "please-try-again"  # 1.3 s
GOODBYE = "vm-goodbye"  # 0.9 s
SORRY = "im-sorry"  # 1.0 s: no operator could take the call
DEMO_DID = "74951234567"


def demo_document() -> FlowDocument:
    """The demo clinic: one DID, a main menu, two queues, weekday hours in Moscow.

    Appointments that nobody can take, or that wait too long, go to reception; reception
    says sorry and hangs up when it cannot answer.
    """
    return {
        "default_queue": "reception",
        "queues": [
            {
                "name": "appointments",
                "title": "Запись на приём",
                "max_wait_sec": 120,
                "service_level_sec": 20,
                "when_empty": {"kind": "queue", "target": "reception"},
                "when_timeout": {"kind": "queue", "target": "reception"},
            },
            {
                "name": "reception",
                "title": "Регистратура",
                "max_wait_sec": 120,
                "service_level_sec": 20,
                "when_empty": {"kind": "hangup", "message": SORRY},
                "when_timeout": {"kind": "hangup", "message": SORRY},
            },
        ],
        "menus": [
            {
                "name": "main",
                "prompt": GREETING,
                "options": [
                    {"digit": "1", "action": _queue("appointments", "Запись на приём")},
                    {"digit": "2", "action": _queue("reception", "Результаты анализов")},
                    {"digit": "3", "action": _queue("reception", "Оплата и документы")},
                    {"digit": "0", "action": _queue("reception", "Администратор")},
                ],
                "timeout_sec": 3,
                "retries": 2,
                "timeout_prompt": TRY_AGAIN,
                "invalid_prompt": INVALID,
                "default": {"kind": "queue", "target": "reception"},
            }
        ],
        "schedules": [
            {
                "name": "clinic",
                "timezone": "Europe/Moscow",
                "weekly": {
                    **{day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
                    "sat": [],
                    "sun": [],
                },
                "holidays": [],
                "exceptions": [],
                "override": None,
                "closed_action": {"kind": "hangup", "message": GOODBYE},
            }
        ],
        "dids": [
            {
                "number": DEMO_DID,
                "entry": {"kind": "menu", "target": "main"},
                "source": "Яндекс.Директ",
                "city": "Москва",
                "schedule": "clinic",
                "active": True,
            },
        ],
    }


def _queue(name: str, label: str) -> ActionDoc:
    return {"kind": "queue", "target": name, "label": label}
