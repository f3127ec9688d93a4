"""A tiny CLIP-style visual tower (patch embedding, transformer, projection), exported to ONNX the
way the operator exports open_clip's: the real load path of app.kit.image_embedding runs on it."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from torch import nn


class Block(nn.Module):
    """Pre-norm attention + MLP, as open_clip's ResidualAttentionBlock (written out so the
    TorchScript exporter sees plain operators)."""

    def __init__(self, width: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, w = x.shape
        q, k, v = self.qkv(self.ln_1(x)).reshape(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-1, -2) / (w // self.heads) ** 0.5, dim=-1)
        x = x + self.out((attention @ v).transpose(1, 2).reshape(n, t, w))
        return x + self.mlp(self.ln_2(x))


class TinyVit(nn.Module):
    def __init__(self, image_size: int = 64, patch: int = 16, width: int = 48, layers: int = 2, dim: int = 32):
        super().__init__()
        self.patchify = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.cls = nn.Parameter(torch.randn(width) * 0.02)
        self.position = nn.Parameter(torch.randn((image_size // patch) ** 2 + 1, width) * 0.02)
        self.blocks = nn.Sequential(*(Block(width) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim, bias=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patchify(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.position
        return self.proj(self.norm(self.blocks(x)[:, 0]))


def build_tiny_vit(path: Path, image_size: int = 64, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = TinyVit(image_size).eval()
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(1, 3, image_size, image_size),), str(path),
                          input_names=["pixels"], output_names=["embedding"],
                          dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False)
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"image_size": str(image_size)})
    onnx.save(proto, str(path))
    return path
