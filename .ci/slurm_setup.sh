#!/usr/bin/env bash
# A private single-node SLURM cluster on this machine (for CI and tests/test_slurm.py).
#
#   .ci/slurm_setup.sh install                   install Debian's slurm-wlm + munge if missing
#   eval "$(.ci/slurm_setup.sh start [STATE_DIR])"   install if missing, then start the cluster
#   .ci/slurm_teardown.sh [STATE_DIR]            stop the daemons started from STATE_DIR
#
# Needs root (apt-get, slurmd, munged).  Idempotent: packages are installed only when their
# binaries are missing (`apt-get update` + `apt-get install -y slurm-wlm munge`), and
# munged / slurmctld / slurmd are started only when the ones started earlier from the same
# STATE_DIR are not running.  No systemd: each daemon is started by hand on 127.0.0.1 (munged
# as the munge user), with config, munge key + socket, pid files, spool and logs under
# STATE_DIR, so nothing global is touched (a system-wide slurm.conf or munged keeps working).
# The node is named after `hostname -s` and gets the CPUs and RealMemory `slurmd -C` reports.
#
# STATE_DIR defaults to $PROMOTER_CR_SLURM_DIR or /tmp/promoter-cr-slurm.
# `start` prints on stdout (for eval):
#   export SLURM_CONF=<STATE_DIR>/etc/slurm.conf   # every SLURM client must see this
#   export PATH=<STATE_DIR>/bin:$PATH              # srun wrapper, see below
#   export PROMOTER_CR_SLURM_PARTITION=debug
#   export PROMOTER_CR_SLURM_DIR=<STATE_DIR>
#   PROMOTER_CR_SLURM_STARTED=1|0                  # 1: this call started the daemons
# Logs go to stderr.
#
# Environment knobs: PROMOTER_CR_SLURMCTLD_PORT (16817), PROMOTER_CR_SLURMD_PORT (16818),
# PROMOTER_CR_SLURM_MIN_JOB_AGE (600 s; keeps finished jobs visible to `squeue`, which the
# snakemake SLURM plugin then uses for status checks instead of `sacct` - no slurmdbd here).
set -euo pipefail

MODE="start"
case "${1:-}" in
    install|start) MODE="$1"; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
esac
STATE_DIR="${1:-${PROMOTER_CR_SLURM_DIR:-/tmp/promoter-cr-slurm}}"
[[ "$STATE_DIR" == /* ]] || STATE_DIR="$(pwd)/$STATE_DIR"
CTLD_PORT="${PROMOTER_CR_SLURMCTLD_PORT:-16817}"
SLURMD_PORT="${PROMOTER_CR_SLURMD_PORT:-16818}"
MIN_JOB_AGE="${PROMOTER_CR_SLURM_MIN_JOB_AGE:-600}"
PARTITION="debug"
CLUSTER="promotercr"

log() { echo "[slurm_setup] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need_install=0
for bin in munged slurmctld slurmd sbatch squeue sinfo srun; do
    command -v "$bin" >/dev/null 2>&1 || [[ -x "/usr/sbin/$bin" ]] || need_install=1
done
if (( need_install )); then
    [[ "$(id -u)" == 0 ]] || die "slurm-wlm/munge missing; installing them needs root"
    command -v apt-get >/dev/null 2>&1 || die "SLURM binaries missing and apt-get unavailable"
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends slurm-wlm munge >&2
fi
export PATH="/usr/sbin:/sbin:$PATH"
if [[ "$MODE" == install ]]; then
    log "slurm-wlm and munge present ($(slurmd -V 2>/dev/null || true))"
    exit 0
fi

# ---------------------------------------------------------------- helpers
# pid_alive PIDFILE MARKER: the pid in PIDFILE runs and its command line mentions MARKER
pid_alive() {
    local pidfile="$1" marker="$2" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' < "$pidfile")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker"
}

emit_env() {
    echo "export SLURM_CONF=$STATE_DIR/etc/slurm.conf"
    echo "export PATH=$STATE_DIR/bin:\$PATH"
    echo "export PROMOTER_CR_SLURM_PARTITION=$PARTITION"
    echo "export PROMOTER_CR_SLURM_DIR=$STATE_DIR"
    echo "PROMOTER_CR_SLURM_STARTED=$1"
}

wait_for_node() {
    local host="$1" state i
    for i in $(seq 1 60); do
        state="$(SLURM_CONF="$STATE_DIR/etc/slurm.conf" sinfo -h -n "$host" -o '%T' 2>/dev/null | head -1 || true)"
        case "$state" in
            idle|mixed|allocated|completing) log "node $host is $state"; return 0 ;;
            down*|drain*|fail*)
                SLURM_CONF="$STATE_DIR/etc/slurm.conf" scontrol update nodename="$host" state=resume >&2 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    log "node $host did not become idle (state '$state'); logs:"
    tail -n 30 "$STATE_DIR/log/slurmctld.log" "$STATE_DIR/log/slurmd.log" >&2 || true
    return 1
}

HOST="$(hostname -s)"
CONF="$STATE_DIR/etc/slurm.conf"

if pid_alive "$STATE_DIR/run/munged.pid" "$STATE_DIR" \
   && pid_alive "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR" \
   && pid_alive "$STATE_DIR/run/slurmd.pid" "$STATE_DIR"; then
    log "cluster in $STATE_DIR already running"
    wait_for_node "$HOST"
    emit_env 0
    exit 0
fi

[[ "$(id -u)" == 0 ]] || die "starting munged and slurmd needs root"

# Something half-running from an earlier call: stop it cleanly first.
TEARDOWN="$(cd "$(dirname "$0")" && pwd)/slurm_teardown.sh"
bash "$TEARDOWN" "$STATE_DIR" >&2 || true
# From here on, a failure stops whatever this call already started.
trap 'rc=$?; if (( rc != 0 )); then log "start failed; stopping what was started"; bash "$TEARDOWN" "$STATE_DIR" >&2 || true; fi' EXIT

# ---------------------------------------------------------------- directories
mkdir -p "$STATE_DIR"/{etc,run,log,state,spool,munge}
chmod 755 "$STATE_DIR" "$STATE_DIR"/{etc,run,log}
chmod 700 "$STATE_DIR/state" "$STATE_DIR/spool"
chown munge:munge "$STATE_DIR/munge"
chmod 755 "$STATE_DIR/munge"            # clients (sbatch, slurmstepd) must reach the socket
install -d -o munge -g munge -m 700 "$STATE_DIR/munge/private"

# ---------------------------------------------------------------- srun wrapper
# Inside a SLURM job, snakemake-executor-plugin-slurm-jobstep (0.6) runs each rule through a
# nested `srun` after removing every SLURM_* variable - SLURM_CONF included - from its
# environment; srun would then look for /etc/slurm/slurm.conf, which must not be touched
# here.  This wrapper (first on PATH inside the jobs: sbatch --export=ALL passes PATH on)
# puts SLURM_CONF back for srun only.  Not needed on a real cluster (/etc/slurm/slurm.conf).
mkdir -p "$STATE_DIR/bin"
REAL_SRUN="$(PATH="${PATH//$STATE_DIR\/bin:/}" command -v srun)"
cat > "$STATE_DIR/bin/srun" <<EOF
#!/bin/sh
# Generated by .ci/slurm_setup.sh: srun for the private test cluster in $STATE_DIR
SLURM_CONF="\${SLURM_CONF:-$STATE_DIR/etc/slurm.conf}" exec "$REAL_SRUN" "\$@"
EOF
chmod 755 "$STATE_DIR/bin" "$STATE_DIR/bin/srun"

# ---------------------------------------------------------------- munge
KEY="$STATE_DIR/munge/private/munge.key"
if [[ ! -s "$KEY" ]]; then
    log "creating munge key $KEY"
    if command -v mungekey >/dev/null 2>&1; then
        runuser -u munge -- mungekey --create --keyfile="$KEY" >&2
    else
        dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
    fi
fi
chown munge:munge "$KEY"; chmod 400 "$KEY"
SOCK="$STATE_DIR/munge/munge.socket"
rm -f "$SOCK" "$SOCK.lock"
log "starting munged (user munge)"
runuser -u munge -- munged \
    --socket="$SOCK" --key-file="$KEY" \
    --pid-file="$STATE_DIR/munge/munged.pid" \
    --log-file="$STATE_DIR/munge/munged.log" \
    --seed-file="$STATE_DIR/munge/private/munged.seed" \
    --force >&2
for _ in $(seq 1 40); do [[ -S "$SOCK" ]] && break; sleep 0.25; done
[[ -S "$SOCK" ]] || { cat "$STATE_DIR/munge/munged.log" >&2 || true; die "munged did not start"; }
cp "$STATE_DIR/munge/munged.pid" "$STATE_DIR/run/munged.pid"
munge --socket="$SOCK" -n | unmunge --socket="$SOCK" >/dev/null \
    || die "munge round trip failed (see $STATE_DIR/munge/munged.log)"

# ---------------------------------------------------------------- slurm.conf
# slurmd -C prints this machine's real topology + RealMemory; keep RealMemory a bit below the
# physical value so slurmd never drains the node for "low RealMemory".
NODE_LINE="$(slurmd -C | head -1)"
CPUS="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")"
REALMEM="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")"
REALMEM=$(( REALMEM * 95 / 100 ))
TOPO="$(grep -o 'Boards=[0-9]* SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' <<<"$NODE_LINE" || true)"

cat > "$CONF" <<EOF
# Generated by .ci/slurm_setup.sh - private single-node test cluster, do not use in production.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# No slurmdbd: the job completion log records every finished job (the test reads it).
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE_DIR/log/jobcomp.log
# Finished jobs stay visible to squeue for MinJobAge seconds (plugin status checks use squeue).
MinJobAge=$MIN_JOB_AGE
SchedulerType=sched/builtin
# Reject jobs that can never run here (too many CPUs, too much memory) at submission
# instead of leaving them pending forever.
EnforcePartLimits=ALL
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
InactiveLimit=0
KillWait=5
Waittime=0
# One fake GPU (gres.conf: /dev/null as device) so GPU requests (sbatch --gpus=1) can be tested.
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS $TOPO RealMemory=$REALMEM Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
cat > "$STATE_DIR/etc/gres.conf" <<EOF
# Generated by .ci/slurm_setup.sh: one fake GPU (/dev/null as its device file).
AutoDetect=off
NodeName=$HOST Name=gpu Count=1 File=/dev/null
EOF
log "wrote $CONF (node $HOST CPUs=$CPUS RealMemory=$REALMEM, 1 fake GPU)"
export SLURM_CONF="$CONF"

# ---------------------------------------------------------------- daemons
log "starting slurmctld"
slurmctld -c -f "$CONF" >&2          # -c: clear old state (fresh cluster each start)
for _ in $(seq 1 40); do pid_alive "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR" && break; sleep 0.25; done
pid_alive "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR" \
    || { tail -n 30 "$STATE_DIR/log/slurmctld.log" >&2 || true; die "slurmctld did not start"; }
for _ in $(seq 1 40); do scontrol ping >/dev/null 2>&1 && break; sleep 0.25; done

log "starting slurmd"
slurmd -f "$CONF" >&2
for _ in $(seq 1 40); do pid_alive "$STATE_DIR/run/slurmd.pid" "$STATE_DIR" && break; sleep 0.25; done
pid_alive "$STATE_DIR/run/slurmd.pid" "$STATE_DIR" \
    || { tail -n 30 "$STATE_DIR/log/slurmd.log" >&2 || true; die "slurmd did not start"; }

wait_for_node "$HOST"
emit_env 1
