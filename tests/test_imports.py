"""The import graph of the tree: no circles between modules, and app/ reaches a domain package only
through its plugin, loaded by the app factory or the CLI entry point.

Every import counts, also those inside functions: a deferred import hides a circle, it does not
remove it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "likeness", "copyright", "safety", "generator", "review_ui", "migrations")
DOMAINS = ("likeness", "copyright", "safety", "generator", "review_ui")
# The only modules of app/ that may name a domain package (they load the plugins).
PLUGIN_LOADERS = {"app.factory", "app.cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports: `from a import b` is a.b when that is a module, else a."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a.b.c; keep the longest prefix that is one of ours.
            parts = target.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != name:
                found.add(".".join(parts))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, name, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle():
    assert circles(import_graph()) == []


def test_a_circle_is_found():
    # The check itself: a two-module loop and a longer one are reported, a chain is not.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "x": {"y"}, "y": set()}
    assert sorted(circles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_the_graph_sees_deferred_and_relative_imports():
    graph = import_graph()
    assert "app.kit.media" in graph["app.stage"]  # imported inside a method
    assert "likeness.faces.detector" in graph["likeness.faces"]  # relative, from a package's __init__


def test_app_reaches_domains_only_through_the_plugin_loaders():
    offenders = {name: sorted(t for t in targets if t.split(".")[0] in DOMAINS)
                 for name, targets in import_graph().items()
                 if name.split(".")[0] == "app" and name not in PLUGIN_LOADERS}
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_the_plugin_loaders_import_plugins_only():
    graph = import_graph()
    for loader in PLUGIN_LOADERS:
        reached = {t for t in graph[loader] if t.split(".")[0] in DOMAINS}
        assert all(t.endswith(".plugin") for t in reached), (loader, reached)


def test_no_domain_imports_the_orchestrator():
    importers = {name for name, targets in import_graph().items()
                 if "app.orchestrator" in targets and name.split(".")[0] in DOMAINS}
    assert importers == set()
