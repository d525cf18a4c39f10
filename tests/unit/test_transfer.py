"""transfer: which images a guest lacks, and one save stream into load (engines faked)."""

import docker
import pytest

from reprolab.engines import transfer
from reprolab.common.errors import EngineError


class Images:
    def __init__(self, ids):
        self.ids = ids

    def get(self, name):
        if name not in self.ids:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return type("Image", (), {"id": self.ids[name]})()


class Listing:
    """The engine API's image listing (GET /images/json): one call for every image."""

    def __init__(self, ids):
        self.ids, self.calls = ids, 0

    def images(self):
        self.calls += 1
        return [{"Id": i, "RepoTags": [name]} for name, i in self.ids.items()] + [{"Id": "x", "RepoTags": None}]


class Engine:
    def __init__(self, ids=None, api=None):
        self.images, self.api = Images(ids or {}), api or Listing(ids or {})


def test_missing_compares_ids():
    dst = Engine({"reprolab/a:v-bookworm": "sha256:aaa", "reprolab/b:v-bookworm": "sha256:old"})
    names = {"reprolab/a:v-bookworm": "sha256:aaa", "reprolab/b:v-bookworm": "sha256:bbb",
             "debian:bookworm": "sha256:base"}
    assert transfer.missing(dst, names) == ["reprolab/b:v-bookworm", "debian:bookworm"]
    assert dst.api.calls == 1
    assert transfer.missing(dst, {}) == []


class Response:
    def __init__(self, chunks):
        self.chunks = chunks

    def iter_content(self, size):
        assert size == transfer.CHUNK
        yield from self.chunks


class SourceAPI:
    def __init__(self, chunks, fail=None):
        self.chunks, self.fail, self.asked = chunks, fail, None

    def _url(self, path):
        return f"http+docker://localhost{path}"

    def _get(self, url, params, stream):
        assert url.endswith("/images/get") and stream
        self.asked = params["names"]
        if self.fail:
            raise self.fail
        return Response(self.chunks)

    def _raise_for_status(self, resp):
        pass


class DestAPI:
    def __init__(self, answer=({"stream": "Loaded image: x\n"},)):
        self.answer, self.received = answer, b""

    def load_image(self, data):
        for chunk in data:
            self.received += chunk
        yield from self.answer


def test_copy_streams_every_image_in_one_save():
    src_api, dst_api = SourceAPI([b"a" * 1000, b"b" * 24]), DestAPI()
    seconds, sent = transfer.copy(Engine(api=src_api), Engine(api=dst_api), ["t:1", "debian:bookworm"])
    assert src_api.asked == ["t:1", "debian:bookworm"]
    assert sent == 1024 and dst_api.received == b"a" * 1000 + b"b" * 24
    assert seconds >= 0


def test_copy_of_nothing_asks_nothing():
    src_api = SourceAPI([b"x"])
    assert transfer.copy(Engine(api=src_api), Engine(api=DestAPI()), []) == (0.0, 0)
    assert src_api.asked is None


def test_a_load_error_is_an_engine_error():
    dst = Engine(api=DestAPI(({"error": "no space left on device"},)))
    with pytest.raises(EngineError) as exc:
        transfer.copy(Engine(api=SourceAPI([b"x"])), dst, ["t:1"])
    assert str(exc.value) == "docker load on the guest failed: no space left on device"


def test_an_api_error_is_an_engine_error_naming_the_destination():
    src = Engine(api=SourceAPI([], fail=docker.errors.APIError("500 Server Error: boom\nmore")))
    dst = Engine(api=DestAPI())
    dst.reprolab_url = "tcp://127.0.0.1:40123"
    with pytest.raises(EngineError) as exc:
        transfer.copy(src, dst, ["t:1"])
    assert str(exc.value) == "copying images to tcp://127.0.0.1:40123 failed: 500 Server Error: boom"
