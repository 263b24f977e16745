"""The one batched inference primitive: every stage that runs a trained model goes through here.

Prediction (:mod:`promoter_cr.models.predict`, training's final predictions), weighted-feature
export (:mod:`promoter_cr.interpret.attribute`), ISM (:mod:`promoter_cr.interpret.faithfulness`),
in-silico experiments and variant effects feed batches of uint8 codes ``(B, L)`` (A=0 C=1 G=2
T=3 N=4) to a :class:`Predictor` (model, device, batch size, progress); the one-hot
``(B, 4, L)`` float32 is made on the device, so only bytes cross the host/device boundary, and
no caller holds more than one batch of one-hot.

What is computed is chosen by ``what`` (the hook): ``"prediction"`` always; ``"contributions"``
(CR weighted features ``(B, L)``), ``"weights"`` (CR contextual weights ``w(x)``, the
hypothetical contributions, ``(B, 4, L)``), ``"extra"`` (contributions of extra features
``(B, F)``) and the bias. Non-CR models give predictions only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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


def row_blocks(rows: np.ndarray, batch_size: int) -> Iterator[tuple[slice, np.ndarray]]:
    """``(output slice, row indices)`` of consecutive batches of ``batch_size`` over ``(n,)`` ``rows``."""
    for s in range(0, len(rows), batch_size):
        sl = slice(s, min(s + batch_size, len(rows)))
        yield sl, rows[sl]


@dataclass
class Predictor:
    """A trained model bound to its device, batch size and progress display: every inference runs here.

    ``model``: a torch module (a CR model returns a ``CROutput``, any other a ``(B,)`` tensor);
    ``device``: a ``torch.device``, a device string, or ``None``/``"auto"``
    (:func:`promoter_cr.runtime.resolve_device`); ``batch_size``: rows per forward pass (>= 1);
    ``progress``: show a progress bar over the batches. Extra features are data, so they are
    given per call. The model is moved to the device and put in eval mode once, here.
    """

    model: Any
    device: Any = None
    batch_size: int = 256
    progress: bool = False

    def __post_init__(self) -> None:
        from promoter_cr.runtime import resolve_device

        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        self.batch_size = int(self.batch_size)
        self.device = resolve_device(self.device)
        self.model = self.model.to(self.device).eval()

    @property
    def is_cr(self) -> bool:
        """Whether the model is a Contextual Regression model (weighted features exist)."""
        from promoter_cr.models.cr import CRModel

        return isinstance(self.model, CRModel)

    def batches(
        self,
        codes: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        extra: np.ndarray | None = None,
        what: Iterable[str] = ("prediction",),
        mutate: Callable | None = None,
        pad: bool = False,
        desc: str = "predict",
    ) -> Iterator[tuple[slice, BatchOutput]]:
        """Batches of model outputs over rows of ``(N, L)`` uint8 ``codes`` (a memmap is read per batch).

        Parameters
        ----------
        rows
            ``(n,)`` rows of ``codes`` in output order (default: all); rows may repeat.
        extra
            ``(N, F)`` float32 extra features of all rows (models trained with them), or ``None``.
        what
            Outputs to return besides the prediction (:data:`WHAT`).
        mutate
            Optional hook ``mutate(codes_block, sl) -> codes_block``: edits the ``(B, L)`` uint8
            tensor (on the device) of output slice ``sl`` before the forward pass (ISM mutants,
            inserted motifs, variant alleles), e.g. :meth:`promoter_cr.insilico.edits.EditPlan.hook`.
        pad
            Every batch exactly ``batch_size`` rows: the last is padded with copies of the last row
            (outputs dropped; ``mutate`` may see slices reaching past ``n`` and must leave those
            rows alone), so a row's prediction never depends on how many others share the call.

        Yields ``(output slice, BatchOutput)``; the slice indexes the ``n`` selected rows.
        """
        import torch

        all_rows = np.arange(len(codes)) if rows is None else np.asarray(rows, dtype=np.int64)
        n = len(all_rows)
        if n == 0:
            return
        short = (-n) % self.batch_size if pad else 0
        if short:
            all_rows = np.concatenate([all_rows, np.repeat(all_rows[-1:], short)])
        blocks = row_blocks(all_rows, self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            blocks = tqdm(blocks, total=-(-len(all_rows) // self.batch_size), desc=desc, unit="batch", mininterval=10)
        for sl, r in blocks:
            block = torch.from_numpy(np.ascontiguousarray(codes[r], dtype=np.uint8)).to(self.device)
            h = None if extra is None else torch.from_numpy(np.ascontiguousarray(extra[r], dtype=np.float32))
            if mutate is not None:
                block = mutate(block, sl)
            out = forward_codes(self.model, block, None if h is None else h.to(self.device), what)
            stop = min(sl.stop, n)
            yield (sl, out) if stop == sl.stop else (slice(sl.start, stop), _trim(out, stop - sl.start))

    def predict(
        self,
        codes: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        extra: np.ndarray | None = None,
        contributions_out: np.ndarray | None = None,
        desc: str = "predict",
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions ``(n,)`` float64 of the selected rows, and the CR bias ``(n,)`` (else ``None``).

        ``contributions_out``: optional ``(n, L)`` array (e.g. a memmap) filled with the CR weighted
        features batch by batch, cast to its dtype.
        """
        n = len(codes) if rows is None else len(rows)
        pred = np.empty(n, dtype=np.float64)
        bias = None
        what = ("prediction", "contributions") if contributions_out is not None else ("prediction",)
        for sl, out in self.batches(codes, rows=rows, extra=extra, what=what, desc=desc):
            pred[sl] = out.prediction
            if out.bias is not None:
                if bias is None:
                    bias = np.empty(n, dtype=np.float64)
                bias[sl] = out.bias
            if contributions_out is not None:
                contributions_out[sl] = out.contributions.astype(contributions_out.dtype, copy=False)
        return pred, bias


def _trim(out: BatchOutput, n: int) -> BatchOutput:
    """The first ``n`` rows of a batch's outputs (a padded last batch)."""

    def cut(a):
        return None if a is None else a[:n]

    return BatchOutput(
        prediction=out.prediction[:n],
        bias=cut(out.bias),
        contributions=cut(out.contributions),
        weights=cut(out.weights),
        extra=cut(out.extra),
    )
