"""The image of one toolchain release (reprolab/toolchain-go:1.23.1), made from the GOROOT the
versions room unpacked on the host, once per release and engine, and reused while its label
still names the hash of the wheel it came from. Scenario builds copy it in with COPY --from.

It is made by `docker import` of a tar of the GOROOT (one layer, the labels as changes), not by a
build FROM scratch with the GOROOT as context: the build's engine unpacked the context, copied it
into the layer and then summed the layer, 25.7 s for go1.24.3 (236 MB) on the lab's 2-core machine,
where the import took 4.5 s (2026-12-02): a cold bisect makes seven of these."""

import json
import subprocess
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
    """`docker import` of the GOROOT, streamed by tar as layer.src (about 236 MB); returns the id."""
    if goroot.name != layer.src.strip("/"):
        raise EngineError(f"{goroot}: the toolchain's folder must be named {layer.src.strip('/')}")
    tar = subprocess.Popen(["tar", "-C", str(goroot.parent), "--exclude", ".reprolab-sha256", "-cf", "-",
                            goroot.name], stdout=subprocess.PIPE)
    answer = ""
    try:
        with boundary(f"importing {layer.image}", url(client)):
            repository, tag = layer.image.rsplit(":", 1)
            answer = client.api.import_image_from_stream(tar.stdout, repository=repository, tag=tag,
                                                         changes=render.toolchain_changes(layer))
    finally:
        tar.stdout.close()
        tar.wait()
    image_id, error = _import_answer(answer)
    if tar.returncode:
        error = f"tar of {goroot} exited with status {tar.returncode}"
    elif not error and not image_id:
        error = "the engine reported no image id"
    if error:
        raise EngineError(f"importing {layer.image} failed: {error}")
    return image_id


def _import_answer(answer):
    """(image id, error) from the engine's answer to an import: JSON lines, the last one's status
    the new image's id ("sha256:…"), or an error line."""
    image_id = error = ""
    for line in str(answer or "").splitlines():
        try:
            chunk = json.loads(line)
        except ValueError:
            continue
        if "error" in chunk:
            error = str(chunk["error"]).strip()
        status = str(chunk.get("status", ""))
        if status.startswith("sha256:"):
            image_id = status
    return image_id, error
