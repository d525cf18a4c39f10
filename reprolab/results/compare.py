"""Compare many records: rows are scenario × variant (× suite), columns a host fact or the run.

A row is starred when its outcomes differ (RULE below), not when its cells merely read differently:
`0/2 [0.00-0.66]` and `not-reproduced` agree. Kernel builds of one release sit in adjacent columns
(`--by kernel`) or share one column (`--by release`).
"""

import re
from collections import OrderedDict

from tabulate import tabulate

from reprolab.common import stats
from reprolab.results import exposure, record
from reprolab.common.errors import RecordError, UserError

BY = {
    "kernel": lambda rec: rec["host"].get("kernel") or "?",
    "release": lambda rec: release(rec["host"].get("kernel") or "?"),
    "host": lambda rec: rec["host"].get("host_label") or rec["host"].get("hostname") or "?",
    "cgroup": lambda rec: rec["host"].get("cgroup") or "?",
    "run": lambda rec: rec["run_id"],
    "suite": None,  # the suite moves from the rows to the columns
}
DIFF_MARK = " *"
RAN = ("reproduced", "not-reproduced")
RULE = ("k/N cells differ when one is 0/N and another is not, "
        "or their 95% Wilson intervals do not overlap (a single reproduced counts as 1/1, "
        "not-reproduced as 0/1); skipped, error and hang are compared by kind (a cell with one "
        "differs from a cell without)")
_RELEASE = re.compile(r"^(\d+\.\d+(?:\.\d+)?)(?=$|[^\d.])")


def release(kernel):
    """The upstream x.y.z a kernel build reports first (`6.18.44-fc-v657` → `6.18.44`). For Debian's
    `6.1.0-50-amd64` this is the ABI series 6.1.0, which groups its stable updates together."""
    m = _RELEASE.match(kernel)
    return m.group(1) if m else kernel


def load_many(paths):
    """(records, problems): every readable record of `paths`; one line per file that is not."""
    loaded, problems = load_files(paths)
    return [rec for _, rec in loaded], problems


def load_files(paths):
    """([(file, record)], problems): as load_many, keeping each record's file (its logs are relative
    to the file's folder)."""
    loaded, problems = [], []
    files = record.expand(paths)
    for p in files:
        try:
            loaded.append((p, record.load(p)))
        except RecordError as exc:
            problems.append(str(exc))
    if not files:
        problems.append(f"{' '.join(map(str, paths))}: no record files found")
    return loaded, problems


def pivot(records, by="kernel"):
    """(column names, rows): rows keyed (scenario, variant[, suite]) → {column: [outcomes...]}."""
    columns, rows = pivot_results(records, by)
    return columns, OrderedDict((key, {c: [r["outcome"] for _, r in entries] for c, entries in cells.items()})
                                for key, cells in rows.items())


def column_of(by):
    """The column of a record for `by`: one key of BY, or two or more joined by commas
    (`kernel,cgroup`: a column per kernel and cgroup layout, named "6.1.0-56-amd64 v2")."""
    parts = by.split(",")
    if any(p not in BY for p in parts) or ("suite" in parts and len(parts) > 1):
        raise UserError(f"--by {by}: choose one of {', '.join(BY)}, or several but suite joined by commas "
                        f"(kernel,cgroup)")
    if len(parts) == 1:
        return BY[by]
    return lambda rec: " ".join(BY[p](rec) for p in parts)


def pivot_results(records, by="kernel"):
    """As pivot, with each cell a list of (record, result) instead of outcomes (for the report)."""
    column = column_of(by)
    columns, rows = OrderedDict(), OrderedDict()
    for rec in records:
        for r in rec["results"]:
            col = r["suite"] if by == "suite" else column(rec)
            key = (r["scenario"], r["variant"] + (" (model)" if r.get("model") else ""))
            if by != "suite":
                key += (r["suite"],)
            columns.setdefault(col, None)
            rows.setdefault(key, {}).setdefault(col, []).append((rec, r))
    columns = list(columns)
    if by.split(",")[0] == "kernel":
        # builds of one release side by side, releases in the order first seen
        order = list(OrderedDict.fromkeys(release(c) for c in columns))
        columns.sort(key=lambda c: order.index(release(c)))
    return columns, rows


def releases(columns):
    """{release: [kernel columns]} for releases with more than one build among `columns`."""
    groups = OrderedDict()
    for c in columns:
        groups.setdefault(release(c), []).append(c)
    return OrderedDict((r, cs) for r, cs in groups.items() if len(cs) > 1)


def signature(outcomes):
    """(reproduced k, ran n, kinds of the other outcomes) of one cell."""
    ran = [o for o in outcomes if o in RAN]
    return sum(1 for o in ran if o == "reproduced"), len(ran), frozenset(o for o in outcomes if o not in RAN)


def _pair_differs(a, b, confidence=0.95):
    (ka, na, oa), (kb, nb, ob) = a, b
    if oa != ob or (na == 0) != (nb == 0):
        return True
    if na == 0:
        return False
    if (ka == 0) != (kb == 0):
        return True
    la, ha = stats.wilson(ka, na, confidence)
    lb, hb = stats.wilson(kb, nb, confidence)
    return ha < lb or hb < la


def differs(cells, confidence=0.95):
    """Whether the outcomes of a row's non-empty cells (lists of outcomes) differ, by RULE."""
    sigs = [signature(c) for c in cells if c]
    return any(_pair_differs(a, b, confidence) for i, a in enumerate(sigs) for b in sigs[i + 1:])


def cell(outcomes, confidence=0.95):
    """One outcome when all runs agree and there was one; else k/N reproduced with its interval."""
    if not outcomes:
        return ""
    if len(outcomes) == 1:
        return outcomes[0]
    ran = [o for o in outcomes if o in ("reproduced", "not-reproduced")]
    if not ran:
        return outcomes[0] if len(set(outcomes)) == 1 else "/".join(sorted(set(outcomes)))
    k = sum(1 for o in ran if o == "reproduced")
    text = stats.rate_cell(k, len(ran), confidence)
    other = len(outcomes) - len(ran)
    return text + (f" +{other} other" if other else "")


def table_data(records, by="kernel", only_diff=False):
    columns, rows = pivot(records, by)
    _, entries = pivot_results(records, by)  # the results themselves, for their exposures
    head = ["scenario", "variant"] + ([] if by == "suite" else ["suite"])
    out = []
    for key, cells in rows.items():
        values = [cell(cells.get(c, [])) for c in columns]
        star = differs([cells.get(c, []) for c in columns])
        if only_diff and not star:
            continue
        notes, unequal = exposure.row([[r for _, r in entries[key].get(c, [])] for c in columns])
        values = [v + n for v, n in zip(values, notes)]
        names = list(key)
        if unequal:
            names[1] += exposure.MARK
        out.append(names + [v + (DIFF_MARK if star and v else "") for v in values])
    return head + columns, out


def render(records, by="kernel", only_diff=False, fmt="simple"):
    headers, rows = table_data(records, by, only_diff)
    return tabulate(rows, headers=headers, tablefmt=fmt)


def as_json(records, by="kernel", only_diff=False):
    headers, rows = table_data(records, by, only_diff)
    return {"by": by, "columns": headers, "rows": rows, "rule": RULE,
            "releases": releases(headers[3:]) if by == "kernel" else {},
            "records": [r["run_id"] for r in records]}


def closing(records, by="kernel"):
    """The line under a comparison: what was compared, which columns are one release, the rule."""
    line = f"{len(records)} record(s) compared by {by}"
    if by == "kernel":
        columns, _ = pivot(records, by)
        for rel, builds in releases(columns).items():
            line += f"; {', '.join(builds)} are builds of release {rel}"
    return line + f"; * marks a row whose outcomes differ: {RULE}; {exposure.RULE}"
