"""The scenario model: frozen dataclasses that check themselves, built from validated YAML data."""

from dataclasses import dataclass, field
from pathlib import Path

from reprolab.scenarios import readrule
from reprolab.common.outcome import OUTCOMES
from reprolab.versions.axis import Axis

SUITES = ("bullseye", "bookworm", "trixie")
SHARED = "_shared"


@dataclass(frozen=True)
class Requires:
    cgroup: str = "any"
    kernel: str = ""
    privileged: bool = False
    capabilities: tuple = ()
    seccomp: str = "default"
    apparmor: str = "default"
    cgroupns: str = "private"
    writable_cgroups: bool = False
    network: bool = False
    base_capabilities: str = "docker-default"  # "none": --cap-drop ALL before the listed ones are added
    no_new_privileges: bool = False
    user: str = ""  # "": the image's (root)


@dataclass(frozen=True)
class Recipe:
    """How the image of one variant is built: base, toolchain, packages, environment, build steps."""

    base: str
    suite: str  # "" for a registry-only image
    toolchain: bool
    build_packages: tuple
    packages: tuple
    env: tuple  # ((key, value), ...) sorted
    build: tuple  # of argv tuples
    include: tuple = ()  # paths under the scenarios folder's _shared/, seen at /src/_shared/<path>
    layers: tuple = ()  # versions.axis.Layer: one release per version axis of the variant, copied into the build stage


@dataclass(frozen=True)
class Variant:
    name: str
    expect: str
    description: str = ""
    args: tuple = ()
    model: bool = False
    suites: tuple = ()
    image: str = ""
    env: tuple = ()
    overrides: tuple = ()  # ((key, value), ...) of image keys the variant replaces
    read: object = None  # a readrule.Rule or readrule.Compare; replaces the scenario's run.read
    timeout: int = 0  # replaces the scenario's run.timeout; 0: that one
    memory: str = ""  # replaces the scenario's run.memory; "": that one
    versions: tuple = ()  # versions.axis.Axis: the toolchains whose release varies

    def __post_init__(self):
        if self.expect not in OUTCOMES:
            raise ValueError(f"variant {self.name}: unknown expectation {self.expect!r}")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    path: Path
    image: dict
    run_command: tuple
    timeout: int
    variants: tuple
    references: tuple = ()
    tags: tuple = ()
    requires: Requires = field(default_factory=Requires)
    memory: str = "1g"
    pids: int = 4096
    hang_is_symptom: bool = False
    default_variant: str = ""
    read: object = None  # readrule.Rule or .Compare: how to read an upstream reproducer; None: it prints its verdict line
    artifacts: str = ""  # a folder in the container copied out before removal; "": none
    exposure_count: str = ""  # the evidence key of the reproducer's own exposure count (run.exposure)
    exposure_unit: str = ""

    def __post_init__(self):
        if not self.run_command:
            raise ValueError(f"scenario {self.name}: empty run command")
        if not self.variants:
            raise ValueError(f"scenario {self.name}: no variants")

    @property
    def source_dir(self):
        return self.path.parent / self.name

    @property
    def shared_dir(self):
        """Files several scenarios use, kept once: <scenarios folder>/_shared/ (image.include)."""
        return self.path.parent / SHARED

    def variant(self, name):
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def read_rule(self, variant):
        return variant.read or self.read

    def timeout_of(self, variant):
        return variant.timeout or self.timeout

    def memory_of(self, variant):
        return variant.memory or self.memory

    def targets(self, variant, suites=None, points=((),)):
        """The Recipes to build and run: one per suite (or one for a registry image) and point of the
        variant's version axes (`points`: tuples of versions.axis.Layer; one empty point without axes)."""
        merged = dict(self.image)
        merged.update(dict(variant.overrides))
        env = dict(sorted({**(merged.get("env") or {})}.items()))
        common = dict(
            toolchain=bool(merged.get("toolchain", True)) and not variant.image,
            build_packages=tuple(merged.get("build_packages") or ()),
            packages=tuple(merged.get("packages") or ()),
            env=tuple(env.items()),
            build=tuple(tuple(c) for c in merged.get("build") or ()),
            include=tuple(merged.get("include") or ()),
        )
        if variant.image:
            if "toolchain" in dict(variant.overrides):
                common["toolchain"] = bool(dict(variant.overrides)["toolchain"])
            return [Recipe(base=variant.image, suite="", **common)]
        chosen = variant.suites or tuple(merged["suites"])
        # a release layer brings its own Go (and no C compiler: it sets CGO_ENABLED=0), so the
        # build stage skips the suite's common toolchain (1.2 GB) for it
        return [Recipe(base=f"debian:{s}", suite=s, layers=tuple(point),
                       **dict(common, toolchain=common["toolchain"] and not point))
                for s in chosen if not suites or s in suites for point in points]


def from_data(data, path):
    """Build a Scenario from data that already passed the schema and semantic checks."""
    req = data.get("requires") or {}
    run = data["run"]
    variants = []
    for name, v in data["variants"].items():
        overrides = tuple((k, v[k]) for k in ("toolchain", "build_packages", "packages", "build", "include") if k in v)
        variants.append(Variant(
            name=name, expect=v["expect"], description=v.get("description", ""),
            # run.args and run.env are the defaults of every variant: resolved here, once
            args=tuple(v["args"] if "args" in v else run.get("args") or ()), model=bool(v.get("model", False)),
            suites=tuple(v.get("suites") or ()), image=v.get("image", ""),
            env=tuple(sorted({**(run.get("env") or {}), **(v.get("env") or {})}.items())), overrides=overrides,
            read=readrule.from_data(v["read"]) if "read" in v else None,
            timeout=v.get("timeout", 0), memory=v.get("memory", ""),
            versions=tuple(Axis(name=axis, source=a["source"], supports=a.get("supports", "*"),
                                default=tuple(a["default"]), expect=tuple((a.get("expect") or {}).items()))
                           for axis, a in (v.get("versions") or {}).items()),
        ))
    return Scenario(
        name=data["name"], title=data["title"], summary=" ".join(data["summary"].split()),
        path=Path(path), image=data["image"], run_command=tuple(run["command"]),
        timeout=run["timeout"], variants=tuple(variants),
        references=tuple(data.get("references") or ()), tags=tuple(data.get("tags") or ()),
        requires=Requires(
            cgroup=req.get("cgroup", "any"), kernel=req.get("kernel", ""),
            privileged=req.get("privileged", False), capabilities=tuple(req.get("capabilities") or ()),
            seccomp=req.get("seccomp", "default"), apparmor=req.get("apparmor", "default"),
            cgroupns=req.get("cgroupns", "private"), writable_cgroups=req.get("writable_cgroups", False),
            network=req.get("network", False), base_capabilities=req.get("base_capabilities", "docker-default"),
            no_new_privileges=req.get("no_new_privileges", False), user=req.get("user", ""),
        ),
        memory=run.get("memory", "1g"), pids=run.get("pids", 4096),
        hang_is_symptom=run.get("hang_is_symptom", False),
        default_variant=data.get("default_variant") or next(iter(data["variants"])),
        read=readrule.from_data(run["read"]) if "read" in run else None,
        artifacts=run.get("artifacts", ""),
        exposure_count=(run.get("exposure") or {}).get("count", ""),
        exposure_unit=(run.get("exposure") or {}).get("unit", ""),
    )
