"""A compare rule applied to an output: split it into its sections by their marker lines, extract
each section's facts, and compare every treatment with the control. Pure.

It lives with the rule (not in runs) because validate applies it too, to the rule's recorded
sample, so that markers that never match, overlapping sections or sections without facts are told
before anything runs. runs.reading turns its Comparison into the lab's verdict.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

MAX_LINE = 64 * 1024  # characters of one line kept for matching (as runs.reading)
MAX_FACTS = 10000  # facts kept per section; more are counted, not compared
SHOWN = 200  # facts per section listed in the evidence


@dataclass
class Part:
    """One occurrence of a section: its name (name.i for a repeated one), where its marker was, its facts."""
    name: str
    where: tuple  # the rule's key path of its section: ("control",) or ("treatments", i)
    line: int
    facts: list = field(default_factory=list)  # [(key or None, value)]
    cut: int = 0  # facts beyond MAX_FACTS


@dataclass(frozen=True)
class Comparison:
    outcome: str  # reproduced | not-reproduced | error
    rule: str  # compare.differs | compare.same | compare.sections
    reason: str = ""
    evidence: dict = field(default_factory=dict)
    differing: int = 0
    treatments: int = 0
    problems: tuple = ()  # ((key path in the rule, message), ...) behind an error


class _Patterns:
    def __init__(self, rule):
        self.markers = [(("control",), rule.control, re.compile(rule.control.marker))]
        self.markers += [(("treatments", i), t, re.compile(t.marker)) for i, t in enumerate(rule.treatments)]
        self.facts = re.compile(rule.facts)
        self.normalize = [(re.compile(p), r) for p, r in rule.normalize]


def split(rule, lines):
    """(parts in the order they appear, problems): the sections of `lines` (str, no newline)."""
    pats = _Patterns(rule)
    parts, problems, seen = [], [], {}
    current = None
    for number, line in enumerate(lines, 1):
        line = line[:MAX_LINE]
        hits = [(where, sec) for where, sec, m in pats.markers if m.search(line)]
        if len(hits) > 1:
            problems.append(((), f"line {number} matches the markers of {' and '.join(s.name for _, s in hits)}; "
                                 f"each marker must match only its own section's line"))
            current = None
            continue
        if hits:
            where, sec = hits[0]
            seen.setdefault(where, []).append(number)
            i = len(seen[where])
            name = sec.name if sec.count == 1 and i == 1 else f"{sec.name}.{i}"
            current = Part(name, where, number)
            parts.append(current)
            continue
        if current is None:
            continue  # before the first marker: not part of any section
        m = pats.facts.search(line)
        if m is None:
            continue
        if len(current.facts) >= MAX_FACTS:
            current.cut += 1
            continue
        value = m.group(rule.value) or ""
        for pattern, replacement in pats.normalize:
            value = pattern.sub(replacement, value)
        current.facts.append(((m.group(rule.key) or "") if rule.key else None, value))
    for where, sec, m in pats.markers:
        lines_at = seen.get(where, [])
        role = " (control)" if where == ("control",) else ""
        if not lines_at:
            problems.append((where, f"section {sec.name}{role} is missing: no line matches its marker /{m.pattern}/"))
        elif len(lines_at) < sec.count:
            missing = sec.names()[len(lines_at):]
            problems.append((where, f"section{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                    f"{'are' if len(missing) > 1 else 'is'} missing: the marker /{m.pattern}/ matched "
                                    f"{len(lines_at)} of {sec.count} times (line{'s' if len(lines_at) > 1 else ''} "
                                    f"{', '.join(map(str, lines_at))})"))
        elif len(lines_at) > sec.count:
            problems.append((where, f"section {sec.name}{role}: its marker /{m.pattern}/ matched {len(lines_at)} times "
                                    f"(lines {', '.join(map(str, lines_at[:10]))}), {sec.count} declared"
                                    f"{' (count)' if where != ('control',) else ''}"))
    for part in parts:
        if not part.facts:
            problems.append((part.where, f"section {part.name} (line {part.line}) holds no fact: none of its lines "
                                         f"matches /{pats.facts.pattern}/"))
    return parts, problems


def compare(rule, lines):
    """The Comparison of `lines` under `rule`."""
    parts, problems = split(rule, lines)
    shown = {p.name: _shown(rule, p) for p in parts}
    if problems:
        return Comparison("error", "compare.sections", reason="; ".join(msg for _, msg in problems),
                          evidence={"sections": shown}, problems=tuple(problems))
    control = next(p for p in parts if p.where == ("control",))
    treated = [p for p in parts if p.where != ("control",)]
    differs = {}
    for part in treated:
        diff = _difference(rule, control.facts, part.facts)
        if diff:
            differs[part.name] = diff
    k, n = len(differs), len(treated)
    evidence = {"sections": shown, "differing": f"{k}/{n}"}
    if differs:
        evidence["differs"] = differs
        return Comparison("reproduced", "compare.differs", evidence=evidence, differing=k, treatments=n)
    return Comparison("not-reproduced", "compare.same", evidence=evidence, differing=0, treatments=n)


def _difference(rule, control, treatment):
    """What differs between two sections' facts ({} when nothing): per fact name, from and to; or
    for unnamed facts, the facts only one side has."""
    if rule.key:
        before, after = _by_key(control), _by_key(treatment)
        out = {}
        for key in list(before) + [k for k in after if k not in before]:
            if before.get(key, []) != after.get(key, []):
                out[key] = {"control": _one(before.get(key)), "treatment": _one(after.get(key))}
        return out
    before, after = [v for _, v in control], [v for _, v in treatment]
    if before == after:
        return {}
    gone, new = Counter(before) - Counter(after), Counter(after) - Counter(before)
    if not gone and not new:
        return {"order": "the same facts in another order"}
    return {"only_in_control": list(gone.elements())[:SHOWN], "only_in_treatment": list(new.elements())[:SHOWN]}


def _by_key(facts):
    out = {}
    for key, value in facts:
        out.setdefault(key, []).append(value)
    return out


def _one(values):
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _shown(rule, part):
    """A section as the evidence lists it: its marker's line and its facts (at most SHOWN)."""
    facts = part.facts[:SHOWN]
    out = {"line": part.line,
           "facts": {k: _one(v) for k, v in _by_key(facts).items()} if rule.key else [v for _, v in facts]}
    if len(part.facts) > SHOWN or part.cut:
        out["facts_total"] = len(part.facts) + part.cut
    return out
