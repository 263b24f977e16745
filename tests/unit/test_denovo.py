"""Tests of de novo motif discovery from hypothetical contributions (promoter_cr.motifs.denovo).

Synthetic data: random sequences carrying one planted site each - an activating JASPAR motif
(NRF1, positive contributions), a repressive one (CTCF, negative) or a made-up motif that is
in no collection (positive) - on either strand, with hypothetical contributions equal to the
planted matrix's log-odds times the effect, plus small noise elsewhere.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promoter_cr.errors import InputDataError
from promoter_cr.models.export import DenovoError, actual_contributions
from promoter_cr.models.inference import Predictor
from promoter_cr.motifs.denovo import PATTERN_COLUMNS, SEQLET_COLUMNS, ModiscoSettings, information_content, trim_span
from promoter_cr.motifs.denovo_stage import export_hypothetical, run_denovo
from promoter_cr.seq.motifs import load_jaspar_ids, read_meme

ACTIVATOR, REPRESSOR = "MA0506.3", "MA0139.2"  # NRF1, CTCF
#: not in the scanned collection, and no JASPAR CORE vertebrate matrix matches it (Tomtom q > 0.5)
NOVEL = "TACGATTAGC"
#: the scanned collection: the two planted matrices and unrelated ones (never the novel motif)
COLLECTION = [
    ACTIVATOR,
    REPRESSOR,
    "MA0079.5",
    "MA0095.4",
    "MA0060.4",
    "MA0028.3",
    "MA0018.5",
    "MA0102.5",
    "MA0114.5",
    "MA0148.5",
]
N_PER, LENGTH = 110, 140

SETTINGS = dict(
    sliding_window_size=15,
    flank_size=5,
    target_seqlet_fdr=0.2,
    min_passing_windows_frac=0.03,
    max_passing_windows_frac=0.2,
    weak_threshold_for_counting_sign=0.8,
    min_metacluster_size=30,
    max_seqlets_per_metacluster=400,
    n_leiden_runs=2,
    nearest_neighbors=40,
    final_min_cluster_size=15,
    min_ic_in_window=0.6,
    min_ic_windowsize=6,
    trim_threshold=0.2,
    chunk_mb=1.0,
    seed=0,
)


def _consensus_matrix(seq: str, p: float = 0.91) -> np.ndarray:
    m = np.full((4, len(seq)), (1 - p) / 3)
    for k, c in enumerate(seq):
        m["ACGT".index(c), k] = p
    return m


def _synthetic(seed: int = 0):
    """codes (N, L) uint8, hypothetical (N, 4, L) float32, clusters (N,), the planted sites."""
    rng = np.random.default_rng(seed)
    planted = {m.motif_id: m.pwm for m in load_jaspar_ids("JASPAR2024", [ACTIVATOR, REPRESSOR])}
    kinds = [(planted[ACTIVATOR], 1.0), (planted[REPRESSOR], -1.0), (_consensus_matrix(NOVEL), 1.0)]
    n = N_PER * len(kinds)
    codes = rng.integers(0, 4, size=(n, LENGTH), dtype=np.uint8)
    hyp = rng.normal(0.0, 0.02, size=(n, 4, LENGTH)).astype(np.float32)
    sites = []
    for i in range(n):
        pwm, effect = kinds[i % len(kinds)]
        if rng.random() < 0.5:
            pwm, strand = pwm[::-1, ::-1], "-"
        else:
            strand = "+"
        w = pwm.shape[1]
        p = int(rng.integers(35, LENGTH - w - 35))
        for k in range(w):
            codes[i, p + k] = rng.choice(4, p=pwm[:, k] / pwm[:, k].sum())
        hyp[i, :, p : p + w] += effect * np.maximum(np.log2(np.clip(pwm, 1e-3, 1) / 0.25), -2.0)
        sites.append((i, i % len(kinds), p, p + w, strand))
    clusters = np.where(np.arange(n) % 2 == 0, "c0", "c1")
    return codes, hyp, clusters, sites


@pytest.fixture(scope="module")
def collection():
    return load_jaspar_ids("JASPAR2024", COLLECTION)


@pytest.fixture(scope="module")
def result(tmp_path_factory, collection):
    """One run over all genes and two clusters (TF-MoDISco compiles its kernels once per process)."""
    codes, hyp, clusters, sites = _synthetic()
    root = tmp_path_factory.mktemp("denovo")
    np.save(root / "hyp.npy", hyp.astype(np.float16))
    hyp_mm = np.load(root / "hyp.npy", mmap_mode="r")
    gene_ids = np.array([f"g{i:03d}" for i in range(len(codes))])
    files = run_denovo(
        hyp_mm,
        codes,
        root / "denovo",
        rows=None,
        gene_ids=gene_ids,
        clusters=clusters,
        motifs=collection,
        settings=ModiscoSettings(**SETTINGS),
        match_q_threshold=0.05,
        hypothetical_path=root / "hyp.npy",
        sequences_path="codes",
    )
    table = pd.read_csv(files.patterns, sep="\t", keep_default_na=False, na_values=[""])
    return files, table, sites, gene_ids


def test_planted_motifs_found_with_their_sign_and_match(result):
    files, table, _, _ = result
    assert list(table.columns) == PATTERN_COLUMNS
    allg = table[table["cluster"] == "all"]
    act = allg[(allg["best_match_id"] == ACTIVATOR) & ~allg["novel"]]
    rep = allg[(allg["best_match_id"] == REPRESSOR) & ~allg["novel"]]
    assert len(act) >= 1 and (act["sign"] == "positive").all() and (act["match_q_value"] < 0.05).all()
    assert len(rep) >= 1 and (rep["sign"] == "negative").all() and (rep["mean_contribution"] < 0).all()
    # the planted matrices never come out with the wrong sign
    assert not ((allg["best_match_id"] == ACTIVATOR) & (allg["sign"] == "negative") & ~allg["novel"]).any()
    assert not ((allg["best_match_id"] == REPRESSOR) & (allg["sign"] == "positive") & ~allg["novel"]).any()
    # every cluster has its own patterns of both planted motifs
    for c in ("c0", "c1"):
        sub = table[(table["cluster"] == c) & ~table["novel"]]
        assert {ACTIVATOR, REPRESSOR} <= set(sub["best_match_id"])


def test_novel_motif_reported_not_dropped(result):
    files, table, _, _ = result
    motifs = {m.motif_id: m for m in read_meme(files.patterns_meme)}
    novel = table[(table["cluster"] == "all") & table["novel"].astype(bool)]
    assert len(novel) >= 1
    # a novel pattern carries the made-up consensus (either strand) and a q-value that fails the threshold
    target = _consensus_matrix(NOVEL)
    hits = []
    for pid in novel["pattern_id"]:
        pwm = motifs[pid].pwm
        hits.append(max(_best_overlap_identity(pwm, target), _best_overlap_identity(pwm[::-1, ::-1], target)))
    assert max(hits) >= 0.8
    assert (novel["match_q_value"].fillna(1.0) >= 0.05).all()
    assert motifs[novel["pattern_id"].iloc[0]].name == "novel"


def _best_overlap_identity(pwm: np.ndarray, target: np.ndarray) -> float:
    """Fraction of the target's consensus reproduced by the pattern's consensus at the best offset."""
    a, b = pwm.argmax(0), target.argmax(0)
    best = 0.0
    for off in range(-len(b) + 1, len(a)):
        same = sum(1 for k in range(len(b)) if 0 <= off + k < len(a) and a[off + k] == b[k])
        best = max(best, same / len(b))
    return best


def test_outputs_readable_and_consistent(result):
    files, table, sites, gene_ids = result
    motifs = read_meme(files.patterns_meme)
    assert [m.motif_id for m in motifs] == list(table["pattern_id"])
    for m, w in zip(motifs, table["width"]):
        assert m.pwm.shape == (4, w) and np.allclose(m.pwm.sum(0), 1.0, atol=1e-4)
    seqlets = pd.read_csv(files.seqlets, sep="\t")
    assert list(seqlets.columns) == SEQLET_COLUMNS
    assert set(seqlets["pattern_id"]) <= set(table["pattern_id"])
    assert set(seqlets["gene"]) <= set(gene_ids)
    assert ((seqlets["start"] >= 0) & (seqlets["end"] <= LENGTH) & (seqlets["end"] > seqlets["start"])).all()
    counts = seqlets.groupby("pattern_id").size()
    assert (table.set_index("pattern_id")["n_seqlets"] == counts.reindex(table["pattern_id"]).to_numpy()).all()
    # seqlets of the activator pattern sit on the planted activator sites
    planted = pd.DataFrame(sites, columns=["row", "kind", "start", "end", "strand"])
    act_pid = table[(table["cluster"] == "all") & (table["best_match_id"] == ACTIVATOR)]["pattern_id"].iloc[0]
    s = seqlets[seqlets["pattern_id"] == act_pid]
    rows = s["gene"].str[1:].astype(int).to_numpy()
    site = planted.set_index("row").loc[rows]
    overlap = (s["start"].to_numpy() < site["end"].to_numpy()) & (s["end"].to_numpy() > site["start"].to_numpy())
    assert (site["kind"].to_numpy() == 0).mean() > 0.9 and overlap.mean() > 0.9
    summary = json.loads(files.summary.read_text())
    assert summary["n_patterns"] == len(table) and summary["groups"]["all"]["positive"]["seqlets_used"] > 0
    assert {p["pattern_id"] for p in summary["patterns"]} == set(table["pattern_id"])


def test_shape_mismatch_errors_and_writes_nothing(tmp_path, collection):
    codes, hyp, clusters, _ = _synthetic()
    out = tmp_path / "denovo"
    with pytest.raises(InputDataError, match="140 bp.*141 bp"):
        run_denovo(
            hyp,
            np.zeros((len(codes), LENGTH + 1), np.uint8),
            out,
            rows=None,
            gene_ids=np.arange(len(codes)).astype(str),
            clusters=None,
            motifs=collection,
            settings=ModiscoSettings(**SETTINGS),
            match_q_threshold=0.05,
            hypothetical_path=tmp_path / "hyp.npy",
            sequences_path=tmp_path / "sequences.npy",
        )
    with pytest.raises(InputDataError, match="hyp.npy.*330 rows.*329 cluster labels"):
        run_denovo(
            hyp,
            codes,
            out,
            rows=None,
            gene_ids=np.arange(len(codes)).astype(str),
            clusters=clusters[:-1],
            motifs=collection,
            settings=ModiscoSettings(**SETTINGS),
            match_q_threshold=0.05,
            hypothetical_path=tmp_path / "hyp.npy",
            sequences_path="s",
        )
    assert not out.exists() and not any(tmp_path.iterdir())


def test_settings_are_checked():
    from promoter_cr.errors import ConfigError

    with pytest.raises(ConfigError, match="missing.*seed"):
        ModiscoSettings.from_config({k: v for k, v in SETTINGS.items() if k != "seed"})
    with pytest.raises(ConfigError, match="target_seqlet_fdr"):
        ModiscoSettings(**{**SETTINGS, "target_seqlet_fdr": 1.5})


def test_trim_by_information_content():
    ppm = np.full((4, 7), 0.25)
    ppm[:, 2:5] = _consensus_matrix("ACG")
    assert trim_span(ppm, 0.3) == (2, 5)
    assert information_content(ppm)[0] == pytest.approx(0.0)


def test_export_hypothetical_matches_the_model(tmp_path):
    import torch
    from _model_fixtures import make_network

    torch.manual_seed(0)
    model = make_network("cr", 60, channels=8)
    rng = np.random.default_rng(1)
    seqs = rng.integers(0, 5, size=(20, 60), dtype=np.uint8)
    rows = np.array([3, 0, 7, 19, 5])
    out = tmp_path / "attr" / "hypothetical_weights.npy"
    export_hypothetical(Predictor(model, "cpu", 2, False), seqs, rows, out, dtype="float32")
    got = np.load(out)
    assert got.shape == (5, 4, 60) and got.dtype == np.float32
    want = np.concatenate(
        [b.weights for _, b in Predictor(model, "cpu", 8).batches(seqs, rows=rows, what=("weights",))]
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    wf = np.concatenate(
        [b.contributions for _, b in Predictor(model, "cpu", 8).batches(seqs, rows=rows, what=("contributions",))]
    )
    np.testing.assert_allclose(actual_contributions(got, seqs[rows]), wf, rtol=1e-4, atol=1e-5)
    export_hypothetical(Predictor(model, "cpu", 7, False), seqs, None, out, dtype="float16")
    assert np.load(out).dtype == np.float16 and np.load(out).shape == (20, 4, 60)
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_export_rejects_a_model_without_weights(tmp_path):
    from _model_fixtures import make_network

    model = make_network("xpresso_cnn", 60, conv1_filters=4, conv2_filters=4, dense1=4)
    out = tmp_path / "h.npy"
    with pytest.raises(DenovoError, match="Contextual Regression"):
        export_hypothetical(Predictor(model, "cpu", 2, False), np.zeros((3, 60), np.uint8), None, out, dtype="float16")
    assert not any(tmp_path.iterdir())


def test_figure_draws_cwm_and_match(result, collection, tmp_path):
    from promoter_cr.plots.denovo import plot_denovo_patterns

    files, table, _, _ = result
    paths = plot_denovo_patterns(
        files.dir, collection, tmp_path / "denovo_patterns", formats=["png"], dpi=60, max_rows=4
    )
    assert [p.name for p in paths] == ["denovo_patterns.png"] and paths[0].stat().st_size > 1000
    with pytest.raises(InputDataError, match="patterns.tsv"):
        plot_denovo_patterns(tmp_path / "nowhere", collection, tmp_path / "x", formats=["png"], dpi=60, max_rows=4)


def test_export_cross_fitted_rows_come_from_their_own_fold_model(tmp_path):
    """With several models, row i holds the weights of model assignment[i] (cross-fitting)."""
    import torch
    from _model_fixtures import make_network

    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(make_network("cr", 40, channels=8))
    rng = np.random.default_rng(2)
    seqs = rng.integers(0, 4, size=(12, 40), dtype=np.uint8)
    rows = np.array([11, 2, 5, 0, 7, 3, 9])
    assignment = np.array([1, 0, 0, 1, 1, 0, 1])
    out = tmp_path / "hypothetical_weights.npy"
    export_hypothetical(
        [Predictor(m, "cpu", 2, False) for m in models], seqs, rows, out, dtype="float32", assignment=assignment
    )
    got = np.load(out)
    for i, (r, k) in enumerate(zip(rows, assignment)):
        (_, b), *_ = Predictor(models[k], "cpu", 1).batches(seqs, rows=np.array([r]), what=("weights",))
        np.testing.assert_allclose(got[i], b.weights[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="assignment"):
        export_hypothetical(
            [Predictor(m, "cpu", 2, False) for m in models],
            seqs,
            rows,
            out,
            dtype="float32",
            assignment=np.full(len(rows), 2),
        )


def test_figure_family_needs_the_scanned_motif_set(result, collection, tmp_path):
    """``promoter-cr figures --stage denovo`` reads results/<ds>/motifs/denovo and motifs.meme."""
    import shutil

    from promoter_cr.config import validate_config
    from promoter_cr.layout import DatasetLayout
    from promoter_cr.plots.denovo import plot_denovo

    files, _, _, _ = result
    ds = DatasetLayout(tmp_path / "ds")
    shutil.copytree(files.dir, ds.motifs.denovo.dir)
    fig_cfg = {**validate_config({})["figures"], "formats": ["png", "svg"], "denovo_max_patterns": 3}
    with pytest.raises(InputDataError, match="motifs.meme"):
        plot_denovo(ds.root, tmp_path / "figs", fig_cfg)
    from promoter_cr.seq.motifs import write_meme

    write_meme(collection, ds.motifs.meme)
    paths = plot_denovo(ds.root, tmp_path / "figs", fig_cfg)
    assert sorted(p.name for p in paths) == ["denovo_patterns.png", "denovo_patterns.svg"]
