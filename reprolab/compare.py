"""Compare many records: rows are scenario × variant (× suite), columns a host fact or the run."""

from collections import OrderedDict

from tabulate import tabulate

from reprolab import record, stats
from reprolab.errors import RecordError, UserError

BY = {
    "kernel": lambda rec: rec["host"].get("kernel") or "?",
    "host": lambda rec: rec["host"].get("host_label") or rec["host"].get("hostname") or "?",
    "cgroup": lambda rec: rec["host"].get("cgroup") or "?",
    "run": lambda rec: rec["run_id"],
    "suite": None,  # the suite moves from the rows to the columns
}
DIFF_MARK = " *"


def load_many(paths):
    """(records, problems): every readable record of `paths`; one line per file that is not."""
    records, problems = [], []
    files = record.expand(paths)
    for p in files:
        try:
            records.append(record.load(p))
        except RecordError as exc:
            problems.append(str(exc))
    if not files:
        problems.append(f"{' '.join(map(str, paths))}: no record files found")
    return records, problems


def pivot(records, by="kernel"):
    """(column names, rows): rows keyed (scenario, variant[, suite]) → {column: [outcomes...]}."""
    if by not in BY:
        raise UserError(f"--by {by}: choose one of {', '.join(BY)}")
    columns, rows = OrderedDict(), OrderedDict()
    for rec in records:
        for r in rec["results"]:
            col = r["suite"] if by == "suite" else BY[by](rec)
            key = (r["scenario"], r["variant"] + (" (model)" if r.get("model") else ""))
            if by != "suite":
                key += (r["suite"],)
            columns.setdefault(col, None)
            rows.setdefault(key, {}).setdefault(col, []).append(r["outcome"])
    return list(columns), rows


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
    head = ["scenario", "variant"] + ([] if by == "suite" else ["suite"])
    out = []
    for key, cells in rows.items():
        values = [cell(cells.get(c, [])) for c in columns]
        present = [v for v in values if v]
        differs = len(set(present)) > 1
        if only_diff and not differs:
            continue
        out.append(list(key) + [v + (DIFF_MARK if differs and v else "") for v in values])
    return head + columns, out


def render(records, by="kernel", only_diff=False, fmt="simple"):
    headers, rows = table_data(records, by, only_diff)
    return tabulate(rows, headers=headers, tablefmt=fmt)


def as_json(records, by="kernel", only_diff=False):
    headers, rows = table_data(records, by, only_diff)
    return {"by": by, "columns": headers, "rows": rows,
            "records": [r["run_id"] for r in records]}
