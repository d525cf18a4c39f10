"""Run records: one JSON file per run, written atomically, never overwriting another run."""

import functools
import json
import os
import secrets
import signal
import tempfile
import time
from pathlib import Path

import jsonschema

from reprolab.common.errors import RecordError

SCHEMA_VERSION = 1
KIND = "reprolab-run"


def new_run_id(now=None):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(3)}"


def utc(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class RecordWriter:
    """Owns one run's record file: created exclusively, then replaced atomically after each variant."""

    def __init__(self, results_dir, run_id):
        self.dir = Path(results_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / f"{run_id}.json"
        self._created = False

    def write(self, record):
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.dir)
        replaced = False
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f, indent=1, sort_keys=False)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            if not self._created:
                with _signals_blocked():
                    os.link(tmp, self.path)  # fails if another run took this id: never overwrite
                    self._created = True
            else:
                os.replace(tmp, self.path)
                replaced = True
        finally:
            if not self._created and _identity(tmp) is not None and _identity(tmp) == _identity(self.path):
                # the link was made and an exception came before the flag: the file is ours (the
                # temp file still holds the inode, so the same inode cannot be someone else's)
                self._created = True
            if not replaced:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
        return self.path


def _identity(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class _signals_blocked:
    """SIGINT/SIGTERM held back (not lost) for a few system calls, so that the interrupt handler
    does not run between creating the record file and noting that we did."""

    SIGNALS = {signal.SIGINT, signal.SIGTERM}

    def __enter__(self):
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)

    def __exit__(self, *exc):
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def load(path):
    """A record from `path`, or RecordError naming the file and what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordError(f"{path}: cannot read record: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: not a JSON record ({exc}); remove or repair the file") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise RecordError(f"{path}: not a reprolab run record (no \"kind\": \"{KIND}\")")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise RecordError(f"{path}: record schema version {data.get('schema_version')!r}; this lab reads "
                          f"version {SCHEMA_VERSION}")
    problems = schema_problems(data)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise RecordError(f"{path}: {'; '.join(problems[:3])}{more}; repair the record or remove it")
    return data


SCHEMA_FILE = Path(__file__).resolve().parent / "record.schema.json"


@functools.lru_cache(maxsize=None)
def _validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def schema_problems(data):
    """Every way `data` breaks record.schema.json, each as `field path: what is wrong`, in path order."""
    if _conforms(data):
        return []
    found = []
    for err in _validator().iter_errors(data):
        where = list(err.absolute_path)
        if err.validator == "required":
            missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
            found += [(where + [k], "missing") for k in missing]
        elif err.validator == "type":
            want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
            found.append((where, f"{err.instance!r:.60} is not of type {want}"))
        elif err.validator == "enum":
            found.append((where, f"{err.instance!r:.60} is not one of {', '.join(map(str, err.validator_value))}"))
        else:
            found.append((where, err.message[:120]))
    found.sort(key=lambda item: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in item[0]])
    return [f"{_field(where)}: {what}" for where, what in found]


@functools.lru_cache(maxsize=None)
def _schema():
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


# jsonschema takes about 12 ms for a record of 30 results (its per-keyword machinery), which made
# reading 1,000 records cost 12 s. Nearly every record is valid, so the few keywords the schema uses,
# compiled once into plain checks, say "valid" first; jsonschema runs only when they do not, and
# names the problems.
_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description"}
_TYPES = {"object": lambda v: type(v) is dict, "array": lambda v: type(v) is list,
          "string": lambda v: type(v) is str, "boolean": lambda v: type(v) is bool,
          "null": lambda v: v is None,
          "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
          "number": lambda v: type(v) in (int, float)}


class _Unknown(Exception):
    """The schema uses a keyword the checks do not implement: leave the answer to jsonschema."""


_compiled = {}


def _conforms(data):
    schema = _schema()
    key = id(schema)
    if key not in _compiled:
        try:
            _compiled[key] = (schema, _compile(schema, schema, {}))
        except _Unknown:
            _compiled[key] = (schema, lambda value: False)
    return _compiled[key][1](data)


def _same(a, b):
    # JSON equality as jsonschema's: true is not 1
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _compile(schema, root, refs):
    """A function value → bool for `schema`; `refs` holds the compiled targets of $ref by pointer."""
    if schema is True or schema is False:
        return lambda value, answer=schema: answer
    checks = []
    for key, want in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            if not want.startswith("#/"):
                raise _Unknown(want)
            if want not in refs:
                refs[want] = None  # a reference to itself resolves through refs at check time
                target = root
                for part in want[2:].split("/"):
                    target = target[part]
                refs[want] = _compile(target, root, refs)
            checks.append(lambda v, w=want: refs[w](v))
        elif key == "type":
            types = [_TYPES[t] for t in ([want] if isinstance(want, str) else want)]
            checks.append(types[0] if len(types) == 1 else lambda v, ts=types: any(t(v) for t in ts))
        elif key == "const":
            checks.append(lambda v, w=want: _same(v, w))
        elif key == "enum":
            checks.append(lambda v, ws=want: any(_same(v, w) for w in ws))
        elif key == "minLength":
            checks.append(lambda v, n=want: type(v) is not str or len(v) >= n)
        elif key == "minimum":
            checks.append(lambda v, n=want: type(v) not in (int, float) or v >= n)
        elif key == "required":
            checks.append(lambda v, ks=want: type(v) is not dict or all(k in v for k in ks))
        elif key == "properties":
            subs = {k: _compile(sub, root, refs) for k, sub in want.items()}
            checks.append(lambda v, subs=subs: type(v) is not dict
                          or all(subs[k](x) for k, x in v.items() if k in subs))
        elif key == "additionalProperties":
            known, other = set(schema.get("properties", {})), _compile(want, root, refs)
            checks.append(lambda v, known=known, other=other: type(v) is not dict
                          or all(other(x) for k, x in v.items() if k not in known))
        elif key == "items":
            item = _compile(want, root, refs)
            checks.append(lambda v, item=item: type(v) is not list or all(item(x) for x in v))
        else:
            raise _Unknown(key)
    return lambda value: all(check(value) for check in checks)


def _field(parts):
    """`results[3].outcome` from ['results', 3, 'outcome']; `(record)` for the top level."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(record)"


REFERENCE = "reference"  # results/reference/: the committed reference runs, all a fresh clone has


def find(results_dir, which=None):
    """The record file for run id or path `which`, or the newest one in `results_dir`; with none
    there, in its reference/ folder."""
    if which:
        p = Path(which)
        if p.is_file():
            return p
        for folder in (Path(results_dir), Path(results_dir) / REFERENCE):
            candidate = folder / f"{which}.json"
            if candidate.is_file():
                return candidate
            matches = sorted(folder.glob(f"{which}*.json"))
            if len(matches) == 1:
                return matches[0]
        raise RecordError(f"{which}: no such run record in {results_dir}/ (see 'lab.py show --list')")
    runs = list_records(results_dir) or list_records(Path(results_dir) / REFERENCE)
    if not runs:
        raise RecordError(f"{results_dir}/: no run records yet; run 'python lab.py run all' first")
    return runs[-1]


def list_records(results_dir):
    d = Path(results_dir)
    return sorted(p for p in d.glob("*.json") if not p.name.startswith(".")) if d.is_dir() else []


def expand(paths):
    """Record files from files and folders (folders: every *.json inside, recursively)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.json") if not q.name.startswith(".")))
        else:
            out.append(p)
    return out
