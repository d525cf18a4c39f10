"""One self-contained HTML page of many records: compare's matrix, coloured, with each cell's details.

The pivot, the cell text and the rule for rows that differ are compare's; this module only gathers
what the page shows (a view model of plain dicts) and renders templates/report.html.j2. The page
loads nothing: CSS and script are inline, and its only links are relative ones to the run logs.
"""

import datetime
import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import quote

import jinja2

from reprolab.common import stats
from reprolab.results import compare, exposure, table

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Bounds that keep a page of thousands of runs small: a cell lists its runs up to RUN_LIST and
# details the newest run of each outcome it has; logs and evidence are cut to their tails.
RUN_LIST = 25
LOG_TAIL_LINES = 30
LOG_TAIL_BYTES = 4096
EVIDENCE_CHARS = 6000
OUTCOMES = ("reproduced", "not-reproduced", "skipped", "error", "hang")
SET_FACTS = ("kernels", "engines", "cgroup", "privileged mode", "hosts", "guests", "when", "how long", "interrupted")


def render(loaded, problems=(), by=compare.ENV, out_dir=".", now=None):
    """The page as text. `loaded`: [(record file, record)] as compare.load_files gives; `problems`:
    the lines naming files not reported; `out_dir`: where the page will be written, for the relative
    links to logs; `now`: the time stamp shown (seconds since the epoch; default: now)."""
    model = view(loaded, problems, by, out_dir, now)
    return _environment().get_template("report.html.j2").render(**model)


def view(loaded, problems=(), by=compare.ENV, out_dir=".", now=None):
    """What the page shows, as plain data (the template only lays it out)."""
    records = [rec for _, rec in loaded]
    files = {id(rec): Path(path) for path, rec in loaded}
    out_dir = os.path.abspath(out_dir)
    p = compare.pivot_of(records, by)
    columns, rows = p.columns, p.rows
    out_rows = []
    for i, (key, cells) in enumerate(rows.items()):
        differs = compare.differs([[r["outcome"] for _, r in cells.get(c, [])] for c in columns])
        shown = [_cell(f"{i}-{j}", key, col, cells.get(col, []), files, out_dir) for j, col in enumerate(columns)]
        notes, unequal = exposure.row([[r for _, r in cells.get(c, [])] for c in columns])
        for c, note in zip(shown, notes):  # negatives of unequal exposure say theirs, as in compare
            if c is not None and note:
                c["text"] += note
                c["title"] += note
        out_rows.append({
            "key": list(key[:1]) + [key[1] + (exposure.MARK if unequal else "")] + list(key[2:]),
            "model": key[1].endswith(" (model)"), "differs": differs, "exposure_differs": unequal,
            "cells": shown})
    groups = compare.releases(columns, p.kernels)
    sets = _record_sets(records, p, files)
    return {
        "by": by, "rule": compare.RULE, "env_rule": compare.ENV_RULE, "exposure_rule": exposure.RULE,
        "problems": list(problems),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
        "head": ["scenario", "variant"] + ([] if by == "suite" else ["suite"]),
        "columns": columns, "release_row": _release_row(columns, groups, p.kernels),
        "rows": out_rows, "differing": sum(r["differs"] for r in out_rows),
        "pooled_cells": sum(1 for r in out_rows for c in r["cells"] if c and c["pooled"]),
        "summary": summary(records, len(out_rows)),
        "closing": compare.closing(records, by, rule_at="the legend below") if records else "",
        "sets": sets, "set_labels": [label for label in SET_FACTS if any(label in x["facts"] for x in sets)],
        "run_list": RUN_LIST,
    }


def summary(records, nrows):
    """The page's summary line, in the words of the CLI's (table.summary)."""
    results = [r for rec in records for r in rec["results"]]
    counts = {k: sum(1 for r in results if r["match"] == k) for k in ("yes", "no", "skip")}
    return (f"{len(records)} record(s), {len(results)} variant runs: {counts['yes']} as expected, "
            f"{counts['no']} differ, {counts['skip']} skipped  |  {nrows} rows")


def _environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = lambda x: f"{100 * x:.1f}%"
    return env


def _release_row(columns, groups, kernels):
    """The header row above kernel columns: one spanning cell per release with several builds (its
    columns are adjacent: compare sorts them so)."""
    if not groups:
        return []
    row, i = [], 0
    while i < len(columns):
        rel = compare.release(kernels[columns[i]]) if columns[i] in kernels else None
        span = len(groups[rel]) if rel in groups else 1
        row.append({"text": f"release {rel}" if rel in groups else "", "span": span})
        i += span
    return row


def _cell(cell_id, key, column, entries, files, out_dir):
    if not entries:
        return None
    outcomes = [r["outcome"] for _, r in entries]
    k, n, others = compare.signature(outcomes)
    kinds = set(outcomes)
    if len(kinds) == 1:
        kind = outcomes[0]
    else:
        kind = "error" if "error" in kinds else "hang" if "hang" in kinds else "mixed"
    matches = {r["match"] for _, r in entries}
    match = "no" if "no" in matches else ("skip" if "skip" in matches else "yes")
    text = compare.cell(outcomes)
    pooled = [f"{fact} {', '.join(values)}" for fact, values in compare.pooled(entries).items()]
    bar = None
    if len(outcomes) > 1 and n:
        low, high = stats.wilson(k, n)
        bar = {"low": low, "high": high, "rate": k / n}
    newest = OrderedDict()
    for rec, r in entries:  # the newest run of each outcome, in the order of OUTCOMES
        newest[r["outcome"]] = (rec, r)
    shown = [newest[o] for o in OUTCOMES if o in newest]
    return {
        "id": cell_id, "text": text, "kind": kind, "match": match, "bar": bar,
        "expected": sorted({r["expected"] for _, r in entries}),
        "title": f"{' / '.join(key)} on {column}: {text}"
                 + (f" (pools runs of different environments: {'; '.join(pooled)})" if pooled else ""),
        "pooled": "; ".join(pooled),
        "column": column, "key": list(key), "n": len(entries),
        "counts": [(o, outcomes.count(o)) for o in OUTCOMES if o in kinds],
        "runs": [_run_line(rec, r, files, out_dir) for rec, r in entries[:RUN_LIST]],
        "details": [_details(rec, r, files, out_dir) for rec, r in shown],
    }


def _run_line(rec, r, files, out_dir):
    return {"run_id": rec["run_id"], "outcome": r["outcome"], "match": r["match"],
            "seconds": r.get("seconds"), "log": _log_link(rec, r, files, out_dir)}


def _details(rec, r, files, out_dir):
    evidence = json.dumps(r.get("evidence") or {}, indent=1, sort_keys=True)
    if len(evidence) > EVIDENCE_CHARS:
        evidence = evidence[:EVIDENCE_CHARS] + "\n… (cut; the whole evidence is in the record)"
    path = files.get(id(rec))
    return {
        "run_id": rec["run_id"], "file": str(path) if path else "", "outcome": r["outcome"],
        "expected": r["expected"], "match": r["match"], "model": bool(r.get("model")),
        "reason": r.get("reason") or "", "evidence": evidence,
        "versions": sorted((k, v) for k, v in (r.get("versions") or {}).items() if v not in ("", None)),
        "timing": [(label, v) for label, v in (
            ("run", _seconds(r.get("seconds"))), ("build", _seconds(r.get("build_seconds"))),
            ("attempts", r.get("attempts")), ("exposure", _exposure(r.get("exposure"))),
            ("budget", _budget(r.get("budget"))), ("started", r.get("started")), ("ended", r.get("ended")),
            ("exit code", r.get("exit_code")), ("privilege", r.get("privilege")),
            ("ran beside", ", ".join(r.get("ran_beside") or []) or None),
            ("built beside", ", ".join(r.get("built_beside") or []) or None),
            ("image", r.get("image")), ("image id", r.get("image_id"))) if v not in (None, "")],
        "log": _log_link(rec, r, files, out_dir), "log_tail": _log_tail(rec, r, files),
        "build_log_tail": r.get("build_log_tail") or "",
        "replay": r.get("replay") or "", "docker_command": r.get("docker_command") or "",
        "host": _host_facts(rec["host"]), "guest": _guest_facts(rec["host"]),
    }


def _exposure(exp):
    """A result's exposure in words: its own count, attempts, seconds (and on the lab's host)."""
    if not exp:
        return None
    parts = [f"{exp['count']:g} {exp.get('unit', '')}".strip()] if "count" in exp else []
    parts.append(f"{exp.get('attempts', 0)} attempts")
    parts.append(f"{exp.get('seconds', 0):g} s" + (f" ({exp['host_equivalent_seconds']:g} s host-equivalent)"
                                                   if "host_equivalent_seconds" in exp else ""))
    return ", ".join(parts)


def _budget(b):
    """A result's budgets as written and as scaled for its engine."""
    if not b:
        return None
    parts = [f"timeout {b['timeout']['written']} s" + (f" -> {b['timeout']['scaled']} s"
                                                      if b['timeout']['scaled'] != b['timeout']['written'] else "")]
    if "after_seconds" in b:
        parts.append(f"after_seconds {b['after_seconds']['written']} s -> {b['after_seconds']['scaled']} s")
    text = ", ".join(parts) + (f" (x{b['factor']:g}{', capped' if b.get('capped') else ''})" if b["factor"] != 1 else "")
    return text + (f"; unscaled: {b['unscaled']}" if b.get("unscaled") else "")


def _seconds(value):
    return None if value is None else f"{value:.2f} s"


def _log_file(rec, r, files):
    """The log's file: records store it relative to the record's folder."""
    path = files.get(id(rec))
    if not r.get("log") or path is None:
        return None
    return path.parent / r["log"]


def _log_link(rec, r, files, out_dir):
    """{href, text}: a link relative to the page's folder; href is None when the log is not there."""
    log = _log_file(rec, r, files)
    if log is None:
        return None
    if not log.is_file():
        return {"href": None, "text": r["log"]}
    rel = os.path.relpath(os.path.abspath(log), out_dir)
    return {"href": quote(Path(rel).as_posix()), "text": r["log"]}


def _log_tail(rec, r, files):
    log = _log_file(rec, r, files)
    if log is None or not log.is_file():
        return ""
    with open(log, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - LOG_TAIL_BYTES))
        data = f.read().decode("utf-8", "replace")
    return "\n".join(data.splitlines()[-LOG_TAIL_LINES:])


def _host_facts(host):
    return [(k, _fact(v)) for k, v in host.items() if k != "guest" and v not in (None, "", [])]


def _guest_facts(host):
    guest = host.get("guest")
    if not isinstance(guest, dict):
        return []
    first = ("kernel_release", "cgroup", "accel", "boot_seconds", "transfer_seconds", "console_log")
    keys = [k for k in first if k in guest] + [k for k in guest if k not in first]
    return [(k, _fact(guest[k])) for k in keys if guest[k] not in (None, "", [])]


def _fact(value):
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _record_sets(records, p, files):
    """One header per column's records: kernels, engines, privileged modes, when, how long."""
    ids = OrderedDict((c, set()) for c in p.columns)
    for cells in p.rows.values():
        for col, entries in cells.items():
            ids[col].update(id(rec) for rec, _ in entries)
    members = OrderedDict((c, [rec for rec in records if id(rec) in ids[c]]) for c in p.columns)
    sets = []
    for col, recs in members.items():
        hosts = [rec["host"] for rec in recs]
        starts = [t for t in (_when(rec.get("started")) for rec in recs) if t]
        ends = [t for t in (_when(rec.get("ended")) for rec in recs) if t]
        spans = [e - s for s, e in ((_when(rec.get("started")), _when(rec.get("ended"))) for rec in recs) if s and e]
        sets.append({
            "column": col, "count": len(recs),
            "facts": {label: "; ".join(values) for label, values in (
                ("kernels", _distinct(h.get("kernel") for h in hosts)),
                ("engines", _distinct(h.get("engine") for h in hosts)),
                ("cgroup", _distinct(h.get("cgroup") for h in hosts)),
                ("privileged mode", _distinct(rec.get("privileged_mode") or "not needed" for rec in recs)),
                ("hosts", _distinct(h.get("host_label") or h.get("hostname") for h in hosts)),
                ("guests", _distinct(_guest_line(h.get("guest")) for h in hosts)),
                ("when", [_span(starts, ends)] if starts else []),
                ("how long", [f"{_duration(sum(spans))} in all" + (f", {_duration(max(spans))} the longest"
                                                                  if len(spans) > 1 else "")] if spans else []),
                ("interrupted", [f"{sum(1 for r in recs if r.get('interrupted'))} record(s)"]
                 if any(r.get("interrupted") for r in recs) else []),
            ) if values},
            "records": [{"run_id": rec["run_id"], "file": str(files.get(id(rec), "")),
                         "summary": table.summary(rec), "command": " ".join(rec.get("command") or [])}
                        for rec in recs],
        })
    return sets


def _distinct(values):
    return [str(v) for v in OrderedDict.fromkeys(v for v in values if v not in (None, ""))]


def _guest_line(guest):
    if not isinstance(guest, dict):
        return None
    parts = [f"kernel {guest.get('kernel_release')}", f"cgroup {guest.get('cgroup')}"]
    if guest.get("accel"):
        parts.append(guest["accel"])
    for key, label in (("boot_seconds", "boot"), ("transfer_seconds", "transfer")):
        if isinstance(guest.get(key), (int, float)):
            parts.append(f"{label} {guest[key]:.0f} s")
    return ", ".join(parts)


def _when(text):
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def _span(starts, ends):
    first, last = min(starts), max(ends) if ends else None
    fmt = lambda t, f: time.strftime(f, time.gmtime(t))  # noqa: E731
    if last is None:
        return fmt(first, "%Y-%m-%d %H:%M UTC") + " (not ended)"
    same_day = fmt(first, "%Y-%m-%d") == fmt(last, "%Y-%m-%d")
    return f"{fmt(first, '%Y-%m-%d %H:%M')} – {fmt(last, '%H:%M' if same_day else '%Y-%m-%d %H:%M')} UTC"


def _duration(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"
