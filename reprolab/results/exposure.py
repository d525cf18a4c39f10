"""A result's exposure, and whether the negatives of one comparison row had comparable exposures. Pure.

A `not-reproduced` says "not in this much trying". How much is the exposure: the attempts the
reproducer made, its own count where its evidence has one (a scenario names it: `run.exposure`, e.g.
the children spawned while a tree was being removed), and the seconds it ran (also as seconds on the
lab's host, for an engine measured slower). Two negatives agree only as far as their exposures do:
a guest that spawned 26 times fewer children than the host ruled out much less. A comparison row
whose negative cells differ in exposure by more than FACTOR is marked, and those cells say theirs;
with repeats, a cell also says the largest per-unit rate its pooled exposure still allows (95%
Wilson upper bound of 0 in that many units, as k/N cells give it per run).
"""

from reprolab.common import stats

FACTOR = 3.0  # exposures further apart than this are not comparable
MARK = " [exposure differs]"
RULE = (f"[exposure differs] marks a row whose not-reproduced cells' exposures (the reproducer's own count, "
        f"else attempts) are more than {FACTOR:g}x apart; those cells then say theirs")


def of(entry, count_key="", unit="", slowdown=0.0):
    """The `exposure` of a result entry (attempts, seconds, evidence) and its scenario's declaration."""
    out = {"attempts": int(entry.get("attempts") or 0), "seconds": entry.get("seconds") or 0.0}
    if slowdown and slowdown > 0:
        out["host_equivalent_seconds"] = round(out["seconds"] / slowdown, 2)
    if count_key:
        value = _lookup(entry.get("evidence") or {}, count_key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.update(count=value, unit=unit or count_key, count_key=f"evidence.{count_key}")
    return out


def _lookup(evidence, dotted):
    value = evidence
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def measure(result):
    """(amount, unit) that one result's exposure is compared by: the reproducer's own count when it
    has one, else its attempts; (0, '') when neither."""
    exp = result.get("exposure")
    if exp is None:  # a record from before exposures: its attempts still say something
        exp = {"attempts": result.get("attempts") or 0}
    if "count" in exp:
        return exp["count"], exp.get("unit") or "units"
    if exp.get("attempts"):
        return exp["attempts"], "attempts"
    return 0, ""


def row(cells):
    """(notes, differs) of one row: `cells` is [[result, ...] per column]; notes[i] is what cell i's
    text gets ('' or ' (2313 children)'); differs: its negative cells' exposures are more than
    FACTOR apart (in one unit: a count when every negative cell has it, else attempts)."""
    negatives = [[r for r in c if r.get("outcome") == "not-reproduced"] if c and not _reproduced(c) else []
                 for c in cells]
    present = [neg for neg in negatives if neg]
    if len(present) < 2:
        return [""] * len(cells), False
    units = {measure(r)[1] for neg in present for r in neg}
    if len(units) > 1 and "attempts" in units:  # some cells lack the count: compare what all have
        totals = [sum(r.get("attempts") or 0 for r in neg) for neg in negatives]
        unit = "attempts"
    elif len(units) == 1 and "" not in units:
        totals = [sum(measure(r)[0] for r in neg) for neg in negatives]
        unit = units.pop()
    else:
        return [""] * len(cells), False
    # per run: repeats are the k/N interval's business; a cell of 4 runs is not 4x the exposure
    means = [t / len(neg) if neg else 0 for t, neg in zip(totals, negatives)]
    seen = [m for m, neg in zip(means, negatives) if neg]
    low, high = min(seen), max(seen)
    differs = low <= 0 or high / low > FACTOR
    if not differs:
        return [""] * len(cells), False
    return [_note(t, unit, len(neg)) if neg else "" for t, neg in zip(totals, negatives)], True


def _reproduced(results):
    return any(r.get("outcome") == "reproduced" for r in results)


def _amount(value, unit):
    text = f"{value:.4g}" if isinstance(value, float) and not value.is_integer() else f"{int(value)}"
    return f"{text} {unit[:-1] if value == 1 and unit.endswith('s') else unit}"


def _note(total, unit, runs):
    """' (2313 children)'; with repeats the mean per run, and the per-unit rate all of them rule out."""
    if runs < 2 or total <= 0:
        return f" ({_amount(total, unit)})"
    _, high = stats.wilson(0, int(total))
    return f" ({_amount(total / runs, unit)} per run; {int(total)} in all: rate < {high:.2g} each)"
