"""Running the host tools the kernel matrix needs (apt, debootstrap, mkfs.ext4, depmod, dpkg-deb):
bounded in time, and failing as one EngineError that says what failed and what to install.

Tools are looked up on PATH and then in the sbin directories: a user's PATH usually lacks /usr/sbin,
where Debian puts depmod, mkfs.ext4, debootstrap and dockerd, yet they run there for anyone."""

import os
import re
import shutil
import subprocess

SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# The Debian package that provides each tool the lab runs on the host.
PACKAGES = {
    "apt-get": "apt", "apt-cache": "apt", "debootstrap": "debootstrap", "depmod": "kmod",
    "dockerd": "docker.io", "dpkg-deb": "dpkg", "mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86", "setpriv": "util-linux", "unshare": "util-linux",
    "tar": "tar",
}


def which(name, path=None, sbin=None):
    """The full path of tool `name`: on PATH (or `path`), else in the sbin directories; None when absent."""
    found = shutil.which(name, path=path)
    if found or os.sep in name:
        return found
    return shutil.which(name, path=os.pathsep.join(SBIN if sbin is None else sbin))


def missing(name, what):
    """The message for a tool that is really absent: what needed it and the Debian package to install."""
    package = PACKAGES.get(name)
    where = f"not found on PATH nor in {', '.join(SBIN)}"
    if package:
        return f"{name} {where} ({what}); install Debian's {package} package: sudo apt-get install {package}"
    return f"{name} {where} ({what}); install the package that provides it"


def require(name, what):
    """which(name), or EngineError saying what to install."""
    from reprolab.common.errors import EngineError
    found = which(name)
    if not found:
        raise EngineError(missing(name, what))
    return found


def run(argv, what, timeout=600, cwd=None, lines=3, redact=False):
    """stdout of `argv`; EngineError naming `what` when it is missing, times out or fails.
    `redact` replaces URLs in the error (a mirror's host never goes into records or logs)."""
    from reprolab.common.errors import EngineError
    argv = [str(a) for a in argv]
    binary = which(argv[0])
    if binary is None:
        raise EngineError(missing(argv[0], what))
    try:
        proc = subprocess.run([binary, *argv[1:]], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise EngineError(missing(argv[0], what)) from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what} did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-lines:])
        if redact:
            tail = re.sub(r"https?://\S+", "<mirror>", tail)
        raise EngineError(f"{what} failed: {tail[:400]}")
    return proc.stdout
