"""A small editor for Asterisk's sectioned .conf files (enough for our own)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<options>[^)]*)\))?\s*(?:;.*)?$")
_OPTION = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.-]+)\s*=>?\s*(?P<value>.*?)\s*$")


@dataclass
class Section:
    """One `[name](options)` section and the lines below it."""

    name: str
    options: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def templates(self) -> list[str]:
        """Names of the templates this section inherits from."""
        return [o.strip() for o in self.options.split(",") if o.strip() not in ("", "!", "+")]

    @property
    def is_template(self) -> bool:
        """Whether the section is a template (`(!)`)."""
        return "!" in [o.strip() for o in self.options.split(",")]

    def get(self, key: str) -> str | None:
        """The value of the last `key = value` line, if any."""
        value = None
        for line in self.lines:
            match = _OPTION.match(_strip_comment(line))
            if match and match["key"].lower() == key.lower():
                value = match["value"]
        return value

    def remove(self, key: str) -> None:
        """Drop every `key = ...` line."""
        self.lines = [line for line in self.lines if not _is_option(line, key)]

    def set(self, key: str, value: str, arrow: bool = False) -> None:
        """Replace the `key` lines by one `key = value` where the first one was."""
        new = f"{key} {'=>' if arrow else '='} {value}"
        for index, line in enumerate(self.lines):
            if _is_option(line, key):
                self.lines[index] = new
                self.lines[index + 1 :] = [
                    rest for rest in self.lines[index + 1 :] if not _is_option(rest, key)
                ]
                return
        self.add(new)

    def add(self, line: str) -> None:
        """Append a line after the last non-blank line of the section."""
        end = len(self.lines)
        while end and not self.lines[end - 1].strip():
            end -= 1
        self.lines.insert(end, line)

    def render(self) -> list[str]:
        """The section as lines, header first."""
        header = f"[{self.name}]" + (f"({self.options})" if self.options else "")
        return [header, *self.lines]


@dataclass
class ConfFile:
    """A parsed .conf file: lines before the first section, then the sections."""

    preamble: list[str]
    sections: list[Section]

    @classmethod
    def parse(cls, text: str) -> ConfFile:
        """Split `text` into sections; comments and blank lines are kept."""
        preamble: list[str] = []
        sections: list[Section] = []
        for line in text.splitlines():
            match = _HEADER.match(line.strip())
            if match:
                sections.append(Section(match["name"], match["options"] or ""))
            elif sections:
                sections[-1].lines.append(line)
            else:
                preamble.append(line)
        return cls(preamble, sections)

    def find(self, name: str) -> list[Section]:
        """All sections called `name` (pjsip.conf reuses names across types)."""
        return [s for s in self.sections if s.name == name]

    def section(self, name: str) -> Section:
        """The one section called `name`; KeyError if there is none."""
        found = self.find(name)
        if not found:
            raise KeyError(f"no [{name}] section")
        return found[0]

    def type_of(self, section: Section) -> str | None:
        """A pjsip section's `type`, looked up through its templates too."""
        own = section.get("type")
        if own is not None:
            return own
        for template in section.templates:
            for parent in self.find(template):
                inherited = self.type_of(parent)
                if inherited is not None:
                    return inherited
        return None

    def render(self) -> str:
        """The whole file as text."""
        lines = list(self.preamble)
        for section in self.sections:
            lines.extend(section.render())
        return "\n".join(lines) + "\n"


def _strip_comment(line: str) -> str:
    """The line without its `;` comment (Asterisk escapes a literal ; as \\;)."""
    return re.split(r"(?<!\\);", line, maxsplit=1)[0]


def _is_option(line: str, key: str) -> bool:
    """Whether `line` sets option `key`."""
    match = _OPTION.match(_strip_comment(line))
    return match is not None and match["key"].lower() == key.lower()
