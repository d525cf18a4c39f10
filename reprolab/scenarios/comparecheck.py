"""Semantic checks of a compare rule (`read.compare`), each as (line, message), for validate.

The schema has checked the shape. Here: the regexes compile, the groups named exist, sections have
their own names and markers, a file to read has a folder, and the rule applied to its recorded
sample finds every section with facts: markers that never match, or match each other's lines, are
told before anything runs.
"""

import re
from pathlib import Path

from reprolab.scenarios import readrule, sections

_HINT = "escape characters such as ( [ * with \\"


def problems(rule, keys, located, data, path):
    """Problems of the compare mapping `rule` found at key path `keys` of scenario file `path`."""
    where = ".".join(keys)
    out, compiled = [], {}
    regexes = [(("control", "marker"), rule["control"]["marker"])]
    regexes += [(("treatments", i, "marker"), t["marker"]) for i, t in enumerate(rule["treatments"])]
    regexes += [(("facts",), rule["facts"])]
    regexes += [(("normalize", i, "pattern"), n["pattern"]) for i, n in enumerate(rule.get("normalize") or [])]
    for sub, value in regexes:
        try:
            compiled[sub] = re.compile(value)
        except re.error as exc:
            out.append((located.line(keys + sub), f"{where}.{_dots(sub)}: {value!r} is not a regular expression "
                                                  f"({exc}); {_HINT}"))
    out.extend(_sections(rule, keys, located, compiled))
    facts = compiled.get(("facts",))
    if facts is not None:
        for group in ("key", "value"):
            n = rule.get(group, 0)
            if n > facts.groups:
                out.append((located.line(keys + (group,)), f"{where}.{group}: group {n} does not exist in {where}.facts, "
                                                           f"which has {facts.groups} group(s); count the ( ) of the "
                                                           f"pattern, or drop {group}"))
        if rule.get("key") and rule.get("key") == rule.get("value"):
            out.append((located.line(keys + ("value",)), f"{where}.value: the same group as {where}.key; the key names "
                                                         f"a fact, the value is what is compared"))
    for i, n in enumerate(rule.get("normalize") or []):
        pattern = compiled.get(("normalize", i, "pattern"))
        if pattern is None:
            continue
        try:
            pattern.sub(n["replace"], "")
        except (re.error, IndexError) as exc:
            out.append((located.line(keys + ("normalize", i, "replace")),
                        f"{where}.normalize.{i}.replace: {n['replace']!r} is not a replacement for "
                        f"{n['pattern']!r} ({exc}); write a group as \\1 or \\g<1>"))
    if "file" in rule:
        if "from" in rule:
            out.append((located.line(keys + ("from",)), f"{where}.from: the rule reads {where}.file; drop one of them"))
        if not data["run"].get("artifacts"):
            out.append((located.line(keys + ("file",)), f"{where}.file: reads a file of run.artifacts, which is not "
                                                        f"declared; add run.artifacts (the folder the reproducer "
                                                        f"writes {rule['file']} in)"))
    if not out:
        out.extend(_sample(rule, keys, located, Path(path)))
    return out


def _sections(rule, keys, located, compiled):
    """Each section has its own name (occurrence names included) and its own marker, and no marker
    matches every line."""
    where, out = ".".join(keys), []
    secs = [(("control",), rule["control"])] + [(("treatments", i), t) for i, t in enumerate(rule["treatments"])]
    names, markers = {}, {}
    for sub, sec in secs:
        count = sec.get("count", 1)
        own = [sec["name"]] if count == 1 else [f"{sec['name']}.{i}" for i in range(1, count + 1)]
        for name in own + ([sec["name"]] if count > 1 else []):
            if name in names and names[name] != sub:
                out.append((located.line(keys + sub + ("name",)), f"{where}.{_dots(sub)}.name: '{sec['name']}' "
                                                                   f"overlaps {where}.{_dots(names[name])}.name "
                                                                   f"('{name}'); give each section its own name"))
                break
            names.setdefault(name, sub)
        if sec["marker"] in markers:
            out.append((located.line(keys + sub + ("marker",)), f"{where}.{_dots(sub)}.marker: the same pattern as "
                                                                 f"{where}.{_dots(markers[sec['marker']])}.marker; "
                                                                 f"each section needs its own marker"))
        markers.setdefault(sec["marker"], sub)
        pattern = compiled.get(sub + ("marker",))
        if pattern is not None and pattern.search(""):
            out.append((located.line(keys + sub + ("marker",)), f"{where}.{_dots(sub)}.marker: {sec['marker']!r} "
                                                                 f"matches every line (even an empty one); anchor it "
                                                                 f"to the line that starts the section, e.g. "
                                                                 f"'^RUN [0-9]+$'"))
    return out


def _sample(rule, keys, located, path):
    """The rule applied to its recorded sample: every problem it meets there, at the key it is about."""
    where = ".".join(keys)
    src = path.parent / path.stem
    sample = src / rule["sample"]
    shown = f"{path.stem}/{rule['sample']}"
    if not sample.is_file():
        return [(located.line(keys + ("sample",)), f"{where}.sample: '{rule['sample']}' is not in the sources folder "
                                                   f"{path.stem}/; record the reproducer's output there (e.g. from the "
                                                   f"log of a run)")]
    text = sample.read_bytes().decode("utf-8", "replace")
    _, found = sections.split(readrule.Compare.from_data(rule), text.splitlines())
    out = []
    for sub, msg in found:
        at = keys + sub + ("marker",) if sub else keys + ("sample",)
        out.append((located.line(at), f"{where}.{_dots(at[len(keys):])}: in the sample {shown}: {msg}; fix the "
                                      f"pattern, or record a sample of the reproducer's real output"))
    return out


def _dots(sub):
    return ".".join(str(k) for k in sub)
