"""Load a YAML file into plain data plus the line of every value, refusing what hides mistakes.

PyYAML silently keeps the last of duplicate keys and expands aliases without bound; scenario files
are small and hand-written, so both are refused and every value remembers where it was written.
"""

import yaml
from yaml.constructor import SafeConstructor

from reprolab.common.errors import ScenarioError

_SCALARS = SafeConstructor()


class Located:
    """Data loaded from a file with the line of each value, addressed by its key path."""

    def __init__(self, path, data, lines):
        self.path = path
        self.data = data
        self._lines = lines

    def line(self, keys=()):
        """Line of the value at `keys`, else of its closest parent that has one (1 for the document)."""
        keys = tuple(keys)
        while keys not in self._lines and keys:
            keys = keys[:-1]
        return self._lines.get(keys, 1)

    def key_line(self, keys):
        """Line where the last key of `keys` is written (for 'unknown key' messages)."""
        return self._lines.get(("key",) + tuple(keys)) or self.line(keys)


def load(path, display=None):
    """Parse `path`; raise ScenarioError listing 'file:line: message' for anything unreadable."""
    shown = display or str(path)
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        raise ScenarioError([f"{shown}:1: cannot read file: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([f"{shown}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    if not text.strip():
        raise ScenarioError([f"{shown}:1: empty file; a scenario needs at least name, title, image, run, variants"])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioError([f"{shown}:{line}: YAML syntax error: {exc.problem}{_hint(exc)}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{shown}:1: YAML error: {exc}"]) from None
    lines, problems = {}, []
    data = _build(node, (), lines, problems, shown, set())
    if problems:
        raise ScenarioError(problems)
    return Located(shown, data, lines)


def _hint(exc):
    """What most often causes PyYAML's structural errors in a hand-written file: indentation."""
    problem = exc.problem or ""
    if "'\\t'" in problem or "\t" in problem:
        return "; indent with spaces, not tabs"
    if any(s in problem for s in ("expected <block end>", "mapping values are not allowed",
                                  "could not find expected ':'", "expected <block mapping start>")):
        return ("; check the indentation of this line and the one above: keys of one mapping start in the "
                "same column, nested ones further right (spaces only)")
    return ""


def _build(node, keys, lines, problems, shown, seen):
    lines.setdefault(keys, node.start_mark.line + 1)
    if id(node) in seen:  # compose() hands back the anchored node again for every alias
        message = f"{shown}:{node.start_mark.line + 1}: anchors and aliases are not allowed; write the value out"
        if not any("anchors and aliases" in p for p in problems):  # once, not once per alias of a bomb
            problems.append(message)
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(f"{shown}:{key_node.start_mark.line + 1}: mapping keys must be plain strings")
                continue
            key = key_node.value
            if key in out:
                problems.append(f"{shown}:{key_node.start_mark.line + 1}: duplicate key '{key}' (first at line "
                                f"{lines[('key',) + keys + (key,)]}); keep one")
                continue
            lines[("key",) + keys + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, keys + (key,), lines, problems, shown, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, keys + (i,), lines, problems, shown, seen) for i, item in enumerate(node.value)]
    try:
        return _SCALARS.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.append(f"{shown}:{node.start_mark.line + 1}: bad value: {exc}")
        return None
