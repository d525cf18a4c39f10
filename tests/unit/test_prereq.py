from reprolab.common import capabilities
from reprolab.engines import engine
from reprolab.runs import prereq
from reprolab.scenarios.scenario import Requires


def test_kernel_tuple():
    assert prereq.kernel_tuple("6.18.44-fc-v782") == (6, 18, 44)
    assert prereq.kernel_tuple("5.10") == (5, 10, 0)
    assert prereq.kernel_tuple("4.19.0-27-amd64") == (4, 19, 0)


def test_cgroup_layouts():
    v1 = Requires(cgroup="v1")
    assert prereq.skip_reason(v1, {"cgroup": "hybrid"}) is None
    assert prereq.skip_reason(v1, {"cgroup": "v2"}) == "needs cgroup v1 hierarchies; this host's cgroup layout is v2"
    assert prereq.skip_reason(Requires(cgroup="v2"), {"cgroup": "hybrid"}) == \
        "needs the cgroup v2 unified hierarchy; this host's cgroup layout is hybrid"
    assert prereq.skip_reason(Requires(), {"cgroup": "v2"}) is None


def test_minimum_kernel():
    assert prereq.skip_reason(Requires(kernel="5.15"), {"kernel": "5.10.0-30-amd64"}) == \
        "needs kernel >= 5.15; this host runs 5.10.0-30-amd64"
    assert prereq.skip_reason(Requires(kernel="5.10"), {"kernel": "5.10.0-30-amd64"}) is None


def test_capability_missing_from_bounding_set():
    facts = {"cap_bounding_missing": ["SYS_RESOURCE"]}
    assert prereq.skip_reason(Requires(capabilities=("SYS_RESOURCE",)), facts) == \
        "needs capabilities the host's bounding set lacks: SYS_RESOURCE"
    assert prereq.skip_reason(Requires(capabilities=("SYS_ADMIN",)), facts) is None


def test_bounding_set_arithmetic():
    mask = capabilities.bounding_set("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    assert capabilities.missing_from(mask) == ("SYS_RESOURCE",)
    assert "SYS_ADMIN" in capabilities.from_mask(mask)


def test_cgroup_layout_detection(tmp_path):
    assert engine.cgroup_layout(tmp_path) == "v1"
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.procs").write_text("")
    assert engine.cgroup_layout(tmp_path) == "hybrid"
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    assert engine.cgroup_layout(tmp_path) == "v2"


def test_pull_failures_name_no_host():
    from reprolab.engines import bases
    msg = ('Get "https://registry.example/v2/": dial tcp: lookup registry.example on 10.0.0.1:53: no such host')
    assert bases.pull_failure(msg) == "no registry answers from this engine"
    assert bases.pull_failure("manifest for golang:9 not found: manifest unknown") == "the registry has no such image"
    assert bases.pull_failure("unexpected answer from mirror.example.org:5000") == "unexpected answer from <host>"
