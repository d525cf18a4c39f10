"""Debian packages straight from the archive the host's apt uses, through a private apt state.

The lab needs a few packages that are not for the host (kernels of other suites, a static busybox,
the Go toolchains of other suites).
A private apt configuration per suite (its own sources, lists and status under the cache) lets the
ordinary apt client list and download them, checked against Debian's keyring, without touching the
host's own apt state. The mirror is read from the host's apt sources at run time (common.aptsources).
"""

import re
import subprocess
import time
from pathlib import Path

from reprolab.common import aptsources, cache, tool
from reprolab.common.errors import EngineError, UserError

# Suites the lab can take kernels from; stable suites add -updates and -security, where kernels move.
SUITES = ("bullseye", "bookworm", "trixie", "bookworm-backports", "sid")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
FRESH_SECONDS = 24 * 3600  # indexes younger than this are reused without asking the mirror
TIMEOUT = 600


def sources(suite, archive, security, keyring=KEYRING):
    """The private sources.list of one suite (pure)."""
    opt = f"[arch=amd64 signed-by={keyring}] " if keyring else "[arch=amd64] "
    lines = [f"deb {opt}{archive} {suite} main"]
    if suite in ("bullseye", "bookworm", "trixie"):
        lines.append(f"deb {opt}{archive} {suite}-updates main")
        if security:
            lines.append(f"deb {opt}{security} {suite}-security main")
    return "\n".join(lines) + "\n"


class Archive:
    """One suite's package indexes under the cache, refreshed at most once a day."""

    def __init__(self, suite):
        if suite not in SUITES:
            raise UserError(f"{suite}: not a suite the lab takes packages from; choose from {', '.join(SUITES)}")
        self.suite = suite
        self.dir = cache.folder("apt", suite)

    def options(self):
        d = self.dir
        return ["-o", f"Dir::Etc::SourceList={d / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/nonexistent",
                "-o", f"Dir::State::Lists={d / 'lists'}", "-o", f"Dir::State::status={d / 'status'}",
                "-o", f"Dir::Cache::archives={d / 'archives'}", "-o", "Dir::Cache::pkgcache=",
                "-o", "Dir::Cache::srcpkgcache=", "-o", "APT::Architecture=amd64",
                "-o", "Acquire::Languages=none", "-o", "APT::Sandbox::User=root", "-q"]

    def update(self, progress=lambda msg: None):
        d = self.dir
        stamp = d / "updated"
        archive, security = aptsources.mirrors()
        text = sources(self.suite, archive, security, KEYRING if Path(KEYRING).exists() else "")
        src = d / "sources.list"
        if stamp.exists() and src.exists() and src.read_text() == text \
                and time.time() - stamp.stat().st_mtime < FRESH_SECONDS:
            return
        (d / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (d / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (d / "status").touch()
        src.write_text(text)
        progress(f"apt indexes of {self.suite}: updating")
        self._apt(["apt-get", *self.options(), "update"], "apt-get update of the package indexes")
        stamp.touch()

    def names(self, prefix):
        out = self._apt(["apt-cache", *self.options(), "pkgnames", prefix], "apt-cache listing")
        return sorted(set(out.split()))

    def show(self, package):
        """The candidate's control fields, or {} when the suite has no such package."""
        proc = subprocess.run(["apt-cache", *self.options(), "show", "--no-all-versions", package],
                              capture_output=True, text=True, timeout=TIMEOUT)
        if proc.returncode != 0:
            return {}
        return dict(re.findall(r"^([\w-]+): (.*)$", proc.stdout.split("\n\n")[0], re.M))

    def download(self, package, dest):
        """Download the candidate .deb of `package` into folder `dest`; its path. apt checks it against
        the signed index."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob(f"{package}_*.deb"):
            old.unlink()
        self._apt(["apt-get", *self.options(), "download", package], f"apt-get download of {package}", cwd=dest)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if not debs:
            raise EngineError(f"apt-get download {package} ({self.suite}) left no .deb")
        return debs[-1]

    def _apt(self, argv, what, cwd=None):
        return tool.run(argv, f"{what} of {self.suite}", TIMEOUT, cwd=cwd, lines=2, redact=True)


def extract(deb, dest):
    """Unpack a .deb's files (not its scripts) into `dest`."""
    tool.run(["dpkg-deb", "-x", deb, dest], f"unpacking {Path(deb).name}", TIMEOUT)
