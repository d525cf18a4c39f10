"""The package's rooms form layers: each room imports only the rooms below it (read from the source
with ast, so an import added anywhere, even inside a function, is checked)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reprolab"

# room -> rooms it may import (besides itself); cli.py and __main__.py on top may import any
ALLOWED = {
    "common": set(),
    "versions": {"common"},
    "scenarios": {"common", "versions"},
    "results": {"common", "versions"},
    "engines": {"common", "versions", "scenarios"},
    "guests": {"common", "versions", "engines"},
    "runs": {"common", "versions", "scenarios", "engines", "results"},
    "exports": {"common", "versions", "scenarios", "engines", "runs", "results"},
    "axes": {"common", "versions", "scenarios", "engines", "guests", "runs", "results"},
}
TOP = {"__init__", "__main__", "cli", "__version__"}


def imported_rooms(path):
    """(line, room or top-level name) of every reprolab import in one module."""
    out = []
    room = path.parent.name
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's room
                base = ["reprolab"] + ([room] if node.level == 1 else [])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] if "." in mod else [f"{mod}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "reprolab" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def violations(package=PACKAGE):
    bad = []
    for path in sorted(package.glob("*/*.py")):
        room = path.parent.name
        for line, target in imported_rooms(path):
            if target == room or target == "__version__":
                continue
            if target in TOP:
                bad.append(f"{path.relative_to(package.parent)}:{line}: the {room} room imports {target}, "
                           f"which sits on top")
            elif target not in ALLOWED[room]:
                allowed = ", ".join(sorted(ALLOWED[room])) or "nothing of reprolab"
                bad.append(f"{path.relative_to(package.parent)}:{line}: the {room} room imports {target}; "
                           f"it may import {allowed}")
    return bad


def test_every_module_lives_in_a_room():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "cli"]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(ALLOWED)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_each_room_says_what_it_holds_and_may_import(room):
    doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text()))
    assert doc and "May import:" in doc


def test_imports_follow_the_rooms():
    assert violations() == []


def test_a_wrong_arrow_is_caught(tmp_path):
    # a copy of the package with one import against the order: results -> engines
    import shutil
    copy = tmp_path / "reprolab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "results" / "table.py"
    target.write_text(target.read_text() + "\n\ndef _late():\n    from reprolab.engines import engine\n")
    bad = violations(copy)
    assert len(bad) == 1 and bad[0].startswith("reprolab/results/table.py:")
    assert bad[0].endswith("the results room imports engines; it may import common, versions")
