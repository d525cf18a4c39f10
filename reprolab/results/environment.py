"""The environment of a result: the facts of where it ran that may change its outcome.

One table, FACTS: each fact has a name (as the closing line says it), how it is read from a record
and one of its results, and how its value is written in a column name. A new axis (a toolchain's
release read from each result) is one more entry. A reader returns None when the fact does not apply
to that run (the privileged mode of a record that needed none): such a run splits no column and joins
the first column that agrees with it on every fact that does apply.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional


@dataclass(frozen=True)
class Fact:
    name: str
    read: Callable[[dict, dict], Optional[str]]
    token: Callable[[str], str] = str  # the value as a column name shows it


def _engine(rec, result):
    """host (this machine's own engine), guest (a qemu guest the lab started) or a remote's address."""
    host = rec["host"]
    if host.get("guest"):
        return "guest"
    if host.get("local_engine"):
        return "host"
    return host.get("host_label") or host.get("engine_url") or "?"


def _machine(rec, result):
    """The engine's machine by name: records gathered from several machines (Vagrant boxes) that share
    a kernel stay apart. A guest's name is always the same and says nothing: its kernel does."""
    host = rec["host"]
    return None if host.get("guest") else host.get("hostname") or None


FACTS = (
    Fact("engine", _engine),
    Fact("kernel", lambda rec, r: rec["host"].get("kernel") or "?"),
    Fact("cgroup", lambda rec, r: rec["host"].get("cgroup") or "?"),
    Fact("privileged mode", lambda rec, r: rec.get("privileged_mode") or None),
    Fact("machine", _machine),
)
NAMES = tuple(f.name for f in FACTS)


def of(rec, result):
    """The environment of one result: a tuple of FACTS' values (None where a fact does not apply)."""
    return tuple(f.read(rec, result) for f in FACTS)


def differing(envs):
    """{fact name: [values in order first seen]} for the facts with two or more values among `envs`
    (None, "does not apply", is no value)."""
    out = OrderedDict()
    for i, f in enumerate(FACTS):
        values = list(OrderedDict.fromkeys(e[i] for e in envs if e[i] is not None))
        if len(values) > 1:
            out[f.name] = values
    return out


class Columns(NamedTuple):
    names: list  # in the order first seen
    place: dict  # id(result) -> its column's name
    kernels: dict  # column name -> the kernel of its runs
    facts: list  # the facts that split the columns, as named in them
    implied: OrderedDict  # fact that splits them too but follows the named ones -> how, in words


def columns(entries):
    """The Columns of [(record, result)]: one column per environment. A column is named by the values
    of the facts that differ between the environments, in FACTS' order; a fact the same for all is
    left out, and so is one whose value follows from the facts named before it (the privileged mode
    when only the host's is emulated), which `implied` says in words. The kernel is named whenever it
    differs; when no fact differs, the one column is named by its kernel."""
    envs = [of(rec, r) for rec, r in entries]
    split = [i for i, f in enumerate(FACTS) if f.name in differing(envs)]
    keys = [tuple(e[i] for i in split) for e in envs]
    known = list(OrderedDict.fromkeys(k for k in keys if None not in k))

    def canonical(key):
        if None not in key:
            return key
        return next((k for k in known if all(a is None or a == b for a, b in zip(key, k))), key)

    keys = [canonical(k) for k in keys]
    kernel = NAMES.index("kernel")
    distinct = list(OrderedDict.fromkeys(keys))
    named, implied = [], OrderedDict()
    for j, i in enumerate(split):
        before = len({tuple(k[n] for n in named) for k in distinct})
        if i == kernel or len({tuple(k[n] for n in named + [j]) for k in distinct}) > before:
            named.append(j)
        else:
            implied[FACTS[i].name] = _follows(distinct, named, j, split)
    names, place, kernels = OrderedDict(), {}, {}
    for (rec, r), env, key in zip(entries, envs, keys):
        if key not in names:
            tokens = [FACTS[split[j]].token(key[j]) for j in named if key[j] is not None]
            name = " ".join(tokens) if split else FACTS[kernel].token(env[kernel])
            while name in names.values():  # two values that read alike: keep the columns apart
                name += "'"
            names[key] = name
            kernels[name] = env[kernel]
        place[id(r)] = names[key]
    return Columns(list(names.values()), place, kernels, [FACTS[split[j]].name for j in named], implied)


def _follows(keys, named, j, split):
    """`privileged mode follows the engine: host emulated, guest privileged`: the first named fact
    the value of fact j is a function of, with the mapping; else that it follows the named ones."""
    for n in named:
        pairs = OrderedDict()
        for k in keys:
            if k[n] is not None and k[j] is not None:
                pairs.setdefault(k[n], set()).add(k[j])
        if all(len(v) == 1 for v in pairs.values()):
            how = ", ".join(f"{a} {next(iter(v))}" for a, v in pairs.items())
            return f"{FACTS[split[j]].name} follows the {FACTS[split[n]].name}: {how}"
    return f"{FACTS[split[j]].name} follows them"
