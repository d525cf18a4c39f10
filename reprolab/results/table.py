"""Tables are views of records: one run as rows of variants, with a summary line."""

from tabulate import tabulate, tabulate_formats

from reprolab.common.errors import UserError

COLUMNS = ("scenario", "variant", "suite", "outcome", "expected", "match", "attempts", "time")


def check_format(fmt):
    if fmt not in tabulate_formats:
        raise UserError(f"unknown table format '{fmt}'; choose one of: {', '.join(sorted(tabulate_formats))}")
    return fmt


def run_rows(record):
    if (record.get("repeat") or 1) > 1:
        return _repeat_rows(record)
    rows = []
    for r in record["results"]:
        outcome = r["outcome"] + (" (model)" if r.get("model") else "")
        rows.append((r["scenario"], r["variant"], _point(r), outcome, r["expected"], r["match"],
                     r.get("attempts", 0), f"{r.get('seconds', 0):.1f}s"))
    return rows


def _point(r):
    from reprolab.results import compare
    return compare.point(r)


def run_table(record, fmt="simple"):
    return tabulate(run_rows(record), headers=COLUMNS, tablefmt=check_format(fmt))


def summary(record):
    results = record["results"]
    counts = {k: sum(1 for r in results if r["match"] == k) for k in ("yes", "no", "skip")}
    noun = "variant runs" if (record.get("repeat") or 1) > 1 else "variants"
    host = record["host"]
    line = (f"{len(results)} {noun}: {counts['yes']} as expected, {counts['no']} differ, "
            f"{counts['skip']} skipped  |  kernel {host.get('kernel')}, cgroup {host.get('cgroup')}, "
            f"engine {host.get('engine')}, privileged mode {record.get('privileged_mode') or 'not needed'}")
    if record.get("interrupted"):
        line += "  |  INTERRUPTED"
    return line


def _repeat_rows(record):
    """Repeated runs: one row per variant with k/N reproduced and its Wilson interval."""
    from reprolab.results import compare
    groups = {}
    for r in record["results"]:
        groups.setdefault((r["scenario"], r["variant"], compare.point(r)), []).append(r)
    rows = []
    for (sc, v, suite), rs in groups.items():
        matches = {r["match"] for r in rs}
        match = "no" if "no" in matches else ("skip" if "skip" in matches else "yes")
        rows.append((sc, v + (" (model)" if rs[0].get("model") else ""), suite,
                     compare.cell([r["outcome"] for r in rs]), rs[0]["expected"], match,
                     sum(r.get("attempts", 0) for r in rs), f"{sum(r.get('seconds', 0) for r in rs):.1f}s"))
    return rows
