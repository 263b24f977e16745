#!/usr/bin/env bash
# Run a workflow through profiles/slurm on a private single-node SLURM cluster on this machine
# (what tests/test_slurm.py does, by hand, e.g. to debug the profile).  Needs root.
#
#   tests/slurm/run_profile.sh WORKDIR [SNAKEMAKE ARGS...]
#
# Examples (from the repository root):
#   tests/slurm/run_profile.sh /tmp/slurm-tiny -s tests/slurm/Snakefile \
#       --set-threads train_model=2 --set-resources train_model:mem_mb=500 train_model:gpu=1
#   tests/slurm/run_profile.sh /tmp/slurm-real -s Snakefile --configfile tests/data/tiny_config.yaml \
#       --set-threads train_network=1 train_kmer=1 --set-resources train_network:mem_mb=2000 train_network:runtime=10
#
# The cluster (state in $PROMOTER_CR_SLURM_DIR, default /tmp/promoter-cr-slurm) is stopped at
# the end if this script started it, unless KEEP=1.  The job-status options below are only
# needed because the private cluster has no accounting database (slurmdbd).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
[[ $# -ge 1 ]] || { sed -n '2,16p' "$0"; exit 2; }
WORKDIR="$(mkdir -p "$1" && cd "$1" && pwd)"; shift
STATE_DIR="${PROMOTER_CR_SLURM_DIR:-/tmp/promoter-cr-slurm}"

SETUP_OUT="$(bash "$ROOT/.ci/slurm_setup.sh" start "$STATE_DIR")"
eval "$SETUP_OUT"
if [[ "${PROMOTER_CR_SLURM_STARTED:-0}" == 1 && "${KEEP:-0}" != 1 ]]; then
    trap 'bash "$ROOT/.ci/slurm_teardown.sh" "$STATE_DIR"' EXIT
fi
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export PATH="$(dirname "$PYTHON"):$PATH"

cd "$ROOT"
"$PYTHON" -m snakemake --profile "$ROOT/profiles/slurm" --directory "$WORKDIR" \
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 1 \
    --slurm-keep-successful-logs "$@"
echo "SLURM jobs of this cluster (squeue keeps finished ones for MinJobAge=600 s):" >&2
squeue --states=all --format='%.8i %.10T %.12P %.40k %.10M' >&2
