#!/usr/bin/env bash
# Set up a one-node SLURM cluster on this machine, for tests and for trying
# MissionControl's `slurm` executor. Debian/Ubuntu, run as root. Idempotent:
# running it again on a working cluster with this configuration changes
# nothing; a running cluster with another configuration is reconfigured.
#
#   sudo bash scripts/setup_slurm.sh
#
# What it does: installs slurm-wlm and munge (apt), writes a random munge key,
# starts munged as the munge user, writes /etc/slurm/slurm.conf for this host
# (all its CPUs, most of its memory, one default partition `debug`), starts
# slurmctld and slurmd, and waits until `sinfo` shows the node idle.
# No accounting storage: `sacct` has no data on this cluster.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "setup_slurm.sh: run as root" >&2
    exit 2
fi

node_is_idle() {
    sinfo --noheader --nodes="$node" --format='%t' 2>/dev/null | grep -qx 'idle\|mix\|alloc'
}

node="$(hostname -s)"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: a random key, readable by the munge user only.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
fi

# slurm.conf for this host. RealMemory stays below the machine's, or slurmd
# would find less than configured and the node would be drained.
cpus="$(nproc --all)"
memory_mb="$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf="$(cat <<EOF
# Written by MissionControl's scripts/setup_slurm.sh: a one-node test cluster.
ClusterName=mc-test
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
# Schedule a batch job as soon as it is submitted (SLURM waits up to 3 s by
# default, which would make every test job wait).
SchedulerParameters=batch_sched_delay=0
# Finished jobs stay visible to squeue/scontrol for 5 minutes.
MinJobAge=300
NodeName=$node CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)"

if cmp -s <(printf '%s\n' "$conf") /etc/slurm/slurm.conf && node_is_idle; then
    echo "setup_slurm.sh: SLURM node $node is already up"
    exit 0
fi
printf '%s\n' "$conf" >/etc/slurm/slurm.conf

if pgrep -x slurmctld >/dev/null; then
    # A running cluster from an older configuration takes the new one.
    scontrol reconfigure
else
    slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
    slurmd
fi

for _ in $(seq 60); do
    if node_is_idle; then
        echo "setup_slurm.sh: SLURM node $node is up"
        sinfo
        exit 0
    fi
    sleep 1
done
echo "setup_slurm.sh: node $node did not become idle; see /var/log/slurm/" >&2
sinfo >&2 || true
exit 1
