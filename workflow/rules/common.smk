# Shared helpers of the workflow: the configuration (validated at start-up), the one file
# layout (promoter_cr.layout) and the parameters every job passes to its promoter-cr command.
import sys
from pathlib import Path

import yaml

try:
    from promoter_cr.config import validate_config
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(workflow.basedir) / "src"))
    from promoter_cr.config import validate_config

from promoter_cr.errors import ConfigError
from promoter_cr.layout import (
    XPRESSO_FILES,
    DatasetLayout,
    download_log,
    download_path,
    figure_names,
    figure_stages,
)

DEFAULT_CONFIG = Path(workflow.basedir) / "config" / "config.yaml"


def _load_configuration():
    """A --configfile is the whole configuration (on top of the schema's defaults); the embedded
    default config/config.yaml applies only when none is given. An empty config file is an error.
    """
    given = [str(f) for f in (workflow.overwrite_configfiles or [])]
    for path in given:
        if not yaml.safe_load(Path(path).read_text()):
            raise WorkflowError(
                f"config file {path} is empty: start from config/config.yaml (or omit --configfile "
                "to run the embedded default)"
            )
    if not given:
        workflow.configfile(str(DEFAULT_CONFIG))
    source = ", ".join(given) or str(DEFAULT_CONFIG)
    try:
        return validate_config(config, source=source)
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None


config.update(_load_configuration())

LAYOUT = DatasetLayout.from_config(config)


def take_run_lock():
    """One run per results folder (Snakemake's own lock covers one working directory only)."""
    from promoter_cr.runlock import RunLockError, acquire

    try:
        acquire(LAYOUT.run_lock)
    except RunLockError as exc:
        raise WorkflowError(str(exc)) from None


DATA = LAYOUT.data
MODELS = LAYOUT.models
ATTR = LAYOUT.attributions
CLUSTERS = LAYOUT.clusters
MOTIFS = LAYOUT.motifs
FIGURES = LAYOUT.figures
LOGS = LAYOUT.logs
SIMULATED = config["dataset"]["source"] == "simulate"
MODEL_NAMES = list(config["models"])
NETWORK_MODELS = [n for n, m in config["models"].items() if m["type"] != "kmer_ridge"]
KMER_MODELS = [n for n, m in config["models"].items() if m["type"] == "kmer_ridge"]
ANALYSIS_MODEL = config["analysis_model"]
FIG_FORMATS = config["figures"]["formats"]
DOWNLOADS = config["download"]["cache_dir"]
JOB_SCRIPT = "../scripts/run_job.py"


def s(path):
    """A layout path as the string Snakemake wants."""
    return str(path)


def log_of(job):
    return s(LOGS.job(job))


def sections(*names, **extra):
    """The named config sections (plus overrides) a job's command receives as --config."""
    out = {n: config[n] for n in names}
    out.update(extra)
    return out


def dataset_config():
    """The dataset and download sections, with downloaded inputs pointing at their cached copies."""
    import copy

    ds = copy.deepcopy(config["dataset"])
    if ds["source"] == "xpresso" and not ds["xpresso"]["local_dir"]:
        ds["xpresso"]["local_dir"] = s(download_path(DOWNLOADS, "xpresso", ""))
    if (
        ds["source"] == "genome"
        and ds["genome"]["fasta_url"]
        and not ds["genome"]["fasta"]
    ):
        ds["genome"]["fasta"] = s(
            download_path(DOWNLOADS, "genome", genome_fasta_name())
        )
    return {
        "dataset": ds,
        "download": config["download"],
        "results_dir": config["results_dir"],
    }


def genome_fasta_name():
    return Path(config["dataset"]["genome"]["fasta_url"].split("?")[0]).name


def data_inputs(wildcards):
    """Files the data set is built from (downloads become job inputs)."""
    ds = config["dataset"]
    src = ds["source"]
    if src == "xpresso":
        local = ds["xpresso"]["local_dir"]
        if local:
            return [s(Path(local) / f) for f in XPRESSO_FILES.values()]
        return [
            s(download_path(DOWNLOADS, "xpresso", f)) for f in XPRESSO_FILES.values()
        ]
    if src == "genome":
        g = ds["genome"]
        fasta = g["fasta"] or s(download_path(DOWNLOADS, "genome", genome_fasta_name()))
        return [fasta, g["tss"], g["expression"]]
    if src == "fasta":
        return [p for p in (ds["fasta"]["sequences"], ds["fasta"]["labels"]) if p]
    return []


def data_outputs():
    return [s(p) for p in DATA.outputs(config["dataset"]["source"])]


def checksum_args(digest):
    """["--md5", H] or ["--sha256", H] by the digest's length (32 or 64 hex digits), or []."""
    if not digest:
        return []
    flag = {32: "--md5", 64: "--sha256"}.get(len(digest))
    if flag is None:
        raise WorkflowError(
            f"checksum {digest!r} is neither an md5 nor a sha256 hex digest"
        )
    return [flag, digest]


def model_files(name):
    return MODELS.model(name)


def analysis_checkpoint():
    return s(MODELS.model(ANALYSIS_MODEL).best)


CROSSFIT_FOLDS = (
    list(range(config["attribution"]["crossfit_folds"]))
    if config["attribution"]["crossfit_folds"] >= 2
    else []
)


#: cluster on the analysis model's own tracks, exported beside the cross-fitted ones (cluster.tracks)
CLUSTER_ATTR = (
    LAYOUT.analysis_attributions
    if CROSSFIT_FOLDS and config["cluster"]["tracks"] == "analysis"
    else ATTR
)


def attribution_checkpoints():
    """The checkpoints the weighted features come from: the fold models when cross-fitting."""
    if CROSSFIT_FOLDS:
        return [s(MODELS.model(ANALYSIS_MODEL).fold(k).best) for k in CROSSFIT_FOLDS]
    return [analysis_checkpoint()]


# Scheduling under `--cores N`: the motif-analysis chain (analysis model, its fold models,
# attribute, cluster, scan, grammar, spacing, recovery, motif figures, and the de novo branch
# when enabled) is picked before the side branches (baseline models, faithfulness, the other
# figures), which fill the cores it leaves idle; the analysis model, the longest job, starts
# first. The chain's jobs outside training take one thread each (measured: scan, grammar and
# clustering gain <= 10 % from a second thread), so one free core is enough for its next step.
# On the default run this took the pipeline from 12.0 to 8.2 min on 2 cores (benchmarks/README.md).
CRITICAL_PATH = 10


def training_priority(wildcards):
    return CRITICAL_PATH + 1 if wildcards.model == ANALYSIS_MODEL else 0


def train_resources(key):
    return config["train"]["resources"][key]


def figure_files(stage):
    return [s(p) for p in FIGURES.files(stage, SIMULATED, FIG_FORMATS)]


def figure_inputs(stage):
    """Every file a figure family is drawn from (so figures redraw when an input changes)."""
    per_model = [
        s(f)
        for n in MODEL_NAMES
        for f in (MODELS.model(n).predictions, MODELS.model(n).history)
    ]
    inputs = {
        "models": [s(MODELS.metrics_table)] + per_model,
        "attribution": [s(ATTR.faithfulness), s(ATTR.faithfulness_summary)]
        + ([s(ATTR.planted_mass), s(DATA.ground_truth)] if SIMULATED else []),
        "clusters": [s(p) for p in CLUSTERS.outputs()]
        + [s(ATTR.weighted_features), s(DATA.meta)],
        "motifs": [
            s(p)
            for p in (
                MOTIFS.activity,
                MOTIFS.meme,
                MOTIFS.enrichment,
                MOTIFS.cooccurrence,
                MOTIFS.communities,
                *MOTIFS.spacing_outputs(),
            )
        ],
        "examples": [
            s(DATA.meta),
            s(ATTR.table),
            s(ATTR.weighted_features),
            s(CLUSTERS.assignments),
            s(MOTIFS.activity),
            s(MOTIFS.hits),
        ],
        "recovery": [s(MOTIFS.recovery), s(CLUSTERS.summary), s(ATTR.planted_mass)],
        "denovo": [s(p) for p in MOTIFS.denovo.outputs()] + [s(MOTIFS.meme)],
    }
    return inputs[stage]


DENOVO = bool(config["denovo"]["enabled"])
FIGURE_STAGES = figure_stages(SIMULATED, optional=["denovo"] if DENOVO else [])
SCORE_VARIANTS = bool(config["variants"]["vcf"])
SATURATION = bool(config["variants"]["saturation"]["genes"])


def variant_genome():
    """The genome FASTA of the variant stage: variants.genome_fasta, else the data set's genome."""
    v, g = config["variants"], config["dataset"]["genome"]
    if v["genome_fasta"]:
        return v["genome_fasta"]
    if g["fasta"]:
        return g["fasta"]
    if g["fasta_url"]:
        return s(download_path(DOWNLOADS, "genome", genome_fasta_name()))
    raise WorkflowError(
        "invalid config: key 'variants.genome_fasta' is required (the data set has no genome FASTA)"
    )


def variant_tss():
    """The TSS table of the variant stage: variants.tss, else the data set's."""
    tss = config["variants"]["tss"] or config["dataset"]["genome"]["tss"]
    if not tss:
        raise WorkflowError(
            "invalid config: key 'variants.tss' is required (the data set has no TSS table)"
        )
    return tss


def all_targets():
    targets = [
        s(MODELS.metrics_table),
        s(ATTR.faithfulness_summary),
        s(CLUSTERS.summary),
        s(MOTIFS.activity),
        s(MOTIFS.spacing),
    ]
    if SIMULATED:
        targets.append(s(MOTIFS.recovery))
    if SCORE_VARIANTS:
        targets.append(s(LAYOUT.variants.scores))
    if SATURATION:
        targets.append(s(LAYOUT.variants.saturation))
    if DENOVO:
        targets.append(s(MOTIFS.denovo.summary))
    for stage in FIGURE_STAGES:
        targets += figure_files(stage)
    return targets


def xpresso_url(wildcards):
    base = config["dataset"]["xpresso"]["url"].rstrip("/")
    return f"{base}/{wildcards.file}"


def scan_grammar_keys():
    """The grammar keys the scan uses (null windows), so other grammar edits do not re-scan."""
    return {k: config["grammar"][k] for k in ("null_max_shift", "null_windows", "seed")}
