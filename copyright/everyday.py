"""Everyday counterparts: what a prompt in a work's words means when it does not mean the work.

The meaning layer and the work head read "a giant panda eating bamboo" as Kung Fu Panda and "a
great white shark breaching" as Jaws: a work whose character is an animal, an object, a trade or
a setting shares its words with everyday scenes, and the catalogue's descriptions say only what
the work is. `copyright/data/everyday_counterparts.jsonl` says what it is not: for each shipped
work, four ordinary prompts about the real things its descriptions could be confused with (a
panda at a zoo, a shark documentary), written by helpers shown only the works' titles and
descriptions, never the bench's sets. They are an input of the work head's training
(copyright/work_head_training.py), which keeps their sentence vectors and chooses, with its other
cut-offs, how much nearer a prompt must come to a counterpart than to the work before its meaning or
head match is reviewed rather than blocked, and before it is cleared (IpTextClassifier.everyday_judged).

Every counterpart counts, whichever work it was written for: a work registered later has none of
its own, and "a panda at a zoo" is everyday next to any panda character.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.kit.files import json_lines, sha256_of

DEFAULT_COUNTERPARTS = Path(__file__).parent / "data" / "everyday_counterparts.jsonl"


class CounterpartsError(ValueError):
    """A counterparts file that cannot be read as JSON lines of {"work_id", "text"}."""


@dataclass(frozen=True)
class Counterparts:
    texts: tuple[str, ...]
    sha256: str

    @property
    def tag(self) -> str:
        return f"everyday-{self.sha256[:12]}"


def read_counterparts(path: str | Path = DEFAULT_COUNTERPARTS) -> Counterparts:
    texts: list[str] = []
    for n, row in json_lines(path, CounterpartsError):
        if "text" not in row:
            raise CounterpartsError(f"{path}:{n}: not a counterpart row (no text)")
        text = row["text"]
        if not isinstance(text, str) or not text.strip():
            raise CounterpartsError(f"{path}:{n}: empty text")
        texts.append(text.strip())
    return Counterparts(tuple(dict.fromkeys(texts)), sha256_of(Path(path)))
