#!/usr/bin/env bash
# Stop the daemons started by tests/slurm/start-slurm.sh, each by the PID in its pid file.
# Packages, configuration and the accounting database are kept, so a later start is fast.
set -uo pipefail

[[ $(id -u) -eq 0 ]] || {
    echo "stop-slurm.sh: must run as root" >&2
    exit 1
}

stop() {
    local name=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        echo "stop-slurm.sh: stopping $name ($pid)"
        kill "$pid"
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && echo "stop-slurm.sh: $name ($pid) did not stop" >&2
    fi
    rm -f "$pidfile"
}

stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd /run/slurmdbd.pid
stop mariadbd /run/mysqld/mysqld.pid
stop munged /run/munge/munged.pid
