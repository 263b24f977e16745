"""CR model, plain CNN and Xpresso CNN: exact decomposition, hand-set weights, shapes, shift stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _model_fixtures import arch, make_network

from promoter_cr.config import model_defaults
from promoter_cr.models.cnn import PlainCNN
from promoter_cr.models.cr import CRModel, CROutput, bin_width, hat_pool, hat_up, n_bin_centres
from promoter_cr.models.xpresso import XpressoCNN, _adapt_pools
from promoter_cr.seq.encoding import encode, one_hot_torch

torch.set_num_threads(1)


def _onehot(n: int, length: int, seed: int = 0, n_frac: float = 0.05) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    codes[rng.random((n, length)) < n_frac] = 4  # some N
    return one_hot_torch(torch.from_numpy(codes))


def _randomise(model: CRModel, seed: int = 0) -> CRModel:
    """Non-trivial readout, position profile and context, so every path carries weight."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.readout.copy_(torch.randn(model.readout.shape, generator=g))
        if model.position is not None:
            model.position.copy_(0.3 * torch.randn(model.position.shape, generator=g))
        if model.context is not None:
            out = model.context["out"].weight
            out.copy_(0.1 * torch.randn(out.shape, generator=g))
        model.init_bias(0.7)
    return model


@pytest.mark.parametrize(
    "length,kw",
    [
        (120, {}),
        (300, {"rc_filters": False}),
        (1000, {"context_channels": 8}),
        (5000, {}),
        (301, {"position_bins": 0}),
        (80, {"context_channels": 4}),
    ],
)
def test_decomposition_exact_without_extra(length, kw):
    torch.manual_seed(0)
    model = _randomise(CRModel(length, 0, **arch("cr", channels=8, stem_kernel=7, **kw))).eval()
    x = _onehot(5, length)
    out = model(x)
    assert isinstance(out, CROutput)
    assert out.prediction.shape == (5,) and out.contributions.shape == (5, length) and out.bias.shape == (5,)
    assert out.weights.shape == (5, 4, length) and out.extra_contributions is None
    torch.testing.assert_close(out.contributions.sum(1) + out.bias, out.prediction, rtol=0, atol=1e-5)
    assert torch.all(out.bias == 0.7)
    # N positions contribute exactly nothing
    n_pos = x.sum(1) == 0
    assert n_pos.any() and torch.all(out.contributions[n_pos] == 0)
    # the cheap training-time form (pooled values) gives the same prediction
    cheap = model(x, explain=False).prediction
    torch.testing.assert_close(cheap, out.prediction, rtol=1e-5, atol=1e-4)


def test_decomposition_exact_with_extra():
    torch.manual_seed(1)
    model = _randomise(CRModel(200, 3, **arch("cr", channels=8, stem_kernel=5))).eval()
    x = _onehot(4, 200)
    h = torch.randn(4, 3)
    out = model(x, h)
    assert out.extra_contributions.shape == (4, 3)
    total = out.contributions.sum(1) + out.extra_contributions.sum(1) + out.bias
    torch.testing.assert_close(total, out.prediction, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="extra features"):
        model(x)


def test_hand_set_filter_counts_sites():
    """One filter matching TGACGTCA exactly (score 8, threshold 7.5): count and max read one site each."""
    model = CRModel(60, 0, **arch("cr", channels=1, stem_kernel=8, rc_filters=False, position_bins=0)).eval()
    motif = encode("TGACGTCA")
    with torch.no_grad():
        model.filters.zero_()
        model.filters[0, torch.from_numpy(motif).long(), torch.arange(8)] = 1.0
        model.filter_bias.fill_(-7.0)  # z = matches - 7: 1 at a full site, <= 0 elsewhere
        model.tau_raw.fill_(math.log(math.expm1(0.5)))  # tau = 0.5: clamp(z - 0.5, 0, 1) = 0.5 at a site
        model.readout.copy_(torch.tensor([2.0, 0.0, 4.0]))  # max, mean, count
        model.init_bias(-1.0)
    seq = list("A" * 60)
    for start in (5, 30):
        seq[start : start + 8] = "TGACGTCA"
    out = model(one_hot_torch(torch.from_numpy(encode("".join(seq)))[None]))
    # max: 2 * 1; count: 4 * (0.5 + 0.5); bias -1
    assert out.prediction.item() == pytest.approx(2.0 + 4.0 - 1.0, abs=1e-5)
    contrib = out.contributions[0].detach().numpy()
    # every bit of credit sits on the two sites' bases
    assert abs(contrib[5:13].sum() + contrib[30:38].sum() - 6.0) < 1e-5
    assert np.abs(np.delete(contrib, np.r_[5:13, 30:38])).max() < 1e-6


def test_hat_pool_is_adjoint_of_hat_up_and_a_partition_of_unity():
    for length, bins in [(1000, 32), (110, 32), (10500, 32), (999, 7), (80, 32), (50, 64)]:
        d = bin_width(length, bins)
        nb = n_bin_centres(length, d)
        frac = torch.arange(d, dtype=torch.float32) / d
        h = torch.randn(2, 3, length, dtype=torch.float64)
        g = torch.randn(2, 3, nb, dtype=torch.float64)
        lhs = (hat_pool(h, d, frac.double()) * g).sum()
        rhs = (h * hat_up(g, d, frac.double(), length)).sum()
        assert float(lhs - rhs) == pytest.approx(0.0, abs=1e-9)
        ones = hat_up(torch.ones(1, 1, nb, dtype=torch.float64), d, frac.double(), length)
        torch.testing.assert_close(ones, torch.ones_like(ones))


def test_bin_width_prefers_divisors():
    assert bin_width(1000, 32) == 25 and bin_width(10500, 32) == 350
    assert bin_width(30, 32) == 1
    assert 1000 % bin_width(1000, 32) == 0


def test_l1_penalty_is_l1_norm_of_contributions():
    model = _randomise(CRModel(40, 0, **arch("cr", channels=4, stem_kernel=3))).eval()
    out = model(_onehot(3, 40))
    assert CRModel.l1_penalty(out).item() == pytest.approx(out.contributions.abs().sum(1).mean().item())
    with pytest.raises(ValueError, match="explain"):
        CRModel.l1_penalty(model.train()(_onehot(3, 40)))


def test_gradients_reach_filters_in_training_mode():
    torch.manual_seed(0)
    model = CRModel(64, 0, **arch("cr", channels=4, stem_kernel=3)).train()
    out = model(_onehot(3, 64))
    assert out.contributions is None
    out.prediction.sum().backward()
    assert model.filters.grad is not None and model.filters.grad.abs().sum() > 0


def test_one_bp_shift_keeps_contributions():
    """Shift the input by 1 bp: the aligned contributions of a model with position gains barely change."""
    torch.manual_seed(3)
    length = 2000
    model = _randomise(CRModel(length, 0, **arch("cr", channels=8, stem_kernel=9, context_channels=4))).eval()
    g = torch.Generator().manual_seed(5)  # the k-mer prior too (translation-equivariant, bar the ends)
    model.set_kmer_prior([0.1 * torch.randn(4**k, generator=g) for k in model.kmer_ks], 0.0)
    x = _onehot(4, length + 1, n_frac=0.0)
    a = model(x[..., :length]).contributions
    b = model(x[..., 1:]).contributions
    aligned_a, aligned_b = a[:, 1 + 50 : -50], b[:, 50:-51]  # position j of a is j - 1 of b
    for i in range(4):
        r = np.corrcoef(aligned_a[i].detach().numpy(), aligned_b[i].detach().numpy())[0, 1]
        assert r > 0.95


@pytest.mark.parametrize("length", [110, 600, 2048])
def test_xpresso_cnn_shapes(length):
    model = XpressoCNN(length, 2, **arch("xpresso_cnn", conv1_filters=8, conv2_filters=4, dense1=8)).eval()
    y = model(_onehot(3, length), torch.zeros(3, 2))
    assert y.shape == (3,) and torch.isfinite(y).all()
    if length >= 600:
        assert (model.pool1, model.pool2) == (30, 10)  # published pools kept


def test_plain_cnn_is_max_and_mean_of_one_conv():
    model = PlainCNN(50, 0, **arch("cnn", filters=3, kernel=5)).eval()
    x = _onehot(2, 50)
    h = torch.relu(model.conv(x))
    expected = model.head(torch.cat([h.amax(-1), h.mean(-1)], 1)).squeeze(-1)
    torch.testing.assert_close(model(x), expected)
    with pytest.raises(ValueError, match="shorter"):
        PlainCNN(4, 0, **arch("cnn", kernel=5))


def test_adapt_pools():
    assert _adapt_pools(10500, 6, 30, 9, 10) == (30, 10)
    p1, p2 = _adapt_pools(110, 6, 30, 9, 10)
    assert ((110 - 5) // p1 - 8) // p2 >= 1
    with pytest.raises(ValueError, match="too short"):
        _adapt_pools(10, 6, 30, 9, 10)


def test_build_model_defaults_from_config():
    m = make_network("cr", 100, channels=6)
    assert isinstance(m, CRModel) and m.filters.shape[0] == 6 and m.n_scores == 12
    m = make_network("xpresso_cnn", 600, 8)
    assert isinstance(m, XpressoCNN) and m.n_extra == 8
    assert isinstance(make_network("cnn", 100), PlainCNN)


def _with_prior(length: int, ks: list[int], seed: int = 0) -> CRModel:
    model = _randomise(CRModel(length, 0, **arch("cr", channels=4, stem_kernel=5, kmer_prior=ks)), seed).eval()
    g = torch.Generator().manual_seed(seed + 1)
    model.set_kmer_prior([torch.randn(4**k, generator=g) for k in ks], 0.25)
    with torch.no_grad():
        model.kmer_scale.fill_(0.7)  # the learned weight of the prior
    return model


def test_kmer_prior_keeps_the_decomposition_exact():
    """With a k-mer prior (N in the input too): contributions + bias == prediction == the training-mode prediction."""
    model = _with_prior(90, [1, 3, 4])
    x = _onehot(6, 90, n_frac=0.1)
    with torch.no_grad():
        out = model(x)
        fast = model(x, explain=False)
    torch.testing.assert_close(out.contributions.sum(1) + out.bias, out.prediction, rtol=0, atol=1e-5)
    torch.testing.assert_close(fast.prediction, out.prediction, rtol=0, atol=1e-5)
    # the contributions are the weights of the bases present, N positions contribute nothing
    torch.testing.assert_close((out.weights * x).sum(1), out.contributions, rtol=0, atol=1e-6)
    assert torch.all(out.contributions[x.sum(1) == 0] == 0)
    # the prior is a real part of the prediction: without it the prediction moves
    model.set_kmer_prior([torch.zeros(4**k) for k in (1, 3, 4)], 0.0)
    with torch.no_grad():
        assert (model(x).prediction - out.prediction).abs().max() > 1e-2


def test_kmer_prior_hypothetical_weights_are_substitution_effects_for_single_bases():
    """k = 1: a base's weight minus the present base's weight is exactly what substituting it changes."""
    model = _with_prior(50, [1])
    with torch.no_grad():
        model.readout.zero_()  # the prior alone
        x = _onehot(1, 50, n_frac=0.0)
        out = model(x)
        i, present = 17, int(x[0, :, 17].argmax())
        for b in range(4):
            y = x.clone()
            y[0, :, i] = 0
            y[0, b, i] = 1
            change = model(y).prediction - out.prediction
            torch.testing.assert_close(change[0], out.weights[0, b, i] - out.weights[0, present, i], rtol=0, atol=1e-6)


def test_kmer_prior_offset_replaces_the_fit_by_the_leave_one_out_value_on_training_rows():
    """Training predictions get kmer_scale * (loo - fit)[row]; validation predictions do not."""
    from promoter_cr.models.lit import PromoterLitModule

    cfg = {**model_defaults("cr"), "name": "cr", "channels": 4, "stem_kernel": 5, "kmer_prior": [2], "seed": 0}
    offset = np.array([0.0, 2.0, -1.0, 0.0])
    module = PromoterLitModule(cfg, 30, 0, prior_offset=offset)
    with torch.no_grad():
        module.model.kmer_scale.fill_(0.5)
    module.model.eval()
    x = _onehot(4, 30, n_frac=0.0)
    batch = (x, torch.zeros(4), torch.zeros(4, 0), torch.tensor([0, 1, 2, 3]))
    with torch.no_grad():
        _, _, train_pred = module._step(batch, training=True)
        _, _, valid_pred = module._step(batch)
    torch.testing.assert_close(train_pred - valid_pred, torch.tensor([0.0, 1.0, -0.5, 0.0]))
