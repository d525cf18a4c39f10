"""Which engine URLs are on this machine (whose /proc shows their containers' pids)."""

import types

import pytest

from reprolab.engines import engine


@pytest.mark.parametrize("url, local", [
    ("unix:///var/run/docker.sock", True),
    ("unix:///run/user/1000/docker.sock", True),
    ("http+docker://localhost", True),
    ("http+docker://localunixsocket", True),
    ("tcp://unixbuild01:2375", False),
    ("http://unixbuild01:2375", False),
    ("https://unix.example:2376", False),
    ("tcp://127.0.0.1:2375", False),  # may be a port forwarded into a guest
    ("ssh://user@unixhost", False),
    ("http+docker://ssh", False),
    ("http+docker://localhost.example.com", False),
    ("", False),
])
def test_is_local_url(url, local):
    assert engine.is_local_url(url) is local


def test_is_local_prefers_the_url_the_user_gave():
    ssh = types.SimpleNamespace(reprolab_url="ssh://u@h", api=types.SimpleNamespace(base_url="http+docker://ssh"))
    sock = types.SimpleNamespace(api=types.SimpleNamespace(base_url="http+docker://localhost"))
    tcp = types.SimpleNamespace(reprolab_url="tcp://unixbuild01:2375",
                                api=types.SimpleNamespace(base_url="http://unixbuild01:2375"))
    assert [engine.is_local(c) for c in (ssh, sock, tcp)] == [False, True, False]
