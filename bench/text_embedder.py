"""The text embedder on ONNX Runtime against the raw PyTorch call of the same weights, in one run.

    python bench/text_embedder.py [--runs 200]

Per batch size (1 prompt, as `POST /generations` embeds it; 4; 32 reference texts as the exemplar
matrices are built) it prints CPU ms per text on one thread for `transformers` eager (the raw
model call) and for the ONNX graph the embedder runs, their ratio, and the largest difference
between the two vectors. The prompts are the load benchmark's ordinary one-clause prompts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from api_load import prompt  # noqa: E402
from app.kit.text_embedding import TextEmbedder, default_embedder_path  # noqa: E402


def cpu_ms(run, runs: int) -> float:
    run()
    samples = []
    for _ in range(runs):
        started = time.process_time()
        run()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    embedder = TextEmbedder(default_embedder_path())
    if embedder.runtime != "onnxruntime":
        sys.exit("the embedder did not load its ONNX graph (see the warning above)")
    print(f"model {embedder.tag}; graph {embedder._onnx.path}")  # noqa: SLF001
    print("| texts per call | PyTorch eager ms/text | ONNX Runtime ms/text | PyTorch / ONNX | max |difference| |")
    print("|---:|---:|---:|---:|---:|")
    for batch in (1, 4, 32):
        texts = [prompt(i * 7 + batch) for i in range(batch)]
        ids, mask = embedder._arrays(embedder._tokenizer.encode_batch(texts))  # noqa: SLF001
        runs = max(10, args.runs // batch)
        raw = cpu_ms(lambda: embedder._torch_vectors(ids, mask), runs) / batch  # noqa: SLF001
        onnx = cpu_ms(lambda: embedder._onnx(ids, mask), runs) / batch  # noqa: SLF001
        diff = float(np.abs(embedder._torch_vectors(ids, mask) - embedder._onnx(ids, mask)).max())  # noqa: SLF001
        print(f"| {batch} | {raw:.2f} | {onnx:.2f} | {raw / onnx:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
