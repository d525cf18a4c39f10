"""The verdict line: the reproducer's last word, the only thing the harness reads from its output.

Contract: stdout holds exactly one line starting with PREFIX. None is `error` (no verdict); two or
more are `error` too, naming the first two: a second verdict means the reproducer (or a child it
forked) decided twice, and picking either would report an outcome nobody checked.
"""

import json

from reprolab.common.outcome import VERDICT_OUTCOMES

PREFIX = "REPROLAB-RESULT "
MAX_LINE = 64 * 1024
NO_VERDICT = "no verdict line (REPROLAB-RESULT {...}) on stdout"


class Verdict:
    __slots__ = ("outcome", "attempts", "evidence", "versions")

    def __init__(self, outcome, attempts, evidence, versions):
        self.outcome, self.attempts, self.evidence, self.versions = outcome, attempts, evidence, versions


def parse(stdout):
    """(Verdict, None) from the one verdict line of `stdout` (text), or (None, why there is none)."""
    return scan([stdout.encode("utf-8", "surrogateescape")])


def scan(chunks):
    """(Verdict, None) or (None, why) from stdout given as byte chunks, read once to its end.

    Only verdict lines are kept (the first two, each cut after MAX_LINE + 1 bytes) and the others
    counted, so memory stays bounded however much output comes before or after the verdict."""
    prefix, cap = PREFIX.encode(), MAX_LINE + 1
    found, count, lineno = [], 0, 1
    line, verdict_line = bytearray(), None  # None: not yet known whether this line is a verdict

    def end_of_line():
        nonlocal count, verdict_line
        if verdict_line is None:
            verdict_line = line.startswith(prefix)
        if verdict_line:
            count += 1
            if len(found) < 2:
                found.append((lineno, bytes(line)))
        line.clear()
        verdict_line = None

    for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            nl = chunk.find(b"\n", pos)
            stop = nl if nl >= 0 else len(chunk)
            if verdict_line is not False and len(line) < cap:
                line += chunk[pos:min(stop, pos + cap - len(line))]
                if verdict_line is None and len(line) >= len(prefix):
                    verdict_line = line.startswith(prefix)
            if nl < 0:
                break
            end_of_line()
            lineno += 1
            pos = nl + 1
    if line or verdict_line:
        end_of_line()
    if not found:
        return None, NO_VERDICT
    if count > 1:
        (n1, l1), (n2, l2) = found
        return None, (f"{count} verdict lines on stdout, a reproducer prints exactly one: "
                      f"line {n1} {_short(_text(l1))} and line {n2} {_short(_text(l2))}")
    raw = found[0][1]
    if len(raw.rstrip(b"\r")) > MAX_LINE:
        return None, f"verdict line longer than {MAX_LINE} bytes"
    line = _text(raw)
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


def _text(raw):
    return raw.decode("utf-8", "replace").rstrip("\r")


def _short(line, limit=120):
    return repr(line if len(line) <= limit else line[:limit] + "…")
