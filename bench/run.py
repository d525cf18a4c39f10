#!/usr/bin/env python3
"""Benchmarks of the lab against its goals; writes bench/RESULTS.md (one command: make bench).

    python bench/run.py [overhead] [variant] [jobs] [build] [compare] [report] [scenarios] [guests]   (default: all)
    python bench/run.py cold --yes-remove-images    (never part of the default: see bench_cold)

Each ratio is measured within one invocation, on a warm engine (images built first), so the
numbers compare like with like. Timing belongs here, never in the tests.
"""

import json
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
OUT = ROOT / "bench" / "RESULTS.md"


def sh(argv, **kw):
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, **kw)
    return time.monotonic() - start, proc


def lab(*args, results):
    return sh([PY, "lab.py", "--results", str(results), *args])


def newest(results):
    from reprolab.results import record
    return record.load(record.find(results))


def bench_overhead(tmp):
    """lab.py run of one variant vs a bare `docker run` of the same image and settings (the record's
    replay command), both warm; median of 5 each."""
    rows = []
    for selector, scen in (("outcomes:present", str(ROOT / "tests/fixtures/scenarios")),
                           ("rmtree-cloexec-leak:go-removeall", str(ROOT / "scenarios"))):
        base = ["--scenarios", scen]
        lab(*base, "run", selector, "--suite", "bookworm", results=tmp)  # warm: build once
        docker_cmd = shlex.split(newest(tmp)["results"][0]["docker_command"])
        lab_t, bare_t = [], []
        for _ in range(5):
            t, p = lab(*base, "run", selector, "--suite", "bookworm", results=tmp)
            lab_t.append(t)
            t, p = sh(docker_cmd)
            bare_t.append(t)
        ratio = statistics.median(lab_t) / statistics.median(bare_t)
        rows.append((f"harness overhead, {selector}", f"lab {statistics.median(lab_t):.2f}s / bare "
                     f"{statistics.median(bare_t):.2f}s = {ratio:.2f}", "<= 1.15", ratio <= 1.15))
    return rows


def bench_variant(tmp):
    """Harness time per variant inside a run, against a bare `docker run` of the same image and
    settings. A run of N+1 short variants minus a run of 1 leaves N variants' cost without Python's
    start-up, host facts and bases (paid once per run): (T(21) - T(1)) / 20. Median of 3 pairs;
    bare `docker run` median of 7 (it pays the docker CLI's start-up each time, as a user would)."""
    base = ["--scenarios", FIXTURES, "run", "outcomes:present", "--suite", "bookworm"]
    lab(*base, results=tmp)  # warm: build once
    docker_cmd = shlex.split(newest(tmp)["results"][0]["docker_command"])
    per = []
    for _ in range(3):
        t1, p1 = lab(*base, results=tmp)
        t21, p21 = lab(*base, "--repeat", "21", results=tmp)
        per.append((t21 - t1) / 20)
    bare = statistics.median(sh(docker_cmd)[0] for _ in range(7))
    med = statistics.median(per)
    ratio = med / bare
    return [("harness time per variant in a run, outcomes:present",
             f"{med:.3f}s ((T21 - T1) / 20, median of 3: {', '.join(f'{x:.3f}' for x in per)}) / bare "
             f"docker run {bare:.3f}s = {ratio:.2f} (load {_load()})", "<= 1.3", ratio <= 1.3)]


def _load():
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def longest_silence(stderr):
    """(seconds, the line after the gap) of the longest gap between timestamped progress lines."""
    stamps = []
    for line in stderr.splitlines():
        m = re.match(r"^(\d\d):(\d\d):(\d\d) ", line)
        if m:
            h, mi, se = map(int, m.groups())
            stamps.append((h * 3600 + mi * 60 + se, line[9:90]))
    gap, after = 0, ""
    for (a, _), (b, line) in zip(stamps, stamps[1:]):
        d = (b - a) % 86400  # past midnight
        if d > gap:
            gap, after = d, line
    return gap, after


COLD_WARNING = """bench cold REMOVES the lab's images from this machine's Docker engine: every reprolab/*
image, every base image the lab made with debootstrap (label org.reprolab.base.origin), and with
them the build cache of their layers. Everyone using this engine loses them until the next build.
The download cache (~/.cache/reprolab: guest kernels, root disks) is kept. Then it times `make run`
(the README's cold figure). Run it on a machine nobody else is using; pass --yes-remove-images to go on."""


def bench_cold(tmp, confirmed=False):
    """`make run` from no lab images, bases or layer cache: the README's cold figure."""
    if not confirmed:
        print(COLD_WARNING, file=sys.stderr)
        raise SystemExit(2)
    from reprolab.common import labels
    from reprolab.engines import engine
    client = engine.connect()
    doomed = {img.id: img.tags for img in client.images.list(filters={"label": labels.BASE_ORIGIN})
              + client.images.list(name="reprolab/*")}
    # tags first (an untagged parent goes with its last child), then the untagged cache left over
    for ref in [t for tags in doomed.values() for t in tags] + [i for i, tags in doomed.items() if not tags]:
        try:
            client.images.remove(ref, force=True)
        except Exception as exc:
            if "No such image" not in str(exc):
                print(f"could not remove {ref}: {str(exc)[:200]}", file=sys.stderr)
    print(f"removed {len(doomed)} image(s); timing make run (load {_load()}) ...", file=sys.stderr, flush=True)
    t, p = sh(["make", "run"])
    gap, after = longest_silence(p.stderr)
    log = Path(tempfile.gettempdir()) / "reprolab-bench-cold-make-run.log"
    log.write_text(p.stdout + p.stderr)
    print(f"make run output: {log}", file=sys.stderr)
    return [("cold make run (no lab images, bases or layer cache)", f"{t / 60:.0f} min {t % 60:.0f} s "
             f"(exit {p.returncode}; load {_load()} at the end)", "<= 9 min", t <= 540),
            ("cold make run: longest silence between progress lines", f"{gap} s (before: {after})", "<= 10 s",
             gap <= 10)]


def bench_jobs(tmp):
    lab("run", "all", results=tmp)  # warm
    t1, p1 = lab("run", "all", "--jobs", "1", results=tmp)
    t2, p2 = lab("run", "all", "--jobs", "2", results=tmp)
    ratio = t2 / t1
    return [("run all --jobs 2 / --jobs 1", f"{t2:.1f}s / {t1:.1f}s = {ratio:.2f} (exit {p1.returncode}, {p2.returncode})",
             "<= 0.65", ratio <= 0.65)]


def bench_build(tmp):
    sh([PY, "lab.py", "build", "all"])  # warm
    times = [sh([PY, "lab.py", "build", "all"])[0] for _ in range(3)]
    t = statistics.median(times)
    return [("no-change build all", f"{t:.2f}s (median of 3)", "<= 5 s", t <= 5)]


def bench_compare(tmp):
    from reprolab.results import record
    recs = Path(tmp) / "many"
    recs.mkdir()
    kernels = ["5.10.0-30-amd64", "5.15.0-100-generic", "6.1.0-20-amd64", "6.12.0-1-amd64"]
    results = [{"scenario": f"s{i}", "variant": f"v{j}", "suite": "bookworm", "outcome": "reproduced",
                "expected": "reproduced", "match": "yes", "attempts": 1, "seconds": 1.0}
               for i in range(5) for j in range(6)]
    for n in range(1000):
        rec = {"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": f"r{n:04d}",
               "started": "2026-01-01T00:00:00Z", "host": {"kernel": kernels[n % 4], "cgroup": "v2"},
               "results": results}
        (recs / f"r{n:04d}.json").write_text(json.dumps(rec))
    t, p = sh([PY, "lab.py", "compare", str(recs)])
    ok = p.returncode == 0 and "1000 record(s)" in p.stdout
    return [("compare over 1,000 records", f"{t:.2f}s (30 rows x 4 kernels, k/N cells)", "<= 2 s", ok and t <= 2)]


def bench_report(tmp):
    """lab.py report over 1,000 records of 30 variants on 4 kernels, each result with its evidence,
    versions, commands and log (as real records have): k/N cells of 250 runs."""
    from reprolab.results import record
    recs = Path(tmp) / "report"
    kernels = ["5.10.0-30-amd64", "5.15.0-100-generic", "6.1.0-20-amd64", "6.12.0-1-amd64"]
    for n in range(1000):
        run_id = f"2026010{1 + n % 4}T{n:06d}Z-bench"
        (recs / "logs" / run_id).mkdir(parents=True)
        results = []
        for i in range(5):
            for j in range(6):
                outcome = "reproduced" if (n + i + j) % 3 else "not-reproduced"
                log = f"logs/{run_id}/s{i}.v{j}.bookworm.log"
                (recs / log).write_text("".join(f"step {k}: output of the reproducer\n" for k in range(40)))
                results.append({
                    "scenario": f"s{i}", "variant": f"v{j}", "suite": "bookworm", "model": j == 0,
                    "outcome": outcome, "expected": "reproduced", "match": "yes" if outcome == "reproduced" else "no",
                    "reason": "" if outcome == "reproduced" else "no fd leaked in 200 attempts",
                    "attempts": 1, "seconds": 1.0, "build_seconds": 0.0,
                    "evidence": {"leaked": [f"fd {k} -> pipe:[{1000 + k}]" for k in range(5)], "attempts": 200},
                    "versions": {"debian": "12.7", "liblxc": "5.0.2", "kernel": kernels[n % 4]},
                    "log": log, "exit_code": 0, "privilege": "emulated",
                    "replay": f"python lab.py run s{i}:v{j} --suite bookworm",
                    "docker_command": f"docker run --rm --network=none --cap-add ALL reprolab/s{i}:v{j}-bookworm",
                    "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:00:01Z"})
        rec = {"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": run_id,
               "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:00:31Z", "privileged_mode": "emulated",
               "host": {"kernel": kernels[n % 4], "cgroup": "v2", "engine": "20.10.24+dfsg1", "hostname": "box"},
               "results": results}
        (recs / f"{run_id}.json").write_text(json.dumps(rec))
    page = Path(tmp) / "report.html"
    times = []
    for _ in range(3):
        t, p = sh([PY, "lab.py", "report", str(recs), "-o", str(page)])
        times.append(t)
    t = statistics.median(times)
    ok = p.returncode == 0 and "1000 record(s)" in p.stdout
    size = page.stat().st_size / 1e6
    return [("report over 1,000 records", f"{t:.2f}s (median of 3; 30 rows x 4 kernels, 250 runs a cell); "
             f"page {size:.2f} MB", "<= 3 s", ok and t <= 3)]


def bench_scenarios(tmp):
    rows = []
    for sel, suite_goal, ttd_goal in (("lxc-fd-race:model-liblxc-1.0", ("lxc-fd-race", 90), 2.0),
                                      ("rmtree-cloexec-leak:model-go1.12-openat", ("rmtree-cloexec-leak", 60), 5.0)):
        lab("run", sel, "--suite", "bookworm", results=tmp)  # warm
        t, p = lab("run", sel, "--suite", "bookworm", "--repeat", "20", results=tmp)
        rec = newest(tmp)
        k = sum(1 for r in rec["results"] if r["outcome"] == "reproduced")
        ttds = [_ttd(r["evidence"]) for r in rec["results"] if r["outcome"] == "reproduced"]
        ttds = [x for x in ttds if x is not None]
        med = statistics.median(ttds) if ttds else float("nan")
        rows.append((f"{sel} reproduces", f"{k}/20", ">= 19/20", k >= 19))
        rows.append((f"{sel} median time to detect", f"{med:.2f}s", f"<= {ttd_goal:g} s", med <= ttd_goal))
        name, limit = suite_goal
        lab("run", name, "--suite", "bookworm", results=tmp)  # warm
        t, p = lab("run", name, "--suite", "bookworm", results=tmp)
        rows.append((f"{name}: all variants, bookworm, warm", f"{t:.1f}s (exit {p.returncode})", f"<= {limit} s",
                     t <= limit))
    return rows


FIXTURES = str(ROOT / "tests/fixtures/scenarios")


def bench_guests(tmp):
    """The kernel matrix under this machine's accelerator: per kernel, cached kernel to first verdict
    (boot, image disk, run); one whole scenario on an extra kernel; image disk per image; one guest
    versus two at once. Kernels, root disk and image disks are made first (not timed)."""
    from reprolab.engines import engine
    from reprolab.guests import imagedisk
    rows = []
    for k in ("5.10", "6.1", "6.12"):
        lab("--scenarios", FIXTURES, "run", "outcomes:present", "--kernel", k, results=tmp)  # warm caches
        t, p = lab("--scenarios", FIXTURES, "run", "outcomes:present", "--kernel", k, results=tmp)
        g = newest(tmp)["host"].get("guest", {})
        run_s = sum(r["seconds"] for r in newest(tmp)["results"])
        rows.append((f"first verdict, kernel {k} ({g.get('kernel_release')}, {g.get('accel')})",
                     f"{t:.0f}s: boot {g.get('boot_seconds')}s, image disk {g.get('image_disk_seconds')}s, "
                     f"sent {g.get('images_sent')}, variant {run_s:.0f}s (exit {p.returncode})", "<= 90 s", t <= 90))
    sel = ["rmtree-cloexec-leak", "--suite", "bookworm", "--kernel", "6.1"]
    lab("run", *sel, results=tmp)  # warm: images, image disk
    t, p = lab("run", *sel, results=tmp)
    g = newest(tmp)["host"].get("guest", {})
    rows.append(("rmtree-cloexec-leak, all variants, bookworm, on 6.1", f"{t:.0f}s (boot {g.get('boot_seconds')}s, "
                 f"exit {p.returncode})", "<= 300 s", t <= 300))
    local = engine.connect()
    names = [i.tags[0] for i in local.images.list(filters={"label": "org.reprolab.scenario=rmtree-cloexec-leak"})
             if i.tags and i.tags[0].endswith("-bookworm")]
    images = {n: local.images.get(n).id for n in names + ["debian:bookworm"]}
    disk = imagedisk.disk_for(images, local)[0]
    disk.unlink()
    start = time.monotonic()
    imagedisk.disk_for(images, local)
    per = (time.monotonic() - start) / max(1, len(names))
    rows.append((f"image disk, {len(names)} scenario images + base, made anew", f"{per:.1f}s per image "
                 f"({time.monotonic() - start:.0f}s in all)", "<= 30 s per image", per <= 30))
    pair = ["--scenarios", FIXTURES, "run", "outcomes:present", "--kernel", "5.10", "--kernel", "6.12"]
    t1, p1 = lab(*pair, "--guest-jobs", "1", results=tmp)
    t2, p2 = lab(*pair, "--guest-jobs", "2", results=tmp)
    rows.append(("two guests at once / one after the other", f"{t2:.0f}s / {t1:.0f}s = {t2 / t1:.2f} "
                 f"(exit {p1.returncode}, {p2.returncode})", "< 1 (information)", t2 < t1))
    return rows


def bench_speed(tmp):
    """Each engine's calibration (engines.speed): this host, and TCG guests of 5.10, 6.1 and 6.12, in
    one run of one tiny fixture variant; the rates, the ratios to this host and the budget factor."""
    lab("--scenarios", FIXTURES, "run", "outcomes:present", "--kernel", "host", "--kernel", "5.10", "--kernel", "6.1",
        "--kernel", "6.12", results=tmp)
    rows = []
    for path in sorted(Path(tmp).glob("*.json")):
        rec = json.loads(path.read_text())
        s, g = rec["host"].get("speed") or {}, rec["host"].get("guest") or {}
        name = f"guest {g.get('kernel_release')} ({g.get('accel')})" if g else f"this host ({rec['host'].get('kernel')})"
        if "error" in s:
            rows.append((f"speed, {name}", f"not measured: {s['error']}", "measured", False))
            continue
        ratio = s.get("ratio") or {}
        rows.append((f"speed, {name}", f"{s['fork_exec_per_s']:g} fork+exec/s, {s['cpu_per_s']:g} CPU loops/s; "
                     f"{ratio.get('fork_exec', 0):g}x / {ratio.get('cpu', 0):g}x slower than this host; budgets "
                     f"x{(s.get('scale') or {}).get('factor', 1):g} (calibration container {s.get('container_seconds')} s)",
                     "measured", True))
    return rows


def _ttd(evidence):
    for key, value in evidence.items():
        if "time_to" in key and isinstance(value, (int, float)):
            return value / 1000 if key.endswith("_ms") else value
    return None


BENCHES = {"overhead": bench_overhead, "variant": bench_variant, "jobs": bench_jobs, "build": bench_build, "compare": bench_compare,
           "report": bench_report, "scenarios": bench_scenarios, "guests": bench_guests, "speed": bench_speed}


def main(argv):
    from reprolab.engines import engine
    confirmed = "--yes-remove-images" in argv
    names = [a for a in argv if a != "--yes-remove-images"]
    unknown = [n for n in names if n not in BENCHES and n != "cold"]
    if unknown:
        print(f"bench/run.py: unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}, cold",
              file=sys.stderr)
        return 2
    if "cold" in names and not confirmed:
        bench_cold(None)  # prints the warning and exits 2
    facts = engine.host_facts(engine.connect())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or BENCHES:
            print(f"bench {name} ...", file=sys.stderr, flush=True)
            rows += bench_cold(tmp, confirmed) if name == "cold" else BENCHES[name](tmp)
    lines = [f"# Benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Host: kernel {facts['kernel']}, cgroup {facts['cgroup']}, engine {facts['engine']}, "
             f"{facts['cpus']} CPUs, load average {_load()} at the end. Command: `python bench/run.py {' '.join(argv)}`.", "",
             "| measure | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if ok else '**no**'} |" for a, b, c, ok in rows]
    text = "\n".join(lines) + "\n"
    if OUT.exists() and names:
        text = OUT.read_text().rstrip() + "\n\n" + text
    OUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
