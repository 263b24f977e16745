"""How well the grammar analysis recovers a simulator's planted grammar, scored by motif family.

Rules (explicit, so the numbers mean one thing):

* **Families.** Two matrices are the same motif when Tomtom (memelite) gives ``p <
  grammar.tomtom_threshold`` for the pair (queries against the whole scanned motif set plus the
  planted matrices, JASPAR CORE vertebrates added when that set is small: a full database as
  Tomtom's background). Called motifs are merged into *called families* (average linkage of that
  similarity, :func:`promoter_cr.seq.tomtom.families_from_similarity`: groups join when more than
  half of their cross pairs match, so one composite matrix cannot chain two unrelated families),
  and the 23 ETS matrices that all match one planted ELK1 site are one call.
* **Activating / repressive.** A called family (motifs called ``activating`` / ``repressive`` in
  cluster ``'all'``) is one **true positive** when a member matches a planted functional motif of
  the same sign (an activator or repressor, or a member of a planted pair carrying the pair's
  effect) that no stronger called family has matched; a *duplicate* when every planted motif it
  matches is matched by a stronger family already (listed in the matches, left out of the
  precision); else one **false positive** (unplanted, or the wrong sign). ``precision`` = TP
  families / called families; ``recall`` = planted activators (resp. repressors) matched by a
  true-positive family, with at most one family counted per planted motif. Members of planted
  pairs are scored in their own row (``pair_members``: recall of the pairs' partners by either
  sign of call).
* **Pairs and spacings.** A preferred spacing is the best (smallest q, then largest interaction)
  tested spacing of a pair and orientation with ``q < fdr`` in spacing.tsv (measured on the model,
  :mod:`promoter_cr.motifs.insilico`). It is a **true positive** when the pair is a planted
  *cooperative* pair (the exact matrices, or matrices matching them: coordinates are mapped by the
  Tomtom alignment, :func:`site_shift`) in the planted orientation and within ``tolerance`` (1)
  bp of the planted spacing; every other preferred spacing -- additive pairs, decoys, unplanted
  pairs, a wrong orientation or spacing -- is a **false positive**. ``recall`` = planted
  cooperative pairs with a true-positive spacing. Co-occurrence edges are scored against the
  edges the ground truth says are independent: an edge joining the two partners of a planted pair
  of either mode is a true positive; one between motifs the simulator planted in the same genes
  more often than chance (:func:`co_planted`: decoys beside a pair, classes of genes), or two
  matches of one planted motif, is counted apart (``cooccurrence_planted_together``), since the
  sequences do hold it; every other edge is a false positive.

Planted sites are never redrawn to pass the scan in the ``hard`` preset, so recall is not built
in; the ``easy`` preset keeps its sites FIMO-visible by construction (it is the development
ground, not the evaluation).
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
from promoter_cr.motifs.insilico import palindrome_shift
from promoter_cr.seq.motifs import Motif

log = logging.getLogger(__name__)

#: a preferred spacing within this many bp of the planted one is recovered
SPACING_TOLERANCE = 1


def score_row(category: str, n_planted: int, n_called: int, tp_calls: int, n_recovered: int) -> dict[str, Any]:
    """One row of ``recovery.tsv``: precision ``tp_calls / n_called`` and recall ``n_recovered / n_planted``
    (NaN when the denominator is 0)."""
    return {
        "category": category,
        "n_planted": n_planted,
        "n_called": n_called,
        "tp_calls": tp_calls,
        "n_recovered": n_recovered,
        "precision": tp_calls / n_called if n_called else np.nan,
        "recall": n_recovered / n_planted if n_planted else np.nan,
    }


def load_ground_truth(path: str | Path) -> dict[str, Any]:
    """Read and check ``ground_truth.json``: ``jaspar_release``, ``motifs`` (motif_id, role,
    effect) and ``pairs`` (a, b, spacing, orientation, effect, mode)."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "ground truth is missing (recovery needs a simulated data set)")
    gt = json.loads(path.read_text())
    if "motifs" not in gt:
        raise InputDataError(path, "no 'motifs' list")
    if "jaspar_release" not in gt:
        raise InputDataError(path, "no 'jaspar_release' (the release the planted JASPAR ids come from)")
    for i, m in enumerate(gt["motifs"]):
        for key in ("motif_id", "role", "effect"):
            if key not in m:
                raise InputDataError(path, f"planted motif lacks {key!r}", record=f"motifs[{i}]")
    if "pairs" not in gt:
        raise InputDataError(path, "no 'pairs' list (write an empty list when nothing is planted in pairs)")
    for i, p in enumerate(gt["pairs"]):
        for key in ("a", "b", "spacing", "orientation", "effect", "mode"):
            if key not in p:
                raise InputDataError(path, f"planted pair lacks {key!r}", record=f"pairs[{i}]")
    return gt


def planted_signs(gt: dict[str, Any]) -> tuple[dict[str, int], list[str], list[str], list[str]]:
    """``(sign of every planted functional matrix, activators, repressors, pair members)``.

    Single motifs have the sign of their effect; members of a pair the sign of the pair's effect
    (cooperative) or of their own (additive)."""
    sign: dict[str, int] = {}
    if gt.get("grammar", {}).get("null") not in (None, "none"):  # a calibration null: nothing is functional
        return sign, [], [], []
    act = [m["motif_id"] for m in gt["motifs"] if m["role"] == "activator"]
    rep = [m["motif_id"] for m in gt["motifs"] if m["role"] == "repressor"]
    members = list(dict.fromkeys(x for p in functional_pairs(gt) for x in (p["a"], p["b"])))
    own = {m["motif_id"]: float(m["effect"]) for m in gt["motifs"]}
    for m in gt["motifs"]:
        if m["role"] in ("activator", "repressor") and float(m["effect"]) != 0:
            sign[m["motif_id"]] = int(np.sign(float(m["effect"])))
    for p in gt["pairs"]:
        for k in ("a", "b"):
            eff = own.get(p[k], 0.0) if p["mode"] == "additive" else float(p["effect"])
            if eff != 0:
                sign.setdefault(p[k], int(np.sign(eff)))
    return sign, act, rep, members


def functional_pairs(gt: dict[str, Any]) -> list[dict[str, Any]]:
    """The planted pairs with an effect (none under a calibration null), each with its ``mode``."""
    if gt.get("grammar", {}).get("null") not in (None, "none"):
        return []
    return list(gt["pairs"])


#: planted motifs put in the same genes more often than independence gives (one-sided Fisher p below this)
CO_PLANTED_P = 1e-3


def co_planted(gt: dict[str, Any]) -> set[frozenset[str]]:
    """Pairs of planted motif ids that the simulator placed in the same genes more often than chance.

    From the ground truth's per-gene plants (active or not: decoys are sequence too), each pair's
    2 x 2 table of genes (both / one / the other / neither) gets a one-sided Fisher exact test;
    ``p < CO_PLANTED_P`` is co-planted. A co-occurrence edge between such motifs is what the data
    hold, not a false positive, whatever the labels. A ground truth without ``genes``: none.
    """
    from scipy.stats import fisher_exact

    genes = gt.get("genes") or []
    sets = [{pl["motif_id"] for pl in g.get("plants", [])} for g in genes]
    ids = sorted(set().union(*sets)) if sets else []
    n = len(sets)
    out: set[frozenset[str]] = set()
    for i, a in enumerate(ids):
        has_a = np.array([a in s for s in sets])
        for b in ids[i + 1 :]:
            has_b = np.array([b in s for s in sets])
            both = int((has_a & has_b).sum())
            table = [[both, int(has_a.sum()) - both], [int(has_b.sum()) - both, n - int((has_a | has_b).sum())]]
            if fisher_exact(table, alternative="greater")[1] < CO_PLANTED_P:
                out.add(frozenset((a, b)))
    return out


def called_families(
    call_ids: list[str], by_id: dict[str, Motif], background: Sequence[Motif], threshold: float
) -> np.ndarray:
    """``(C,)`` family index of each called motif (average linkage of Tomtom matches)."""
    from promoter_cr.seq.tomtom import motif_families

    return motif_families([by_id[c] for c in call_ids], list(background), threshold)


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
    from promoter_cr.seq.tomtom import tomtom_against

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


def _preferred(rows: pd.DataFrame, fdr: float) -> pd.DataFrame:
    """Best spacing per pair and orientation among rows with ``q < fdr`` (smallest q, then largest interaction).

    Clashes of touching sites (``contact`` rows of spacing.tsv) are not spacing calls."""
    apart = ~rows["contact"].astype(bool) if "contact" in rows.columns else True
    sig = rows[(rows["q_value"] < fdr) & apart]
    if sig.empty:
        return sig
    by = "interaction" if "interaction" in sig.columns else "observed"
    sig = sig.sort_values(["q_value", by], ascending=[True, False], kind="stable")
    return sig.groupby(["motif_a", "motif_b", "orientation"], sort=False).head(1).reset_index(drop=True)


def _score_calls(
    calls: pd.DataFrame,
    label: str,
    s: int,
    planted: list[str],
    sign: dict[str, int],
    fam: dict[str, int],
    matches,
    names: dict[str, str],
) -> tuple[dict, list[dict]]:
    """Family-level TP/FP of the calls of one sign, and recall of ``planted``.

    Families are taken strongest first (largest ``|mean_difference|`` of a member, then smallest
    q). A family is a TP when it matches a planted motif of its sign that no stronger family has
    matched; one whose matches are all taken already is a ``duplicate`` (a second call of one
    planted motif, e.g. a sub-family that Tomtom does not join to the first): it is neither a TP
    nor a FP and is left out of ``n_called``, so splitting a true family neither raises nor lowers
    precision.
    """
    c = calls[calls["effect"] == label]

    def column(name: str, fill: float) -> pd.Series:
        values = c[name] if name in c else pd.Series(fill, index=c.index)
        return pd.to_numeric(values, errors="coerce").fillna(fill)

    key = pd.DataFrame(
        {"size": -column("mean_difference", 0.0).abs(), "q": column("q_value", 1.0), "motif_id": c["motif_id"]}
    )
    strongest_first = key.sort_values(["size", "q"], kind="stable")["motif_id"]
    order = list(dict.fromkeys(fam[m] for m in strongest_first))
    rows, found, tp = [], set(), 0
    for f_id in order:
        members = [m for m in c["motif_id"] if fam[m] == f_id]
        hit = sorted({p for m in members for p in matches(m) if sign.get(p) == s})
        other = sorted({p for m in members for p in matches(m)} - set(hit))
        new = [p for p in hit if p not in found]
        ok = bool(new)
        tp += ok
        found.update(hit)
        status = "TP" if ok else ("duplicate" if hit else ("wrong sign" if other else "FP"))
        rows.append({
            "kind": f"{label}_family", "motif_id": ";".join(members),
            "motif_name": ";".join(names.get(m, m) for m in members),
            "matched_to": ";".join(hit or other), "matched_names": ";".join(names.get(p, p) for p in (hit or other)),
            "status": status, "value": float(len(new)),
        })  # fmt: skip
    for p in planted:
        rows.append(
            {
                "kind": f"planted_{'activator' if s > 0 else 'repressor'}",
                "motif_id": p,
                "motif_name": names.get(p, p),
                "matched_to": "",
                "matched_names": "",
                "status": "recovered" if p in found else "missed",
                "value": np.nan,
            }
        )
    n_fam = len({fam[m] for m in c["motif_id"]}) - sum(r["status"] == "duplicate" for r in rows)
    rec = len(set(planted) & found)
    return score_row(label, len(planted), n_fam, tp, rec), rows


def palindrome_forms(orientation: str, spacing: int, shift_a: int | None, shift_b: int | None) -> list[tuple[str, int]]:
    """The ``(orientation, spacing)`` arrangements a call of palindromic motifs also stands for.

    The call itself first; a palindromic A (shift ``d_a``, :func:`~promoter_cr.motifs.insilico.palindrome_shift`)
    on ``'+'`` at spacing ``s`` writes what ``'-'`` writes at ``s - d_a``; a palindromic B on
    ``'+'`` what ``'-'`` writes at ``s + d_b``.
    """
    forms = [(orientation, spacing)]
    if shift_a is not None and orientation[0] == "+":
        forms += [("-" + o[1], s - shift_a) for o, s in forms]
    if shift_b is not None and orientation[1] == "+":
        forms += [(o[0] + "-", s + shift_b) for o, s in forms]
    return forms


def _spacing_items(
    spacing: pd.DataFrame, gt: dict[str, Any], qpos, ppos, pv, poff, pstr, by_id, matches, fdr: float, tolerance: int
) -> tuple[list[dict], set]:
    """Every preferred spacing, scored against the planted cooperative pairs (see the module docstring)."""
    pref = _preferred(spacing, fdr) if len(spacing) else spacing
    coop = [p for p in functional_pairs(gt) if p["mode"] == "cooperative"]
    rows, recovered = [], set()
    for r in pref.itertuples():
        status, mapped = "FP", ""
        forms = palindrome_forms(
            str(r.orientation), int(r.spacing), palindrome_shift(by_id[r.motif_a]), palindrome_shift(by_id[r.motif_b])
        )
        for i, p in enumerate(coop):
            for u, v, flip in ((r.motif_a, r.motif_b, False), (r.motif_b, r.motif_a, True)):
                if u not in qpos or v not in qpos or p["a"] not in matches(u) or p["b"] not in matches(v):
                    continue
                one = pd.DataFrame(
                    {
                        "spacing": [-s if flip else s for _, s in forms],
                        "orientation": [o[::-1] if flip else o for o, _ in forms],
                    }
                )
                ia, ib, ja, jb = qpos[u], qpos[v], ppos[p["a"]], ppos[p["b"]]
                tr = translate_spacing(
                    one,
                    (poff[ia, ja], pstr[ia, ja], by_id[u].width, by_id[p["a"]].width),
                    (poff[ib, jb], pstr[ib, jb], by_id[v].width, by_id[p["b"]].width),
                )
                for sp, o in zip(tr["spacing"].astype(int), tr["orientation"]):
                    mapped = mapped or f"{p['a']}+{p['b']} {o} {sp}"
                    if o == p["orientation"] and abs(sp - int(p["spacing"])) <= tolerance:
                        status, mapped = "TP", f"{p['a']}+{p['b']} {o} {sp}"
                        recovered.add(i)
        rows.append(
            {
                "kind": "preferred_spacing",
                "motif_id": f"{r.motif_a}+{r.motif_b}",
                "motif_name": f"{r.orientation} {r.spacing}",
                "matched_to": mapped,
                "matched_names": "",
                "status": status,
                "value": float(r.spacing),
            }
        )
    return rows, recovered


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
    """Recovery summary and per-item matches, by motif family (see the module docstring).

    ``planted_motifs`` are the matrices of every planted id; ``motifs`` the scanned set (Tomtom
    background). Returns ``(recovery, matches)``: recovery has one row per category (activating,
    repressive, pair_members, pair_cooccurrence, pair_spacing) with n_planted, n_called, tp_calls,
    n_recovered, precision, recall.
    """
    sign, act, rep, members = planted_signs(gt)
    planted_ids = [m.motif_id for m in planted_motifs]
    missing = (set(sign) | set(members)) - set(planted_ids)
    if missing:
        raise ValueError(f"no matrix given for planted motif(s) {sorted(missing)}")
    by_id = {m.motif_id: m for m in list(motifs) + list(planted_motifs)}
    names = {m.motif_id: m.name for m in by_id.values()}
    for m in gt["motifs"]:
        names.setdefault(m["motif_id"], m.get("name", m["motif_id"]))
    all_rows = activity[activity["cluster"].astype(str) == ALL]
    calls = all_rows[all_rows["effect"].isin(["activating", "repressive"])]
    call_ids = list(dict.fromkeys(calls["motif_id"]))
    unknown = [c for c in call_ids if c not in by_id]
    if unknown:
        raise ValueError(f"called motif {unknown[0]!r} is not in the scanned motif set")
    sig_edges = cooccurrence[cooccurrence["significant"].astype(bool)] if len(cooccurrence) else cooccurrence
    pair_ids = sorted(set(spacing["motif_a"]) | set(spacing["motif_b"])) if len(spacing) else []
    edge_ids = sorted(set(sig_edges["motif_a"]) | set(sig_edges["motif_b"])) if len(sig_edges) else []
    query_ids = [q for q in dict.fromkeys(call_ids + edge_ids + pair_ids) if q in by_id]
    pv, poff, pstr = tomtom_pvalues([by_id[q] for q in query_ids], list(planted_motifs), motifs)
    qpos = {q: i for i, q in enumerate(query_ids)}
    ppos = {p: j for j, p in enumerate(planted_ids)}

    def matches(q: str) -> list[str]:
        return [p for p in planted_ids if q in qpos and pv[qpos[q], ppos[p]] < tomtom_threshold]

    fam_index = called_families(call_ids, by_id, motifs, tomtom_threshold)
    fam = dict(zip(call_ids, fam_index.tolist()))
    summary_rows, match_rows = [], []
    for label, s, planted_set in (("activating", 1, act), ("repressive", -1, rep)):
        summary, rows = _score_calls(calls, label, s, planted_set, sign, fam, matches, names)
        summary_rows.append(summary)
        match_rows += rows
    called_members = {p for m in call_ids for p in matches(m) if p in members}
    summary_rows.append(
        {
            "category": "pair_members",
            "n_planted": len(members),
            "n_called": np.nan,
            "tp_calls": np.nan,
            "n_recovered": len(called_members),
            "precision": np.nan,
            "recall": len(called_members) / len(members) if members else np.nan,
        }
    )
    # co-occurrence edges: TP when they join the two partners of a planted pair (either mode);
    # edges between motifs planted together (or two matches of one planted motif) are what the
    # sequences hold and are neither; every other edge is a false positive
    edge_tp, edge_fp, n_together, pairs_found = 0, 0, 0, set()
    pairs = functional_pairs(gt)
    together = co_planted(gt)
    for x, y in zip(sig_edges.get("motif_a", []), sig_edges.get("motif_b", [])):
        mx, my = set(matches(x)), set(matches(y))
        hit = [i for i, p in enumerate(pairs) if (p["a"] in mx and p["b"] in my) or (p["b"] in mx and p["a"] in my)]
        if hit:
            edge_tp += 1
            pairs_found.update(hit)
            status = "TP"
        elif any(p == q or frozenset((p, q)) in together for p in mx for q in my):
            n_together += 1
            status = "planted together"
        else:
            edge_fp += 1
            status = "FP"
        matched = sorted(mx | my)
        match_rows.append({
            "kind": "cooccurrence_edge", "motif_id": f"{x}+{y}", "motif_name": f"{names.get(x, x)}+{names.get(y, y)}",
            "matched_to": ";".join(matched), "matched_names": ";".join(names.get(p, p) for p in matched),
            "status": status, "value": np.nan,
        })  # fmt: skip
    n_pairs, n_scored = len(pairs), edge_tp + edge_fp
    summary_rows.append(score_row("pair_cooccurrence", n_pairs, n_scored, edge_tp, len(pairs_found)))
    summary_rows.append(
        {
            "category": "cooccurrence_planted_together",
            "n_planted": len(together),
            "n_called": n_together,
            "tp_calls": np.nan,
            "n_recovered": np.nan,
            "precision": np.nan,
            "recall": np.nan,
        }
    )
    sp_rows, recovered = _spacing_items(spacing, gt, qpos, ppos, pv, poff, pstr, by_id, matches, fdr, tolerance)
    match_rows += sp_rows
    n_coop = sum(1 for p in pairs if p["mode"] == "cooperative")
    n_sp, sp_tp = len(sp_rows), sum(r["status"] == "TP" for r in sp_rows)
    summary_rows.append(score_row("pair_spacing", n_coop, n_sp, sp_tp, len(recovered)))
    return pd.DataFrame(summary_rows), pd.DataFrame(match_rows)


def recovery_stage(
    data_dir: str | Path, motifs_dir: str | Path, out_dir: str | Path, grammar_cfg: dict[str, Any]
) -> pd.DataFrame:
    """Score the grammar tables of ``motifs_dir`` against the data set's ground truth.

    Writes ``recovery.tsv`` and ``recovery_matches.tsv`` (:class:`promoter_cr.layout.MotifFiles`)
    into ``out_dir``; returns the recovery table.
    """
    from promoter_cr.atomic import write_tsv
    from promoter_cr.data.sources.simulate.generator import planted_matrices
    from promoter_cr.layout import DataFiles, MotifFiles
    from promoter_cr.seq.motifs import read_meme

    mdir, out = MotifFiles(motifs_dir), MotifFiles(out_dir)
    gt = load_ground_truth(DataFiles(data_dir).ground_truth)
    tables = {}
    for name, path in (("activity", mdir.activity), ("cooccurrence", mdir.cooccurrence), ("spacing", mdir.spacing)):
        if not path.exists():
            raise InputDataError(path, "grammar table is missing (run `promoter-cr grammar` first)")
        tables[name] = pd.read_csv(path, sep="\t", dtype={"cluster": str})
    motifs = read_meme(mdir.meme)
    planted = planted_matrices(gt)
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
