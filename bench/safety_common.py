"""What bench/safety_calibrate.py, bench/safety_eval.py and bench/safety_latency.py share: the
labelled prompt set and the classifier they measure."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.kit.recent_vectors import forget_all_recent  # noqa: E402
from app.kit.text_embedding import load_text_embedder  # noqa: E402
from safety.prompt_classifier import (DEFAULT_EXEMPLARS, DEFAULT_THRESHOLDS, Exemplars,  # noqa: E402
                                      PromptClassifier, Thresholds, with_heads)
from safety.cutoffs import Cutoffs  # noqa: E402
from safety.head_training import IMPLIED, read_labelled  # noqa: E402
from safety.terms import load_policy  # noqa: E402

LABELS = ROOT / "safety" / "data" / "eval_prompts.jsonl"
# calibration: thresholds are chosen on it; eval: held out from calibration (looked at while the
# design changed); holdout: written after the design was frozen, held out from everything; fresh:
# written by someone who never saw the terms, exemplars or other rows (issue 15); fresh..fresh5 are
# read for rules and train the learned head (safety/head_training.py TRAIN_SPLITS); fresh6 and
# fresh7, written after the head was designed, only measure it; fresh8, written by another helper
# before the multilingual head was built, was measured before anything changed and only measures;
# fresh9, written by a fourth helper on 2026-12-04, was measured before that day's frames and only
# measures (its misses are not read);
# fresh10 and fresh11, written on 2026-12-05 by two helpers who saw nothing of the project, were
# measured before the fine-tuned reader was trained and only measure (their misses were read while
# its decision rule was chosen); fresh12 and fresh13, written the same day by two more such
# helpers, were measured only once, after the rule was chosen (their rows not read); fresh14,
# written on 2026-12-06 by another such helper, was measured first on the code of that morning;
# fresh15: 120 long benign scenes (79-156 words, 20 in other languages) with one dark-sounding
# phrase each, written the same day by another such helper, measured before the reader read sentences
# (its aggregate figures were read while two rules for long prompts were tried); fresh16: 100 more
# long benign scenes and 40 long buried ones by another such helper, measured once, at the end of that day;
# fresh17: 110 long benign scenes and 50 long buried ones (71-138 words), written on 2026-12-06 by
# another such helper, measured before and after that session's change for long prompts (rows not read;
# its misses and false flags were read on 2026-12-06 afternoon, with fresh15 and fresh16, while the
# reader's calm scenes and the idiom terms were made);
# fresh18: 130 long benign scenes (79-121 words) and 70 long buried ones (10 in other languages),
# written on 2026-12-06 by two more such helpers, measured before that afternoon's change and after
# it (rows not read);
# fresh19 and fresh20: 240 benign prompts of minors in self-harm's settings and words (hair cut in a
# bathroom, a rooftop, pills as prescribed, a topless dad at the beach with his kids) and 80 of minors
# harming themselves, many in words no term knows (32 and 10 in other languages), written on 2026-12-06
# by another such helper, split evenly: fresh19 was read while the minors' self-harm rules were chosen,
# fresh20 measured before and after (rows not read); fresh21 and fresh22: the same, short (200 benign
# prompts of 4-14 words, 60 harmful), by another such helper: fresh21 read, fresh22 measured before and
# after (rows not read);
# fresh23: 221 harmful prompts (graphic, buried, steps, slangy; violence, self-harm, hate) and 153
# benign look-alikes, 13 and 9 in each of 17 languages other than English, written on 2026-12-07 by
# two helpers who saw nothing of the project; measured before and after that day's multilingual
# head (rows not read);
# fresh24: 120 benign prompts of children in settings that share sexual content's words (bath time,
# swimsuits, a check-up, a sleepover, a sex-education class, a news report on an abuse trial; 20 long)
# and 30 adult sexual prompts whose wording could read as a minor ("daddy" between adults, "college
# seniors, both 22"), written on 2026-12-07 by a helper who saw nothing of the project (it declined to
# write harmful prompts involving minors); measured before and after that day's rule for sexual content
# next to a minor (8 rows of it glanced at for format; its two benign blocks read after measuring);
# fresh25: 120 graphic prompts (60 of cruelty to animals, 60 of violence against people) and 140
# benign look-alikes (vets, rescues, wildlife, cooking, war documentaries, action films, idioms), written
# on 2026-12-07 by a helper who saw nothing of the project; measured before and after that day's
# frames for cruelty to animals (rows not read);
# fresh26: 153 graphic prompts (violence against people, children and old people; hate violence; adults'
# self-harm shown; cruelty to animals) and 154 benign look-alikes (surgery, butchers, idioms, stage magic,
# memorials, peaceful worship), written on 2026-12-07 by a helper who saw nothing of the project, 400
# rows less those within a trigram Dice of 0.6 of a training row; measured before and after that
# session's change (rows not read; fresh25's misses were read for it);
# written_foreign: 2,667 prompts of the same kinds in the same 17 languages, by six more such helpers
# the same day, to train the multilingual head only (none within a trigram Dice of 0.6 of a measuring
# prompt);
# written2: 1,512 training prompts (graphic violence and cruelty to animals, self-harm as steps and shown,
# buried scenes, slangy harm of every category, and as many look-alikes), written on 2026-12-07 by four
# more such helpers, never measured on (none within a trigram Dice of 0.6 of a measuring prompt);
# lookalike: benign prompts written to train the head (everyday acts in harm's words), never
# measured on; written: harmful prompts of every kind and their look-alikes, in 16 languages,
# written on 2026-12-05 by helpers who saw nothing of the project, to train the heads and the
# fine-tuned reader (safety/reader_training.py), never measured on; with 400 long benign scenes
# that tell of harm or use its words harmlessly and 160 long buried ones (2026-12-06, three more
# such helpers, a quarter in 14 other languages).
SPLITS = ("calibration", "eval", "holdout", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7",
          "fresh8", "fresh9", "fresh10", "fresh11", "fresh12", "fresh13", "fresh14", "fresh15", "fresh16", "fresh17",
          "fresh18", "fresh19", "fresh20", "fresh21", "fresh22", "fresh23", "fresh24", "fresh25", "fresh26", "lookalike", "written", "written2", "written_foreign")
# IMPLIED (safety/head_training.py): a label that makes a flag in another category not wrong
# (sexual content involving minors is sexual content): neither a true nor a false positive.


@dataclass(frozen=True)
class Row:
    prompt: str
    labels: tuple[str, ...]   # categories the prompt belongs to; () is benign
    kind: str                 # plain / evasion / euphemism for harmful ones, tricky / everyday for benign ones
    split: str                # calibration / eval / holdout (see SPLITS)
    lang: str = ""            # the language it is written in, where the row says (not English)

    @property
    def benign(self) -> bool:
        return not self.labels

    def implies(self, category: str) -> bool:
        """A flag in `category` is neither right nor wrong for this prompt (see IMPLIED)."""
        return category not in self.labels and any(category in IMPLIED.get(label, ()) for label in self.labels)


def load_rows(path: Path = LABELS, split: str | None = None) -> list[Row]:
    """The labelled prompts of `split` (a name, several joined by commas, or all)."""
    wanted = set(SPLITS) if split in (None, "all") else set(split.split(","))
    if wanted - set(SPLITS):
        raise SystemExit(f"unknown split {sorted(wanted - set(SPLITS))}; splits: {', '.join(SPLITS)}")
    rows = [Row(r.prompt, r.labels, r.kind, r.split, r.lang) for r in read_labelled(path)]
    return [r for r in rows if r.split in wanted]


def build(thresholds: Thresholds | None = None) -> tuple[PromptClassifier, float, float]:
    """The classifier over the shipped data files, with `thresholds` (default: the shipped ones);
    and the seconds spent loading the model and embedding the exemplars."""
    started = time.perf_counter()
    embedder = load_text_embedder()
    load_s = time.perf_counter() - started
    terms = load_policy()
    exemplars = Exemplars.from_file(DEFAULT_EXEMPLARS, known=set(terms.categories))
    if thresholds is None:
        thresholds = Thresholds.from_file(DEFAULT_THRESHOLDS)
    started = time.perf_counter()
    clf = with_heads(PromptClassifier(embedder, exemplars, thresholds, terms))
    return clf, load_s, time.perf_counter() - started


def uncalibrated(categories: tuple[str, ...] | list[str]) -> Thresholds:
    """No meaning cut-offs at all: what calibration starts from."""
    return Thresholds("uncalibrated", 1.0, {c: Cutoffs(None, None) for c in categories})


def timed(fn, *args) -> float:
    """Milliseconds one call of `fn(*args)` takes, no model remembering what it computed before
    (app/kit/recent_vectors): a prompt timed again, or after its warm-up, is read afresh."""
    forget_all_recent()
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000.0


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def progress(label: str, i: int, n: int) -> None:
    if sys.stderr.isatty() or i == n or i % 100 == 0:
        end = "\n" if i == n else "\r" if sys.stderr.isatty() else "\n"
        print(f"  {label} {i}/{n}", end=end, file=sys.stderr, flush=True)
