"""The verdict line: the reproducer's last word, the only thing the harness reads from its output.

Contract: stdout holds exactly one line starting with PREFIX. None is `error` (no verdict); two or
more are `error` too, naming the first two: a second verdict means the reproducer (or a child it
forked) decided twice, and picking either would report an outcome nobody checked.
"""

import json

from reprolab.outcome import VERDICT_OUTCOMES

PREFIX = "REPROLAB-RESULT "
MAX_LINE = 64 * 1024


class Verdict:
    __slots__ = ("outcome", "attempts", "evidence", "versions")

    def __init__(self, outcome, attempts, evidence, versions):
        self.outcome, self.attempts, self.evidence, self.versions = outcome, attempts, evidence, versions


def parse(stdout):
    """(Verdict, None) from the one verdict line of `stdout`, or (None, why there is none)."""
    lines = [(n, ln) for n, ln in enumerate(stdout.splitlines(), 1) if ln.startswith(PREFIX)]
    if not lines:
        return None, "no verdict line (REPROLAB-RESULT {...}) on stdout"
    if len(lines) > 1:
        (n1, l1), (n2, l2) = lines[:2]
        return None, (f"{len(lines)} verdict lines on stdout, a reproducer prints exactly one: "
                      f"line {n1} {_short(l1)} and line {n2} {_short(l2)}")
    line = lines[0][1]
    if len(line.encode("utf-8", "surrogateescape")) > MAX_LINE:
        return None, f"verdict line longer than {MAX_LINE} bytes"
    try:
        data = json.loads(line[len(PREFIX):])
    except ValueError as exc:
        return None, f"verdict line is not JSON: {exc}"
    if not isinstance(data, dict):
        return None, "verdict line must hold a JSON object"
    outcome = data.get("outcome")
    if outcome not in VERDICT_OUTCOMES:
        return None, f"verdict outcome {outcome!r} is not one of {', '.join(VERDICT_OUTCOMES)}"
    attempts = data.get("attempts", 0)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        return None, f"verdict attempts {attempts!r} is not a non-negative integer"
    evidence, versions = data.get("evidence", {}), data.get("versions", {})
    if not isinstance(evidence, dict) or not isinstance(versions, dict):
        return None, "verdict evidence and versions must be JSON objects"
    unknown = set(data) - {"outcome", "attempts", "evidence", "versions"}
    if unknown:
        return None, f"verdict has unknown keys: {', '.join(sorted(unknown))}"
    return Verdict(outcome, attempts, evidence, versions), None


def _short(line, limit=120):
    return repr(line if len(line) <= limit else line[:limit] + "…")
