"""Compare many records: rows are scenario × variant (× suite), columns environments (or a host fact,
the suite, the run: --by).

By default a column is one environment (environment.py): the facts that differ between the records
name it, so a k/N cell pools only runs of one environment. --by chooses other columns, which may pool
runs of different environments; the closing line then says which facts differ inside which column.
A row is starred when its outcomes differ (RULE below), not when its cells merely read differently:
`0/2 [0.00-0.66]` and `not-reproduced` agree. Kernel builds of one release sit in adjacent columns
(by environment or `--by kernel`) or share one column (`--by release`).
"""

import re
from collections import OrderedDict
from typing import NamedTuple

from tabulate import tabulate

from reprolab.common import stats
from reprolab.results import environment, exposure, record
from reprolab.common.errors import RecordError, UserError
from reprolab.versions import release as versions
from reprolab.versions.axis import SOURCES as VERSION_AXES

ENV = "env"  # the default --by: a column per environment
BY = {
    ENV: None,  # environment.columns
    "kernel": lambda rec: rec["host"].get("kernel") or "?",
    "release": lambda rec: release(rec["host"].get("kernel") or "?"),
    "host": lambda rec: rec["host"].get("host_label") or rec["host"].get("hostname") or "?",
    "cgroup": lambda rec: rec["host"].get("cgroup") or "?",
    "run": lambda rec: rec["run_id"],
    "suite": None,  # the suite moves from the rows to the columns
}
# a version axis (go) is a column too: the release of each result, columns ordered as versions
AXES = tuple(VERSION_AXES)
DIFF_MARK = " *"
RAN = ("reproduced", "not-reproduced")
RULE = ("k/N cells differ when one is 0/N and another is not, "
        "or their 95% Wilson intervals do not overlap (a single reproduced counts as 1/1, "
        "not-reproduced as 0/1); skipped, error and hang are compared by kind (a cell with one "
        "differs from a cell without)")
ENV_RULE = ("Without --by, a column is one environment: it is named by the facts that differ between "
            "the records compared (" + ", ".join(environment.NAMES) + "; a fact the same for all, or one "
            "that follows from those named before it, is left out of the name), so a k/N cell pools only "
            "runs whose environments are the same (a fact that does not "
            "apply, such as the privileged mode of a run that needed none, splits nothing). --by chooses "
            "the columns; a cell may then pool runs of different environments, and the closing line says "
            "which facts differ inside which column")
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


class Pivot(NamedTuple):
    columns: list  # column names, in order
    rows: OrderedDict  # (scenario, variant[, suite]) -> {column: [(record, result)]}
    kernels: dict  # column -> the kernel of its runs, where it has one kernel
    facts: list  # by environment: the facts that name the columns
    implied: OrderedDict  # by environment: facts that split them too, following the named ones


def pivot(records, by=ENV):
    """(column names, rows): rows keyed (scenario, variant[, suite]) → {column: [outcomes...]}."""
    columns, rows = pivot_results(records, by)
    return columns, OrderedDict((key, {c: [r["outcome"] for _, r in entries] for c, entries in cells.items()})
                                for key, cells in rows.items())


def point(r, without=""):
    """A result's suite and releases as its rows show them: `bookworm go1.23.1` (the axis `without`
    left out: it is the columns)."""
    return r["suite"] + "".join(f" {a}{v}" for a, v in (r.get("release") or {}).items() if a != without)


def release_of(r, axis):
    """The release of result `r` on `axis`, or '-' for a result that is not on it."""
    return (r.get("release") or {}).get(axis) or "-"


def column_of(by):
    """The column of a record for `by`: one key of BY, or two or more joined by commas
    (`kernel,cgroup`: a column per kernel and cgroup layout, named "6.1.0-56-amd64 v2")."""
    parts = by.split(",")
    if by in AXES:
        return None  # per result, not per record: see pivot_of
    if any(p not in BY for p in parts) or (len(parts) > 1 and ("suite" in parts or ENV in parts)):
        raise UserError(f"--by {by}: choose one of {', '.join(list(BY) + list(AXES))}, or several but {ENV}, "
                        f"suite and {', '.join(AXES)} joined by commas (kernel,cgroup)")
    if len(parts) == 1:
        return BY[by]
    return lambda rec: " ".join(BY[p](rec) for p in parts)


def pivot_results(records, by=ENV):
    """As pivot, with each cell a list of (record, result) instead of outcomes (for the report)."""
    p = pivot_of(records, by)
    return p.columns, p.rows


def pivot_of(records, by=ENV):
    """The Pivot of `records` with columns by `by`."""
    column = column_of(by)
    entries = [(rec, r) for rec in records for r in rec["results"]]
    facts, kernels, implied = [], {}, OrderedDict()
    if by == ENV:
        env = environment.columns(entries)
        place, kernels, facts, implied = env.place, env.kernels, env.facts, env.implied
        col = lambda rec, r: place[id(r)]  # noqa: E731
    elif by == "suite":
        col = lambda rec, r: r["suite"]  # noqa: E731
    elif by in AXES:
        col = lambda rec, r: release_of(r, by)  # noqa: E731
    else:
        col = lambda rec, r: column(rec)  # noqa: E731
    columns, rows = OrderedDict(), OrderedDict()
    for rec, r in entries:
        c = col(rec, r)
        key = (r["scenario"], r["variant"] + (" (model)" if r.get("model") else ""))
        if by != "suite":
            key += (point(r, by),)  # releases stay in the rows unless they are the columns: never pooled
        columns.setdefault(c, None)
        rows.setdefault(key, {}).setdefault(c, []).append((rec, r))
        if by.split(",")[0] == "kernel":
            kernels[c] = rec["host"].get("kernel") or "?"
    columns = list(columns)
    if by in AXES:
        columns.sort(key=versions.key)  # 1.9 before 1.10; '-' (not on the axis) last
    if kernels:
        # builds of one release side by side, releases in the order first seen
        order = list(OrderedDict.fromkeys(release(kernels[c]) for c in columns))
        columns.sort(key=lambda c: order.index(release(kernels[c])))
    return Pivot(columns, rows, kernels, facts, implied)


def releases(columns, kernels=None):
    """{release: [columns]} for releases with more than one kernel build among `columns`; `kernels`
    maps a column to its kernel (default: the column is named by its kernel)."""
    kernels = kernels or {c: c for c in columns}
    groups = OrderedDict()
    for c in columns:
        if c in kernels:
            groups.setdefault(release(kernels[c]), []).append(c)
    return OrderedDict((r, cs) for r, cs in groups.items() if len({kernels[c] for c in cs}) > 1)


def pooled(entries):
    """{fact: [values]}: the environment facts that differ between the runs of one cell."""
    return environment.differing([environment.of(rec, r) for rec, r in entries])


def pooled_columns(p):
    """{column: [facts]}: columns with a cell that pools runs of different environments, and the facts
    that differ inside them."""
    out = OrderedDict()
    for c in p.columns:
        facts = OrderedDict()
        for cells in p.rows.values():
            facts.update((f, None) for f in pooled(cells.get(c, [])))
        if facts:
            out[c] = [f for f in environment.NAMES if f in facts]
    return out


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


def table_data(records, by=ENV, only_diff=False):
    return _table(pivot_of(records, by), by, only_diff)


def _table(p, by, only_diff=False):
    head = ["scenario", "variant"] + ([] if by == "suite" else ["suite"])
    out = []
    for key, entries in p.rows.items():
        cells = {c: [r["outcome"] for _, r in e] for c, e in entries.items()}
        values = [cell(cells.get(c, [])) for c in p.columns]
        star = differs([cells.get(c, []) for c in p.columns])
        if only_diff and not star:
            continue
        notes, unequal = exposure.row([[r for _, r in entries.get(c, [])] for c in p.columns])
        values = [v + n for v, n in zip(values, notes)]  # negatives of unequal exposure say theirs
        names = list(key)
        if unequal:
            names[1] += exposure.MARK
        out.append(names + [v + (DIFF_MARK if star and v else "") for v in values])
    return head + p.columns, out


def render(records, by=ENV, only_diff=False, fmt="simple"):
    headers, rows = table_data(records, by, only_diff)
    return tabulate(rows, headers=headers, tablefmt=fmt)


def as_json(records, by=ENV, only_diff=False):
    p = pivot_of(records, by)
    headers, rows = _table(p, by, only_diff)
    return {"by": by, "columns": headers, "rows": rows, "rule": RULE,
            "environment_facts": p.facts, "implied": list(p.implied.values()), "pooled": pooled_columns(p),
            "releases": releases(p.columns, p.kernels),
            "records": [r["run_id"] for r in records]}


def describe(p, by):
    """How the columns were chosen, in words: `environment (engine, kernel; privileged mode follows the
    engine: host emulated, guest privileged)`, `kernel`."""
    if by != ENV:
        return by
    if not p.facts:
        return "environment (no fact differs)"
    return f"environment ({'; '.join([', '.join(p.facts)] + list(p.implied.values()))})"


def closing(records, by=ENV, rule_at="lab.py compare --help"):
    """The short line under a comparison: records, columns, rows that differ and where the rule for
    them is explained; then the columns that are builds of one release, and the columns whose cells
    pool runs of different environments, with the facts that differ inside them."""
    p = pivot_of(records, by)
    ndiff = len(_table(p, by, only_diff=True)[1])
    line = (f"{len(records)} record(s), {len(p.columns)} column(s) by {describe(p, by)}, "
            f"{ndiff} of {len(p.rows)} rows differ (*: rule in {rule_at})")
    for rel, builds in releases(p.columns, p.kernels).items():
        line += f"; {', '.join(builds)} are builds of release {rel}"
    groups = OrderedDict()
    for col, facts in pooled_columns(p).items():
        groups.setdefault(tuple(facts), []).append(col)
    if groups:
        line += "; cells pool runs of different environments: " + "; ".join(
            f"{_words(facts)} {'differ' if len(facts) > 1 else 'differs'} inside {', '.join(cols)}"
            for facts, cols in groups.items())
        line += " (without --by, each environment has its own column)"
    return line


def _words(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
