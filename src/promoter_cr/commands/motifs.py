"""``promoter-cr scan``, ``promoter-cr grammar`` and ``promoter-cr recovery``.

::

    promoter-cr scan --config C --data DIR --attributions DIR --clusters DIR --out DIR
        -> motifs.meme, hits.parquet, gene_clusters.tsv, scan_summary.json
    promoter-cr grammar --config C --data DIR --motifs-dir DIR --out DIR
        -> activity.tsv, enrichment.tsv, cooccurrence.tsv, communities.tsv, spacing.tsv,
           periodicity.tsv, grammar_summary.json
    promoter-cr recovery --config C --data DIR --motifs-dir DIR --out DIR
        -> recovery.tsv, recovery_matches.tsv   (simulated data sets: needs ground_truth.json)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from promoter_cr.commands import add_config_arg, read_config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="scan every promoter with FIMO and score hits by their contribution")
    add_config_arg(p)
    p.add_argument("--data", required=True, help="data set folder (sequences.npy, genes.tsv, meta.json)")
    p.add_argument("--attributions", required=True, help="folder with weighted_features.npy")
    p.add_argument("--clusters", default=None, help="folder with assignments.tsv (omit: one cluster '0')")
    p.add_argument("--out", required=True, help="output folder (motifs/)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("grammar", help="activating/repressive motifs, enrichment, co-occurrence, spacing")
    add_config_arg(p)
    p.add_argument("--data", required=True, help="data set folder")
    p.add_argument("--motifs-dir", required=True, help="folder written by `promoter-cr scan`")
    p.add_argument("--out", required=True, help="output folder (usually the same motifs/ folder)")
    p.set_defaults(func=cmd_grammar)

    p = sub.add_parser("recovery", help="score recovery of a simulator's planted grammar")
    add_config_arg(p)
    p.add_argument("--data", required=True, help="data set folder with ground_truth.json")
    p.add_argument("--motifs-dir", required=True, help="folder with motifs.meme and the grammar tables")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_recovery)


def cmd_scan(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from promoter_cr.atomic import write_json, write_tsv
    from promoter_cr.data.dataset import load_dataset
    from promoter_cr.errors import InputDataError
    from promoter_cr.motifs.grammar import GENE_CLUSTERS, MOTIFS_FILE, SCAN_SUMMARY
    from promoter_cr.motifs.database import load_motifs, write_meme
    from promoter_cr.motifs.scan import HITS_FILE, load_clusters, scan_dataset

    cfg = read_config(args.config)
    mcfg, gcfg = cfg["motifs"], cfg["grammar"]
    ds = load_dataset(args.data)
    wf_path = Path(args.attributions) / "weighted_features.npy"
    if not wf_path.exists():
        raise InputDataError(wf_path, "weighted features are missing (run `promoter-cr attribute` first)")
    wf = np.load(wf_path, mmap_mode="r")
    if wf.shape != ds.sequences.shape:
        raise InputDataError(wf_path, f"shape {wf.shape} does not match sequences.npy {ds.sequences.shape}")
    gene_ids = ds.genes["gene_id"].astype(str).tolist()
    if args.clusters:
        clusters = load_clusters(Path(args.clusters) / "assignments.tsv", gene_ids)
    else:
        clusters = np.array(["0"] * len(gene_ids), dtype=object)
    try:
        motifs = load_motifs(mcfg)
    except ValueError as exc:
        raise InputDataError(mcfg.get("meme_file"), str(exc)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_meme(motifs, out / MOTIFS_FILE)
    write_tsv(out / GENE_CLUSTERS, pd.DataFrame({"gene_id": gene_ids, "cluster": clusters}))
    log.info("scanning %d genes x %d bp with %d motifs (p < %g)", ds.n, ds.length, len(motifs), mcfg["p_threshold"])
    summary = scan_dataset(
        ds.sequences, wf, gene_ids, clusters, motifs, out / HITS_FILE,
        threshold=float(mcfg["p_threshold"]), batch_genes=int(mcfg["batch_genes"]),
        null_max_shift=int(gcfg.get("null_max_shift", 50)), seed=int(gcfg.get("seed", 0)),
    )
    write_json(out / SCAN_SUMMARY, summary)
    log.info("%d hits written to %s", summary["n_hits"], out / HITS_FILE)
    return 0


def cmd_grammar(args: argparse.Namespace) -> int:
    from promoter_cr.motifs.grammar import run_grammar

    cfg = read_config(args.config)
    summary = run_grammar(args.motifs_dir, args.out, cfg["grammar"])
    log.info("calls in 'all': %s; significant edges: %d; communities: %d",
             summary["calls_all"], summary["significant_edges"], summary["communities"])
    return 0


def cmd_recovery(args: argparse.Namespace) -> int:
    import pandas as pd

    from promoter_cr.atomic import write_tsv
    from promoter_cr.errors import InputDataError
    from promoter_cr.motifs.grammar import MOTIFS_FILE
    from promoter_cr.motifs.database import load_jaspar, read_meme
    from promoter_cr.motifs.recovery import load_ground_truth, planted_signs, score_recovery

    cfg = read_config(args.config)
    g = cfg["grammar"]
    gt = load_ground_truth(Path(args.data) / "ground_truth.json")
    mdir = Path(args.motifs_dir)
    tables = {}
    for name in ("activity", "cooccurrence", "spacing"):
        path = mdir / f"{name}.tsv"
        if not path.exists():
            raise InputDataError(path, "grammar table is missing (run `promoter-cr grammar` first)")
        tables[name] = pd.read_csv(path, sep="\t", dtype={"cluster": str})
    motifs = read_meme(mdir / MOTIFS_FILE)
    have = {m.motif_id: m for m in motifs}
    sign, act, rep = planted_signs(gt)
    wanted = list(dict.fromkeys(act + rep + list(sign)))
    missing = [w for w in wanted if w not in have]
    extra = load_jaspar(release=gt.get("jaspar_release", "JASPAR2024"), ids=missing) if missing else []
    planted = [have[w] for w in wanted if w in have] + extra
    recovery, matches = score_recovery(
        gt, tables["activity"], tables["cooccurrence"], tables["spacing"], motifs, planted,
        tomtom_threshold=float(g["tomtom_threshold"]), fdr=float(g["fdr"]),
    )
    out = Path(args.out)
    write_tsv(out / "recovery.tsv", recovery)
    write_tsv(out / "recovery_matches.tsv", matches)
    for r in recovery.itertuples():
        log.info("%s: precision %s recall %s (%s of %s planted)", r.category, r.precision, r.recall, r.n_recovered, r.n_planted)
    return 0
