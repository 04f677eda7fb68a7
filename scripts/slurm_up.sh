#!/usr/bin/env bash
# A throwaway single-node Slurm for the tests: Debian's munge + slurmctld + slurmd started without systemd, with
# config, keys, state, logs and pid files in DIR (default: a new temp dir), bound to 127.0.0.1. Never touches the
# system config (/etc/slurm, /etc/munge). Prints shell assignments (eval them): SLURM_CONF and HWMON_SLURM_DIR.
# Stop it with scripts/slurm_down.sh DIR.
set -euo pipefail
for bin in munged mungekey slurmctld slurmd sbatch scontrol; do
  command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] || {
    echo "slurm_up: $bin not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
export PATH="$PATH:/usr/sbin"
DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/hwmon-slurm.XXXXXX")}
mkdir -p "$DIR"/{munge,state,spool,log}
chmod 700 "$DIR"
# munged refuses a socket directory others can write; the clients (sbatch, slurmd) need to reach it.
chmod 755 "$DIR" "$DIR/munge"
MIN_JOB_AGE=${HWMON_SLURM_MIN_JOB_AGE:-300}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
NODE=$(hostname -s)
[ -s "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 \
  || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$DIR/munge/munge.key"
munged --force --socket="$DIR/munge/munge.socket.2" --key-file="$DIR/munge/munge.key" \
  --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
# The node's real topology, else slurmd marks it invalid.
TOPOLOGY=$(slurmd -C | head -1 | sed -e "s/^NodeName=[^ ]*//")
cat >"$DIR/slurm.conf" <<CONF
ClusterName=hwmontest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket.2
SlurmUser=$(id -un)
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=5
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE NodeAddr=127.0.0.1 $TOPOLOGY State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -i
slurmd -N "$NODE"
for _ in $(seq 100); do
  scontrol ping >/dev/null 2>&1 && sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 0.1
done
if ! sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
  echo "slurm_up: the node did not come up; logs in $DIR/log" >&2
  tail -5 "$DIR/log/"*.log >&2 || true
  exit 1
fi
echo "SLURM_CONF=$DIR/slurm.conf"
echo "HWMON_SLURM_DIR=$DIR"
