# Shared helpers of the workflow: config validation at start-up, paths, and the
# JSON config fragments passed to each `promoter-cr` command.
import json
import sys
from pathlib import Path

try:
    from promoter_cr.config import validate_config
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(workflow.basedir) / "src"))
    from promoter_cr.config import validate_config

from promoter_cr.errors import ConfigError

_config_files = [str(f) for f in getattr(workflow, "overwrite_configfiles", None) or []]
try:
    config.update(
        validate_config(config, source=", ".join(_config_files) or "config/config.yaml")
    )
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

DS = f"{config['results_dir']}/{config['dataset']['name']}"
DATA = f"{DS}/data"
MODELS = f"{DS}/models"
ATTR = f"{DS}/attributions"
CLUSTERS = f"{DS}/clusters"
MOTIFS = f"{DS}/motifs"
FIGURES = f"{DS}/figures"
LOGS = f"{DS}/logs"
SIMULATED = config["dataset"]["source"] == "simulate"
MODEL_NAMES = list(config["models"])
ANALYSIS_MODEL = config["analysis_model"]
FIG_FORMATS = config["figures"]["formats"]
DOWNLOADS = config["download"]["cache_dir"]
XPRESSO_FILES = ["train.h5", "valid.h5", "test.h5"]


def cfg_json(*sections, **extra):
    """The named config sections (plus overrides) as a JSON string for --config."""
    out = {s: config[s] for s in sections}
    out.update(extra)
    return json.dumps(out, sort_keys=True)


def dataset_config():
    """The dataset+download sections, pointing downloaded inputs at their local copies."""
    ds = json.loads(json.dumps(config["dataset"]))
    if ds["source"] == "xpresso" and not ds["xpresso"]["local_dir"]:
        ds["xpresso"]["local_dir"] = f"{DOWNLOADS}/xpresso"
    if (
        ds["source"] == "genome"
        and ds["genome"]["fasta_url"]
        and not ds["genome"]["fasta"]
    ):
        ds["genome"]["fasta"] = f"{DOWNLOADS}/genome/{genome_fasta_name()}"
    return json.dumps(
        {
            "dataset": ds,
            "download": config["download"],
            "results_dir": config["results_dir"],
        },
        sort_keys=True,
    )


def genome_fasta_name():
    return Path(config["dataset"]["genome"]["fasta_url"].split("?")[0]).name


def data_inputs(wildcards):
    """Files the data set is built from (downloads become job inputs)."""
    ds = config["dataset"]
    src = ds["source"]
    if src == "xpresso":
        if ds["xpresso"]["local_dir"]:
            return [f"{ds['xpresso']['local_dir']}/{f}" for f in XPRESSO_FILES]
        return [f"{DOWNLOADS}/xpresso/{f}" for f in XPRESSO_FILES]
    if src == "genome":
        g = ds["genome"]
        fasta = g["fasta"] or f"{DOWNLOADS}/genome/{genome_fasta_name()}"
        return [fasta, g["tss"], g["expression"]]
    if src == "fasta":
        return [p for p in (ds["fasta"]["sequences"], ds["fasta"]["labels"]) if p]
    return []


def data_outputs():
    out = [f"{DATA}/sequences.npy", f"{DATA}/genes.tsv", f"{DATA}/meta.json"]
    if SIMULATED:
        out.append(f"{DATA}/ground_truth.json")
    return out


def checksum_args(digest):
    """`--md5 H` or `--sha256 H` by the digest's length (32 or 64 hex digits), or nothing."""
    if not digest:
        return ""
    flag = {32: "--md5", 64: "--sha256"}.get(len(digest))
    if flag is None:
        raise WorkflowError(
            f"checksum {digest!r} is neither an md5 nor a sha256 hex digest"
        )
    return f"{flag} {digest}"


def model_checkpoint(name):
    return f"{MODELS}/{name}/best.ckpt"


def train_resources(key):
    return config["train"]["resources"][key]


def figure_files(stage, names):
    return [f"{FIGURES}/{stage}/{n}.{fmt}" for n in names for fmt in FIG_FORMATS]


FIGURE_NAMES = {
    "models": ["pred_vs_obs", "learning_curves", "metrics"],
    "attribution": ["faithfulness"] + (["planted_mass"] if SIMULATED else []),
    "clusters": [
        "cluster_profiles",
        "cluster_heatmap",
        "cluster_expression",
        "k_selection",
    ],
    "motifs": [
        "activity_volcano",
        "motif_logos",
        "enrichment_heatmap",
        "cooccurrence_network",
        "spacing_histograms",
    ],
    "examples": ["example_promoters"],
}
if SIMULATED:
    FIGURE_NAMES["recovery"] = ["recovery_panel"]


def all_targets():
    targets = [
        f"{MODELS}/metrics.tsv",
        f"{ATTR}/faithfulness_summary.tsv",
        f"{CLUSTERS}/summary.json",
        f"{MOTIFS}/activity.tsv",
        f"{MOTIFS}/spacing.tsv",
    ]
    if SIMULATED:
        targets.append(f"{MOTIFS}/recovery.tsv")
    for stage, names in FIGURE_NAMES.items():
        targets += figure_files(stage, names)
    return targets


def dir_of(name, io="input"):
    """A params function: the folder of the named input (or output) file list."""

    def _dir(wildcards, input, output):
        files = (input if io == "input" else output)[name]
        first = files if isinstance(files, str) else files[0]
        return str(Path(first).parent)

    return _dir


def xpresso_url(wildcards):
    base = config["dataset"]["xpresso"]["url"].rstrip("/")
    return f"{base}/{wildcards.file}"


def figure_inputs(stage):
    """Tables a figure family is drawn from."""
    tables = {
        "models": [f"{MODELS}/metrics.tsv"],
        "attribution": [f"{ATTR}/faithfulness_summary.tsv"]
        + ([f"{ATTR}/planted_mass.tsv"] if SIMULATED else []),
        "clusters": [f"{CLUSTERS}/summary.json", f"{CLUSTERS}/assignments.tsv"],
        "motifs": [
            f"{MOTIFS}/activity.tsv",
            f"{MOTIFS}/cooccurrence.tsv",
            f"{MOTIFS}/spacing.tsv",
        ],
        "examples": [
            f"{ATTR}/weighted_features.npy",
            f"{MOTIFS}/hits.parquet",
            f"{MOTIFS}/activity.tsv",
            f"{CLUSTERS}/assignments.tsv",
        ],
        "recovery": [
            f"{MOTIFS}/recovery.tsv",
            f"{CLUSTERS}/summary.json",
            f"{ATTR}/faithfulness_summary.tsv",
        ],
    }
    return {"tables": tables[stage], "data": data_outputs()}


def scan_grammar_keys():
    """The grammar keys the scan uses (null windows), so other grammar edits do not re-scan."""
    return {k: config["grammar"][k] for k in ("null_max_shift", "seed")}
