"""The Contextual Regression (CR) network.

Contextual Regression (Liu & Wang, arXiv 1710.10728) writes the prediction as

    y_hat(x, h) = sum_{b,i} x_{b,i} * w_{b,i}(x)  +  sum_f h_f * v_f(x, h)  +  bias

where ``x`` is the ``(4, L)`` one-hot sequence, ``w(x)`` a ``(4, L)`` weight map that depends on
the whole input (the *context*), ``h`` optional per-gene extra features (``(F,)``, e.g. Xpresso's
mRNA half-life features) with contextual weights ``v(x, h)``, and ``bias`` one learned scalar.
Because ``x`` is one-hot, the *contributions* ``(w * x).sum(bases)`` give one number per position,
and ``prediction == contributions.sum(-1) + extra_contributions.sum(-1) + bias`` holds exactly (to
float rounding): the explanation comes out of the same single forward pass as the prediction.
``N`` positions (all-zero one-hot columns) contribute 0.

How this network makes ``w(x)`` (``CRModel``)
------------------------------------------------
1. **Site scores** ``z = conv(x, W)`` (``(B, S, L)``, kernel ``stem_kernel``): ``C = channels``
   motif filters, each also applied as its reverse complement when ``rc_filters`` (``S = 2C``: a
   site is recognised on either strand from one set of weights, which halves what each filter
   must learn from the data; the readout below keeps the two strands apart, so orientation relative
   to the TSS can still matter). The filter bias is folded into the weights (``t / K`` added to every
   base of the kernel), so ``z`` is *linear in x* with no constant term: that is what makes the
   decomposition exact.
2. **Three pooled views per filter**, each a sum over positions of ``gate * z``:
   ``max``: the strongest site, ``max_j relu(z_j)`` (presence; one site gets the credit);
   ``mean``: ``sum_j gain_j relu(z_j) / L`` (composition-like, k-mer-count-like evidence);
   ``count``: ``sum_j gain_j clamp(z_j - tau, 0, 1)`` (a saturating count of sites above a learned
   threshold ``tau > 0``; ``clamp(z - tau, 0, 1) = z * gate(z)`` with ``gate <= 1``).
   Planted and real regulatory grammars are mostly additive over sites, which ``count`` captures and
   a max-pooling CNN cannot; ``max`` keeps what a CNN does well.
3. **Gains** ``gain (B, S, nb)`` on ``mean`` and ``count``, at low resolution: ``1 + position
   profile`` (one learned value per filter and position bin, so a site's effect can depend on its
   distance to the TSS) ``+ context`` (``context_channels > 0``: a small dilated residual network
   over the binned site evidence of all filters, so a site's effect can depend on what else the
   promoter holds, e.g. a partner within a few hundred bp). Bins are ``d`` bp wide (derived from
   ``L`` and ``position_bins``, see :func:`bin_width`); gains are interpolated *linearly* between
   bin centres, so a 1-bp shift of the input changes them by at most 1/d of a bin step (stable
   explanations), and the binned sums are computed as the exact adjoint of that interpolation
   (:func:`hat_pool`), so no full-resolution gain tensor is built during training.
4. **Readout**: one linear layer over the ``3S`` pooled values, plus the bias. Dropout acts on the
   pooled values in training.

The prediction is ``sum_{c,j} G_{c,j}(x) z_{c,j}(x) + bias`` with ``G`` the gates times the readout,
and since ``z = conv(x, W)`` is linear, ``w(x) = conv_transpose(G, W)`` (a transposed convolution
of the gate map with the same filters) satisfies ``sum(w * x) = sum(G * z)`` exactly. Training
computes the cheap pooled form; evaluation (``explain``) builds ``G``, ``w`` and the contributions
and returns ``prediction = contributions.sum + extra + bias``. The hypothetical contribution map
``w`` is a sum of filter copies scaled by their gates, i.e. motif-shaped, which is what TF-MoDISco
expects.

Cost: the full-resolution work is one convolution with ``S`` output channels (and its transpose
only when explaining), a ReLU, one max and two strided sums; everything contextual runs at
``L / d`` positions. The reverse-complement filters double the convolution's output channels
without adding parameters.

Extra features: ``v(x, h) = MLP([LayerNorm(pooled values), h])`` (``(B, F)``), contribution ``h * v``.

k-mer prior (``kmer_prior``, k-mer sizes; empty: none)
------------------------------------------------------
An additive term ``gamma * (sum_k sum_windows T_k[kmer index] / n_k + c)``: the k-mer ridge
(:mod:`promoter_cr.models.kmer`) fitted on the training split before the network trains, written as
one frozen table entry per k-mer window (:func:`promoter_cr.models.kmer.kmer_tables`; ``n_k`` is the
number of windows without ``N``), with one learned weight ``gamma`` (``kmer_scale``, starting at 1).
The network learns what the ridge misses and ``gamma`` how much of the ridge to keep. On the
training rows the ridge's value is its leave-one-out prediction
(:func:`promoter_cr.models.kmer.fit_kmer_prior`; the training module adds ``gamma * (loo - fit)``),
so neither the network nor ``gamma`` is fitted to the ridge's in-sample optimism. Small data sets
with diffuse composition signal are what a linear k-mer model does best and a network learns
slowest. A window's value is
shared equally by its ``k`` bases, so ``prediction = contributions.sum + bias`` still holds exactly
(``c`` is part of the bias), and the hypothetical weight of base ``b`` at ``i`` is the same share of
the windows over ``i`` with ``b`` put at ``i``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: pooled views per filter, in readout order
POOLS = ("max", "mean", "count")


class CROutput(NamedTuple):
    """Output of :class:`CRModel` (one forward pass).

    prediction: ``(B,)``; contributions: ``(B, L)`` = ``(w * x).sum(1)``;
    extra_contributions: ``(B, F)`` = ``h * v(x, h)`` or ``None``; bias: ``(B,)``;
    weights: ``(B, 4, L)`` contextual weights ``w(x)`` (the hypothetical contributions of every
    base at every position). In training mode (without ``explain``) only ``prediction``,
    ``extra_contributions`` and ``bias`` are set.
    ``prediction == contributions.sum(1) + extra_contributions.sum(1) + bias``.
    """

    prediction: Tensor
    contributions: Tensor | None
    extra_contributions: Tensor | None
    bias: Tensor
    weights: Tensor | None = None


def bin_width(length: int, bins: int) -> int:
    """Width ``d`` (bp) of the position bins for an input of ``length`` bp and about ``bins`` bins.

    A divisor of ``length`` within a third of ``length / bins`` when there is one (no padding in
    :func:`hat_pool`), else ``ceil(length / bins)``; 1 when ``bins >= length``. Examples: 1,000 bp
    and 32 bins: 25 (41 bin centres); 10,500 bp: 350; 110 bp: 4 (3 with ``L`` 80).
    """
    if bins <= 0:
        raise ValueError("position bins must be positive")
    if length <= bins:
        return 1
    target = length / bins
    lo, hi = max(1, math.floor(target * 0.75)), math.ceil(target * 4 / 3)
    divisors = [d for d in range(lo, hi + 1) if length % d == 0]
    if divisors:
        return min(divisors, key=lambda d: (abs(d - target), d))
    return math.ceil(target)


def n_bin_centres(length: int, d: int) -> int:
    """Number of bin centres (at 0, d, 2d, ...) that cover positions ``0 .. length - 1``."""
    return math.ceil(length / d) + 1


def hat_pool(h: Tensor, d: int, frac: Tensor) -> Tensor:
    """Sums of ``h`` under hat functions centred every ``d`` bp: ``(B, S, L) -> (B, S, nb)``.

    Position ``j`` adds ``(1 - f) h_j`` to bin ``floor(j / d)`` and ``f h_j`` to the next one
    (``f = (j mod d) / d``, given as ``frac``, ``(d,)``). This is the exact adjoint of
    :func:`hat_up`: ``sum(hat_pool(h) * g) == sum(h * hat_up(g))``. Written as a reshape and two
    reductions (a depthwise strided convolution with a hat kernel gives the same numbers but is
    several times slower on CPUs).
    """
    b, s, length = h.shape
    m = math.ceil(length / d)
    if m * d != length:
        h = F.pad(h, (0, m * d - length))
    hr = h.view(b, s, m, d)
    total = hr.sum(-1)
    right = (hr * frac).sum(-1)
    return F.pad(total - right, (0, 1)) + F.pad(right, (1, 0))


def hat_up(g: Tensor, d: int, frac: Tensor, length: int) -> Tensor:
    """Linear interpolation of bin values to positions: ``(B, S, nb) -> (B, S, L)`` (adjoint of :func:`hat_pool`)."""
    b, s, nb = g.shape
    u = g[..., :-1, None] * (1 - frac) + g[..., 1:, None] * frac
    return u.reshape(b, s, (nb - 1) * d)[..., :length]


class _ContextBlock(nn.Module):
    """Pre-activation residual block at bin resolution: GroupNorm -> GELU -> dilated conv (k=3) -> dropout."""

    def __init__(self, channels: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop(self.conv(F.gelu(self.norm(x))))


class CRModel(nn.Module):
    """Contextual Regression model (see the module docstring).

    Parameters
    ----------
    length
        Input length ``L`` (fixes the position bins).
    n_extra
        Number of extra per-gene features ``F`` (0: none).
    channels
        Motif filters ``C`` (``S = 2C`` score channels with ``rc_filters``).
    stem_kernel
        Filter width (bp).
    rc_filters
        Apply every filter on both strands (shared weights, separate readout).
    position_bins
        About how many position bins the gains have (0: no gains; ``mean`` and ``count`` are then
        plain sums and ``context_channels`` is ignored).
    context_channels
        Width of the bin-resolution context network (0: position profile only). Its depth is
        derived from the number of bins: ``ceil(log2(nb / 2 + 1))`` blocks with dilations
        ``1, 2, 4, ...`` reach every bin.
    dropout
        Dropout on the pooled values (and in the context blocks) in training.
    """

    def __init__(
        self,
        length: int,
        n_extra: int,
        *,
        channels: int,
        stem_kernel: int,
        rc_filters: bool,
        position_bins: int,
        context_channels: int,
        pair_channels: int,
        pair_span: int,
        dropout: float,
        kmer_prior: list[int] | tuple[int, ...],
    ):
        super().__init__()
        self.length = int(length)
        self.n_extra = int(n_extra)
        self.kernel = int(stem_kernel)
        self.rc_filters = bool(rc_filters)
        # PyTorch's Conv1d initialisation (Kaiming-uniform weights and bias)
        init = nn.Conv1d(4, int(channels), self.kernel)
        self.filters = nn.Parameter(init.weight.detach().clone())  # (C, 4, K)
        self.filter_bias = nn.Parameter(init.bias.detach().clone())  # (C,)
        self.n_scores = 2 * int(channels) if self.rc_filters else int(channels)
        s = self.n_scores
        self.bin = bin_width(self.length, int(position_bins)) if position_bins else 0
        self.n_bins = n_bin_centres(self.length, self.bin) if self.bin else 0
        if self.bin:
            self.register_buffer("frac", torch.arange(self.bin, dtype=torch.float32) / self.bin, persistent=False)
            self.position = nn.Parameter(torch.zeros(s, self.n_bins))
        else:
            self.position = None
        # count threshold tau = softplus(tau_raw) > 0 (starts at about 1)
        self.tau_raw = nn.Parameter(torch.full((s,), 0.5))
        init_lin = nn.Linear(len(POOLS) * s, 1)
        self.readout = nn.Parameter(init_lin.weight.detach()[0].clone())  # (3S,)
        self.bias = nn.Parameter(torch.zeros(()))
        self.drop = nn.Dropout(float(dropout))
        self.context = None
        if context_channels and self.bin:
            cc = int(context_channels)
            depth = max(1, math.ceil(math.log2(self.n_bins / 2 + 1)))
            self.context = nn.ModuleDict(
                {
                    "inp": nn.Conv1d(s, cc, 1),
                    "blocks": nn.ModuleList([_ContextBlock(cc, 2**i, float(dropout)) for i in range(depth)]),
                    "norm": nn.GroupNorm(1, cc),
                    "out": nn.Conv1d(cc, s, 1),
                }
            )
            # the context starts silent: gains are 1 + position profile until it learns something
            nn.init.zeros_(self.context["out"].weight)
            nn.init.zeros_(self.context["out"].bias)
        self.n_pairs = int(pair_channels)
        self.pair_span = int(pair_span)
        if self.n_pairs:
            # site evidence of all filters -> n_pairs mixtures (1x1, no bias: linear in the sites);
            # a forward-looking conv over pair_span bp finds "one site here and another s bp on";
            # its bias is a threshold, attributed to the base where the arrangement starts
            self.pair_mix = nn.Parameter(nn.Conv1d(s, self.n_pairs, 1).weight.detach()[..., 0].clone())  # (R, S)
            conv = nn.Conv1d(self.n_pairs, self.n_pairs, self.pair_span)
            self.pair_filters = nn.Parameter(conv.weight.detach().clone())  # (R, R, span)
            self.pair_bias = nn.Parameter(conv.bias.detach().clone() - 0.5)  # (R,) starts as a threshold
            self.pair_readout = nn.Parameter(torch.zeros(self.n_pairs))  # starts silent
        self.kmer_ks = tuple(int(k) for k in kmer_prior)
        for k in self.kmer_ks:  # filled by set_kmer_prior before training; saved with the weights
            self.register_buffer(f"kmer_table_{k}", torch.zeros(4**k))
        self.register_buffer("kmer_const", torch.zeros(()))
        # the prior's weight in the prediction, learned with the network (starts at 1: the ridge as fitted)
        self.kmer_scale = nn.Parameter(torch.ones(())) if self.kmer_ks else None
        n_pooled = len(POOLS) * s + self.n_pairs
        if self.n_extra:
            self.extra_norm = nn.LayerNorm(n_pooled)
            self.extra_net = nn.Sequential(
                nn.Linear(n_pooled + self.n_extra, 32),
                nn.GELU(),
                nn.Linear(32, self.n_extra),
            )
        else:
            self.extra_net = None

    # ------------------------------------------------------------------ pieces

    def init_bias(self, value: float) -> None:
        """Set the scalar bias (e.g. to the mean training label before fitting)."""
        with torch.no_grad():
            self.bias.fill_(float(value))

    def set_kmer_prior(self, tables: list, const: float) -> None:
        """Fill the frozen k-mer tables (``(4**k,)`` per size of ``kmer_prior``) and their constant."""
        if len(tables) != len(self.kmer_ks):
            raise ValueError(f"{len(tables)} k-mer tables for k-mer sizes {self.kmer_ks}")
        with torch.no_grad():
            for k, t in zip(self.kmer_ks, tables, strict=True):
                getattr(self, f"kmer_table_{k}").copy_(torch.as_tensor(t, dtype=torch.float32))
            self.kmer_const.fill_(float(const))

    def _kmer_windows(self, x: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(index (B, W) int64, ok (B, W) float, base (B, L) float)`` of the ``W = L - k + 1`` k-mer windows."""
        digits = torch.arange(4, dtype=x.dtype, device=x.device)
        base = (x * digits[None, :, None]).sum(1)  # (B, L) base code, 0 at N
        place = 4.0 ** torch.arange(k - 1, -1, -1, dtype=x.dtype, device=x.device)
        index = F.conv1d(base[:, None], place[None, None]).squeeze(1).round().long()
        ok = F.conv1d(x.sum(1, keepdim=True), torch.ones(1, 1, k, dtype=x.dtype, device=x.device)).squeeze(1) > k - 0.5
        return index, ok.to(x.dtype), base

    def _kmer_total(self, x: Tensor) -> Tensor:
        """``(B,)``: the k-mer prior without its constant."""
        total = torch.zeros(x.shape[0], dtype=torch.float32, device=x.device)
        for k in self.kmer_ks:
            if x.shape[-1] < k:
                continue
            index, ok, _ = self._kmer_windows(x.float(), k)
            values = getattr(self, f"kmer_table_{k}")[index] * ok
            total = total + values.sum(1) / ok.sum(1).clamp_min(1)
        return total

    def _kmer_weights(self, x: Tensor) -> Tensor:
        """``(B, 4, L)``: each base's share of the k-mer windows over it, ``b`` put at ``i`` (see module docstring)."""
        x = x.float()
        weights = torch.zeros_like(x)
        for k in self.kmer_ks:
            if x.shape[-1] < k:
                continue
            index, ok, base = self._kmer_windows(x, k)
            table = getattr(self, f"kmer_table_{k}")
            n_win = index.shape[1]
            scale = ok / (k * ok.sum(1, keepdim=True).clamp_min(1))  # (B, W)
            offsets = torch.arange(4, device=x.device)[None, :, None]
            for t in range(k):  # the base at offset t of window p sits at i = p + t
                place = 4 ** (k - 1 - t)
                here = base[:, t : t + n_win].round().long()
                swapped = (index - place * here)[:, None, :] + place * offsets  # (B, 4, W)
                weights[..., t : t + n_win] += table[swapped] * scale[:, None, :]
        return weights

    def intercept(self) -> Tensor:
        """The scalar bias of the prediction: the learned bias plus the k-mer prior's constant (times its weight)."""
        if self.kmer_ks:
            return self.bias.float() + self.kmer_scale * self.kmer_const
        return self.bias.float()

    def receptive_field(self) -> int:
        """Largest distance (bp) over which two sites' joint effect can depend on their spacing.

        Without a context network that is two overlapping filter windows (``2K - 1``): ``max`` and
        ``count`` couple sites of one filter wherever they are (so their interaction does not change
        with the spacing), and the position profile depends on where a site is, not on its partner.
        With a context network it is the whole input.
        """
        return self.length if self.context is not None else 2 * self.kernel - 1

    def stem_weight(self) -> Tensor:
        """``(S, 4, K)`` filters with the bias folded in (``t / K`` on every base), reverse complements appended."""
        w = self.filters + self.filter_bias[:, None, None] / self.kernel
        return torch.cat([w, w.flip(1).flip(2)], 0) if self.rc_filters else w

    def _tau(self) -> Tensor:
        return F.softplus(self.tau_raw)[:, None]  # (S, 1)

    def _gains(self, mean_bins: Tensor) -> Tensor:
        """``(B or 1, S, nb)`` gains: 1 + position profile (+ context of the binned ``mean`` evidence)."""
        g = 1 + self.position[None]
        if self.context is not None:
            c = self.context["inp"](mean_bins / self.bin)
            for block in self.context["blocks"]:
                c = block(c)
            g = g + self.context["out"](F.gelu(self.context["norm"](c)))
        return g

    def _pooled(self, x: Tensor) -> tuple[Tensor, dict]:
        """Pooled values ``(B, 3S)`` (max, mean, count per score channel) and what explaining needs."""
        weight = self.stem_weight()
        z = F.conv1d(x, weight, padding=self.kernel // 2)  # (B, S, L), linear in x
        h = F.relu(z)
        top, idx = h.max(-1)
        counted = (z - self._tau()).clamp(0, 1)
        aux = {"weight": weight, "z": z, "idx": idx, "gain": None}
        if self.bin:
            mean_bins = hat_pool(h, self.bin, self.frac)
            count_bins = hat_pool(counted, self.bin, self.frac)
            gain = self._gains(mean_bins)
            aux["gain"] = gain
            mean = (mean_bins * gain).sum(-1)
            count = (count_bins * gain).sum(-1)
        else:
            mean, count = h.sum(-1), counted.sum(-1)
        parts = [top, mean / self.length, count]
        if self.n_pairs:
            parts.append(self._pairs(x, h, aux))
        return torch.cat(parts, 1), aux

    def _pairs(self, x: Tensor, h: Tensor, aux: dict) -> Tensor:
        """``(B, R)``: the strongest arrangement of each pair detector (``max_j relu(r_j)``)."""
        mixed = torch.einsum("rs,bsl->brl", self.pair_mix, h)  # (B, R, L)
        present = x.sum(1, keepdim=True)  # (B, 1, L): 1 at a base, 0 at N
        r = F.conv1d(F.pad(mixed, (0, self.pair_span - 1)), self.pair_filters) + self.pair_bias[:, None] * present
        top, idx = F.relu(r).max(-1)
        aux["pair_r"], aux["pair_idx"] = r, idx
        return top

    def _extra(self, pooled: Tensor, extra: Tensor | None) -> Tensor | None:
        if self.extra_net is None:
            return None
        if extra is None:
            raise ValueError(f"this model uses {self.n_extra} extra features; none were given")
        v = self.extra_net(torch.cat([self.extra_norm(pooled), extra.to(pooled.dtype)], 1))
        return extra.float() * v.float()  # (B, F)

    def _readout(self) -> Tensor:
        return torch.cat([self.readout, self.pair_readout]) if self.n_pairs else self.readout

    def _pair_gates(self, aux: dict) -> tuple[Tensor, Tensor]:
        """The pair detectors' share of the gate map ``(B, S, L)`` and of the per-position constant ``(B, L)``.

        A detector's pooled value is ``relu(r_q)`` at its strongest position ``j*``, with
        ``r_q = sum_{r,k} Q_{q,r,k} mix_{r,j*+k} + beta_q``; ``mix = P h`` and ``h = active * z``, so it
        is ``sum (dr/dh) active z + beta_q`` at ``j*``: the first part joins the gates, ``beta_q``
        (times the readout) goes to the base at ``j*``.
        """
        z, r, idx = aux["z"], aux["pair_r"], aux["pair_idx"]
        b, _, length = z.shape
        on = (r.gather(2, idx[..., None])[..., 0] > 0).to(z.dtype) * self.pair_readout  # (B, R)
        at = torch.zeros_like(r)
        at.scatter_(2, idx[..., None], on[..., None])
        # back through the forward-looking conv (its adjoint) and the channel mix
        d_mixed = F.conv_transpose1d(at, self.pair_filters)[..., :length]  # (B, R, L)
        d_h = torch.einsum("rs,brl->bsl", self.pair_mix, d_mixed)
        const = (at * self.pair_bias[None, :, None]).sum(1)  # (B, L)
        return d_h * (z > 0).to(z.dtype), const

    def gate_map(self, aux: dict) -> Tensor:
        """``G (B, S, L)``: the readout-weighted gates with ``prediction - bias - extra = sum(G * z)``."""
        z = aux["z"]
        s, length = self.n_scores, self.length
        r_max, r_mean, r_count = self.readout.view(len(POOLS), s)
        active = (z > 0).to(z.dtype)
        g = torch.zeros_like(z)
        g.scatter_(2, aux["idx"][..., None], r_max[None, :, None].expand(z.shape[0], -1, 1).contiguous())
        g = g * active
        tau = self._tau()
        count_gate = torch.where(z > tau, (z - tau).clamp(0, 1) / z.clamp_min(1e-12), torch.zeros_like(z))
        binned = (r_mean / length)[None, :, None] * active + r_count[None, :, None] * count_gate
        if aux["gain"] is not None:
            binned = binned * hat_up(aux["gain"], self.bin, self.frac, length)
        return g + binned

    # ------------------------------------------------------------------ forward

    def forward(self, x: Tensor, extra: Tensor | None = None, explain: bool | None = None) -> CROutput:
        """``x``: ``(B, 4, L)`` float one-hot; ``extra``: ``(B, F)`` or ``None``.

        ``explain`` (default: not training) also returns contributions and weights, and then the
        prediction is their exact sum; without it the prediction comes from the pooled values
        (the same number up to float rounding, at a fraction of the cost), with dropout in training.
        """
        explain = (not self.training) if explain is None else bool(explain)
        pooled, aux = self._pooled(x)
        bias = self.intercept().expand(x.shape[0])
        extra_contrib = self._extra(pooled, extra)
        if not explain:
            pred = self.drop(pooled) @ self._readout() + bias
            if self.kmer_ks:
                pred = pred + self.kmer_scale * self._kmer_total(x)
            if extra_contrib is not None:
                pred = pred + extra_contrib.sum(1)
            return CROutput(pred, None, extra_contrib, bias)
        gates = self.gate_map(aux)
        const = None
        if self.n_pairs:
            pair_gates, const = self._pair_gates(aux)
            gates = gates + pair_gates
        weights = F.conv_transpose1d(gates, aux["weight"], padding=self.kernel // 2)  # (B, 4, L)
        if const is not None:  # a constant at a base is the same weight for each of the four bases
            weights = weights + const[:, None, :]
        if self.kmer_ks:
            weights = weights + self.kmer_scale * self._kmer_weights(x)
        contributions = (weights.float() * x.float()).sum(1)  # (B, L)
        pred = contributions.sum(1) + bias
        if extra_contrib is not None:
            pred = pred + extra_contrib.sum(1)
        return CROutput(pred, contributions, extra_contrib, bias, weights)

    @staticmethod
    def l1_penalty(out: CROutput) -> Tensor:
        """Per-gene L1 norm of the contributions, ``sum_i |w_i(x) . x_i|``, averaged over the batch.

        Needs an output with contributions (``explain=True``). Summing (not averaging) over
        positions keeps it on the scale of the label whatever ``L`` is.
        """
        if out.contributions is None:
            raise ValueError("the L1 penalty needs contributions: run the model with explain=True")
        return out.contributions.abs().sum(1).mean()
