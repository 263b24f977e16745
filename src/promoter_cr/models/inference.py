"""The one batched inference primitive: every stage that runs a trained model goes through here.

Prediction (:mod:`promoter_cr.models.predict`, training's final predictions), weighted-feature
export (:mod:`promoter_cr.interpret.attribute`), ISM (:mod:`promoter_cr.interpret.faithfulness`),
in-silico experiments and variant effects feed batches of uint8 codes ``(B, L)`` (A=0 C=1 G=2
T=3 N=4) to :func:`run_batches`; the one-hot ``(B, 4, L)`` float32 is made on the device, so only
bytes cross the host/device boundary, and no caller holds more than one batch of one-hot.

What is computed is chosen by ``what`` (the hook): ``"prediction"`` always; ``"contributions"``
(CR weighted features ``(B, L)``), ``"weights"`` (CR contextual weights ``w(x)``, the
hypothetical contributions, ``(B, 4, L)``), ``"extra"`` (contributions of extra features
``(B, F)``) and the bias. Non-CR models give predictions only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

#: what a batch can return
WHAT = frozenset({"prediction", "contributions", "weights", "extra"})


class NotCRModelError(ValueError):
    """Weighted features or contextual weights asked of a model that has none."""


@dataclass
class BatchOutput:
    """Outputs of one batch, on the host.

    prediction ``(B,)`` float64; bias ``(B,)`` float64 (CR) or ``None``; contributions
    ``(B, L)`` float32, weights ``(B, 4, L)`` float32, extra ``(B, F)`` float64 when asked for
    (CR models), else ``None``.
    """

    prediction: np.ndarray
    bias: np.ndarray | None = None
    contributions: np.ndarray | None = None
    weights: np.ndarray | None = None
    extra: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.prediction.shape[0])


def forward_codes(model, codes, extra=None, what: Iterable[str] = ("prediction",)) -> BatchOutput:
    """Run ``model`` (eval mode, no gradients) on one batch of codes already on its device.

    ``codes``: ``(B, L)`` uint8 tensor; ``extra``: ``(B, F)`` float32 tensor or ``None``. A CR model
    returns a ``CROutput`` (prediction, contributions, extra_contributions, bias, weights); any other
    model a ``(B,)`` tensor, which gives predictions only.
    """
    import torch

    from promoter_cr.seq.encoding import one_hot_torch

    what = set(what)
    unknown = what - WHAT
    if unknown:
        raise ValueError(f"unknown output(s) {sorted(unknown)}; choose from {sorted(WHAT)}")
    with torch.inference_mode():
        out = model(one_hot_torch(codes), extra)
        if not hasattr(out, "contributions"):
            if what - {"prediction"}:
                raise NotCRModelError(
                    f"{type(model).__name__} is not a Contextual Regression model: it "
                    f"has no {', '.join(sorted(what - {'prediction'}))}"
                )
            return BatchOutput(prediction=_host(out.reshape(-1), np.float64))
        n = int(out.prediction.shape[0])
        res = BatchOutput(
            prediction=_host(out.prediction.reshape(-1), np.float64), bias=_host(out.bias.reshape(-1), np.float64)
        )
        if res.bias.size == 1 and n > 1:
            res.bias = np.full(n, res.bias[0])
        if "contributions" in what:
            res.contributions = _host(out.contributions, np.float32)
        if "extra" in what and out.extra_contributions is not None:
            res.extra = _host(out.extra_contributions.reshape(n, -1), np.float64)
        if "weights" in what:
            weights = getattr(out, "weights", None)
            if weights is None:
                raise NotCRModelError(f"{type(model).__name__} returns no contextual weights")
            res.weights = _host(weights, np.float32)
    return res


def _host(tensor, dtype) -> np.ndarray:
    """A tensor as a host array of ``dtype`` (float64 via a float64 tensor, so values match ``.double()``)."""
    import torch

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    return tensor.detach().to(tdtype).cpu().numpy()


def prediction_of(output):
    """The ``(B,)`` prediction tensor of a model output (a ``CROutput`` or a tensor), keeping gradients."""
    return getattr(output, "prediction", output).reshape(-1)


def row_blocks(codes: np.ndarray, rows: np.ndarray | None, batch_size: int) -> Iterator[tuple[slice, np.ndarray]]:
    """``(output slice, row indices)`` of consecutive batches over ``rows`` (default: all rows of ``codes``)."""
    n = len(codes) if rows is None else len(rows)
    all_rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    for s in range(0, n, max(1, int(batch_size))):
        sl = slice(s, min(s + batch_size, n))
        yield sl, all_rows[sl]


def run_batches(
    model,
    codes: np.ndarray,
    *,
    batch_size: int,
    device,
    rows: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    what: Iterable[str] = ("prediction",),
    mutate: Callable | None = None,
    progress: bool = False,
    desc: str = "predict",
) -> Iterator[tuple[slice, BatchOutput]]:
    """Batches of model outputs over rows of ``(N, L)`` uint8 ``codes`` (a memmap is read per batch).

    Parameters
    ----------
    rows
        ``(n,)`` rows of ``codes`` in output order (default: all).
    extra
        ``(N, F)`` float32 extra features of all rows (models trained with them), or ``None``.
    mutate
        Optional hook ``mutate(codes_block, sl) -> codes_block``: edits the ``(B, L)`` uint8 tensor
        (on the device) of output slice ``sl`` before the forward pass (ISM mutants, inserted
        motifs, variant alleles); rows may repeat, so one reference row can carry many edits.

    Yields ``(output slice, BatchOutput)``; the slice indexes the ``n`` selected rows.
    """
    import torch

    model = model.to(device).eval()
    n = len(codes) if rows is None else len(rows)
    blocks = row_blocks(codes, rows, batch_size)
    if progress:
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, total=(n + batch_size - 1) // max(1, batch_size), desc=desc, unit="batch", mininterval=10)
    for sl, r in blocks:
        block = torch.from_numpy(np.ascontiguousarray(codes[r], dtype=np.uint8)).to(device)
        h = None if extra is None else torch.from_numpy(np.ascontiguousarray(extra[r], dtype=np.float32)).to(device)
        if mutate is not None:
            block = mutate(block, sl)
        yield sl, forward_codes(model, block, h, what)


def predict_codes(
    model,
    codes: np.ndarray,
    *,
    batch_size: int,
    device,
    rows: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    contributions_out: np.ndarray | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions ``(n,)`` float64 of the selected rows, and the CR bias ``(n,)`` (else ``None``).

    ``contributions_out``: optional ``(n, L)`` array (e.g. a memmap) filled with the CR weighted
    features batch by batch, cast to its dtype.
    """
    n = len(codes) if rows is None else len(rows)
    pred = np.empty(n, dtype=np.float64)
    bias = None
    what = ("prediction", "contributions") if contributions_out is not None else ("prediction",)
    for sl, out in run_batches(
        model, codes, batch_size=batch_size, device=device, rows=rows, extra=extra, what=what, progress=progress
    ):
        pred[sl] = out.prediction
        if out.bias is not None:
            if bias is None:
                bias = np.empty(n, dtype=np.float64)
            bias[sl] = out.bias
        if contributions_out is not None:
            contributions_out[sl] = out.contributions.astype(contributions_out.dtype, copy=False)
    return pred, bias
