#!/usr/bin/env bash
# Stop the private SLURM cluster started by .ci/slurm_setup.sh from STATE_DIR.
#
# Usage: .ci/slurm_teardown.sh [STATE_DIR]   (default: $PROMOTER_CR_SLURM_DIR or /tmp/promoter-cr-slurm)
# Only processes whose pid file lives in STATE_DIR *and* whose command line names STATE_DIR
# are signalled, so a system-wide slurmctld / slurmd / munged is never touched.
# Pending/running jobs of the private cluster are cancelled first.  Set
# PROMOTER_CR_SLURM_PURGE=1 to also delete STATE_DIR afterwards.
set -uo pipefail

STATE_DIR="${1:-${PROMOTER_CR_SLURM_DIR:-/tmp/promoter-cr-slurm}}"
export PATH="/usr/sbin:/sbin:$PATH"
log() { echo "[slurm_teardown] $*" >&2; }

[[ -d "$STATE_DIR" ]] || { log "nothing to stop ($STATE_DIR absent)"; exit 0; }

# our_pid PIDFILE: print the pid if it runs and its command line names STATE_DIR
our_pid() {
    local pidfile="$1" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' < "$pidfile")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$STATE_DIR" || return 1
    echo "$pid"
}

stop() {
    local name="$1" pidfile="$2" pid i
    pid="$(our_pid "$pidfile")" || { log "$name not running"; rm -f "$pidfile"; return 0; }
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.25
    done
    if [[ -d "/proc/$pid" ]]; then
        log "$name (pid $pid) ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

CONF="$STATE_DIR/etc/slurm.conf"
if [[ -f "$CONF" ]] && our_pid "$STATE_DIR/run/slurmctld.pid" >/dev/null; then
    # Jobs of this private cluster only (SLURM_CONF points at it).
    SLURM_CONF="$CONF" timeout 10 scancel --full --signal=KILL --user="$(id -un)" 2>/dev/null || true
    SLURM_CONF="$CONF" timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
fi

stop slurmd "$STATE_DIR/run/slurmd.pid"
stop slurmctld "$STATE_DIR/run/slurmctld.pid"
stop munged "$STATE_DIR/run/munged.pid"
rm -f "$STATE_DIR/munge/munged.pid"

if [[ "${PROMOTER_CR_SLURM_PURGE:-0}" == 1 ]]; then
    log "removing $STATE_DIR"
    rm -rf -- "$STATE_DIR"
fi
exit 0
