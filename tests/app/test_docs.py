import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_code_raised_in_code_is_documented():
    documented = (ROOT / "docs" / "errors.md").read_text()
    raised = set()
    for package in ("app", "likeness", "copyright", "safety", "generator"):
        for path in (ROOT / package).rglob("*.py"):
            raised |= set(re.findall(r'code\s*=\s*"([a-z_]+)"', path.read_text()))
    missing = sorted(c for c in raised if f"`{c}`" not in documented)
    assert raised and not missing, missing


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert block[0].endswith("greenlight up") and "pytest" in block[1]
