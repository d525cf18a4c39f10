"""Find, validate and load every scenario of a folder; report every problem of every file at once."""

import json
import os
import re
import shlex
from pathlib import Path

import jsonschema

from reprolab.scenarios import comparecheck, scenario, yamlfile
from reprolab.common.capabilities import NAMES as CAPABILITIES
from reprolab.common.errors import ScenarioError, UserError

SCHEMA_NAME = "schema.json"
_SCHEMA = None


def schema_path():
    """Installed: the package's copy (reprolab/scenarios/schema/schema.json, mapped from scenarios/ by
    pyproject.toml); in a checkout: scenarios/schema.json itself, the one copy."""
    room = Path(__file__).resolve().parent
    installed = room / "schema" / SCHEMA_NAME
    return installed if installed.is_file() else room.parent.parent / "scenarios" / SCHEMA_NAME


def schema():
    global _SCHEMA
    if _SCHEMA is None:
        path = schema_path()
        _SCHEMA = json.loads(path.read_text())
    return _SCHEMA


def scenario_files(folder):
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such scenarios folder; pass --scenarios DIR")
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())


def load_all(folder):
    """Every scenario of `folder`, or ScenarioError with all problems of all files."""
    problems, loaded = [], []
    for path in scenario_files(folder):
        try:
            loaded.append(load_one(path))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return loaded


def load_one(path):
    path = Path(path)
    shown = _shown(path)
    located = yamlfile.load(path, shown)
    problems = check(located, path)
    if problems:
        raise ScenarioError(problems)
    return scenario.from_data(located.data, path)


def check(located, path):
    """Schema and semantic problems of one loaded file, each as 'file:line: message'."""
    data = located.data
    if not isinstance(data, dict):
        return [f"{located.path}:1: a scenario file holds a mapping (name: ..., title: ...), not {_kind(data)}"]
    problems = []
    validator = jsonschema.Draft202012Validator(schema())
    for err in sorted(validator.iter_errors(data), key=lambda e: (located.line(e.absolute_path), str(e.message))):
        line, text = _explain(err, located)
        problems.append((line, text))
    if not problems:
        problems.extend(_semantic(data, located, Path(path)))
    return [f"{located.path}:{line}: {text}" for line, text in sorted(problems, key=lambda p: p[0])]


def _semantic(data, located, path):
    out = []
    if data["name"] != path.stem:
        out.append((located.line(("name",)), f"name '{data['name']}' differs from the file name; rename one of them to match '{path.stem}'"))
    suites = data["image"]["suites"]
    for vname, v in data["variants"].items():
        for s in v.get("suites", []):
            if s not in suites:
                out.append((located.line(("variants", vname, "suites")),
                            f"variants.{vname}.suites: '{s}' is not in image.suites {suites}"))
        if v.get("versions") and v.get("image"):
            out.append((located.line(("variants", vname, "versions")),
                        f"variants.{vname}.versions: a registry image brings its own toolchain; drop image or versions"))
        if v["expect"] == "hang" and not data["run"].get("hang_is_symptom"):
            out.append((located.line(("variants", vname, "expect")),
                        f"variants.{vname}.expect: 'hang' needs run.hang_is_symptom: true (a hang is otherwise a failure)"))
    out.extend(_read_problems(data, located, path))
    folder = data["run"].get("artifacts", "")
    if "/../" in folder + "/" or "/./" in folder + "/" or "//" in folder:
        out.append((located.line(("run", "artifacts")), f"run.artifacts: '{folder}' is not a plain absolute path; "
                                                        f"write it without '.', '..' or '//'"))
    default = data.get("default_variant")
    if default and default not in data["variants"]:
        out.append((located.line(("default_variant",)), f"default_variant: '{default}' is not a variant of this scenario"))
    for cap in (data.get("requires") or {}).get("capabilities", []):
        if cap not in CAPABILITIES:
            out.append((located.line(("requires", "capabilities")), f"requires.capabilities: unknown capability '{cap}' (write it without CAP_, e.g. SYS_ADMIN)"))
    out.extend(_privilege_problems(data.get("requires") or {}, located))
    steps = [(("image", "build", i), step) for i, step in enumerate(data["image"].get("build") or [])]
    for vname, v in data["variants"].items():
        steps += [(("variants", vname, "build", i), step) for i, step in enumerate(v.get("build") or [])]
    for keys, step in steps:
        for arg in step:
            if arg == ".." or arg.startswith("../") or "/../" in arg or arg.endswith("/.."):
                out.append((located.line(keys), f"{'.'.join(map(str, keys))}: '{arg}' points outside the scenario "
                                                f"folder; build steps see only the scenario's own sources"))
    out.extend(_include_problems(data, located, path.parent / scenario.SHARED))
    builds = [data["image"].get("build")] + [v.get("build") for v in data["variants"].values()]
    src = path.parent / path.stem
    if any(builds) and not src.is_dir():
        out.append((located.line(("image", "build")), f"image.build: the sources folder {_shown(src)}/ does not exist; create it beside the YAML file"))
    elif src.is_dir():
        out.extend((1, msg) for msg in _source_problems(src))
        out.extend(_missing_sources(data, located, src))
    out.extend(_unproduced_commands(data, located))
    return out


# Arguments of build steps that name a source file by its extension (or ./path); the lab checks them
# before building, since a missing one would only show up as a compiler error in a build log.
_SOURCE_ARG = re.compile(r"^(\./\S*|[\w.+/-]+\.(c|h|cc|cpp|go|py|sh|s|S))$")


def _missing_sources(data, located, src):
    out = []
    steps = [(("image", "build", i), step) for i, step in enumerate(data["image"].get("build") or [])]
    for vname, v in data["variants"].items():
        steps += [(("variants", vname, "build", i), step) for i, step in enumerate(v.get("build") or [])]
    for keys, step in steps:
        for arg in step[1:]:
            if arg.startswith(("/", "-")) or arg.startswith("_shared/") or not _SOURCE_ARG.match(arg):
                continue
            if not (src / arg).exists():
                out.append((located.line(keys), f"{'.'.join(map(str, keys))}: '{arg}' is not in the sources folder "
                                                f"{_shown(src)}/; add the file or fix the path"))
    return out


def _unproduced_commands(data, located):
    """A command under /opt/reprolab/ (the build stage's /out) that no build step of its variant writes.
    Only judged when the steps name their outputs: a step that mentions /out or a folder above the
    command (install ... /out/bin/, cp -r x /out) or no /out at all (a Makefile) might write it."""
    out, unproduced = [], {}
    for vname, v in data["variants"].items():
        command = data["run"]["command"][0]
        if not command.startswith("/opt/reprolab/") or command.endswith("/entry.sh"):
            continue
        target = "/out/" + command[len("/opt/reprolab/"):]
        steps = v.get("build") if v.get("build") is not None else (data["image"].get("build") or [])
        args = [a for step in steps for a in step]
        outs = [a for a in args if "/out" in a]
        parents = {"/out", "/out/"} | {p for part in [target.split("/")[:-1]]
                                       for i in range(2, len(part) + 1) for p in ("/".join(part[:i]), "/".join(part[:i]) + "/")}
        # A shell line (sh -c "...") may write anything: only its plain mentions count as outputs.
        if not outs or any(a == target or a in parents or " " in a and "/out" in a for a in outs):
            continue
        keys = ("variants", vname, "build") if v.get("build") is not None else ("image", "build")
        unproduced.setdefault(keys, (command, target))
    for keys, (command, target) in unproduced.items():
        out.append((located.line(("run", "command")), f"run.command: {command} is {target} of the build stage, which no step "
                                        f"of {'.'.join(keys)} writes; write it there (e.g. -o {target}) or fix "
                                        f"run.command"))
    return out


def _include_problems(data, located, shared):
    """Each included path exists under the shared folder and stays inside it."""
    out = []
    lists = [(("image", "include"), data["image"].get("include") or [])]
    lists += [(("variants", name, "include"), v.get("include") or []) for name, v in data["variants"].items()]
    checked = set()
    for keys, paths in lists:
        for i, rel in enumerate(paths):
            where, p = f"{'.'.join(keys)}.{i}", shared / rel
            inside = shared.resolve() in p.resolve().parents
            if p.is_symlink():
                out.append((located.line(keys + (i,)), f"{where}: '{rel}' is a symlink; put the file itself in {_shown(shared)}/"))
            elif not inside or not (p.is_file() or p.is_dir()):
                out.append((located.line(keys + (i,)), f"{where}: '{rel}' is not in the shared folder {_shown(shared)}/; "
                                                       f"put the file there or fix the path"))
            elif p.is_dir() and p not in checked:
                checked.add(p)
                out.extend((located.line(keys + (i,)), msg) for msg in _source_problems(p))
    return out


def _privilege_problems(req, located):
    """Least-privilege settings that contradict the rest of `requires`."""
    out = []
    if req.get("privileged"):
        for key, bad in (("base_capabilities", "none"), ("no_new_privileges", True)):
            if req.get(key) == bad:
                out.append((located.line(("requires", key)), f"requires.{key}: {bad!r} contradicts privileged: true; "
                                                             f"drop one of them"))
        if req.get("user"):
            out.append((located.line(("requires", "user")), "requires.user: a privileged scenario runs as root; "
                                                            "drop user or privileged"))
    if req.get("user") and req.get("writable_cgroups"):
        out.append((located.line(("requires", "user")), "requires.user: writable_cgroups needs root to remount the "
                                                        "cgroup hierarchies; drop user or writable_cgroups"))
    return out


def _read_problems(data, located, path):
    """A read rule's regular expressions compile, its exposure can be reached before the timeout,
    and no exit status means both outcomes."""
    out = []
    rules = [(("run", "read"), data["run"].get("read"), data["run"]["timeout"])]
    rules += [(("variants", name, "read"), v.get("read"), v.get("timeout", data["run"]["timeout"]))
              for name, v in data["variants"].items()]
    for keys, rule, timeout in rules:
        if not rule:
            continue
        where = ".".join(keys)
        if "compare" in rule:
            both = [k for k in ("reproduced", "attempt", "not_reproduced") if k in rule]
            if both:
                out.append((located.key_line(keys + (both[0],)),
                            f"{where}.{both[0]}: a compare rule decides alone; drop {', '.join(both)} or compare"))
                continue
            out.extend(comparecheck.problems(rule["compare"], keys + ("compare",), located, data, path))
            continue
        for sub in (("reproduced", "stdout"), ("reproduced", "stderr"), ("attempt",)):
            value = rule.get(sub[0]) if len(sub) == 1 else (rule.get(sub[0]) or {}).get(sub[1])
            if value is None:
                continue
            try:
                re.compile(value)
            except re.error as exc:
                out.append((located.line(keys + sub), f"{where}.{'.'.join(sub)}: {value!r} is not a regular "
                                                      f"expression ({exc}); escape characters such as ( [ * with \\"))
        nrep = rule["not_reproduced"]
        if "after_attempts" in nrep and "attempt" not in rule:
            out.append((located.line(keys + ("not_reproduced", "after_attempts")),
                        f"{where}.not_reproduced.after_attempts: counts lines matching {where}.attempt; add that pattern"))
        if nrep.get("after_seconds", 0) >= timeout:
            out.append((located.line(keys + ("not_reproduced", "after_seconds")),
                        f"{where}.not_reproduced.after_seconds: {nrep['after_seconds']} is not below the timeout "
                        f"({timeout} s), so the exposure would end as a hang; lower it or raise the timeout"))
        both = sorted(set(rule["reproduced"].get("exit_status", [])) & set(nrep.get("exit_status", [])))
        if both:
            out.append((located.line(keys + ("not_reproduced", "exit_status")),
                        f"{where}.not_reproduced.exit_status: {both} also in {where}.reproduced.exit_status; "
                        f"an exit status means one outcome"))
    return out


def _source_problems(src):
    """Sources must stay inside the scenario folder: no symlink out, no special files."""
    root = src.resolve()
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                target = p.resolve()
                if target != root and root not in target.parents:
                    out.append(f"source {_shown(p)} is a symlink leaving the scenario folder (to {target}); copy the file in instead")
            elif not (p.is_file() or p.is_dir()):
                out.append(f"source {_shown(p)} is not a regular file; remove it")
    return out


def _explain(err, located):
    path = tuple(err.absolute_path)
    where = ".".join(str(k) for k in path) or "(top level)"
    v = err.validator
    if v == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        key = extra[0] if extra else ""
        known = ", ".join(sorted(allowed))
        if key in ("volumes", "mounts", "binds", "devices"):
            return located.key_line(path + (key,)), (f"{_join(path, key)}: host paths cannot be mounted into lab "
                                                     f"containers; put what the reproducer needs in the scenario folder")
        return located.key_line(path + (key,)), f"{_join(path, key)}: unknown key '{key}'; known keys here: {known}"
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        hint = {"not_reproduced": "; say after what exposure (after_seconds, after_attempts) or exit_status "
                                  "no match means not-reproduced",
                "count": "; name the key of the verdict's evidence that counts the exposure "
                         "(e.g. count: children_while_removing)"}.get(missing, "")
        return located.line(path), f"{where}: missing required key '{missing}'{hint}"
    if v == "enum":
        choices = ", ".join(str(c) for c in err.validator_value)
        hint = " (YAML reads yes/no/on/off as booleans; quote the value)" if isinstance(err.instance, bool) else ""
        return located.line(path), f"{where}: {err.instance!r} is not one of: {choices}{hint}"
    if v in ("minItems", "minProperties"):
        return located.line(path), f"{where}: must not be empty"
    if v == "type":
        return located.line(path), (f"{where}: expected {err.validator_value}, got {_kind(err.instance)} "
                                    f"{err.instance!r}{_list_hint(path, err)}")
    if v == "pattern" and path and path[-1] == "env":
        return located.line(path), f"{where}: {err.instance!r} is not an environment variable name (letters, digits, _)"
    if v == "pattern" and path and path[-1] == "variants":
        return located.line(path), f"{where}: variant name {err.instance!r} is not allowed; use lower-case letters, digits, '.' and '-'"
    if v == "pattern":
        what = _pattern_meaning(path)
        return located.line(path), f"{where}: {err.instance!r} {what}"
    if v in ("minimum", "maximum"):
        return located.line(path), f"{where}: {err.instance!r} is out of range ({err.schema.get('minimum')}..{err.schema.get('maximum')})"
    if v == "propertyNames":
        return located.line(path), f"{where}: name {err.instance!r} is not allowed; use lower-case letters, digits, '.' and '-'"
    return located.line(path), f"{where}: {err.message}"


def _list_hint(path, err):
    """A command or build step written as a shell line: show it as the exec-form list it must be."""
    keys = [k for k in path if isinstance(k, str)]
    if err.validator_value != "array" or not isinstance(err.instance, str) or not keys \
            or keys[-1] not in ("build", "command", "args") and "build" not in keys:
        return ""
    if any(c in err.instance for c in "|&;<>$*`"):  # shell syntax: only a shell reads it
        return f"; write it as an exec-form list, here through a shell: [sh, -c, {json.dumps(err.instance)}]"
    try:
        words = shlex.split(err.instance)
    except ValueError:
        words = err.instance.split()
    # Plain words stay bare; numbers ("0755") and anything YAML might read otherwise are quoted.
    quoted = ", ".join(w if re.fullmatch(r"[A-Za-z_./-][\w./+=-]*", w) else json.dumps(w) for w in words)
    return f"; write it as an exec-form list (no shell): [{quoted}]" if words else ""


def _pattern_meaning(path):
    keys = [k for k in path if isinstance(k, str)]
    if keys and keys[-1] in ("packages", "build_packages"):
        return "is not a Debian package name (lower-case letters, digits, '+', '-', '.')"
    if "build" in keys or "command" in keys or "args" in keys:
        return "is not allowed in an exec-form command (no newlines or NUL bytes)"
    if keys and keys[-1] == "image":
        return "is not an image reference (name[:tag])"
    if "references" in keys:
        return "is not an http(s) URL"
    if "env" in keys:
        return "is not a valid environment value (no newlines or NUL bytes)"
    if keys and keys[-1] == "memory":
        return "is not a memory size (e.g. 512m, 1g)"
    if "versions" in keys:
        return "is not a release range (e.g. 1.23.1, 1.23, 1.21..1.27, '>=1.23', *)"
    if "kernel" in keys:
        return "is not a kernel release (e.g. 4.5 or 5.10.0)"
    if keys and keys[-1] == "include":
        return "is not a path inside the shared folder _shared/ (relative, no '..', e.g. lxc/setup-lxc.sh)"
    if keys and keys[-1] == "artifacts":
        return "is not an absolute folder path (e.g. /tmp/artifacts)"
    if keys and keys[-1] == "user":
        return "is not a user[:group] (names or numbers, e.g. 65534:65534 for nobody:nogroup)"
    if "capabilities" in keys:
        return "is not a capability name (e.g. SYS_ADMIN)"
    if "exposure" in keys and keys[-1] == "count":
        return "is not a key of the verdict's evidence (letters, digits, '_'; dotted for nested, e.g. children_while_removing)"
    if "exposure" in keys and keys[-1] == "unit":
        return "is not a unit (a plural noun in lower case, e.g. children)"
    return "is not allowed here (lower-case letters, digits, '.' and '-')"


def _join(path, key):
    return ".".join([str(k) for k in path] + [key])


def _kind(value):
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _shown(path):
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
