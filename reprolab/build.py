"""Build one rendered context with docker-py, reusing the layer cache; never raises for a bad build."""

import time
from dataclasses import dataclass

import docker
import requests

from reprolab import labels as lab_labels

TAIL_LINES = 30


@dataclass(frozen=True)
class Built:
    ok: bool
    image_id: str
    seconds: float
    steps: int
    cached_steps: int
    log_tail: str


BASE_ID_LABEL = lab_labels.BASE_ID


def reusable(client, ctx, base_id):
    """The id of an image already built from this exact context on this exact base, else ''."""
    try:
        img = client.images.get(ctx.tag)
    except (docker.errors.ImageNotFound, docker.errors.APIError):
        return ""
    labels = img.labels or {}
    if labels.get(lab_labels.CONTENT_HASH) == ctx.content_hash and labels.get(BASE_ID_LABEL) == base_id:
        return img.id
    return ""


def build(client, ctx, progress=lambda msg: None, base_id=""):
    """Build `ctx`; an image of the same content hash on the same base is reused without a build."""
    start = time.monotonic()
    if base_id:
        image_id = reusable(client, ctx, base_id)
        if image_id:
            return Built(True, image_id, round(time.monotonic() - start, 2), 0, 0, "reused: same content and base")
    log, steps, cached, image_id, error, pending = [], 0, 0, "", "", ""
    try:
        stream = client.api.build(fileobj=ctx.tar(), custom_context=True, tag=ctx.tag, rm=True,
                                  forcerm=True, pull=False, decode=True,
                                  labels={BASE_ID_LABEL: base_id} if base_id else None)
        for chunk in stream:
            if "stream" in chunk:
                for line in chunk["stream"].splitlines():
                    if not line.strip():
                        continue
                    log.append(line)
                    if line.startswith("Step "):
                        steps += 1
                        pending = line.strip()
                    elif "Using cache" in line:
                        cached += 1
                    elif "Running in" in line and pending:
                        progress(pending)  # only steps that really run; cached ones stay quiet
                        pending = ""
            if "error" in chunk:
                error = chunk["error"].strip()
                log.append(error)
            aux = chunk.get("aux") or {}
            if "ID" in aux:
                image_id = aux["ID"]
    except (docker.errors.APIError, docker.errors.BuildError, requests.exceptions.RequestException) as exc:
        error = str(exc)
        log.append(error)
    ok = not error and bool(image_id)
    if not ok and not error:
        log.append("the engine reported no image id")
    return Built(ok, image_id, round(time.monotonic() - start, 2), steps, cached,
                 "\n".join(log[-TAIL_LINES:]))
