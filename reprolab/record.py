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

from reprolab.errors import RecordError

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
# reading 1,000 records cost 12 s. Nearly every record is valid, so a plain walk of the few keywords
# the schema uses says "valid" first; jsonschema runs only when it does not, and names the problems.
_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description"}
_TYPES = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
          "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
          "null": lambda v: v is None,
          "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
          or (isinstance(v, float) and v.is_integer()),
          "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


class _Unknown(Exception):
    """The schema uses a keyword the walk does not implement: leave the answer to jsonschema."""


def _conforms(data):
    try:
        return _walk(_schema(), data, _schema())
    except _Unknown:
        return False


def _same(a, b):
    # JSON equality as jsonschema's: true is not 1
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _walk(schema, value, root):
    if schema is True:
        return True
    if schema is False:
        return False
    for key, want in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            if not want.startswith("#/"):
                raise _Unknown(want)
            target = root
            for part in want[2:].split("/"):
                target = target[part]
            ok = _walk(target, value, root)
        elif key == "type":
            ok = any(_TYPES[t](value) for t in ([want] if isinstance(want, str) else want))
        elif key == "const":
            ok = _same(value, want)
        elif key == "enum":
            ok = any(_same(value, w) for w in want)
        elif key == "minLength":
            ok = not isinstance(value, str) or len(value) >= want
        elif key == "minimum":
            ok = not _TYPES["number"](value) or value >= want
        elif key == "required":
            ok = not isinstance(value, dict) or all(k in value for k in want)
        elif key == "properties":
            ok = not isinstance(value, dict) or all(_walk(sub, value[k], root) for k, sub in want.items() if k in value)
        elif key == "additionalProperties":
            known = schema.get("properties", {})
            ok = not isinstance(value, dict) or all(_walk(want, v, root) for k, v in value.items() if k not in known)
        elif key == "items":
            ok = not isinstance(value, list) or all(_walk(want, v, root) for v in value)
        else:
            raise _Unknown(key)
        if not ok:
            return False
    return True


def _field(parts):
    """`results[3].outcome` from ['results', 3, 'outcome']; `(record)` for the top level."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(record)"


def find(results_dir, which=None):
    """The record file for run id or path `which`, or the newest one in `results_dir`."""
    if which:
        p = Path(which)
        if p.is_file():
            return p
        candidate = Path(results_dir) / f"{which}.json"
        if candidate.is_file():
            return candidate
        matches = sorted(Path(results_dir).glob(f"{which}*.json"))
        if len(matches) == 1:
            return matches[0]
        raise RecordError(f"{which}: no such run record in {results_dir}/ (see 'lab.py show --list')")
    runs = list_records(results_dir)
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
