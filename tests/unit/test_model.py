"""CR model and Xpresso CNN: exact decomposition, hand-set weights, shapes, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _model_fixtures import arch, make_network

from promoter_cr.data.encoding import encode, one_hot_torch
from promoter_cr.models.cr import CRModel, CROutput, auto_downsample
from promoter_cr.models.xpresso import XpressoCNN, _adapt_pools

torch.set_num_threads(1)


def _onehot(n: int, length: int, seed: int = 0, n_frac: float = 0.05) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    codes[rng.random((n, length)) < n_frac] = 4  # some N
    return one_hot_torch(torch.from_numpy(codes))


@pytest.mark.parametrize(
    "length,downsample,stem_channels",
    [(120, None, None), (300, 7, None), (5000, None, None), (300, None, 16), (300, 5, 16)],
)
def test_decomposition_exact_without_extra(length, downsample, stem_channels):
    torch.manual_seed(0)
    model = CRModel(
        length,
        0,
        **arch("cr", channels=8, n_layers=3, stem_kernel=7, downsample=downsample, stem_channels=stem_channels),
    ).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 0.1)  # make the weights non-trivial
        model.init_bias(0.7)
    x = _onehot(5, length)
    out = model(x)
    assert isinstance(out, CROutput)
    assert out.prediction.shape == (5,) and out.contributions.shape == (5, length) and out.bias.shape == (5,)
    assert out.extra_contributions is None
    torch.testing.assert_close(out.contributions.sum(1) + out.bias, out.prediction, rtol=0, atol=1e-5)
    assert torch.all(out.bias == 0.7)
    # N positions contribute exactly nothing
    n_pos = x.sum(1) == 0
    assert n_pos.any() and torch.all(out.contributions[n_pos] == 0)


def test_decomposition_exact_with_extra():
    torch.manual_seed(1)
    model = CRModel(200, 3, **arch("cr", channels=8, n_layers=2, stem_kernel=5)).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 0.1)
    x = _onehot(4, 200)
    h = torch.randn(4, 3)
    out = model(x, h)
    assert out.extra_contributions.shape == (4, 3)
    total = out.contributions.sum(1) + out.extra_contributions.sum(1) + out.bias
    torch.testing.assert_close(total, out.prediction, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="extra features"):
        model(x)


def test_hand_set_weights_give_count_weighted_sum():
    """Head weights 0 and head bias c: w(x) = c at every position, so y = sum_b count_b * c_b + bias."""
    model = CRModel(50, 0, **arch("cr", channels=4, n_layers=2, stem_kernel=3), weight_scale=1.0).eval()
    c = torch.tensor([1.0, -2.0, 0.5, 3.0])
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(c)
        model.init_bias(-1.25)
    seq = "ACGTN" * 10
    x = one_hot_torch(torch.from_numpy(encode(seq))[None])
    out = model(x)
    counts = {b: seq.count(b) for b in "ACGT"}
    expected = sum(counts[b] * float(c[i]) for i, b in enumerate("ACGT")) - 1.25
    assert out.prediction.item() == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(out.contributions[0, :5].detach().numpy(), [1.0, -2.0, 0.5, 3.0, 0.0])


def test_hand_set_extra_weights():
    model = CRModel(30, 2, **arch("cr", channels=4, n_layers=1, stem_kernel=3), weight_scale=1.0).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        last = model.extra_net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([2.0, -1.0]))
    x = _onehot(1, 30)
    out = model(x, torch.tensor([[0.5, 4.0]]))
    np.testing.assert_allclose(out.extra_contributions.detach().numpy(), [[1.0, -4.0]])
    assert out.prediction.item() == pytest.approx(-3.0)


def test_l1_penalty_is_l1_norm_of_contributions():
    model = CRModel(40, 0, **arch("cr", channels=4, n_layers=1, stem_kernel=3), weight_scale=0.5).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([1.0, -1.0, 2.0, 0.0]))
    x = one_hot_torch(torch.from_numpy(encode("ACGT" * 10))[None])
    out = model(x)
    assert CRModel.l1_penalty(out).item() == pytest.approx(0.5 * (1 + 1 + 2 + 0) * 10)


def test_auto_downsample_and_receptive_field():
    assert auto_downsample(600) == 1 and auto_downsample(2048) == 1
    assert auto_downsample(10500) == 21 or auto_downsample(10500) == 20
    m = CRModel(600, 0, **arch("cr", channels=4, n_layers=8, kernel_size=3, stem_kernel=15))
    assert m.downsample == 1 and m.receptive_field() >= 500
    m = CRModel(10500, 0, **arch("cr", channels=4, n_layers=8))
    assert m.receptive_field() >= 5000


def test_gradients_reach_encoder():
    torch.manual_seed(0)
    model = CRModel(64, 0, **arch("cr", channels=4, n_layers=2, stem_kernel=3))
    out = model(_onehot(3, 64))
    (out.prediction.sum() + CRModel.l1_penalty(out)).backward()
    assert model.stem.weight.grad is not None and model.stem.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("length", [110, 600, 2048])
def test_xpresso_cnn_shapes(length):
    model = XpressoCNN(length, 2, **arch("xpresso_cnn", conv1_filters=8, conv2_filters=4, dense1=8)).eval()
    y = model(_onehot(3, length), torch.zeros(3, 2))
    assert y.shape == (3,) and torch.isfinite(y).all()
    if length >= 600:
        assert (model.pool1, model.pool2) == (30, 10)  # published pools kept


def test_adapt_pools():
    assert _adapt_pools(10500, 6, 30, 9, 10) == (30, 10)
    p1, p2 = _adapt_pools(110, 6, 30, 9, 10)
    assert ((110 - 5) // p1 - 8) // p2 >= 1
    with pytest.raises(ValueError, match="too short"):
        _adapt_pools(10, 6, 30, 9, 10)


def test_build_model_defaults_from_config():
    m = make_network("cr", 100, channels=6, n_layers=2)
    assert isinstance(m, CRModel) and m.stem.out_channels == 6 and len(m.blocks) == 2
    m = make_network("xpresso_cnn", 600, 8)
    assert isinstance(m, XpressoCNN) and m.n_extra == 8
