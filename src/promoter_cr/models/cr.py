"""Models: the Contextual Regression (CR) network and the Xpresso CNN baseline.

Contextual Regression (Liu & Wang, arXiv 1710.10728) writes the prediction as

    y_hat(x, h) = sum_{i,b} x_{b,i} * w_{b,i}(x)  +  sum_f h_f * v_f(x, h)  +  bias

where ``x`` is the ``(4, L)`` one-hot sequence, ``w(x)`` a ``(4, L)`` weight map emitted by
a convolutional *context encoder* that sees the whole input, ``h`` optional per-gene
extra features (``(F,)``, e.g. Xpresso's mRNA half-life features), ``v(x, h)`` their
contextual weights, and ``bias`` one learned scalar. Because ``x`` is one-hot, the
*contributions* ``(w * x).sum(bases)`` give one number per position, and

    prediction == contributions.sum(-1) + extra_contributions.sum(-1) + bias

holds exactly (to float rounding): the explanation comes out of the same single
forward pass as the prediction. ``N`` positions (all-zero one-hot columns) contribute 0.

Encoder (``CRModel``)
---------------------
``stem``: Conv1d(4 -> C, ``stem_kernel``) at full resolution (the *local* features).
For long inputs the stem output is downsampled by a strided conv (factor ``d`` =
``downsample``; ``None`` chooses ``auto_downsample(L)``: 1 up to 2,048 bp, so 600 bp
simulated promoters and 2 kb windows stay at base resolution, about ``L / 512`` above,
i.e. 21 for a 10.5 kb Xpresso window). ``n_layers`` pre-activation residual blocks
(GroupNorm -> GELU -> dilated Conv1d(``kernel_size``) -> dropout) with dilation
``2**(i mod 10)`` then give a receptive field of about
``stem_kernel + d * (kernel_size - 1) * (2**n_layers - 1)`` bp (8 layers, k=3: ~525 bp
at d=1; ~10 kb at d=21), enough to see motif pairs and their spacing. The context
features are upsampled back to full resolution (nearest, by reshape, deterministic on
GPU), added to the local features, mixed by one full-resolution conv (kernel 3), and a 1x1 conv
gives the 4 weights per position, multiplied by the fixed ``weight_scale`` (``1/sqrt(L)``, so
an optimiser step moves predictions by about the same amount whatever ``L``). Downsampling makes a 10.5 kb input cost
about as much
as a 525 bp one in the dilated stack, while the final weights stay per base.

Extra features: ``v(x, h) = MLP([mean-pooled context features, h])`` (``(B, F)``),
contribution ``h * v``. The bias is a single learned scalar (never context dependent),
so the decomposition stays exact and simple.

L1 regularisation (``CRModel.l1_penalty``): the per-gene sum over positions of the absolute
*contribution* ``|sum_b w_{b,i} x_{b,i}|``, averaged over genes, i.e. the L1 norm of ``w``
masked by the observed bases (the weights of bases absent from the sequence never
enter a prediction or an explanation, so they are not penalised). The LightningModule
adds ``l1 * penalty`` to the MSE loss.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class CROutput(NamedTuple):
    """Output of :class:`CRModel` (one forward pass).

    prediction: ``(B,)``; contributions: ``(B, L)`` = ``(w * x).sum(1)``;
    extra_contributions: ``(B, F)`` = ``h * v(x, h)`` or ``None``; bias: ``(B,)``;
    weights: ``(B, 4, L)`` contextual weights ``w(x)`` (the hypothetical contributions of every
    base at every position).
    ``prediction == contributions.sum(1) + extra_contributions.sum(1) + bias``.
    """

    prediction: Tensor
    contributions: Tensor
    extra_contributions: Tensor | None
    bias: Tensor
    weights: Tensor | None = None


def auto_downsample(length: int) -> int:
    """Encoder downsampling factor for an input of ``length`` bp (1 up to 2,048 bp, else ~L/512)."""
    if length <= 2048:
        return 1
    return max(1, int(round(length / 512)))


def _norm(channels: int) -> nn.Module:
    """GroupNorm with one group (layer norm over channels and positions of each sequence).

    Chosen over BatchNorm: a prediction (and its explanation) never depends on the other
    sequences of the batch or on running statistics, train and eval modes agree, and DDP needs
    no synchronised statistics. (With BatchNorm the validation metrics of weak-signal data
    swung from epoch to epoch.)
    """
    return nn.GroupNorm(1, channels)


class _ResBlock(nn.Module):
    """Pre-activation residual block: norm -> GELU -> dilated conv -> dropout, plus skip. ``(B,C,L)->(B,C,L)``."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = _norm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding="same")
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop(self.conv(F.gelu(self.norm(x))))


class CRModel(nn.Module):
    """Contextual Regression model (see the module docstring).

    Parameters
    ----------
    length
        Input length ``L`` (chooses ``downsample`` when it is ``None`` and ``weight_scale``).
    stem_channels
        Width ``S`` of the full-resolution local features (default: ``channels``). A wide stem with a
        narrow context stack (e.g. S=128, C=32) gives many local pattern detectors at low cost;
        the context is then projected to ``S`` at low resolution and the mixing conv is skipped.
    weight_scale
        Fixed factor on the head output, ``w = head(z) * weight_scale`` (default ``1/sqrt(L)``):
        keeps the size of an optimiser step's effect on the prediction independent of ``L``.
    n_extra
        Number of extra per-gene features ``F`` (0: none).
    channels, n_layers, kernel_size, stem_kernel, dropout, downsample
        Encoder sizes.
    """

    def __init__(
        self,
        length: int,
        n_extra: int,
        *,
        channels: int,
        n_layers: int,
        kernel_size: int,
        stem_kernel: int,
        dropout: float,
        downsample: int | None,
        stem_channels: int | None,
        weight_scale: float | None = None,
    ):
        super().__init__()
        self.length = int(length)
        self.n_extra = int(n_extra)
        # w = head(z) * weight_scale: the prediction sums L terms, so without this fixed factor one
        # optimiser step on the head would move predictions by O(L * lr) and long inputs would not train
        self.weight_scale = float(weight_scale) if weight_scale is not None else 1.0 / math.sqrt(self.length)
        self.downsample = int(downsample) if downsample else auto_downsample(self.length)
        c = int(channels)
        sc = int(stem_channels) if stem_channels else c
        self.stem = nn.Conv1d(4, sc, stem_kernel, padding="same")
        if self.downsample > 1:
            self.down = nn.Conv1d(sc, c, self.downsample, stride=self.downsample)
        else:
            self.down = nn.Conv1d(sc, c, 1) if sc != c else None
        self.blocks = nn.ModuleList([_ResBlock(c, kernel_size, 2 ** (i % 10), dropout) for i in range(n_layers)])
        self.ctx_norm = _norm(c)
        # wide local features (stem_channels != channels): context projected back at low resolution,
        # no full-resolution mixing conv (its cost would grow with stem_channels**2)
        self.up_proj = nn.Conv1d(c, sc, 1) if sc != c else None
        self.mix = nn.Conv1d(c, c, 3, padding="same") if sc == c else None
        self.head = nn.Conv1d(sc, 4, 1)
        # weights start near 0 so the first predictions are ~bias whatever L is (a 10.5 kb sum of
        # random weights would otherwise start far off scale)
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        self.bias = nn.Parameter(torch.zeros(()))
        if self.n_extra:
            self.extra_net = nn.Sequential(nn.Linear(c + self.n_extra, c), nn.GELU(), nn.Linear(c, self.n_extra))
        else:
            self.extra_net = None

    def init_bias(self, value: float) -> None:
        """Set the scalar bias (e.g. to the mean training label before fitting)."""
        with torch.no_grad():
            self.bias.fill_(float(value))

    def receptive_field(self) -> int:
        """Approximate receptive field (bp) of the weight at one position."""
        k = self.blocks[0].conv.kernel_size[0] if len(self.blocks) else 1
        dil = sum(b.conv.dilation[0] for b in self.blocks)
        return self.stem.kernel_size[0] + self.downsample * ((k - 1) * dil + 1)

    def weights(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Context encoder: ``x (B,4,L)`` -> weights ``w (B,4,L)`` and pooled features ``(B,C)``."""
        length = x.shape[-1]
        local = self.stem(x)  # (B, C, L)
        h = F.gelu(local)
        d = self.downsample
        if self.down is not None:
            pad = (-length) % d
            h = self.down(F.pad(h, (0, pad)))  # (B, C, ceil(L/d))
        for block in self.blocks:
            h = block(h)
        h = F.gelu(self.ctx_norm(h))
        pooled = h.mean(-1)
        if self.up_proj is not None:
            h = self.up_proj(h)  # (B, S, ceil(L/d))
        if d > 1:
            b, c, ld = h.shape
            h = h.unsqueeze(-1).expand(b, c, ld, d).reshape(b, c, ld * d)[..., :length]
        z = F.gelu(h + local)
        if self.mix is not None:
            z = F.gelu(self.mix(z))
        return self.head(z) * self.weight_scale, pooled

    def forward(self, x: Tensor, extra: Tensor | None = None) -> CROutput:
        """``x``: ``(B, 4, L)`` float one-hot; ``extra``: ``(B, F)`` or ``None``."""
        w, pooled = self.weights(x)
        contributions = (w.float() * x.float()).sum(1)  # (B, L)
        bias = self.bias.float().expand(x.shape[0])
        pred = contributions.sum(1) + bias
        extra_contrib = None
        if self.extra_net is not None:
            if extra is None:
                raise ValueError(f"this model uses {self.n_extra} extra features; none were given")
            v = self.extra_net(torch.cat([pooled, extra.to(pooled.dtype)], 1))
            extra_contrib = extra.float() * v.float()  # (B, F)
            pred = pred + extra_contrib.sum(1)
        return CROutput(pred, contributions, extra_contrib, bias, w)

    @staticmethod
    def l1_penalty(out: CROutput) -> Tensor:
        """Per-gene L1 norm of the contributions, ``sum_i |w_i(x) . x_i|``, averaged over the batch.

        This is the L1 norm of ``w`` masked by the one-hot ``x``. Summing (not averaging) over
        positions keeps it on the scale of the label whatever ``L`` is, so one ``l1`` value
        means the same for 110 bp and 10.5 kb inputs.
        """
        return out.contributions.abs().sum(1).mean()
