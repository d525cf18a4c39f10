"""The engine-error boundary: engine failures become EngineError; answers the caller handles do not."""

import docker
import pytest
import requests

from reprolab.engines import build, engine_errors
from reprolab.common.errors import EngineError, UserError


class Images:
    def __init__(self, exc):
        self.exc = exc

    def get(self, tag):
        raise self.exc


class Client:
    reprolab_url = "tcp://engine:2375"

    def __init__(self, exc):
        self.images = Images(exc)


class Ctx:
    tag, content_hash = "reprolab/x:y-bookworm", "h"


def test_an_image_the_engine_does_not_have_is_not_an_engine_failure():
    assert build.reusable(Client(docker.errors.ImageNotFound("no such image")), Ctx(), "base") == ""


def test_a_dead_engine_while_looking_for_reuse_is_an_engine_error():
    with pytest.raises(EngineError, match=r"^the Docker engine at tcp://engine:2375 failed while looking up "
                                          r"reprolab/x:y-bookworm \(connection refused\); check the engine"):
        build.reusable(Client(requests.exceptions.ConnectionError("connection refused")), Ctx(), "base")


def test_the_labs_own_errors_pass_through_the_boundary():
    with pytest.raises(UserError, match="^mine$"):
        with engine_errors.boundary("doing a thing"):
            raise UserError("mine")
    with pytest.raises(ZeroDivisionError):  # a bug is not dressed up as the engine's failure
        with engine_errors.boundary("doing a thing"):
            1 / 0
