"""The motif stage through its commands: scan -> grammar -> spacing -> recovery -> figures, on a
small planted set with hand-made weighted features (so the calls are known), a model gate that
opens or refuses, and figures that never skip silently."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promoter_cr.cli import main

PLANTED = {"SP1": "MA0079.5", "REST": "MA0138.3", "CREB1": "MA0018.5", "NRF1": "MA0506.3"}
N_GENES, LENGTH = 240, 300


@pytest.fixture(scope="module")
def planted_set(tmp_path_factory):
    """Data set, weighted features, clusters, motif set and a 1-epoch CR checkpoint."""
    from promoter_cr.data.dataset import write_dataset
    from promoter_cr.data.splits import random_split
    from promoter_cr.seq.motifs import default_collection, write_meme

    root = tmp_path_factory.mktemp("motif_stage")
    rng = np.random.default_rng(11)
    jaspar = default_collection()
    by_id = {m.motif_id: m for m in jaspar}
    motifs = [by_id[i] for i in PLANTED.values()] + [m for m in jaspar[:40] if m.motif_id not in PLANTED.values()]
    cons = {k: by_id[v].pwm.argmax(axis=0).astype(np.uint8) for k, v in PLANTED.items()}
    seqs = rng.integers(0, 4, size=(N_GENES, LENGTH)).astype(np.uint8)
    wf = rng.normal(0, 0.01, size=(N_GENES, LENGTH)).astype(np.float32)
    label = rng.normal(0, 0.3, N_GENES)
    for g in range(N_GENES):
        if g < 150:  # SP1 activating at 20..60
            s = int(rng.integers(20, 60))
            seqs[g, s : s + len(cons["SP1"])] = cons["SP1"]
            wf[g, s : s + len(cons["SP1"])] += 1.0 / len(cons["SP1"])
            label[g] += 1.0
        if g >= 90:  # REST repressive at 100..140
            s = int(rng.integers(100, 140))
            seqs[g, s : s + len(cons["REST"])] = cons["REST"]
            wf[g, s : s + len(cons["REST"])] -= 1.0 / len(cons["REST"])
            label[g] -= 1.0
        if g % 2 == 0:  # CREB1 + NRF1 at 12 bp, '++', in 180..260
            s = int(rng.integers(180, 250 - 12 - len(cons["NRF1"])))
            seqs[g, s : s + len(cons["CREB1"])] = cons["CREB1"]
            seqs[g, s + 12 : s + 12 + len(cons["NRF1"])] = cons["NRF1"]
            label[g] += 1.5
    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(N_GENES)], "label": label,
                          "split": random_split(N_GENES, 0.2, 0.2, 0)})  # fmt: skip
    write_dataset(root / "data", seqs, genes, {"source": "test", "length": LENGTH})
    gt = {
        "jaspar_release": "JASPAR2024",
        "motifs": [
            {"motif_id": PLANTED["SP1"], "name": "SP1", "role": "activator", "effect": 1.0},
            {"motif_id": PLANTED["REST"], "name": "REST", "role": "repressor", "effect": -1.0},
            {"motif_id": PLANTED["CREB1"], "name": "CREB1", "role": "pair", "effect": 1.5},
            {"motif_id": PLANTED["NRF1"], "name": "NRF1", "role": "pair", "effect": 1.5},
        ],
        "pairs": [{"a": PLANTED["CREB1"], "b": PLANTED["NRF1"], "spacing": 12, "orientation": "++", "effect": 1.5,
                   "mode": "cooperative"}],
    }  # fmt: skip
    (root / "data" / "ground_truth.json").write_text(json.dumps(gt))
    (root / "attr").mkdir()
    np.save(root / "attr" / "weighted_features.npy", wf)
    learned = genes.assign(prediction=label + rng.normal(0, 0.3, N_GENES))
    learned.to_csv(root / "attr" / "attributions.tsv", sep="\t", index=False)
    (root / "clu").mkdir()
    genes[["gene_id"]].assign(cluster=(np.arange(N_GENES) >= 120).astype(int)).to_csv(
        root / "clu" / "assignments.tsv", sep="\t", index=False
    )
    write_meme(motifs, root / "set.meme")
    cfg = {
        "motifs": {"meme_file": str(root / "set.meme")},
        "grammar": {"cooccurrence_min_genes": 3, "cooccurrence_permutations": 50, "insilico_backgrounds": 4,
                    "insilico_max_pairs": 2, "insilico_max_spacing": 30},
        "models": {"cr": {"type": "cr", "channels": 8, "max_epochs": 1, "min_steps": 0}},
        "train": {"accelerator": "cpu", "devices": 1},
    }  # fmt: skip
    assert main(["train", "--config", json.dumps(cfg), "--data", str(root / "data"), "--model", "cr",
                 "--out", str(root / "models" / "cr")]) == 0  # fmt: skip
    return root, cfg


def _stage(root, cfg, mdir, attr="attr"):
    base = ["--config", json.dumps(cfg)]
    data = ["--data", str(root / "data")]
    ckpt = str(root / "models" / "cr" / "best.ckpt")
    assert main(["scan", *base, *data, "--attributions", str(root / attr), "--clusters", str(root / "clu"),
                 "--out", str(mdir)]) == 0  # fmt: skip
    assert (
        main(["grammar", *base, "--motifs-dir", str(mdir), "--attributions", str(root / attr), "--out", str(mdir)]) == 0
    )
    assert main(["spacing", *base, *data, "--motifs-dir", str(mdir), "--checkpoint", ckpt, "--out", str(mdir),
                 "--no-progress", "--device", "cpu"]) == 0  # fmt: skip
    assert main(["recovery", *base, *data, "--motifs-dir", str(mdir), "--out", str(mdir)]) == 0


def test_scan_grammar_spacing_recovery_and_figures(planted_set, tmp_path):
    from promoter_cr.layout import FIGURES, DatasetLayout
    from promoter_cr.plots.motifs import plot_motifs

    root, cfg = planted_set
    lay = DatasetLayout(tmp_path / "res")
    _stage(root, cfg, lay.motifs.dir)
    m = lay.motifs
    act = pd.read_csv(m.activity, sep="\t", dtype={"cluster": str})
    # the agreed columns stay
    assert {"motif_id", "motif_name", "cluster", "n_hits", "mean_contribution", "effect", "q_value"} <= set(act.columns)
    allrows = act[act["cluster"] == "all"].set_index("motif_id")
    assert allrows.loc[PLANTED["REST"], "effect"] == "repressive"
    # SP1 sites are also KLF4's (MA0039.5, in the set): one keeps the call, the other is explained by it
    assert allrows.loc[PLANTED["SP1"], "marginal_effect"] == "activating"
    assert (allrows.loc[[PLANTED["SP1"], "MA0039.5"], "effect"] == "activating").sum() == 1
    cooc = pd.read_csv(m.cooccurrence, sep="\t")
    assert {"motif_a", "motif_b", "q_value"} <= set(cooc.columns)
    sig = {frozenset(x) for x in cooc.loc[cooc["significant"], ["motif_a", "motif_b"]].to_numpy()}
    assert frozenset((PLANTED["CREB1"], PLANTED["NRF1"])) in sig
    spacing = pd.read_csv(m.spacing, sep="\t")
    assert {"motif_a", "motif_b", "orientation", "spacing", "q_value", "interaction", "ci_low", "ci_high"} <= set(
        spacing.columns
    )
    summary = json.loads(m.spacing_summary.read_text())
    assert not summary["refused"] and 1 <= summary["n_tested"] <= 2
    tested = {frozenset(x) for x in spacing[["motif_a", "motif_b"]].drop_duplicates().to_numpy()}
    assert len(tested) == summary["n_tested"] and set(spacing["orientation"]) == {"++", "+-", "-+", "--"}
    assert (spacing["spacing"].abs() <= 30).all() and spacing["n_backgrounds"].eq(4).all()
    coop = pd.read_csv(m.cooperativity, sep="\t")
    assert len(coop) == summary["n_tested"]
    rec = pd.read_csv(m.recovery, sep="\t").set_index("category")
    assert rec.loc["activating", "recall"] == 1.0 and rec.loc["repressive", "recall"] == 1.0
    assert rec.loc["pair_cooccurrence", "recall"] == 1.0
    assert {"pair_spacing", "pair_members"} <= set(rec.index)
    paths = plot_motifs(lay.root, tmp_path / "figs", {"formats": ["png"], "dpi": 50})
    assert {p.stem for p in paths} == set(FIGURES["motifs"])
    assert all(p.stat().st_size > 0 for p in paths)


def test_a_model_that_did_not_learn_is_refused(planted_set, tmp_path):
    root, cfg = planted_set
    attr = root / "attr_noise"
    attr.mkdir(exist_ok=True)
    (attr / "weighted_features.npy").write_bytes((root / "attr" / "weighted_features.npy").read_bytes())
    table = pd.read_csv(root / "attr" / "attributions.tsv", sep="\t")
    table["prediction"] = np.random.default_rng(0).normal(size=len(table))  # unrelated to the labels
    table.to_csv(attr / "attributions.tsv", sep="\t", index=False)
    mdir = tmp_path / "motifs"
    _stage(root, cfg, mdir, attr="attr_noise")
    gsum = json.loads((mdir / "grammar_summary.json").read_text())
    assert gsum["refused"] and not gsum["model_gate"]["passed"]
    act = pd.read_csv(mdir / "activity.tsv", sep="\t")
    assert (act["effect"] == "none").all() and act["note"].str.contains("did not learn").all()
    assert act["p_value"].notna().any()  # the statistics are still reported
    assert len(pd.read_csv(mdir / "cooccurrence.tsv", sep="\t")) == 0
    assert len(pd.read_csv(mdir / "spacing.tsv", sep="\t")) == 0
    assert json.loads((mdir / "spacing_summary.json").read_text())["refused"]
    rec = pd.read_csv(mdir / "recovery.tsv", sep="\t").set_index("category")
    assert rec.loc["activating", "recall"] == 0.0


def test_motif_figures_need_their_tables(tmp_path):
    from promoter_cr.errors import InputDataError
    from promoter_cr.layout import FIGURES, DatasetLayout
    from promoter_cr.motifs.activity import ACTIVITY_COLUMNS
    from promoter_cr.motifs.cooccurrence import COOC_COLUMNS
    from promoter_cr.motifs.insilico import INSILICO_COLUMNS, PAIR_COLUMNS
    from promoter_cr.plots.motifs import plot_motifs
    from promoter_cr.seq.motifs import write_meme

    lay = DatasetLayout(tmp_path / "ds")
    m = lay.motifs
    m.dir.mkdir(parents=True)
    tables = (
        (m.activity, ACTIVITY_COLUMNS),
        (m.cooccurrence, COOC_COLUMNS),
        (m.spacing, INSILICO_COLUMNS),
        (m.cooperativity, PAIR_COLUMNS),
        (m.communities, ["motif_id", "motif_name", "community"]),
    )
    for path, cols in tables:
        pd.DataFrame(columns=cols).to_csv(path, sep="\t", index=False)
    write_meme([], m.meme)
    m.spacing_summary.write_text(json.dumps({"refused": False, "settings": {"fdr": 0.05}}))
    # enrichment.tsv is missing: an error naming it, never a silently skipped figure
    with pytest.raises(InputDataError, match="enrichment.tsv: figure input is missing"):
        plot_motifs(lay.root, tmp_path / "figs", {"formats": ["png"], "dpi": 40})
    pd.DataFrame(columns=["motif_id", "cluster", "p_value", "q_value", "log2_enrichment"]).to_csv(
        m.enrichment, sep="\t", index=False
    )
    paths = plot_motifs(lay.root, tmp_path / "figs", {"formats": ["png"], "dpi": 40})
    assert {p.stem for p in paths} == set(FIGURES["motifs"])  # empty tables: figures that say so


def test_volcano_labels_of_near_points_do_not_overprint():
    from promoter_cr.plots.motifs import label_offsets

    x = np.array([0.77, 0.82, 0.61, -0.6])
    y = np.array([300.0, 300.0, 192.0, 111.0])
    off = label_offsets(x, y, span=(1.7, 300.0))
    assert off[0] == (3, 2) and off[1][1] < off[0][1]  # AZF1 and EDS1 at the q floor: the second moves down
    assert off[2] == (3, 2) and off[3] == (3, 2)  # apart: unchanged
