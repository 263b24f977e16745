"""The one edit mechanism: many edited copies of ``(G, L)`` uint8 windows, made on the device batch by batch.

An :class:`EditPlan` lists output rows (each a window row of the input) and the substitutions and
whole-window replacements that make them; its :meth:`EditPlan.hook` is the ``mutate`` hook of
:meth:`promoter_cr.models.inference.Predictor.batches`, which writes them into each batch of codes after
the transfer, so only the unedited windows and the small edit arrays cross to the device.
Variant effects (:mod:`promoter_cr.interpret.variants`), saturation mutagenesis and the faithfulness
ISM (:func:`promoter_cr.interpret.saturation.snv_scan`) and the motif-pair insertions
(:mod:`promoter_cr.motifs.insilico`) are compositions of it, the way tangermeme's verbs compose
``ersatz`` with one ``predict``. ``Predictor.batches(..., pad=True)`` runs a plan in batches of
exactly ``batch_size`` rows, so a row's prediction does not depend on how many others share the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def write_sites(block, rows, starts, site) -> None:
    """Write ``site`` into ``block`` in place at ``starts`` of ``rows`` (torch, on one device).

    ``block``: ``(B, L)`` uint8 tensor; ``rows``/``starts``: ``(k,)`` long tensors; ``site``:
    ``(w,)`` uint8 tensor. Equivalent to ``tangermeme.ersatz.substitute`` on the one-hot of
    each row, done for many rows and starts in one scatter.
    """
    import torch

    if rows.numel() == 0:
        return
    cols = starts[:, None] + torch.arange(site.numel(), device=block.device)[None, :]
    block[rows[:, None], cols] = site[None, :]


@dataclass
class SiteWrite:
    """One site written into many output rows: ``rows (k,)`` int64, ``starts (k,)`` int64, ``site (w,)`` uint8."""

    rows: np.ndarray
    starts: np.ndarray
    site: np.ndarray


@dataclass
class EditPlan:
    """Edits of many rows of ``(G, L)`` windows, applied on the device by the ``mutate`` hook.

    ``row``: ``(n,)`` int64 window row of each output row (rows without edits give the unedited
    window). Substitutions are flattened into ``sub_idx``/``sub_pos``/``sub_code`` (output row,
    window position, new code; sorted by output row; positions inside the window only);
    ``replace``: ``(n,)`` bool, rows whose whole window is replaced by ``replacement(i)`` (indels).
    """

    row: np.ndarray
    sub_idx: np.ndarray
    sub_pos: np.ndarray
    sub_code: np.ndarray
    replace: np.ndarray
    replacement: Callable[[int], np.ndarray] | None = None

    def hook(self, device) -> Callable:
        """The ``mutate(block, sl)`` hook of :meth:`~promoter_cr.models.inference.Predictor.batches`."""
        import torch

        sub_idx = self.sub_idx
        pos_t = torch.from_numpy(self.sub_pos).to(device)
        code_t = torch.from_numpy(self.sub_code).to(device)
        idx_t = torch.from_numpy(sub_idx).to(device)
        n = len(self.row)

        def mutate(block, sl):
            a, b = np.searchsorted(sub_idx, [sl.start, min(sl.stop, n)])
            if b > a:
                block[idx_t[a:b] - sl.start, pos_t[a:b]] = code_t[a:b]
            stop = min(sl.stop, n)
            rep = np.flatnonzero(self.replace[sl.start : stop])
            if rep.size:
                alt = np.stack([self.replacement(sl.start + int(i)) for i in rep])
                block[torch.from_numpy(rep).to(block.device)] = torch.from_numpy(alt).to(block.device)
            return block

        return mutate

    @classmethod
    def site_insertions(cls, row: np.ndarray, writes: Sequence[SiteWrite]) -> EditPlan:
        """A plan whose output row ``i`` is window ``row[i]`` with the sites of ``writes`` written over it.

        The substitutions of all writes are flattened and sorted by output row; two writes that
        touch the same base of one row are an error (the order of such writes on a device is not
        defined).
        """
        idx, pos, code = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.uint8)]
        for w in writes:
            width = len(w.site)
            idx.append(np.repeat(np.asarray(w.rows, np.int64), width))
            pos.append((np.asarray(w.starts, np.int64)[:, None] + np.arange(width)[None, :]).ravel())
            code.append(np.tile(np.asarray(w.site, np.uint8), len(w.rows)))
        sub_idx, sub_pos, sub_code = (np.concatenate(x) for x in (idx, pos, code))
        order = np.argsort(sub_idx, kind="stable")
        if len(order) and len(np.unique(sub_idx * (int(sub_pos.max(initial=0)) + 1) + sub_pos)) != len(order):
            raise ValueError("two site writes touch the same base of one row")
        return cls(
            row=np.asarray(row, np.int64),
            sub_idx=sub_idx[order],
            sub_pos=sub_pos[order],
            sub_code=sub_code[order],
            replace=np.zeros(len(row), dtype=bool),
        )
