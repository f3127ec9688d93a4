"""docs/LICENSES.md holds the model registry as shipped, and the project states its own licence."""

import tomllib
from pathlib import Path

from app import domains, model_files, model_report
from app.factory import load_plugins
from tests.app.test_model_files import OVERRIDES

ROOT = Path(__file__).resolve().parents[2]


def test_the_licence_document_lists_every_shipped_model_as_the_registry_does(monkeypatch):
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    load_plugins()
    table = model_report.markdown_table(model_files.registry(domains.model_files()))
    document = (ROOT / "docs" / "LICENSES.md").read_text()
    written = document[document.index(model_report.MARKDOWN_START):document.index(model_report.MARKDOWN_END)]
    # On a difference: `greenlight models list --markdown` prints the table to paste in.
    assert written + model_report.MARKDOWN_END + "\n" == table


def test_the_project_is_apache_2_licensed():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
