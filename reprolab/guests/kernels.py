"""Kernels for guests: a Debian suite's kernel, a version found in the suites, or a user's own build.

`--kernel` takes a suite name (bookworm: the kernel that suite ships), a version prefix (6.1: the
newest `linux-image-6.1*-amd64` of the first suite that ships that series as its own, else of any
suite), or the path of a kernel image someone built (with `--kernel-modules` where its drivers are
modules). Debian kernels are downloaded with apt (debarchive), unpacked, and cached with the modules
tree depmod'ed for the guest; nothing else is downloaded.
"""

import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from reprolab.common import cache, debarchive, tool
from reprolab.common.errors import EngineError, UserError

FLAVOUR = "amd64"
_NAME = re.compile(r"^linux-image-(\d+\.\d+(?:\.\d+)?)(\S*)-amd64$")
_SKIP = ("-cloud-amd64", "-rt-amd64", "-unsigned", "-dbg")


@dataclass(frozen=True)
class Choice:
    """Where a kernel comes from: a Debian package of a suite, or a file."""
    spec: str
    suite: str = ""
    package: str = ""
    path: str = ""
    modules: str = ""


@dataclass(frozen=True)
class Kernel:
    spec: str
    release: str  # uname -r
    image: Path  # the bzImage
    modules: Path  # folder holding lib/modules/<release> (may be empty for a monolithic build)
    origin: str  # "debian bookworm linux-image-6.1.0-41-amd64 6.1.158-1" or "file /path"


def upstream(package):
    """'6.1.0-41' of linux-image-6.1.0-41-amd64; '' for other packages (pure)."""
    if package.endswith(_SKIP) or any(s in package for s in ("-unsigned", "-dbg")):
        return ""
    m = _NAME.match(package)
    return (m.group(1) + m.group(2)) if m else ""


def matches(prefix, version):
    """'6.1' matches 6.1.0-41 and 6.1.158 but not 6.12.x (pure)."""
    return version == prefix or (version.startswith(prefix) and version[len(prefix)] in ".-+~")


def natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def pick(spec, defaults, packages):
    """Choose a package for `spec` (pure).

    defaults: {suite: the package its linux-image-amd64 depends on}; packages: {suite: [names]}.
    Returns a Choice, or raises UserError listing what exists."""
    if spec in defaults:
        if not defaults[spec]:
            raise UserError(f"--kernel {spec}: that suite lists no linux-image-amd64 on this mirror")
        return Choice(spec, suite=spec, package=defaults[spec])
    if re.match(r"^\d+\.\d+", spec):
        for suite, pkg in defaults.items():  # the suite that ships this series as its own kernel
            if pkg and matches(spec, upstream(pkg)):
                return Choice(spec, suite=suite, package=pkg)
        found = [(natural(p), suite, p) for suite, names in packages.items() for p in names
                 if upstream(p) and matches(spec, upstream(p))]
        if found:
            _, suite, pkg = max(found)
            return Choice(spec, suite=suite, package=pkg)
    raise UserError(f"--kernel {spec}: unknown kernel; available: {', '.join(available(defaults, packages))}, "
                    f"host, or the path of a kernel image")


def available(defaults, packages):
    """Suite names, then the x.y series found in any suite (pure)."""
    series = {".".join(upstream(p).split("-")[0].split(".")[:2]) for names in packages.values()
              for p in names if upstream(p)}
    return [s for s in defaults if defaults[s]] + sorted(series, key=natural)


def bzimage_release(path):
    """The release string in a bzImage's header, or UserError when `path` is no x86 kernel image."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(0x4000)
            if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
                raise UserError(f"{path}: not a kernel image (no x86 boot header 'HdrS'); give a bzImage "
                                f"(arch/x86/boot/bzImage or /boot/vmlinuz-*)")
            offset = struct.unpack_from("<H", head, 0x20E)[0]
            f.seek(offset + 0x200)
            text = f.read(256)
    except OSError as exc:
        raise UserError(f"{path}: cannot read kernel image ({exc.strerror})") from None
    release = text.split(b"\0", 1)[0].decode("ascii", "replace").split(" ", 1)[0]
    if not release or not offset:
        raise UserError(f"{path}: kernel image without a version string")
    return release


def choose(spec, modules="", progress=lambda msg: None):
    """A Choice for `spec`: a path (file) or a Debian kernel looked up in the suites' indexes."""
    if "/" in spec or Path(spec).is_file():
        if not Path(spec).is_file():
            raise UserError(f"--kernel {spec}: no such file")
        bzimage_release(spec)
        return Choice(spec, path=str(Path(spec).resolve()), modules=modules)
    if modules:
        raise UserError("--kernel-modules only goes with a kernel image path")
    defaults, packages = {}, {}
    wanted = [spec] if spec in debarchive.SUITES else list(debarchive.SUITES)
    for suite in wanted:
        arch = debarchive.Archive(suite)
        try:
            arch.update(progress)
        except EngineError as exc:
            if spec == suite:
                raise
            progress(f"apt indexes of {suite}: skipped ({str(exc)[:100]})")
            continue
        defaults[suite], packages[suite] = _suite_kernels(arch)
    return pick(spec, defaults, packages)


def _suite_kernels(arch):
    """(the package linux-image-amd64 depends on, every linux-image-* name) of a suite, remembered
    until its indexes are next updated: asking apt-cache costs about a second a suite."""
    memo = arch.dir / "kernels.json"
    stamp = (arch.dir / "updated").stat().st_mtime
    try:
        data = json.loads(memo.read_text())
        if data["stamp"] == stamp:
            return data["default"], data["packages"]
    except (OSError, ValueError, KeyError):
        pass
    dep = arch.show("linux-image-amd64").get("Depends", "")
    default = next((d.split()[0] for d in dep.split(",") if upstream(d.split()[0])), "")
    names = arch.names("linux-image-")
    memo.write_text(json.dumps({"stamp": stamp, "default": default, "packages": names}))
    return default, names


def fetch(choice, progress=lambda msg: None):
    """The Kernel of a Choice: cached, or downloaded, unpacked and depmod'ed into the cache."""
    if choice.path:
        release = bzimage_release(choice.path)
        mods = Path(choice.modules) if choice.modules else Path()
        if choice.modules and not (mods / "lib" / "modules" / release).is_dir():
            raise UserError(f"--kernel-modules {choice.modules}: no lib/modules/{release} inside "
                            f"(give the INSTALL_MOD_PATH of 'make modules_install')")
        return Kernel(choice.spec, release, Path(choice.path), mods, f"file {choice.path}")
    arch = debarchive.Archive(choice.suite)
    fields = arch.show(choice.package)
    version = fields.get("Version", "")
    if not version:
        raise EngineError(f"{choice.package}: not in the {choice.suite} indexes any more; retry to refresh them")
    dest = cache.root() / "kernels" / f"{choice.package}_{version.replace(':', '_')}"
    meta_path = dest / "kernel.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        image = dest / meta["image"]
        if image.exists() and cache.sha256_of(image) == meta["image_sha256"] and (dest / "root" / "lib" / "modules" / meta["release"]).is_dir():
            return Kernel(choice.spec, meta["release"], image, dest / "root", meta["origin"])
        progress(f"kernel {choice.package}: cached copy fails its check; fetching again")
    shutil.rmtree(dest, ignore_errors=True)
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    progress(f"kernel {choice.package} {version} ({choice.suite}): downloading {int(fields.get('Size', 0)) >> 20} MiB")
    deb = arch.download(choice.package, work)
    progress(f"kernel {choice.package}: unpacking and running depmod")
    unpacked = work / "deb"
    debarchive.extract(deb, unpacked)
    images = sorted(unpacked.glob("boot/vmlinuz-*"))
    if not images:
        raise EngineError(f"{deb.name}: no boot/vmlinuz-* inside")
    release = images[0].name[len("vmlinuz-"):]
    root = work / "root"
    (root / "lib" / "modules").mkdir(parents=True)
    for candidate in (unpacked / "lib" / "modules" / release, unpacked / "usr" / "lib" / "modules" / release):
        if candidate.is_dir():
            shutil.move(str(candidate), str(root / "lib" / "modules" / release))
            break
    else:
        raise EngineError(f"{deb.name}: no modules tree for {release}")
    _depmod(root, release)
    image = work / f"vmlinuz-{release}"
    shutil.move(str(images[0]), str(image))
    shutil.rmtree(unpacked)
    deb.unlink()
    origin = f"debian {choice.suite} {choice.package} {version}"
    meta = {"release": release, "image": image.name, "image_sha256": cache.sha256_of(image), "origin": origin,
            "package": choice.package, "version": version, "suite": choice.suite}
    (work / "kernel.json").write_text(json.dumps(meta, indent=1) + "\n")
    work.rename(dest)
    return Kernel(choice.spec, release, dest / image.name, dest / "root", origin)


def _depmod(root, release):
    tool.run(["depmod", "-b", root, release], f"depmod {release}", 300)


