"""The menus as a caller meets them: from each DID down through its submenus (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Branch:
    """A key (or the default) of a menu, and the submenu it opens, if any."""

    key: str  # a digit, or "default"
    action: Mapping[str, Any]
    submenu: MenuNode | None = None
    loops_back: bool = False  # opens a menu already above it on this path


@dataclass
class MenuNode:
    """A menu in the tree."""

    name: str
    prompt: str
    branches: list[Branch] = field(default_factory=list)
    missing: bool = False


@dataclass
class Root:
    """Where a DID's calls enter: a menu tree, or straight a queue."""

    did: str
    entry: Mapping[str, Any]
    menu: MenuNode | None
    schedule: str | None


def menu_tree(document: Mapping[str, Any]) -> tuple[list[Root], list[str]]:
    """One tree per DID, and the menus no DID reaches."""
    menus = {menu["name"]: menu for menu in document.get("menus", [])}
    reached: set[str] = set()
    roots = []
    for did in document.get("dids", []):
        entry = did.get("entry") or {}
        node = None
        if entry.get("kind") == "menu":
            node = _node(menus, entry.get("target") or "", (), reached)
        roots.append(Root(did["number"], entry, node, did.get("schedule")))
    return roots, sorted(set(menus) - reached)


def _node(
    menus: Mapping[str, Any], name: str, path: tuple[str, ...], reached: set[str]
) -> MenuNode:
    menu = menus.get(name)
    if menu is None:
        return MenuNode(name, "", missing=True)
    reached.add(name)
    node = MenuNode(name, menu.get("prompt", ""))
    keys = [(option["digit"], option["action"]) for option in menu.get("options", [])]
    for key, action in [*keys, ("default", menu.get("default") or {})]:
        branch = Branch(key, action)
        target = action.get("target") or ""
        if action.get("kind") == "menu":
            if target in path or target == name:
                branch.loops_back = True
            else:
                branch.submenu = _node(menus, target, (*path, name), reached)
        node.branches.append(branch)
    return node
