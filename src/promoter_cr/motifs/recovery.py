"""How well the grammar analysis recovers a simulator's planted grammar (ground_truth.json).

Rules (explicit, so the numbers mean one thing):

* **Same motif.** A called matrix counts as a planted motif when it *is* that matrix or when
  Tomtom (memelite) gives ``p < grammar.tomtom_threshold`` for the pair. Tomtom is run with
  every called motif as query against the **whole scanned motif set** (plus any planted
  matrix missing from it; plus JASPAR 2024 CORE vertebrates when the set has fewer than 50
  matrices) as targets, so its background is a full database, as Tomtom expects; the
  planted columns are then read off. This merges redundant JASPAR matrices of
  one TF family (SP/KLF for SP1, ETS for ELK1, ...) and nothing looser.
* **Activating / repressive.** Predicted = motifs called ``activating`` / ``repressive`` in
  cluster ``'all'`` of activity.tsv. A call is a true positive when it matches a planted
  motif *of the same sign*: activators (``effect > 0``) and repressors (``effect < 0``), and
  the members of a planted pair with the sign of the pair's effect (those sites do carry the
  planted effect, jointly). Calls of decoys, of unplanted motifs or of the opposite sign are
  false positives. ``precision = TP calls / all calls`` (NaN when nothing is called);
  ``recall`` = fraction of planted activators (resp. repressors) matched by at least one call
  of the right sign. Pair members are not in the recall denominator.
* **Pairs.** A planted pair is *co-occurring* when cooccurrence.tsv has a significant edge
  between the two planted matrices, or failing that between matrices that match them (the
  network holds one representative per Tomtom family, which need not be the planted matrix).
  Its *spacing is recovered* when the preferred spacing of the planted orientation - the
  significant (``q < fdr``, observed > expected) spacing with the smallest q - lies within
  ``spacing_tolerance`` (2) bp of the planted spacing, for the exact pair or for a significant
  edge of matching matrices. ``(b, a)`` rows are mapped to ``(a, b)`` by negating the spacing
  and swapping the orientation; a matching matrix's coordinates are mapped onto the planted
  matrix's by the Tomtom alignment (offset and strand, :func:`site_shift`), so a spacing
  measured between, say, an ATF/CREB family representative and NRF1 is compared in CREB1
  coordinates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from promoter_cr.errors import InputDataError
from promoter_cr.motifs.activity import ALL
from promoter_cr.motifs.database import Motif
from promoter_cr.motifs.spacing import preferred_spacings

log = logging.getLogger(__name__)

SPACING_TOLERANCE = 2


def load_ground_truth(path: str | Path) -> dict[str, Any]:
    """Read and check ``ground_truth.json``: ``motifs`` (motif_id, role, effect) and ``pairs``
    (a, b, spacing, orientation, effect)."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "ground truth is missing (recovery needs a simulated data set)")
    gt = json.loads(path.read_text())
    if "motifs" not in gt:
        raise InputDataError(path, "no 'motifs' list")
    for i, m in enumerate(gt["motifs"]):
        for key in ("motif_id", "role", "effect"):
            if key not in m:
                raise InputDataError(path, f"planted motif lacks {key!r}", record=f"motifs[{i}]")
    if "pairs" not in gt:
        raise InputDataError(path, "no 'pairs' list (write an empty list when nothing is planted in pairs)")
    for i, p in enumerate(gt["pairs"]):
        for key in ("a", "b", "spacing", "orientation", "effect"):
            if key not in p:
                raise InputDataError(path, f"planted pair lacks {key!r}", record=f"pairs[{i}]")
    return gt


def planted_signs(gt: dict[str, Any]) -> tuple[dict[str, int], list[str], list[str]]:
    """``sign[motif_id]`` (+1/-1) of every planted functional matrix, activators, repressors."""
    sign: dict[str, int] = {}
    act = [m["motif_id"] for m in gt["motifs"] if m["role"] == "activator"]
    rep = [m["motif_id"] for m in gt["motifs"] if m["role"] == "repressor"]
    for m in gt["motifs"]:
        if m["role"] in ("activator", "repressor") and float(m["effect"]) != 0:
            sign[m["motif_id"]] = int(np.sign(float(m["effect"])))
    for p in gt["pairs"]:
        s = int(np.sign(float(p["effect"])))
        for k in ("a", "b"):
            if s != 0:
                sign.setdefault(p[k], s)
    return sign, act, rep


def tomtom_pvalues(
    queries: Sequence[Motif], planted: Sequence[Motif], background: Sequence[Motif]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tomtom of queries vs planted, with ``background`` as the target set.

    Returns ``(p, offset, strand)``, each ``(Q, P)``: p-value, Tomtom offset (the planted
    matrix - reverse-complemented when ``strand == 1`` - starts at column ``-offset`` of the
    query) and strand. A matrix compared with itself gets p = 0, offset 0, strand 0.
    """
    q_n, p_n = len(queries), len(planted)
    if not queries or not planted:
        return np.ones((q_n, p_n)), np.zeros((q_n, p_n)), np.zeros((q_n, p_n))
    from promoter_cr.motifs.cooccurrence import tomtom_against

    p, off, strand = (a.astype(float) for a in tomtom_against(queries, planted, background, keys=(0, 2, 4)))
    for i, q in enumerate(queries):  # a matrix is always itself
        for j, m in enumerate(planted):
            if q.motif_id == m.motif_id:
                p[i, j], off[i, j], strand[i, j] = 0.0, 0.0, 0.0
    return p, off, strand


def site_shift(strand_x: str, offset: float, tt_strand: float, wx: int, wa: int) -> tuple[int, str]:
    """Where the planted matrix ``a`` sits inside a hit of a matching matrix ``x``.

    For a hit of ``x`` on ``strand_x`` at forward start ``s``, the aligned site of ``a`` starts
    at ``s + shift`` on the returned strand (Tomtom alignment ``offset``/``tt_strand`` of
    ``x`` as query against ``a``).
    """
    c0 = -int(round(offset))
    same = int(round(tt_strand)) == 0
    if strand_x == "+":
        return c0, "+" if same else "-"
    return wx - c0 - wa, "-" if same else "+"


def translate_spacing(rows: pd.DataFrame, align_a: tuple, align_b: tuple) -> pd.DataFrame:
    """Spacing rows of a matching pair ``(x, y)`` in the coordinates of planted ``(a, b)``.

    ``align_a = (offset, strand, w_x, w_a)`` from Tomtom of ``x`` vs ``a`` (likewise ``b``).
    Each row's spacing becomes ``s + shift_b - shift_a`` and its orientation the strands of the
    aligned planted sites.
    """
    out = rows.copy()
    new_sp, new_or = [], []
    for sp, o in zip(rows["spacing"], rows["orientation"]):
        sa, oa = site_shift(o[0], align_a[0], align_a[1], align_a[2], align_a[3])
        sb, ob = site_shift(o[1], align_b[0], align_b[1], align_b[2], align_b[3])
        new_sp.append(int(sp) + sb - sa)
        new_or.append(oa + ob)
    out["spacing"] = new_sp
    out["orientation"] = new_or
    return out


def _pair_spacing(spacing: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Rows of ``spacing`` for the pair in ``(a, b)`` terms (``(b, a)`` rows flipped)."""
    if spacing.empty:
        return spacing
    fwd = spacing[(spacing["motif_a"] == a) & (spacing["motif_b"] == b)]
    rev = spacing[(spacing["motif_a"] == b) & (spacing["motif_b"] == a)].copy()
    if len(rev) and a != b:
        rev["spacing"] = -rev["spacing"]
        rev["orientation"] = rev["orientation"].str[::-1]
        rev["motif_a"], rev["motif_b"] = a, b
    else:
        rev = rev.iloc[:0]
    return pd.concat([fwd, rev], ignore_index=True)


def score_recovery(
    gt: dict[str, Any],
    activity: pd.DataFrame,
    cooccurrence: pd.DataFrame,
    spacing: pd.DataFrame,
    motifs: Sequence[Motif],
    planted_motifs: Sequence[Motif],
    *,
    tomtom_threshold: float,
    fdr: float,
    tolerance: int = SPACING_TOLERANCE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recovery summary and per-item matches (see the module docstring for the rules).

    ``planted_motifs`` are the matrices of every planted id (activators, repressors, pair
    members); ``motifs`` the scanned set (Tomtom background). Returns ``(recovery, matches)``.
    """
    sign, act, rep = planted_signs(gt)
    planted_ids = [m.motif_id for m in planted_motifs]
    missing = set(sign) - set(planted_ids)
    if missing:
        raise ValueError(f"no matrix given for planted motif(s) {sorted(missing)}")
    by_id = {m.motif_id: m for m in list(motifs) + list(planted_motifs)}
    names = {m.motif_id: m.name for m in by_id.values()}
    for m in gt["motifs"]:
        names.setdefault(m["motif_id"], m.get("name", m["motif_id"]))
    all_rows = activity[activity["cluster"].astype(str) == ALL]
    calls = all_rows[all_rows["effect"].isin(["activating", "repressive"])]
    call_ids = calls["motif_id"].tolist()
    unknown = [c for c in call_ids if c not in by_id]
    if unknown:
        raise ValueError(f"called motif {unknown[0]!r} is not in the scanned motif set")
    # Tomtom: calls and every motif in a significant co-occurrence edge, vs planted matrices
    edge_ids = []
    if len(cooccurrence):
        sig = cooccurrence[cooccurrence["significant"].astype(bool)]
        edge_ids = sorted(set(sig["motif_a"]) | set(sig["motif_b"]))
    query_ids = list(dict.fromkeys(call_ids + edge_ids))
    pv, poff, pstr = tomtom_pvalues([by_id[q] for q in query_ids], list(planted_motifs), motifs)
    qpos = {q: i for i, q in enumerate(query_ids)}
    ppos = {p: j for j, p in enumerate(planted_ids)}

    def matches(q: str) -> list[str]:
        return [p for p in planted_ids if pv[qpos[q], ppos[p]] < tomtom_threshold]

    match_rows: list[dict] = []
    summary_rows: list[dict] = []
    for label, s, planted_set in (("activating", 1, act), ("repressive", -1, rep)):
        c = calls[calls["effect"] == label]
        tp = 0
        hit_planted: set[str] = set()
        for mid, q in zip(c["motif_id"], c["q_value"]):
            mm = matches(mid)
            same = [p for p in mm if sign.get(p) == s]
            ok = bool(same)
            tp += ok
            hit_planted.update(p for p in same if p in planted_set)
            best = min(mm, key=lambda p: pv[qpos[mid], ppos[p]]) if mm else ""
            match_rows.append(
                {
                    "kind": f"{label}_call",
                    "motif_id": mid,
                    "motif_name": names.get(mid, mid),
                    "matched_to": ";".join(same if same else mm),
                    "matched_names": ";".join(names[p] for p in (same if same else mm)),
                    "tomtom_p": float(pv[qpos[mid], ppos[best]]) if best else np.nan,
                    "q_value": float(q),
                    "status": "TP" if ok else ("wrong sign" if mm else "FP"),
                    "value": np.nan,
                }
            )
        for p in planted_set:
            match_rows.append(
                {
                    "kind": f"planted_{'activator' if s > 0 else 'repressor'}",
                    "motif_id": p,
                    "motif_name": names[p],
                    "matched_to": ";".join(m for m in c["motif_id"] if p in matches(m)),
                    "matched_names": ";".join(names.get(m, m) for m in c["motif_id"] if p in matches(m)),
                    "tomtom_p": np.nan,
                    "q_value": np.nan,
                    "status": "recovered" if p in hit_planted else "missed",
                    "value": np.nan,
                }
            )
        n_calls = len(c)
        summary_rows.append(
            {
                "category": label,
                "n_planted": len(planted_set),
                "n_called": n_calls,
                "tp_calls": tp,
                "n_recovered": len(hit_planted & set(planted_set)),
                "precision": tp / n_calls if n_calls else np.nan,
                "recall": len(hit_planted & set(planted_set)) / len(planted_set) if planted_set else np.nan,
            }
        )
    # pairs
    pref = preferred_spacings(spacing, fdr) if len(spacing) else pd.DataFrame()
    n_pair_cooc = n_pair_sp = 0
    sig_edges = cooccurrence[cooccurrence["significant"].astype(bool)] if len(cooccurrence) else cooccurrence
    for p in gt["pairs"]:
        a, b = p["a"], p["b"]
        orient = p["orientation"]
        exact = len(sig_edges) > 0 and bool(
            (
                ((sig_edges["motif_a"] == a) & (sig_edges["motif_b"] == b))
                | ((sig_edges["motif_a"] == b) & (sig_edges["motif_b"] == a))
            ).any()
        )
        via = ""
        if not exact and len(sig_edges):
            for x, y in zip(sig_edges["motif_a"], sig_edges["motif_b"]):
                mx, my = set(matches(x)), set(matches(y))
                if (a in mx and b in my) or (b in mx and a in my):
                    via = f"{x}+{y}"
                    break
        found = exact or bool(via)
        n_pair_cooc += found
        # spacing: the exact pair, else any significant edge of matching matrices, translated
        candidates = [(a, b, None, None)]
        if len(sig_edges):
            for x, y in zip(sig_edges["motif_a"], sig_edges["motif_b"]):
                for u, v in ((x, y), (y, x)):
                    if (u, v) != (a, b) and u in qpos and v in qpos and a in matches(u) and b in matches(v):
                        candidates.append((u, v, a, b))
        best_sp, best_q, via_sp = np.nan, np.nan, ""
        for u, v, pa, pb in candidates:
            rows = _pair_spacing(spacing, u, v) if len(spacing) else spacing
            if not len(rows):
                continue
            if pa is not None:
                ja, jb = ppos[pa], ppos[pb]
                ia, ib = qpos[u], qpos[v]
                rows = translate_spacing(
                    rows,
                    (poff[ia, ja], pstr[ia, ja], by_id[u].width, by_id[pa].width),
                    (poff[ib, jb], pstr[ib, jb], by_id[v].width, by_id[pb].width),
                )
            pr = preferred_spacings(rows, fdr)
            pr = pr[pr["orientation"] == orient]
            if len(pr):
                sp_, q_ = int(pr["spacing"].iloc[0]), float(pr["q_value"].iloc[0])
                if not np.isfinite(best_sp) or abs(sp_ - int(p["spacing"])) < abs(best_sp - int(p["spacing"])):
                    best_sp, best_q, via_sp = sp_, q_, f"{u}+{v}"
        ok_sp = bool(np.isfinite(best_sp) and abs(best_sp - int(p["spacing"])) <= tolerance)
        n_pair_sp += ok_sp
        match_rows.append(
            {
                "kind": "planted_pair",
                "motif_id": f"{a}+{b}",
                "motif_name": f"{names.get(a, a)}+{names.get(b, b)}",
                "matched_to": f"{a}+{b}" if exact else via,
                "matched_names": "",
                "tomtom_p": np.nan,
                "q_value": np.nan,
                "status": "cooccurring" if found else "not cooccurring",
                "value": np.nan,
            }
        )
        match_rows.append(
            {
                "kind": "planted_spacing",
                "motif_id": f"{a}+{b}",
                "motif_name": f"{names.get(a, a)}+{names.get(b, b)} {orient} {p['spacing']}",
                "matched_to": via_sp,
                "matched_names": "",
                "tomtom_p": np.nan,
                "q_value": best_q,
                "status": "recovered" if ok_sp else "missed",
                "value": best_sp,
            }
        )
    n_pairs = len(gt["pairs"])
    summary_rows.append(
        {
            "category": "pair_cooccurrence",
            "n_planted": n_pairs,
            "n_called": int(len(sig_edges)),
            "tp_calls": np.nan,
            "n_recovered": n_pair_cooc,
            "precision": np.nan,
            "recall": n_pair_cooc / n_pairs if n_pairs else np.nan,
        }
    )
    summary_rows.append(
        {
            "category": "pair_spacing",
            "n_planted": n_pairs,
            "n_called": int(len(pref)),
            "tp_calls": np.nan,
            "n_recovered": n_pair_sp,
            "precision": np.nan,
            "recall": n_pair_sp / n_pairs if n_pairs else np.nan,
        }
    )
    return pd.DataFrame(summary_rows), pd.DataFrame(match_rows)


def recovery_stage(
    data_dir: str | Path, motifs_dir: str | Path, out_dir: str | Path, grammar_cfg: dict[str, Any]
) -> pd.DataFrame:
    """Score the grammar tables of ``motifs_dir`` against the data set's ground truth.

    Writes ``recovery.tsv`` and ``recovery_matches.tsv`` (:class:`promoter_cr.layout.MotifFiles`)
    into ``out_dir``; returns the recovery table.
    """
    from promoter_cr.atomic import write_tsv
    from promoter_cr.layout import DataFiles, MotifFiles
    from promoter_cr.motifs.database import load_jaspar_ids, read_meme

    mdir, out = MotifFiles(motifs_dir), MotifFiles(out_dir)
    gt = load_ground_truth(DataFiles(data_dir).ground_truth)
    tables = {}
    for name, path in (("activity", mdir.activity), ("cooccurrence", mdir.cooccurrence), ("spacing", mdir.spacing)):
        if not path.exists():
            raise InputDataError(path, "grammar table is missing (run `promoter-cr grammar` first)")
        tables[name] = pd.read_csv(path, sep="\t", dtype={"cluster": str})
    motifs = read_meme(mdir.meme)
    have = {m.motif_id: m for m in motifs}
    sign, act, rep = planted_signs(gt)
    wanted = list(dict.fromkeys(act + rep + list(sign)))
    missing = [w for w in wanted if w not in have]
    extra = load_jaspar_ids(gt["jaspar_release"], missing) if missing else []
    planted = [have[w] for w in wanted if w in have] + extra
    recovery, matches = score_recovery(
        gt,
        tables["activity"],
        tables["cooccurrence"],
        tables["spacing"],
        motifs,
        planted,
        tomtom_threshold=float(grammar_cfg["tomtom_threshold"]),
        fdr=float(grammar_cfg["fdr"]),
    )
    write_tsv(out.recovery, recovery)
    write_tsv(out.recovery_matches, matches)
    return recovery
