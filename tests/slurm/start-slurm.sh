#!/usr/bin/env bash
# Start a one-node SLURM (with accounting, so `sacct` works) on this machine.
#
# For the workflow tests and for trying `snakemake --profile profiles/slurm` on a laptop or
# a CI runner: Debian/Ubuntu, run as root, no systemd needed. Idempotent: packages already
# installed are not reinstalled, daemons already running are left alone, and the config
# files are rewritten (and the daemons reloaded) only when their content changes.
# Stop everything again with tests/slurm/stop-slurm.sh.
#
#   sudo tests/slurm/start-slurm.sh
#
# Settings (environment): SLURM_CLUSTER (default metcnv), SLURM_PARTITION (default main).
set -euo pipefail

CLUSTER=${SLURM_CLUSTER:-metcnv}
PARTITION=${SLURM_PARTITION:-main}
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=slurm-local-test # a throwaway local database reachable only via localhost
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm

die() {
    echo "start-slurm.sh: $*" >&2
    exit 1
}
say() { echo "start-slurm.sh: $*"; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons); try: sudo $0"
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
    die "needs a Debian/Ubuntu system with apt-get to install ${PACKAGES[*]}"

# Is the process in this pid file alive?
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Wait up to $1 seconds for the command "${@:2}" to succeed.
wait_for() {
    local seconds=$1
    shift
    for _ in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# Write stdin to $1 with owner $2 and mode $3; return 0 if the content changed.
install_file() {
    local path=$1 owner=$2 mode=$3 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        chown "$owner" "$path" && chmod "$mode" "$path"
        return 1
    fi
    install -o "${owner%%:*}" -g "${owner##*:}" -m "$mode" "$tmp" "$path"
    rm -f "$tmp"
    return 0
}

# Stop the daemon whose pid file is $1 (used only to reload a changed config).
stop_pidfile() {
    local pid
    if running "$1"; then
        pid=$(cat "$1")
        kill "$pid"
        wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || die "could not stop process $pid ($1)"
    fi
    rm -f "$1"
}

# 1. Packages --------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # policy-rc.d 101: do not let the packages start services themselves; we start them below.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_added=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        { ((policy_added)) && rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
    ((policy_added)) && rm -f /usr/sbin/policy-rc.d
fi

HOST=$(hostname)
install -d -o slurm -g slurm -m 755 "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
install -d -o munge -g munge -m 755 /run/munge
install -d -o mysql -g mysql -m 755 /run/mysqld

# 2. slurm.conf (must exist before slurmdbd and sacctmgr run) ----------------------------
# The node line comes from `slurmd -C` (the machine's real CPUs and memory).
node_line=$(slurmd -C | head -n 1)
slurm_conf_changed=0
install_file "$CONF_DIR/slurm.conf" root:root 644 <<EOF && slurm_conf_changed=1
# Written by metcnv's tests/slurm/start-slurm.sh: a one-node cluster on $HOST.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# no cgroups in containers: track processes through /proc, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# share the node between jobs by cores and memory; without DefMemPerCPU a job takes
# all the node's memory and jobs run one at a time
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
# the snakemake SLURM plugin needs finished jobs kept >= 3x its status-check interval
MinJobAge=300
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
# keep the job comment (the snakemake plugin writes the rule name there) for sacct
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
$node_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

install_file "$CONF_DIR/cgroup.conf" root:root 644 <<EOF || true
CgroupPlugin=autodetect
EOF

install_file "$CONF_DIR/slurmdbd.conf" slurm:slurm 600 <<EOF && stop_pidfile /run/slurmdbd.pid
# Written by metcnv's tests/slurm/start-slurm.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=$LOG_DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF

# 3. munge ---------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating the munge key"
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
fi
if ! running /run/munge/munged.pid; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
wait_for 10 bash -c 'munge -n | unmunge' || die "munge does not work; see /var/log/munge/munged.log"

# 4. MariaDB and slurmdbd ------------------------------------------------------------------
if ! running /run/mysqld/mysqld.pid; then
    say "starting mariadbd"
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
        --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
        --log-error=/var/log/slurm/mariadb.log </dev/null >/dev/null 2>&1 &
fi
wait_for 30 mariadb -e 'SELECT 1' || die "mariadbd did not start; see $LOG_DIR/mariadb.log"
mariadb <<EOF
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
EOF

if ! running /run/slurmdbd.pid; then
    say "starting slurmdbd"
    slurmdbd
fi
wait_for 30 sacctmgr -n list cluster || die "slurmdbd does not answer; see $LOG_DIR/slurmdbd.log"
if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    slurm_conf_changed=1 # slurmctld must re-register with the new cluster
fi

# 5. slurmctld and slurmd ------------------------------------------------------------------
if ((slurm_conf_changed)); then
    stop_pidfile /run/slurmd.pid
    stop_pidfile /run/slurmctld.pid
fi
if ! running /run/slurmctld.pid; then
    say "starting slurmctld"
    slurmctld
fi
if ! running /run/slurmd.pid; then
    say "starting slurmd"
    slurmd
fi

node_ready() {
    local state
    state=$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null) || return 1
    case $state in
    idle* | mixed* | allocated* | completing*) return 0 ;;
    down* | drain* | fail*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 ;;
    esac
    return 1
}
wait_for 30 node_ready || die "node $HOST is not ready: $(sinfo -N 2>&1); see $LOG_DIR/slurmctld.log and slurmd.log"
say "SLURM is up: cluster $CLUSTER, partition $PARTITION, node $HOST"
sinfo
