"""The one list of result files: every file under ``results/<dataset>/`` is named here.

The package, the plots, the benchmarks and the workflow (``workflow/rules/common.smk``) all
take paths from this module; no other module spells a result file name. Each stage folder
is a small frozen dataclass whose properties are the files in it::

    lay = DatasetLayout("results/simulated")
    lay.data.sequences            # results/simulated/data/sequences.npy
    lay.models.model("cr").best   # results/simulated/models/cr/best.ckpt
    lay.figures.file("models", "pred_vs_obs", "png")

A command given a stage folder (``--data DIR``) wraps it the same way (``DataFiles(DIR)``),
so a folder outside ``results/`` works too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Folder:
    """A stage folder; ``dir`` may be given as a string."""

    dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "dir", Path(self.dir))


@dataclass(frozen=True)
class DataFiles(_Folder):
    """``data/``: the on-disk data set (see :mod:`promoter_cr.data.dataset`)."""

    @property
    def sequences(self) -> Path:
        return self.dir / "sequences.npy"

    @property
    def genes(self) -> Path:
        return self.dir / "genes.tsv"

    @property
    def meta(self) -> Path:
        return self.dir / "meta.json"

    @property
    def ground_truth(self) -> Path:
        """Simulated sets only: the planted grammar."""
        return self.dir / "ground_truth.json"

    @property
    def missing_labels(self) -> Path:
        """``fasta`` and ``genome`` sources: the rows ``missing_label: drop`` left out (header only when none)."""
        return self.dir / "missing_labels.tsv"

    def outputs(self, source: str) -> list[Path]:
        """Every file the data-set build of ``source`` writes (``meta.json`` last, marking completion)."""
        out = [self.sequences, self.genes]
        if source == "simulate":
            out.append(self.ground_truth)
        if source in ("fasta", "genome"):
            out.append(self.missing_labels)
        return out + [self.meta]


@dataclass(frozen=True)
class ModelFiles(_Folder):
    """``models/<name>/``: one trained model."""

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def best(self) -> Path:
        """Best checkpoint (lowest validation loss) of a neural network."""
        return self.dir / "best.ckpt"

    @property
    def last(self) -> Path:
        """Last checkpoint (resume point) of a neural network."""
        return self.dir / "last.ckpt"

    @property
    def kmer_model(self) -> Path:
        """The pickled k-mer ridge model."""
        return self.dir / "model.pkl"

    def checkpoint(self, model_type: str) -> Path:
        """What ``promoter-cr predict --checkpoint`` takes for a model of ``model_type``."""
        return self.kmer_model if model_type == "kmer_ridge" else self.best

    @property
    def predictions(self) -> Path:
        return self.dir / "predictions.tsv"

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.json"

    @property
    def history(self) -> Path:
        return self.dir / "history.tsv"

    @property
    def done_marker(self) -> Path:
        """Written when training finishes; a new run on the folder then trains afresh."""
        return self.dir / "training_done.json"

    @property
    def csv_logs(self) -> Path:
        """Lightning's CSVLogger folder."""
        return self.dir / "logs"

    def fold(self, k: int | str) -> ModelFiles:
        """Cross-fitting fold model ``k`` of this model (``folds/fold<k>/``)."""
        return ModelFiles(self.dir / "folds" / f"fold{k}")


@dataclass(frozen=True)
class ModelsFiles(_Folder):
    """``models/``: every trained model and their metrics table."""

    def model(self, name: str) -> ModelFiles:
        return ModelFiles(self.dir / name)

    @property
    def metrics_table(self) -> Path:
        return self.dir / "metrics.tsv"


@dataclass(frozen=True)
class AttributionFiles(_Folder):
    """``attributions/``: weighted features of the analysis model and their checks."""

    @property
    def weighted_features(self) -> Path:
        """``(N, L)`` per-position contributions ``w(x) . x``."""
        return self.dir / "weighted_features.npy"

    @property
    def hypothetical(self) -> Path:
        """``(N, 4, L)`` contextual weights ``w(x)`` (hypothetical contributions)."""
        return self.dir / "hypothetical_weights.npy"

    @property
    def table(self) -> Path:
        """Per gene: prediction, bias, contribution sum, extras."""
        return self.dir / "attributions.tsv"

    @property
    def meta(self) -> Path:
        return self.dir / "attribution_meta.json"

    @property
    def faithfulness(self) -> Path:
        return self.dir / "faithfulness.tsv"

    @property
    def faithfulness_summary(self) -> Path:
        return self.dir / "faithfulness_summary.tsv"

    @property
    def planted_mass(self) -> Path:
        """Simulated sets only."""
        return self.dir / "planted_mass.tsv"


@dataclass(frozen=True)
class ClusterFiles(_Folder):
    """``clusters/``: k-means clustering of genes on their weighted features."""

    @property
    def assignments(self) -> Path:
        return self.dir / "assignments.tsv"

    @property
    def centroids(self) -> Path:
        return self.dir / "centroids.npy"

    @property
    def profiles(self) -> Path:
        return self.dir / "cluster_profiles.npy"

    @property
    def k_selection(self) -> Path:
        return self.dir / "k_selection.tsv"

    @property
    def stats(self) -> Path:
        return self.dir / "cluster_stats.tsv"

    @property
    def pairwise(self) -> Path:
        return self.dir / "pairwise_tests.tsv"

    @property
    def summary(self) -> Path:
        return self.dir / "summary.json"

    def outputs(self) -> list[Path]:
        return [
            self.assignments,
            self.centroids,
            self.profiles,
            self.k_selection,
            self.stats,
            self.pairwise,
            self.summary,
        ]


@dataclass(frozen=True)
class DenovoFiles(_Folder):
    """``motifs/denovo/``: de novo motifs (TF-MoDISco) from the model's own weights."""

    @property
    def patterns_meme(self) -> Path:
        return self.dir / "patterns.meme"

    @property
    def patterns(self) -> Path:
        return self.dir / "patterns.tsv"

    @property
    def seqlets(self) -> Path:
        return self.dir / "seqlets.tsv"

    @property
    def summary(self) -> Path:
        return self.dir / "denovo_summary.json"

    def outputs(self) -> list[Path]:
        """Every file of the de novo step (the summary last: it is written last)."""
        return [self.patterns_meme, self.patterns, self.seqlets, self.summary]


@dataclass(frozen=True)
class MotifFiles(_Folder):
    """``motifs/``: scan, grammar statistics and (simulated sets) recovery."""

    # scan
    @property
    def meme(self) -> Path:
        """The scanned motif set, MEME format."""
        return self.dir / "motifs.meme"

    @property
    def hits(self) -> Path:
        return self.dir / "hits.parquet"

    @property
    def gene_clusters(self) -> Path:
        return self.dir / "gene_clusters.tsv"

    @property
    def scan_summary(self) -> Path:
        return self.dir / "scan_summary.json"

    def scan_outputs(self) -> list[Path]:
        return [self.meme, self.hits, self.gene_clusters, self.scan_summary]

    # grammar
    @property
    def activity(self) -> Path:
        return self.dir / "activity.tsv"

    @property
    def enrichment(self) -> Path:
        return self.dir / "enrichment.tsv"

    @property
    def cooccurrence(self) -> Path:
        return self.dir / "cooccurrence.tsv"

    @property
    def communities(self) -> Path:
        return self.dir / "communities.tsv"

    @property
    def grammar_summary(self) -> Path:
        return self.dir / "grammar_summary.json"

    def grammar_outputs(self) -> list[Path]:
        return [
            self.activity,
            self.enrichment,
            self.cooccurrence,
            self.communities,
            self.grammar_summary,
        ]

    # spacing (insertion experiments on the model)
    @property
    def spacing(self) -> Path:
        """One row per candidate pair x orientation x spacing."""
        return self.dir / "spacing.tsv"

    @property
    def cooperativity(self) -> Path:
        """One row per candidate pair: cooperativity and helical-periodicity tests."""
        return self.dir / "cooperativity.tsv"

    @property
    def spacing_summary(self) -> Path:
        return self.dir / "spacing_summary.json"

    def spacing_outputs(self) -> list[Path]:
        return [self.spacing, self.cooperativity, self.spacing_summary]

    # recovery
    @property
    def recovery(self) -> Path:
        return self.dir / "recovery.tsv"

    @property
    def recovery_matches(self) -> Path:
        return self.dir / "recovery_matches.tsv"

    @property
    def denovo(self) -> DenovoFiles:
        return DenovoFiles(self.dir / "denovo")


@dataclass(frozen=True)
class VariantFiles(_Folder):
    """``variants/``: promoter variant effects from a VCF."""

    @property
    def scores(self) -> Path:
        return self.dir / "variant_effects.tsv"

    @property
    def summary(self) -> Path:
        return self.dir / "variant_effects_summary.json"

    @property
    def saturation(self) -> Path:
        return self.dir / "saturation_mutagenesis.tsv"


#: figure families (one Snakemake rule each) and the figures they draw; ``simulated_only``
#: figures need the simulator's ground truth
FIGURES: dict[str, list[str]] = {
    "models": ["pred_vs_obs", "learning_curves", "metrics"],
    "attribution": ["faithfulness", "planted_mass"],
    "clusters": ["cluster_profiles", "cluster_heatmap", "cluster_expression", "k_selection"],
    "motifs": [
        "activity_volcano",
        "motif_logos",
        "enrichment_heatmap",
        "cooccurrence_network",
        "spacing_profiles",
        "pvalue_qq",
    ],
    "examples": ["example_promoters"],
    "recovery": ["recovery_panel"],
    "denovo": ["denovo_patterns"],
}
SIMULATED_ONLY_FIGURES = {("attribution", "planted_mass"), ("recovery", "recovery_panel")}
#: figure families of optional stages: drawn only when the stage runs (``denovo.enabled``)
OPTIONAL_FIGURE_STAGES = {"denovo"}


def figure_stem(stage_dir: str | Path, name: str) -> Path:
    """``<stage_dir>/<name>`` for a figure of :data:`FIGURES` (its formats are added when saved)."""
    if not any(name in names for names in FIGURES.values()):
        raise KeyError(f"{name!r} is not a figure of the layout (FIGURES)")
    return Path(stage_dir) / name


def figure_names(stage: str, simulated: bool) -> list[str]:
    """Figures of one family drawn for a data set (simulated or not)."""
    return [n for n in FIGURES[stage] if simulated or (stage, n) not in SIMULATED_ONLY_FIGURES]


def figure_stages(simulated: bool, optional: Iterable[str] = ()) -> list[str]:
    """Figure families drawn for a data set; ``optional``: the optional stages that run."""
    wanted = set(optional)
    unknown = wanted - OPTIONAL_FIGURE_STAGES
    if unknown:
        raise KeyError(f"not optional figure families: {sorted(unknown)}")
    return [s for s in FIGURES if figure_names(s, simulated) and (s not in OPTIONAL_FIGURE_STAGES or s in wanted)]


@dataclass(frozen=True)
class FigureFiles(_Folder):
    """``figures/<stage>/<name>.<format>``."""

    def stage_dir(self, stage: str) -> Path:
        return self.dir / stage

    def stem(self, stage: str, name: str) -> Path:
        """Path without the format suffix (``save_figure`` adds one per format)."""
        return self.dir / stage / name

    def file(self, stage: str, name: str, fmt: str) -> Path:
        return self.dir / stage / f"{name}.{fmt}"

    def files(self, stage: str, simulated: bool, formats: list[str]) -> list[Path]:
        return [self.file(stage, n, f) for n in figure_names(stage, simulated) for f in formats]

    def saturation(self, gene_id: str, fmt: str) -> Path:
        """The saturation-mutagenesis heat map of one gene."""
        return saturation_stem(self.dir / "variants", gene_id).with_suffix(f".{fmt}")


def saturation_stem(folder: str | Path, gene_id: str) -> Path:
    """``<folder>/saturation_<gene>``: the saturation heat map of one gene (formats added when saved)."""
    return Path(folder) / f"saturation_{gene_id}"


@dataclass(frozen=True)
class LogFiles(_Folder):
    """``logs/<job>.log``: one log per workflow job."""

    def job(self, name: str) -> Path:
        return self.dir / f"{name}.log"


@dataclass(frozen=True)
class DatasetLayout:
    """``<results_dir>/<dataset>/`` and its stage folders."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def from_config(cls, cfg: dict) -> DatasetLayout:
        """The layout of a validated config: ``<results_dir>/<dataset.name>``."""
        return cls(Path(cfg["results_dir"]) / cfg["dataset"]["name"])

    @property
    def data(self) -> DataFiles:
        return DataFiles(self.root / "data")

    @property
    def run_lock(self) -> Path:
        """Held (``flock``) by the workflow run that writes this folder (:mod:`promoter_cr.runlock`)."""
        return self.root / ".promoter-cr.lock"

    @property
    def models(self) -> ModelsFiles:
        return ModelsFiles(self.root / "models")

    @property
    def attributions(self) -> AttributionFiles:
        return AttributionFiles(self.root / "attributions")

    @property
    def analysis_attributions(self) -> AttributionFiles:
        """``attributions/analysis_model/``: the analysis model's own weighted features of every gene, exported
        beside the cross-fitted ones when the genes are clustered on them (``cluster.tracks: analysis``)."""
        return AttributionFiles(self.root / "attributions" / "analysis_model")

    @property
    def clusters(self) -> ClusterFiles:
        return ClusterFiles(self.root / "clusters")

    @property
    def motifs(self) -> MotifFiles:
        return MotifFiles(self.root / "motifs")

    @property
    def variants(self) -> VariantFiles:
        return VariantFiles(self.root / "variants")

    @property
    def figures(self) -> FigureFiles:
        return FigureFiles(self.root / "figures")

    @property
    def logs(self) -> LogFiles:
        return LogFiles(self.root / "logs")


#: downloads: the cache folder (``download.cache_dir``) holds ``xpresso/<file>`` and ``genome/<file>``
XPRESSO_FILES = {"train": "train.h5", "valid": "valid.h5", "test": "test.h5"}


def download_dir(cache_dir: str | Path, kind: str) -> Path:
    """The cache folder of one kind of download (``xpresso``, ``genome``)."""
    return Path(cache_dir) / kind


def download_path(cache_dir: str | Path, kind: str, name: str) -> Path:
    """Where a downloaded input lands: ``<cache_dir>/<kind>/<name>``."""
    return download_dir(cache_dir, kind) / name


def download_log(cache_dir: str | Path, kind: str, name: str) -> Path:
    return Path(cache_dir) / "logs" / f"{kind}_{name}.log"
