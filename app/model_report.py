"""The model registry as operators read it (`greenlight models list`) and as docs/LICENSES.md
holds it (`--markdown`; a test keeps the two equal, so the licence document cannot drift)."""

from __future__ import annotations

from collections.abc import Sequence

from app import domains
from app.model_files import ModelFile, stages_using

MARKDOWN_START = "<!-- models: `greenlight models list --markdown` writes this table; a test compares -->"
MARKDOWN_END = "<!-- end of models -->"


def users(records: Sequence[ModelFile]) -> dict[str, list[str]]:
    """Model name -> every registered stage that loads it, then its other loaders."""
    by_stage = stages_using(stage for domain in domains.domains() for stage in domain.stages)
    return {r.name: [*sorted(by_stage.get(r.name, [])), *r.used_by] for r in records}


def _size(record: ModelFile) -> str:
    size = record.size
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def _licence(record: ModelFile) -> str:
    return f"{record.licence} (declared)" if record.licence_declared else record.licence


def _source(record: ModelFile) -> str:
    return record.source if record.configured else f"{record.source} {record.source_version}".strip()


def text_table(records: Sequence[ModelFile]) -> str:
    using = users(records)
    header = ("MODEL", "ROLE", "VERSION", "SOURCE", "USED BY", "LICENCE", "CLASS", "SIZE", "SHA256", "PATH")
    rows = [(r.name, r.role, r.version, _source(r), ", ".join(using[r.name]) or "-", _licence(r),
             r.licence_class.value, _size(r), r.sha256[:12] or "missing", str(r.path)) for r in records]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return "".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] + "\n"
                   for row in (header, *rows))


def _shipped_as(record: ModelFile) -> str:
    name = f"`{record.path.name}{'/' if record.path.is_dir() else ''}`"
    if record.configured:
        return f"{name} from `{record.variable}`"
    version = record.pinned_version or record.source_version
    return f"{name} in {record.source} {version}"


def markdown_table(records: Sequence[ModelFile]) -> str:
    using = users(records)
    lines = [MARKDOWN_START,
             "| model | role | file | licence | class | stated in | used by | sha256 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in records:
        digest = f"`{r.pinned_sha256[:16]}`" if r.pinned_sha256 else "read at start"
        lines.append(f"| `{r.name}` | {r.role} | {_shipped_as(r)} | {_licence(r)} | {r.licence_class.value} "
                     f"| {r.licence_note} | {', '.join(using[r.name])} | {digest} |")
    return "\n".join([*lines, MARKDOWN_END]) + "\n"
