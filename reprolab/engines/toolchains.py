"""The image of one toolchain release (reprolab/toolchain-go:1.23.1), made from the GOROOT the
versions room unpacked on the host, once per release and engine, and reused while its label
still names the hash of the wheel it came from. Scenario builds copy it in with COPY --from."""

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import docker

from reprolab.common import heartbeat, labels
from reprolab.common.errors import EngineError, UserError
from reprolab.engines.engine_errors import boundary, url
from reprolab.scenarios import render
from reprolab.versions import axis as version_axis

_LOCKS, _GUARD = {}, threading.Lock()


def present(client, layer):
    """The id of the engine's image of `layer` when it was made from the same wheel, else ''."""
    with boundary(f"looking up {layer.image}", url(client)):
        try:
            img = client.images.get(layer.image)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            return ""
    return img.id if (img.labels or {}).get(labels.TOOLCHAIN_SHA256) == layer.sha256 else ""


def ensure(client, layer, progress=lambda msg: None):
    """Make sure the engine has the image of `layer` (fetched: its hash known); returns its id."""
    if not layer.sha256:
        raise UserError(f"{layer.source} {layer.release}: not fetched yet; nothing to build its image from")
    with _GUARD:
        lock = _LOCKS.setdefault(layer.image, threading.Lock())
    with lock:  # two suites' lanes may ask for the same release at once
        image_id = present(client, layer)
        if image_id:
            return image_id
        goroot = goroot_of(layer)
        start = time.monotonic()
        with heartbeat.activity(progress, f"making {layer.image} from {goroot}"):
            image_id = _build(client, layer, goroot)
        progress(f"made {layer.image} in {time.monotonic() - start:.1f}s")
        return image_id


def goroot_of(layer):
    """The unpacked toolchain of `layer`, checked against its recorded hash again."""
    try:
        wheel = version_axis.source(layer.axis, layer.source).verified(layer.release)
    except UserError as exc:  # a build's failure, not the run's: this variant's outcome says it
        raise EngineError(str(exc)) from None
    if wheel is None or wheel.sha256 != layer.sha256:
        raise EngineError(f"{layer.source} {layer.release}: the cached wheel changed since this run fetched it; run again")
    return Path(wheel.goroot)


def _build(client, layer, goroot):
    """Build FROM scratch with the GOROOT as context; the context is streamed by tar (about 210 MB)."""
    with tempfile.TemporaryDirectory(prefix="reprolab-toolchain-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(render.toolchain_dockerfile(layer))
        tar = subprocess.Popen(["tar", "-C", tmp, "-cf", "-", "Dockerfile", "-C", str(goroot.parent),
                                "--exclude", ".reprolab-sha256", goroot.name], stdout=subprocess.PIPE)
        image_id, error = "", ""
        try:
            with boundary(f"building {layer.image}", url(client)):
                for chunk in client.api.build(fileobj=tar.stdout, custom_context=True, tag=layer.image, rm=True,
                                              forcerm=True, pull=False, decode=True, timeout=600):
                    if "error" in chunk:
                        error = chunk["error"].strip()
                    image_id = (chunk.get("aux") or {}).get("ID", image_id)
        finally:
            tar.stdout.close()
            tar.wait()
    if error or not image_id:
        raise EngineError(f"building {layer.image} failed: {error or 'the engine reported no image id'}")
    return image_id
