"""Evaluate the motif grammar on planted grammars and calibrate it on null data sets.

Each run is the real workflow (``snakemake`` on the repository's Snakefile) on a data set of
the simulator's ``hard`` preset (a fresh grammar drawn from the seed: distinct JASPAR families,
sites sampled from the matrices and never redrawn to pass the scan), with one CR model
(cross-fitted attributions, the motif stage's default), up to ``recovery.tsv``. Variants:

=============  ===============================================================================
planted        the preset as it is (activators, repressors, a cooperative pair with decoys)
additive       the pair's partners add their own effects at random spacings: no spacing rule
permuted       labels permuted across genes: no motif has any effect
independent    labels drawn independently of the sequence
=============  ===============================================================================

For every run the tables give: recovery (family-level precision and recall, pair co-occurrence
and spacing), calls at ``q < grammar.fdr`` per test family, and every p-value. Null variants are
run twice: with the schema's model gate (what a user gets: nothing is called from a model that
did not learn) and with ``grammar.require_learned_model: false`` (the tests' own calibration on
the tracks of a model that learned nothing).

Seeds used while choosing settings (development) and seeds kept for the evaluation are given
on the command line; ``benchmarks/README.md`` records which were which. The script writes, under
``--out``: ``runs/<run>/`` (config, results, snakemake log), ``recovery.tsv``, ``calls.tsv``,
``pvalues.tsv.gz``, ``pvalue_qq.png`` (QQ plots of the null variants' p-values) and, with
``--denovo``, ``denovo_recovery.tsv`` (planted matrices found de novo). With two or more
``--train-seeds`` (``train.seed`` of every model; the data set and its grammar stay the same),
``stability.tsv`` gives the pairwise Jaccard index of what the runs call: activating and
repressive families, co-occurrence edges and preferred spacings.

Example (about 15-25 min a run on 2 CPU cores)::

    python benchmarks/bench_grammar_eval.py --seeds 901 902 903 --variants planted \\
        --out benchmarks/results/grammar_eval --cores 2
    python benchmarks/bench_grammar_eval.py --seeds 901 --variants planted --train-seeds 0 1 2 \\
        --out benchmarks/results/grammar_stability --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
VARIANTS: dict[str, dict] = {
    "planted": {},
    "additive": {"pairs": {"mode": "additive"}},
    "permuted": {"null": "permuted_labels"},
    "independent": {"null": "independent_labels"},
}
NULL_VARIANTS = {"additive", "permuted", "independent"}


def run_config(
    run_dir: Path, name: str, seed: int, variant: str, args: argparse.Namespace, gate: bool, train_seed: int = 0
) -> dict:
    """The whole configuration of one run (everything not given here: the schema's defaults)."""
    sim = {"preset": "hard", "seed": int(seed), "generator": VARIANTS[variant]}
    if args.n_genes:
        sim["n_genes"] = args.n_genes
    if args.length:
        sim["length"] = args.length
    cfg = {
        "results_dir": str(run_dir / "results"),
        "dataset": {"name": name, "source": "simulate", "simulate": sim},
        "models": {"cr": {"type": "cr", **args.cr}},
        "analysis_model": "cr",
        "grammar": {"require_learned_model": bool(gate)},
        "train": {"resources": {"threads": args.threads}, "seed": int(train_seed)},
    }
    if args.max_epochs:
        cfg["models"]["cr"]["max_epochs"] = args.max_epochs
    if args.crossfit_folds is not None:
        cfg["attribution"] = {"crossfit_folds": args.crossfit_folds}
    if args.denovo:
        cfg["denovo"] = {"enabled": True}
    return cfg


def snakemake(run_dir: Path, cfg: dict, target: Path, cores: int, log: Path, extra: Path | None = None) -> float:
    """Run the workflow up to ``target``; returns the wall time. Raises on failure (log named)."""
    import yaml

    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(cfg_path),
           "--cores", str(cores), "-d", str(run_dir), "--rerun-incomplete", str(target)]  # fmt: skip
    if extra is not None:
        cmd.append(str(extra))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.time()
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise RuntimeError(f"snakemake failed (exit {rc}); see {log}")
    return time.time() - t0


def _p(table: pd.DataFrame, p_col: str, q_col: str, fdr: float, called: pd.Series | None = None) -> dict:
    p = pd.to_numeric(table.get(p_col, pd.Series(dtype=float)), errors="coerce").to_numpy(dtype=float)
    q = pd.to_numeric(table.get(q_col, pd.Series(dtype=float)), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(p)
    return {
        "n_tests": int(ok.sum()),
        "frac_p05": float((p[ok] < 0.05).mean()) if ok.any() else np.nan,
        "n_q": int((np.nan_to_num(q, nan=1.0) < fdr).sum()),
        "n_called": int(called.sum()) if called is not None else int((np.nan_to_num(q, nan=1.0) < fdr).sum()),
        "p": p[ok],
    }


def test_families(motifs, fdr: float) -> dict[str, dict]:
    """p-values, counts at ``q < fdr`` and calls of each family of tests of one run."""
    act = pd.read_csv(motifs.activity, sep="\t", dtype={"cluster": str})
    cooc = pd.read_csv(motifs.cooccurrence, sep="\t")
    spacing = pd.read_csv(motifs.spacing, sep="\t")
    coop = pd.read_csv(motifs.cooperativity, sep="\t")
    return {
        "activity": _p(act, "p_value", "q_value", fdr, act["effect"].isin(["activating", "repressive"])),
        "cooccurrence": _p(cooc, "p_value", "q_value", fdr, cooc["significant"].astype(bool) if len(cooc) else None),
        "spacing": _p(spacing, "p_value", "q_value", fdr),
        "cooperativity": _p(coop, "cooperative_p", "cooperative_q", fdr),
        "periodicity": _p(coop, "periodicity_p", "periodicity_q", fdr),
    }


def collect(run: str, variant: str, seed: int, gate: bool, layout, fdr: float, seconds: float, train_seed: int = 0):
    """Recovery rows, call rows and p-value rows of one finished run."""
    motifs = layout.motifs
    summary = json.loads(motifs.grammar_summary.read_text())
    base = {"run": run, "variant": variant, "seed": seed, "train_seed": train_seed, "gate": gate,
            "seconds": round(seconds, 1),
            "model_r": summary["model_gate"]["r"], "refused": summary["refused"]}  # fmt: skip
    rec = pd.read_csv(motifs.recovery, sep="\t").assign(**base)
    fams = test_families(motifs, fdr)
    calls = pd.DataFrame([{**base, "test": k, **{c: v for c, v in f.items() if c != "p"}} for k, f in fams.items()])
    pv = pd.concat([pd.DataFrame({"run": run, "variant": variant, "seed": seed, "gate": gate, "test": k, "p": f["p"]})
                    for k, f in fams.items()], ignore_index=True)  # fmt: skip
    return rec, calls, pv


def called_sets(layout, fdr: float) -> dict[str, set]:
    """What one run calls, as sets that can be compared across training seeds.

    ``activating``/``repressive``: the called motif families (each a frozenset of its member
    matrix ids; :func:`jaccard` treats two families that share a member as the same call, since
    the members of a called family differ a little between models); ``cooccurrence``: the
    significant motif pairs; ``spacing``: (pair, orientation class, spacing) at ``q < fdr``.
    """
    matches = pd.read_csv(layout.motifs.recovery_matches, sep="\t", keep_default_na=False)
    called = matches[matches["kind"].str.endswith("_family")]
    out = {sign: {frozenset(m.split(";")) for m in called.loc[called["kind"] == f"{sign}_family", "motif_id"]}
           for sign in ("activating", "repressive")}  # fmt: skip
    cooc = pd.read_csv(layout.motifs.cooccurrence, sep="\t")
    sig = cooc[cooc["significant"].astype(bool)] if len(cooc) else cooc
    out["cooccurrence"] = {tuple(sorted(ab)) for ab in zip(sig.get("motif_a", []), sig.get("motif_b", []))}
    sp = pd.read_csv(layout.motifs.spacing, sep="\t")
    hit = sp[pd.to_numeric(sp.get("q_value", pd.Series(dtype=float)), errors="coerce") < fdr] if len(sp) else sp
    out["spacing"] = {(r.motif_a, r.motif_b, r.orientation_class, int(r.spacing)) for r in hit.itertuples()}
    return out


def shared(a: set, b: set) -> int:
    """How many calls of ``a`` are also in ``b``; families (frozensets) match one to one when they
    share a member (greedy, largest overlap first), everything else by equality."""
    if not all(isinstance(x, frozenset) for x in a | b):
        return len(a & b)
    pairs = sorted(((len(x & y), i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x & y), reverse=True)
    used_a, used_b = set(), set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)


def jaccard(a: set, b: set) -> float:
    """shared / (|a| + |b| - shared); 1.0 when both are empty (the runs agree that nothing is called)."""
    n = shared(a, b)
    return n / (len(a) + len(b) - n) if a or b else 1.0


def stability(called: dict[tuple, dict[str, set]]) -> pd.DataFrame:
    """Pairwise Jaccard of the call sets of runs that differ only in ``train.seed``."""
    rows = []
    groups: dict[tuple, list] = {}
    for (seed, variant, gate, ts), sets in called.items():
        groups.setdefault((seed, variant, gate), []).append((ts, sets))
    for (seed, variant, gate), runs in groups.items():
        for i, (ta, a) in enumerate(runs):
            for tb, b in runs[i + 1 :]:
                for kind in a:
                    rows.append({"seed": seed, "variant": variant, "gate": gate, "train_seed_a": ta,
                                 "train_seed_b": tb, "calls": kind, "n_a": len(a[kind]), "n_b": len(b[kind]),
                                 "n_both": shared(a[kind], b[kind]), "jaccard": jaccard(a[kind], b[kind])})  # fmt: skip
    return pd.DataFrame(rows)


def denovo_recovery(run: str, seed: int, layout, q_threshold: float) -> pd.DataFrame:
    """One row per planted functional matrix: found de novo when a pattern of its sign (any gene
    group) matches it at Tomtom q < ``q_threshold`` (BH over the scanned motif set); planted
    matrices outside that set are not scored here; at most one pattern per planted matrix counts."""
    from promoter_cr.motifs.recovery import load_ground_truth, planted_signs
    from promoter_cr.seq.motifs import read_meme
    from promoter_cr.seq.tomtom import tomtom_against
    from promoter_cr.stats.fdr import bh_qvalues

    gt = load_ground_truth(layout.data.ground_truth)
    sign, *_ = planted_signs(gt)
    collection = read_meme(layout.motifs.meme)
    by_id = {m.motif_id: m for m in collection}
    table = pd.read_csv(layout.motifs.denovo.patterns, sep="\t", keep_default_na=False, na_values=[""])
    patterns = {m.motif_id: m for m in read_meme(layout.motifs.denovo.patterns_meme)}
    rows = []
    queries = [patterns[pid] for pid in table["pattern_id"]]
    planted = [m for m in sign if m in by_id]
    if queries and planted:
        (full,) = tomtom_against(queries, collection, collection)
        qall = np.vstack([bh_qvalues(row) for row in full])  # BH over the collection, as patterns.tsv
        cols = {m.motif_id: i for i, m in enumerate(collection)}
        q = qall[:, [cols[m] for m in planted]]
    else:
        q = np.ones((len(queries), len(planted)))
    pattern_sign = np.where(table["sign"].to_numpy() == "positive", 1, -1) if len(table) else np.zeros(0)
    for j, m in enumerate(planted):
        ok = (pattern_sign == sign[m]) & (q[:, j] < q_threshold) if len(table) else np.zeros(0, bool)
        same = pattern_sign == sign[m]
        best = int(np.argmin(np.where(same, q[:, j], np.inf))) if same.any() else -1
        rows.append({"run": run, "seed": seed, "motif_id": m, "name": by_id[m].name, "sign": sign[m],
                     "found": bool(ok.any()), "best_pattern": table["pattern_id"].iloc[best] if best >= 0 else "",
                     "best_q": float(q[best, j]) if best >= 0 else np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--n-genes", type=int, default=None, help="default: the hard preset's (8000)")
    ap.add_argument("--length", type=int, default=None, help="default: the hard preset's (1000)")
    ap.add_argument("--max-epochs", type=int, default=None, help="default: the schema's")
    ap.add_argument("--tag", default="", help="suffix of the run names (e.g. dev)")
    ap.add_argument("--cr", default="{}", help='CR overrides as JSON, e.g. \'{"channels": 64, "pair_channels": 8}\'')
    ap.add_argument("--crossfit-folds", type=int, default=None, help="default: the schema's")
    ap.add_argument("--threads", type=int, default=1, help="threads per training job (train.resources.threads)")
    ap.add_argument("--denovo", action="store_true", help="also run the de novo stage (planted runs)")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[0],
                    help="train.seed of each run (runs of seed 0 keep the plain name; others end in _t<seed>);"
                         " with two or more, stability.tsv compares the calls across them")  # fmt: skip
    args = ap.parse_args(argv)
    args.cr = json.loads(args.cr)

    from promoter_cr.config import validate_config
    from promoter_cr.layout import DatasetLayout
    from promoter_cr.plots.calibration import plot_pvalue_qq

    args.out.mkdir(parents=True, exist_ok=True)
    recs, calls, pvals, denovo_rows = [], [], [], []
    called: dict[tuple, dict[str, set]] = {}
    for seed, variant, ts in ((s, v, t) for s in args.seeds for v in args.variants for t in args.train_seeds):
        run = f"{variant}_s{seed}{args.tag}" + (f"_t{ts}" if ts else "")
        run_dir = (args.out / "runs" / run).resolve()
        for gate in (True, False) if variant in NULL_VARIANTS else (True,):
            raw = run_config(run_dir, run, seed, variant, args, gate, ts)
            cfg = validate_config(raw)
            layout = DatasetLayout.from_config(cfg)
            print(f"[{time.strftime('%H:%M:%S')}] {run} gate={gate} ...", flush=True)
            target = layout.motifs.denovo.summary if args.denovo and variant == "planted" else None
            sec = snakemake(run_dir, raw, layout.motifs.recovery, args.cores, run_dir / "snakemake.log", extra=target)
            called[(seed, variant, gate, ts)] = called_sets(layout, float(cfg["grammar"]["fdr"]))
            rec, cl, pv = collect(run, variant, seed, gate, layout, float(cfg["grammar"]["fdr"]), sec, ts)
            recs.append(rec)
            calls.append(cl)
            pvals.append(pv)
            print(cl[["test", "n_tests", "frac_p05", "n_q", "n_called"]].to_string(index=False), flush=True)
            if target is not None:
                dn = denovo_recovery(run, seed, layout, float(cfg["denovo"]["match_q_threshold"]))
                denovo_rows.append(dn)
                pd.concat(denovo_rows).to_csv(args.out / "denovo_recovery.tsv", sep="\t", index=False)
                print(dn.to_string(index=False), flush=True)
            pd.concat(recs).to_csv(args.out / "recovery.tsv", sep="\t", index=False)
            pd.concat(calls).to_csv(args.out / "calls.tsv", sep="\t", index=False)
            pd.concat(pvals).to_csv(args.out / "pvalues.tsv.gz", sep="\t", index=False)
    stab = stability(called)
    if len(stab):
        stab.to_csv(args.out / "stability.tsv", sep="\t", index=False)
        print(stab.groupby(["seed", "variant", "gate", "calls"])["jaccard"].mean().to_string(), flush=True)
    pv = pd.concat(pvals)
    null = pv[pv["variant"].isin(NULL_VARIANTS) & ~pv["gate"].astype(bool)]
    if len(null):
        panels = {t: {f"{r.variant} s{r.seed}": g["p"].to_numpy() for r, g in
                      ((g.iloc[0], g) for _, g in null[null["test"] == t].groupby("run"))}
                  for t in ["activity", "cooccurrence", "spacing", "cooperativity", "periodicity"]}  # fmt: skip
        plot_pvalue_qq(panels, args.out / "pvalue_qq", {"formats": ["png"], "dpi": 110},
                       title="null data sets, model gate off")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
