#!/usr/bin/env python3
"""Soak: the lab under load and faults. Not a timed test; its figures go to the README by hand.

    python bench/soak.py [--selector SEL] [--no-restart] [--clean-every 20] [--scenarios DIR]

1. Two `run SEL --jobs 2 --repeat 3` at once, while `lab.py clean` runs every --clean-every seconds.
2. A third run, during which dockerd is restarted once a container of that run exists
   (skipped with --no-restart; restarting the engine disturbs everyone on the machine).

Reported, with their goals: containers left behind by these runs (0), records complete and readable
(all), outcomes that differ from expectation (0), tracebacks in any output (0).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable


def lab_argv(scenarios, results, *args):
    return [PY, str(ROOT / "lab.py"), "--scenarios", str(scenarios), "--results", str(results), *args]


def start(argv, log):
    out = open(log, "w")
    return subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True), out


def wait_with_cleans(procs, scenarios, tmp, every):
    """Wait for `procs`, running `lab.py clean` every `every` seconds meanwhile; the clean logs."""
    logs, n, next_clean = [], 0, time.monotonic() + every
    while any(p.poll() is None for p in procs):
        if time.monotonic() >= next_clean:
            n += 1
            log = tmp / f"clean-{n}.log"
            subprocess.run(lab_argv(scenarios, tmp / "clean-results", "clean"), cwd=ROOT,
                           stdout=open(log, "w"), stderr=subprocess.STDOUT)
            logs.append(log)
            next_clean = time.monotonic() + every
        time.sleep(0.5)
    return logs


def restart_engine_when_busy(client, results, proc, timeout=300):
    """Once a container of the run writing to `results` exists, restart dockerd; True if it was."""
    from reprolab.results import record
    from reprolab.scenarios import render
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        recs = record.list_records(results)
        if recs and client.containers.list(all=True, filters={"label": f"{render.LABEL_PREFIX}.run={recs[0].stem}"}):
            break
        time.sleep(0.2)
    else:
        return False
    pids = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    for _ in range(150):
        if not subprocess.run(["pidof", "dockerd"], capture_output=True).stdout.strip():
            break
        time.sleep(0.2)
    setup = subprocess.run(["bash", str(ROOT / "scripts" / "setup-host.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        sys.exit(f"soak: the engine did not come back: {setup.stderr.strip()[-300:]}")
    return True


def tally(client, result_dirs, logs):
    from reprolab.results import record
    from reprolab.scenarios import render
    from reprolab.common.errors import LabError
    files = [f for d in result_dirs for f in record.list_records(d)]
    readable, complete, differ, left = 0, 0, [], 0
    for f in files:
        try:
            rec = record.load(f)
        except LabError as exc:
            print(f"unreadable: {exc}")
            continue
        readable += 1
        complete += bool(rec.get("ended")) and all(r.get("outcome") for r in rec["results"])
        differ += [f"{rec['run_id']} {r['scenario']}:{r['variant']}@{r['suite']}: {r['outcome']}, expected "
                   f"{r['expected']} ({r.get('reason', '')[:120]})" for r in rec["results"] if r["match"] == "no"]
        left += len(client.containers.list(all=True, filters={"label": f"{render.LABEL_PREFIX}.run={f.stem}"}))
    tracebacks = [str(log) for log in logs if "Traceback" in Path(log).read_text(errors="replace")]
    return {"records": len(files), "readable": readable, "complete": complete, "differ": differ,
            "containers_left": left, "tracebacks": tracebacks}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--selector", default="all", help="what each run runs (default: all)")
    ap.add_argument("--scenarios", default=str(ROOT / "scenarios"))
    ap.add_argument("--no-restart", action="store_true", help="skip the dockerd restart (phase 2)")
    ap.add_argument("--clean-every", type=float, default=20.0, metavar="SECONDS")
    ap.add_argument("--keep", action="store_true", help="keep the records and logs (path printed)")
    args = ap.parse_args()

    from reprolab.engines import engine
    client = engine.connect()
    tmp = Path(tempfile.mkdtemp(prefix="reprolab-soak-"))
    run = ["run", *args.selector.split(), "--jobs", "2", "--repeat", "3"]
    started = time.monotonic()

    procs, logs = [], []
    for name in ("a", "b"):
        p, _ = start(lab_argv(args.scenarios, tmp / name, *run), tmp / f"run-{name}.log")
        procs.append(p)
        logs.append(tmp / f"run-{name}.log")
    logs += wait_with_cleans(procs, args.scenarios, tmp, args.clean_every)
    dirs = [tmp / "a", tmp / "b"]

    restarted = None
    if not args.no_restart:
        p, _ = start(lab_argv(args.scenarios, tmp / "c", *run), tmp / "run-c.log")
        logs.append(tmp / "run-c.log")
        restarted = restart_engine_when_busy(client, tmp / "c", p)
        p.wait()
        client = engine.connect()  # the old client's connections died with the engine
        dirs.append(tmp / "c")

    t = tally(client, dirs, logs)
    rows = [("containers left by these runs", t["containers_left"], "0", t["containers_left"] == 0),
            ("records complete and readable", f"{t['complete']} of {t['records']} ({t['readable']} readable)",
             "all", t["complete"] == t["records"] > 0),
            ("outcomes differing from expectation", len(t["differ"]), "0", not t["differ"]),
            ("outputs with a traceback", len(t["tracebacks"]), "0", not t["tracebacks"])]
    print(f"soak: `{' '.join(run)}` twice at once, clean every {args.clean_every:g} s"
          + ("" if args.no_restart else f"; then a third run, dockerd restarted: {'yes' if restarted else 'NO'}")
          + f"; {time.monotonic() - started:.0f} s in all")
    print("| measure | value | goal | met |\n|---|---|---|---|")
    for name, value, goal, ok in rows:
        print(f"| {name} | {value} | {goal} | {'yes' if ok else 'NO'} |")
    for line in t["differ"]:
        print(f"differs: {line}")
    for log in t["tracebacks"]:
        print(f"traceback in: {log}")
    if args.keep:
        print(f"kept: {tmp}")
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
