"""Domain packages meet only in app/: none imports another domain package."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("likeness", "copyright", "safety", "generator", "review_ui")


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_does_not_import_other_domains(domain):
    offenders = {}
    for path in (ROOT / domain).rglob("*.py"):
        bad = imported_top_levels(path) & (set(DOMAINS) - {domain})
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_pipeline_lists_live_in_one_file():
    text = (ROOT / "app" / "pipeline.py").read_text()
    assert "PRE_RENDER: tuple[str, ...] = (" in text and "POST_RENDER: tuple[str, ...] = (" in text
    stage_list = re.compile(r"^(PRE|POST)_RENDER\s*(:[^=]*)?=\s*[(\[]", re.M)
    # The project's own packages only: a virtualenv inside the checkout holds thousands of files.
    sources = [p for package in ("app", "bench", "migrations", *DOMAINS) for p in (ROOT / package).rglob("*.py")]
    defining = [p.relative_to(ROOT).as_posix() for p in sources if stage_list.search(p.read_text(encoding="utf-8"))]
    assert defining == ["app/pipeline.py"]
