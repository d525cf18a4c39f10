"""Make images built on one engine present on another: one `docker save` stream into `docker load`.

One stream for all images sends every shared layer (base, toolchain) once. `docker load` keeps image
ids and labels, so the lab's reuse check (content hash + base id) recognises the images on the other
engine and never builds there.
"""

import time

import docker
import requests

from reprolab.common.errors import EngineError

CHUNK = 1 << 20


def missing(dst, names):
    """The images of `names` ({tag: id}) whose id the destination engine lacks. One listing: each
    call to an engine in a TCG guest costs about a second, and a scenario set has two dozen images."""
    have = {tag: img.get("Id") for img in dst.api.images() for tag in (img.get("RepoTags") or [])}
    return [name for name, image_id in names.items() if have.get(name) != image_id]


def copy(src, dst, names, progress=lambda msg: None):
    """Stream `names` (tags on `src`) into `dst`; (seconds, bytes). EngineError on failure."""
    if not names:
        return 0.0, 0
    start = time.monotonic()
    sent = [0]
    last = [start]

    def chunks(resp):
        for chunk in resp.iter_content(CHUNK):
            sent[0] += len(chunk)
            if time.monotonic() - last[0] >= 10:
                last[0] = time.monotonic()
                progress(f"transfer: {sent[0] >> 20} MiB sent in {last[0] - start:.0f} s")
            yield chunk

    try:
        resp = src.api._get(src.api._url("/images/get"), params={"names": list(names)}, stream=True)
        src.api._raise_for_status(resp)
        for line in dst.api.load_image(chunks(resp)):
            if isinstance(line, dict) and line.get("error"):
                raise EngineError(f"docker load on the guest failed: {line['error'][:300]}")
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise EngineError(f"copying images to {getattr(dst, 'reprolab_url', 'the engine')} failed: "
                          f"{str(exc).splitlines()[0][:300]}") from None
    return round(time.monotonic() - start, 1), sent[0]
