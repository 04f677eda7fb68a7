"""A fake Slurm controller's view for the fake ``squeue``/``scontrol``/``scancel`` in this directory (test doubles,
never the real clients): the cluster is ``$HWMON_FAKE_SLURM`` (a JSON file) —

    {"user": "alice", "uid": 1000,
     "jobs": [{"id": "7", "user": "alice", "uid": 1000, "state": "RUNNING", "name": "train", "stdout": "/x/%j.out",
               "workdir": "/x", "comment": "...", "exit_code": 0, ...}],
     "others": 49995,            # that many more jobs of other users, generated
     "scancel_refuse": false}    # scancel answers "Access/permission denied"

Output formats are those of slurm-wlm 22.05 (``squeue -O FIELD:SUFFIX``, ``squeue -o %i``, ``scontrol show job -o``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

Job = dict[str, Any]


def cluster() -> dict[str, Any]:
    path = os.environ.get("HWMON_FAKE_SLURM")
    if not path:
        print("fake slurm: HWMON_FAKE_SLURM is not set", file=sys.stderr)
        sys.exit(1)
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def jobs(data: dict[str, Any]) -> Iterator[Job]:
    yield from data.get("jobs", [])
    for i in range(int(data.get("others", 0))):
        n = 100000 + i
        yield {
            "id": str(n),
            "user": f"user{i % 500}",
            "uid": 2000 + i % 500,
            "state": "RUNNING" if i % 3 else "PENDING",
            "name": f"job-{n}",
            "workdir": f"/home/user{i % 500}/work",
            "stdout": f"/home/user{i % 500}/work/slurm-%j.out",
            "nodes": f"node{i % 800:04d}",
            "comment": "",
        }


_FIELDS = {
    "jobid": lambda j: j["id"].split("_")[0] if "_" not in j["id"] else str(j.get("raw_id", j["id"])),
    "jobarrayid": lambda j: j["id"],
    "arrayjobid": lambda j: j["id"].split("_")[0],
    "arraytaskid": lambda j: j["id"].split("_")[1] if "_" in j["id"] else "N/A",
    "username": lambda j: j["user"],
    "userid": lambda j: str(j["uid"]),
    "state": lambda j: j["state"],
    "reason": lambda j: j.get("reason", "None"),
    "name": lambda j: j["name"],
    "workdir": lambda j: j.get("workdir", "/"),
    "stdout": lambda j: j.get("stdout", ""),
    "stderr": lambda j: j.get("stderr", j.get("stdout", "")),
    "nodelist": lambda j: j.get("nodes", ""),
    "exit_code": lambda j: str(j.get("exit_code", 0)),
    "timeused": lambda j: j.get("time_used", "0:10"),
    "submittime": lambda j: j.get("submit", "2026-01-01T00:00:00"),
    "starttime": lambda j: j.get("start", "2026-01-01T00:00:01"),
    "endtime": lambda j: j.get("end", "N/A"),
    "timelimit": lambda j: j.get("time_limit", "UNLIMITED"),
    "restartcnt": lambda j: str(j.get("restarts", 0)),
    "comment": lambda j: j.get("comment", ""),
}


def long_format(spec: str, job: Job) -> str:
    """``squeue -O`` with ``FIELD:SUFFIX`` items (the suffix after each value)."""
    out = []
    for item in spec.split(","):
        name, _, suffix = item.partition(":")
        value = _FIELDS[name.lower()](job)
        out.append(value + suffix if suffix else value.ljust(20)[:20])
    return "".join(out)


_PERCENT = {"i": "jobarrayid", "u": "username", "T": "state", "j": "name", "Z": "workdir", "r": "reason"}


def short_format(spec: str, job: Job) -> str:
    """``squeue -o`` with ``%i``-style fields."""
    out = []
    i = 0
    while i < len(spec):
        if spec[i] == "%" and i + 1 < len(spec):
            out.append(_FIELDS[_PERCENT[spec[i + 1]]](job))
            i += 2
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


def scontrol_line(job: Job) -> str:
    raw = job["id"].split("_")[0]
    array = f"ArrayJobId={raw} ArrayTaskId={job['id'].split('_')[1]} " if "_" in job["id"] else ""
    return (
        f"JobId={job.get('raw_id', raw)} {array}JobName={job['name']} UserId={job['user']}({job['uid']}) "
        f"GroupId={job['user']}({job['uid']}) Priority=1 Nice=0 Account=(null) QOS=(null) "
        f"JobState={job['state']} Reason={job.get('reason', 'None')} Dependency=(null) Requeue=1 Restarts=0 "
        f"BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:10 TimeLimit=UNLIMITED TimeMin=N/A "
        f"SubmitTime=2026-01-01T00:00:00 EligibleTime=2026-01-01T00:00:00 StartTime=2026-01-01T00:00:01 "
        f"EndTime=Unknown Partition=debug NodeList={job.get('nodes', '')} NumNodes=1 NumCPUs=1 "
        f"WorkDir={job.get('workdir', '/')} Comment={job.get('comment', '')} StdErr={job.get('stdout', '')} "
        f"StdIn=/dev/null StdOut={job.get('stdout', '')} Power="
    )
