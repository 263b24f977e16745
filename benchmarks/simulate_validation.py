"""Sanity checks of the planted-grammar simulator (run on demand, not a test).

    python benchmarks/simulate_validation.py [--n-genes 2400] [--seed 7]

Reports: run time; background composition (planted bases excluded) against the targets;
the share of planted sites FIMO (memelite, the planted matrices, p < 1e-4) finds at their exact
start and strand, and its hits of those motifs away from any plant; how much of the label the
planted grammar explains; a 6-mer ridge baseline; Kruskal-Wallis across classes; and the
adjusted Rand index of k-means on *ideal* attribution tracks (the true effects spread over the
planted bases, plus noise), smoothed and binned as the clustering stage does.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.linear_model import RidgeCV
from sklearn.metrics import adjusted_rand_score, silhouette_score

from promoter_cr.config import validate_config
from promoter_cr.data.sources import simulate as S


def kmer_counts(codes: np.ndarray, k: int) -> np.ndarray:
    """``(N, 4**k)`` k-mer counts of ``(N, L)`` codes."""
    idx = np.zeros((codes.shape[0], codes.shape[1] - k + 1), dtype=np.int64)
    for j in range(k):
        idx = idx * 4 + codes[:, j : j + idx.shape[1]]
    out = np.zeros((codes.shape[0], 4**k))
    np.add.at(out, (np.repeat(np.arange(codes.shape[0]), idx.shape[1]), idx.ravel()), 1)
    return out


def ideal_tracks(gt: dict, N: int, L: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """``(N, L)`` perfect contribution tracks: each active element's effect spread over its bases."""
    eff = {m["motif_id"]: m["effect"] for m in gt["motifs"] if m["role"] in ("activator", "repressor")}
    pair_eff = gt["pairs"][0]["effect"] if gt["pairs"] else 0.0
    tr = rng.normal(0, noise, (N, L))
    for r, g in enumerate(gt["genes"]):
        for p in g["plants"]:
            w = p["end"] - p["start"]
            if p["role"] in ("activator", "repressor"):
                tr[r, p["start"] : p["end"]] += eff[p["motif_id"]] / w
            elif p["role"] in ("pair_a", "pair_b"):
                tr[r, p["start"] : p["end"]] += pair_eff / 2 / w
    return tr


def binned(tr: np.ndarray, smooth: int = 11, bin_size: int = 20) -> np.ndarray:
    k = np.ones(smooth) / smooth
    sm = np.apply_along_axis(lambda x: np.convolve(x, k, mode="same"), 1, tr)
    nb = sm.shape[1] // bin_size
    b = sm[:, : nb * bin_size].reshape(len(sm), nb, bin_size).sum(2)
    return np.hstack([np.clip(b, 0, None), np.clip(-b, 0, None)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-genes", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    cfg = validate_config({"dataset": {"simulate": {"n_genes": args.n_genes, "seed": args.seed}}})
    sim = cfg["dataset"]["simulate"]
    t0 = time.time()
    motifs = S.load_simulation_motifs(sim)
    codes, genes, gt = S.simulate(sim, motifs)
    print(f"simulate: {time.time() - t0:.1f} s for {codes.shape}")
    N, L = codes.shape
    tss = gt["tss_index"]

    plant = np.zeros((N, L), dtype=bool)
    for r, g in enumerate(gt["genes"]):
        for p in g["plants"]:
            plant[r, p["start"] : p["end"]] = True
    island = np.zeros(L, dtype=bool)
    a, b = sim["island"]
    island[max(tss + a, 0) : min(tss + b, L)] = True
    for name, zone, tgt in (
        ("bulk", ~island, (sim["gc"], sim["cpg_ratio"])),
        ("island", island, (sim["island_gc"], sim["island_cpg_ratio"])),
    ):
        bg = np.where(plant[:, zone], 4, codes[:, zone])
        c = S.composition(bg)
        print(f"background {name}: GC {c['gc']:.3f} (target {tgt[0]}), CpG o/e {c['cpg_ratio']:.3f} (target {tgt[1]})")
    c = S.composition(codes)
    print(f"whole sequences incl. plants: GC {c['gc']:.3f}, CpG o/e {c['cpg_ratio']:.3f}")

    from memelite import fimo

    from promoter_cr.seq.encoding import one_hot_numpy

    t0 = time.time()
    hits = fimo({m: motifs[m].pwm for m in S.motif_ids(sim)}, one_hot_numpy(codes), threshold=1e-4)
    print(f"fimo (7 motifs): {time.time() - t0:.1f} s")
    found = set()
    n_hits = 0
    for df in hits:
        n_hits += len(df)
        found |= set(zip(df["sequence_name"].astype(int), df["motif_name"], df["start"].astype(int), df["strand"]))
    planted = [(r, p["motif_id"], p["start"], p["strand"]) for r, g in enumerate(gt["genes"]) for p in g["plants"]]
    rec = np.mean([x in found for x in planted])
    by_role: dict[str, list[bool]] = {}
    for r, g in enumerate(gt["genes"]):
        for p in g["plants"]:
            by_role.setdefault(p["role"], []).append((r, p["motif_id"], p["start"], p["strand"]) in found)
    own = 0
    for r, mid, s, _ in found:
        w = motifs[mid].width
        if not any(p["motif_id"] == mid and p["start"] < s + w and s < p["end"] for p in gt["genes"][r]["plants"]):
            own += 1
    print(
        f"FIMO p<1e-4 finds {rec:.3f} of {len(planted)} planted sites at exact start+strand; by role "
        + ", ".join(f"{k} {np.mean(v):.3f} (n={len(v)})" for k, v in by_role.items())
    )
    print(f"FIMO hits of planted motifs: {n_hits}; away from any plant of the same motif: {own}")

    y = genes["label"].to_numpy()
    f = np.array([S.planted_function(g["plants"], gt) for g in gt["genes"]])
    print(
        f"label ~ planted function: r2 {np.corrcoef(f, y)[0, 1] ** 2:.3f}; residual sd "
        f"{np.std(y - f):.3f} (noise_sd {sim['noise_sd']}); label sd {y.std():.3f}"
    )
    print("class means:", genes.groupby("sim_class")["label"].mean().round(2).to_dict())
    kw = stats.kruskal(*[y[genes["sim_class"] == c] for c in range(sim["n_classes"])])
    print(f"Kruskal-Wallis across classes: H {kw.statistic:.1f}, p {kw.pvalue:.2e}")
    n_pair = sum(p["role"] == "pair_a" for g in gt["genes"] for p in g["plants"])
    n_dec = sum(p["role"] == "decoy" for g in gt["genes"] for p in g["plants"])
    print(f"functional pairs {n_pair}, decoy sites {n_dec}")

    rng = np.random.default_rng(0)
    order = rng.permutation(N)
    tr_i, te_i = order[: int(0.8 * N)], order[int(0.9 * N) :]
    t0 = time.time()
    X = np.hstack([kmer_counts(codes, k) for k in (4, 5, 6)])
    m = RidgeCV(alphas=np.logspace(0, 4, 9)).fit(X[tr_i], y[tr_i])
    print(
        f"4-6-mer ridge: test r2 {np.corrcoef(m.predict(X[te_i]), y[te_i])[0, 1] ** 2:.3f} ({time.time() - t0:.1f} s)"
    )

    for noise in (0.0, 0.02):
        B = binned(ideal_tracks(gt, N, L, np.random.default_rng(1), noise))
        km = KMeans(4, n_init=10, random_state=0).fit(B)
        ari = adjusted_rand_score(genes["sim_class"], km.labels_)
        sil = {
            k: silhouette_score(
                B, KMeans(k, n_init=10, random_state=0).fit_predict(B), sample_size=1500, random_state=0
            )
            for k in range(2, 9)
        }
        print(
            f"ideal tracks (noise {noise}/bp), k-means k=4: ARI {ari:.3f}; silhouette-best k {max(sil, key=sil.get)} "
            + " ".join(f"{k}:{v:.2f}" for k, v in sil.items())
        )


if __name__ == "__main__":
    main()
