"""Progress of a long command (enrolling a gallery, a backfill, training): a bar on a terminal;
written to a log or a pipe, where click's bar shows nothing until the end, a line at most every
`every_s` seconds, the first and the last always."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import click

# report(done, total, item=None, label=None): `item` names what was just done, `label` renames the step
Report = Callable[..., None]


@contextlib.contextmanager
def progress(label: str, every_s: float = 10.0) -> Iterator[Report]:
    if sys.stdout.isatty():
        with click.progressbar(length=1, label=label, item_show_func=lambda item: item) as bar:
            def on_terminal(done: int, total: int, item: str | None = None, label: str | None = None) -> None:
                if label:
                    bar.label = label
                bar.length = max(total, 1)
                bar.update(done - bar.pos, item)

            yield on_terminal
        return
    last = {"at": None, "label": label}

    def in_a_log(done: int, total: int, item: str | None = None, label: str | None = None) -> None:
        now = time.monotonic()
        if label:
            last["label"] = label
        if done < total and last["at"] is not None and now - last["at"] < every_s:
            return
        last["at"] = now
        share = f" ({100 * done / total:.0f} %)" if total else ""
        click.echo(f"{last['label']}: {done}/{total}{share}" + (f" {item}" if item else ""))

    yield in_a_log
