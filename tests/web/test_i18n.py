"""The Russian catalogue is complete, compiled, and covers every string in the code."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.web.conftest import login

WEBADMIN = Path(__file__).resolve().parents[2] / "webadmin"
CATALOGUE = WEBADMIN / "translations" / "ru" / "LC_MESSAGES"


def _source_strings() -> set[str]:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEBADMIN), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    """A message by its singular: a plural (ngettext) entry's id is (singular, plural)."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _forms(string: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (string,) if isinstance(string, str) else tuple(string)


def test_every_string_of_the_site_has_a_russian_translation() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="ru")
    translated = {_key(message.id): _forms(message.string) for message in catalogue if message.id}
    fuzzy = [message.id for message in catalogue if message.id and message.fuzzy]
    assert fuzzy == []
    # Every form of a plural too: Russian has three (1 звонок, 2 звонка, 5 звонков).
    assert [text for text, russian in translated.items() if not russian or not all(russian)] == []
    plurals = [forms for forms in translated.values() if len(forms) > 1]
    assert plurals and all(len(forms) == 3 for forms in plurals)
    assert _source_strings() - set(translated) == set(), "run pybabel extract/update"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        source = {
            _key(message.id): _forms(message.string) for message in read_po(handle) if message.id
        }
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        compiled = {
            _key(message.id): _forms(message.string) for message in read_mo(handle) if message.id
        }
    assert compiled == source, "run pybabel compile -d webadmin/translations"


def test_pages_speak_russian_unless_the_user_chose_english(client: FlaskClient) -> None:
    login(client, "supervisor")
    page = client.get("/calls").text
    assert "Звонки" in page and "Оператор" in page
    client.post("/locale", data={"locale": "en"})
    page = client.get("/calls").text
    assert "Calls" in page and "Operator" in page
