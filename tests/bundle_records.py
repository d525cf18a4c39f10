"""Records of the outcomes fixture as the lab writes them, with fixed facts: for the export tests."""

import json
from pathlib import Path

from reprolab.scenarios import catalog, render, selection

OUTCOMES = Path(__file__).resolve().parent / "fixtures" / "scenarios" / "outcomes.yaml"


def target(sc, variant):
    (t,) = selection.select([sc], [f"{sc.name}:{variant}"])
    return t


def fixture_record(run_id="20261201T120000Z-abcdef", outcome="reproduced", variant="present", repeat=1,
                   content_hash=None, privilege="capabilities"):
    """A record of outcomes:<variant> on bookworm as the lab writes it (fixed facts, for golden files)."""
    sc = catalog.load_one(OUTCOMES)
    t = target(sc, variant)
    ctx = render.render(sc, t.variant, t.recipe)
    entries = []
    for i in range(repeat):
        outcome_i = outcome[i] if isinstance(outcome, list) else outcome
        entries.append({
            "scenario": "outcomes", "variant": variant, "suite": "bookworm", "base": "debian:bookworm",
            "model": False, "expected": t.variant.expect, "outcome": outcome_i,
            "match": "yes" if outcome_i == t.variant.expect else "no", "reason": "", "attempts": 1,
            "seconds": 0.25, "evidence": {"path": "/etc/debian_version"}, "versions": {"debian": "12.12"},
            "image": ctx.tag, "image_id": "sha256:" + "0" * 64, "content_hash": content_hash or ctx.content_hash,
            "log": None, "exit_code": 0, "privilege": privilege,
            "replay": "python lab.py run outcomes:present --suite bookworm",
            "docker_command": "docker run --rm --network=none --cgroupns=private --memory=64m --memory-swap=64m "
                              f"--pids-limit=64 {ctx.tag}",
            "started": "2026-12-01T12:00:00Z", "ended": "2026-12-01T12:00:01Z"})
    return {"kind": "reprolab-run", "schema_version": 1, "run_id": run_id, "lab_version": "0.1.0",
            "command": ["lab.py", "run", f"outcomes:{variant}"], "started": "2026-12-01T12:00:00Z",
            "ended": "2026-12-01T12:00:02Z", "interrupted": False,
            "host": {"hostname": "vm", "kernel": "6.18.44-fc-v669", "os": "Debian GNU/Linux 12 (bookworm)",
                     "arch": "x86_64", "cpus": 2, "engine": "20.10.24+dfsg1", "runc": "1.1.5+ds1",
                     "containerd": "1.6.20~ds1", "storage_driver": "overlay2", "cgroup_driver": "cgroupfs",
                     "cgroup": "hybrid", "local_engine": True, "cap_bounding_missing": ["SYS_RESOURCE"]},
            "privileged_mode": None,
            "bases": {"debian:bookworm": {"available": True, "origin": "debootstrap", "reason": ""}},
            "jobs": 1, "repeat": repeat, "results": entries}


def write_record(results, rec):
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{rec['run_id']}.json").write_text(json.dumps(rec, indent=1))
