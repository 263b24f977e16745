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
an optimiser step moves predictions by about the same amount whatever ``L``). Downsampling makes a 10.5 kb input cost about as much
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
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: defaults of the CR model (``models.<name>`` keys)
CR_DEFAULTS: dict[str, Any] = {
    "channels": 64,
    "n_layers": 8,
    "kernel_size": 3,
    "stem_kernel": 15,
    "dropout": 0.1,
    "l1": 1e-3,
    "downsample": None,
    "stem_channels": None,
}
#: defaults of the Xpresso CNN (Agarwal & Shendure 2020)
XPRESSO_DEFAULTS: dict[str, Any] = {
    "conv1_filters": 128,
    "conv1_kernel": 6,
    "pool1": 30,
    "conv2_filters": 32,
    "conv2_kernel": 9,
    "pool2": 10,
    "dense1": 64,
    "dense2": 2,
    "dropout": 0.0,
}


class CROutput(NamedTuple):
    """Output of :class:`CRModel` (one forward pass).

    prediction: ``(B,)``; contributions: ``(B, L)`` = ``(w * x).sum(1)``;
    extra_contributions: ``(B, F)`` = ``h * v(x, h)`` or ``None``; bias: ``(B,)``.
    ``prediction == contributions.sum(1) + extra_contributions.sum(1) + bias``.
    """

    prediction: Tensor
    contributions: Tensor
    extra_contributions: Tensor | None
    bias: Tensor


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
        n_extra: int = 0,
        channels: int = 64,
        n_layers: int = 8,
        kernel_size: int = 3,
        stem_kernel: int = 15,
        dropout: float = 0.1,
        downsample: int | None = None,
        weight_scale: float | None = None,
        stem_channels: int | None = None,
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
        self.blocks = nn.ModuleList(
            [_ResBlock(c, kernel_size, 2 ** (i % 10), dropout) for i in range(n_layers)]
        )
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
        return CROutput(pred, contributions, extra_contrib, bias)

    @staticmethod
    def l1_penalty(out: CROutput) -> Tensor:
        """Per-gene L1 norm of the contributions, ``sum_i |w_i(x) . x_i|``, averaged over the batch.

        This is the L1 norm of ``w`` masked by the one-hot ``x``. Summing (not averaging) over
        positions keeps it on the scale of the label whatever ``L`` is, so one ``l1`` value
        means the same for 110 bp and 10.5 kb inputs.
        """
        return out.contributions.abs().sum(1).mean()


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
        n_extra: int = 0,
        conv1_filters: int = 128,
        conv1_kernel: int = 6,
        pool1: int = 30,
        conv2_filters: int = 32,
        conv2_kernel: int = 9,
        pool2: int = 10,
        dense1: int = 64,
        dense2: int = 2,
        dropout: float = 0.0,
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
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def init_bias(self, value: float) -> None:
        """Set the output layer's bias (e.g. to the mean training label before fitting)."""
        with torch.no_grad():
            self.dense[-1].bias.fill_(float(value))

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        """``x``: ``(B, 4, L)``; ``extra``: ``(B, F)`` or ``None`` -> ``(B,)``."""
        h = self.conv(x).flatten(1)
        if self.n_extra:
            if extra is None:
                raise ValueError(f"this model uses {self.n_extra} extra features; none were given")
            h = torch.cat([h, extra.to(h.dtype)], 1)
        return self.dense(h).squeeze(-1).float()


def model_kwargs(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments from a model config (defaults filled)."""
    kind = model_cfg["type"]
    defaults = CR_DEFAULTS if kind == "cr" else XPRESSO_DEFAULTS if kind == "xpresso_cnn" else None
    if defaults is None:
        raise ValueError(f"model type {kind!r} is not a neural network")
    out = {k: model_cfg.get(k, v) if model_cfg.get(k) is not None else v for k, v in defaults.items()}
    out.pop("l1", None)
    return out


def build_model(model_cfg: dict[str, Any], length: int, n_extra: int = 0) -> nn.Module:
    """A :class:`CRModel` or :class:`XpressoCNN` for ``model_cfg`` (``type`` cr|xpresso_cnn)."""
    kw = model_kwargs(model_cfg)
    if model_cfg["type"] == "cr":
        return CRModel(length=length, n_extra=n_extra, **kw)
    return XpressoCNN(length=length, n_extra=n_extra, **kw)


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def predict_tensor(model: nn.Module, x: Tensor, extra: Tensor | None = None) -> Tensor:
    """``(B,)`` predictions of either model type."""
    out = model(x, extra)
    return out.prediction if isinstance(out, CROutput) else out


__all__ = [
    "CROutput",
    "CRModel",
    "XpressoCNN",
    "CR_DEFAULTS",
    "XPRESSO_DEFAULTS",
    "auto_downsample",
    "build_model",
    "model_kwargs",
    "n_parameters",
    "predict_tensor",
]
