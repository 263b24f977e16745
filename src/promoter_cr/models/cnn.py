"""A plain global-pooling CNN baseline (model type ``cnn``).

One convolution (``filters`` x ``kernel`` bp) -> ReLU -> max and mean over positions -> dropout ->
one linear layer (extra per-gene features concatenated to the pooled values). The black box the
CR model is measured against: about the cheapest network that learns motifs, and a strong one on
planted grammars.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class PlainCNN(nn.Module):
    """Conv1d(4 -> ``filters``, ``kernel``) -> ReLU -> [max, mean] pooling -> dropout -> Linear(-> 1).

    ``x``: ``(B, 4, L)`` one-hot; ``extra``: ``(B, F)`` or ``None`` -> ``(B,)`` predictions.
    """

    def __init__(self, length: int, n_extra: int, *, filters: int, kernel: int, dropout: float):
        super().__init__()
        if length < kernel:
            raise ValueError(f"input length {length} is shorter than the convolution kernel {kernel}")
        self.length = int(length)
        self.n_extra = int(n_extra)
        self.conv = nn.Conv1d(4, int(filters), int(kernel))
        self.drop = nn.Dropout(float(dropout))
        self.head = nn.Linear(2 * int(filters) + self.n_extra, 1)

    def init_bias(self, value: float) -> None:
        """Set the output bias (e.g. to the mean training label before fitting)."""
        with torch.no_grad():
            self.head.bias.fill_(float(value))

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        h = F.relu(self.conv(x))
        pooled = torch.cat([h.amax(-1), h.mean(-1)], 1)
        if self.n_extra:
            if extra is None:
                raise ValueError(f"this model uses {self.n_extra} extra features; none were given")
            pooled = torch.cat([pooled, extra.to(pooled.dtype)], 1)
        return self.head(self.drop(pooled)).squeeze(-1).float()
