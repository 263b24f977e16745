"""The Xpresso CNN baseline (Agarwal & Shendure 2020, Cell Reports).

Published architecture: Conv1D(128, k6) -> MaxPool30 -> Conv1D(32, k9) -> MaxPool10 -> Dense64
-> Dense2 -> Dense1, ReLU between, Adam 1e-3, batch 128, early stopping. Sizes come from the
schema's ``xpresso_cnn`` defaults (``models.<name>`` in the config).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _adapt_pools(length: int, k1: int, p1: int, k2: int, p2: int) -> tuple[int, int]:
    """Shrink the pool sizes until the conv stack yields at least one position.

    Halves ``pool1`` while the second conv would have fewer inputs than its kernel,
    then halves ``pool2`` while the final length is 0. Raises ``ValueError`` when even
    pools of 1 do not fit (``length < k1 + k2 - 1``).
    """
    if length < k1 + k2 - 1:
        raise ValueError(f"input length {length} is too short for conv kernels {k1} and {k2}")
    l1 = length - k1 + 1
    while l1 // p1 < k2 and p1 > 1:
        p1 = max(1, p1 // 2)
    while (l1 // p1 - k2 + 1) // p2 < 1 and p2 > 1:
        p2 = max(1, p2 // 2)
    return p1, p2


class XpressoCNN(nn.Module):
    """Xpresso CNN (Agarwal & Shendure 2020): Conv1D(128,k6) -> MaxPool30 -> Conv1D(32,k9)
    -> MaxPool10 -> Dense64 -> Dense2 -> Dense1 (ReLU between), extra features concatenated
    to the flattened conv output before the dense layers.

    For inputs too short for the published pools (e.g. 110 bp), ``pool1`` then ``pool2`` are
    halved until at least one position remains (see :func:`_adapt_pools`); the sizes used are
    kept in ``self.pool1`` / ``self.pool2``. 600 bp and 10.5 kb keep the published pools.
    """

    def __init__(
        self,
        length: int,
        n_extra: int,
        *,
        conv1_filters: int,
        conv1_kernel: int,
        pool1: int,
        conv2_filters: int,
        conv2_kernel: int,
        pool2: int,
        dense1: int,
        dense2: int,
        dropout: float,
    ):
        super().__init__()
        self.length = int(length)
        self.n_extra = int(n_extra)
        self.pool1, self.pool2 = _adapt_pools(self.length, conv1_kernel, pool1, conv2_kernel, pool2)
        self.conv = nn.Sequential(
            nn.Conv1d(4, conv1_filters, conv1_kernel),
            nn.ReLU(),
            nn.MaxPool1d(self.pool1),
            nn.Conv1d(conv1_filters, conv2_filters, conv2_kernel),
            nn.ReLU(),
            nn.MaxPool1d(self.pool2),
        )
        l_out = ((self.length - conv1_kernel + 1) // self.pool1 - conv2_kernel + 1) // self.pool2
        self.n_flat = conv2_filters * l_out
        self.dense = nn.Sequential(
            nn.Linear(self.n_flat + self.n_extra, dense1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense1, dense2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense2, 1),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras' initialisation, as in the published model: Glorot-uniform weights, zero biases.

        PyTorch's default (Kaiming-uniform with a=sqrt(5)) starts the 2-unit ReLU layer so small
        that both units can die at once, leaving a constant predictor (seen on the simulated set).
        The output bias starts at 0 as in Keras, not at the mean label (the CR and plain CNN do
        that, :meth:`init_bias`): with the mean already in the bias, the first Adam steps push the
        two ReLU units of ``dense2`` at random and both died within five steps on 8,000 x 1 kb
        simulated promoters (3 of 3 seeds), while the offset left in the output keeps them alive.
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        """``x``: ``(B, 4, L)``; ``extra``: ``(B, F)`` or ``None`` -> ``(B,)``."""
        h = self.conv(x).flatten(1)
        if self.n_extra:
            if extra is None:
                raise ValueError(f"this model uses {self.n_extra} extra features; none were given")
            h = torch.cat([h, extra.to(h.dtype)], 1)
        return self.dense(h).squeeze(-1).float()
