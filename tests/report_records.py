"""A small set of records for the report's tests: two builds of one release and another kernel, a
guest, repeated runs, a model, every outcome kind, one log per run, and one record that is not one."""

import json

from reprolab.results import record

# (kernel, run id, guest?, [(variant, outcome)]); variant "m" is a model, expected reproduced
RUNS = [
    ("6.1.0-41-amd64", "20260101T000000Z-aaaaaa", False,
     [("same", "not-reproduced"), ("m", "reproduced"), ("flips", "reproduced"), ("skips", "skipped")]),
    ("6.1.0-50-amd64", "20260102T000000Z-bbbbbb", True,
     [("same", "not-reproduced"), ("m", "reproduced"), ("flips", "not-reproduced"), ("skips", "skipped")]),
] + [
    ("6.12.0-1-amd64", f"20260103T00000{i}Z-cccccc", False,
     [("same", "not-reproduced"), ("m", "reproduced" if i < 3 else "not-reproduced"), ("flips", "error"),
      ("skips", "hang")])
    for i in range(4)
]
EXPECTED = {"same": "not-reproduced", "m": "reproduced", "flips": "reproduced", "skips": "skipped"}


def result(run_id, variant, outcome):
    expected = EXPECTED[variant]
    match = "skip" if outcome == "skipped" else ("yes" if outcome == expected else "no")
    log = f"logs/{run_id}/demo.{variant}.bookworm.log"
    return {"scenario": "demo", "variant": variant, "suite": "bookworm", "base": "debian:bookworm",
            "model": variant == "m", "expected": expected, "outcome": outcome, "match": match,
            "reason": f"reason of {variant} in {run_id} <b>not bold</b>" if outcome != expected else "",
            "attempts": 1, "seconds": 1.5, "build_seconds": 0.25,
            "evidence": {"fds_leaked": 3 if outcome == "reproduced" else 0, "rule": "reproduced when fds leak"},
            "versions": {"debian": "12.7", "liblxc": "5.0.2", "go": ""},
            "log": log, "exit_code": 0, "privilege": "emulated",
            "replay": f"python lab.py run demo:{variant} --suite bookworm",
            "docker_command": f"docker run --rm --network=none reprolab/demo:{variant}-bookworm",
            "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:00:02Z"}


def records():
    out = []
    for kernel, run_id, guest, variants in RUNS:
        host = {"hostname": "box", "host_label": "box", "kernel": kernel, "cgroup": "v2",
                "engine": "20.10.24+dfsg1", "cpus": 2, "local_engine": not guest}
        if guest:
            host["host_label"] = f"guest {kernel} v2"
            host["guest"] = {"kernel_release": kernel, "cgroup": "v2", "accel": "tcg", "boot_seconds": 41.2,
                             "transfer_seconds": 12.5, "console_log": f"results/logs/guests/{kernel}-v2.console.log"}
        day = run_id[:8]
        out.append({"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": run_id,
                    "command": ["lab.py", "run", "demo"], "started": f"{day[:4]}-{day[4:6]}-{day[6:]}T10:00:00Z",
                    "ended": f"{day[:4]}-{day[4:6]}-{day[6:]}T10:01:30Z", "interrupted": False, "host": host,
                    "privileged_mode": "emulated", "repeat": 1,
                    "results": [result(run_id, v, o) for v, o in variants]})
    return out


def write(folder):
    """The records, their logs and one foreign file in `folder`; returns the foreign file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records():
        (folder / f"{rec['run_id']}.json").write_text(json.dumps(rec, indent=1))
        for r in rec["results"]:
            log = folder / r["log"]
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("".join(f"line {i} of {r['variant']}\n" for i in range(100))
                           + f"REPROLAB-VERDICT {r['outcome']}\n")
    foreign = folder / "foreign.json"
    foreign.write_text('{"tests": 3}\n')
    return foreign
