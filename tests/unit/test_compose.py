from pathlib import Path

import yaml

from reprolab.exports import compose
from reprolab.scenarios import catalog

ROOT = Path(__file__).resolve().parents[2]


def test_committed_compose_files_are_fresh():
    stale = compose.stale(catalog.load_all(ROOT / "scenarios"), ROOT)
    assert stale == [], f"stale: {stale}; run 'python lab.py compose' and commit"


def test_one_service_per_scenario_with_lab_settings():
    everything = catalog.load_all(ROOT / "scenarios")
    files = compose.generate(everything)
    services = yaml.safe_load(files["docker-compose.yml"])["services"]
    # a scenario read by a rule needs the lab to read it: entry.sh only tells a verdict line's outcome
    scenarios = [s for s in everything if s.read_rule(s.variant(s.default_variant)) is None]
    assert "liblxc-cgroup-escape-plain-c" not in services and len(scenarios) == len(everything) - 1
    assert sorted(services) == sorted(s.name for s in scenarios)
    for sc in scenarios:
        svc = services[sc.name]
        assert svc["build"] == {"context": ".", "dockerfile": f"compose/{sc.name}.Dockerfile"}
        assert svc["network_mode"] == "none"
        assert "privileged" not in svc  # refused on some hosts: the explicit equivalent is used
        assert svc["environment"]["REPROLAB_EXPECT"] == sc.variant(sc.default_variant).expect
        assert "/var/run/docker.sock" not in files["docker-compose.yml"]
        dockerfile = files[f"compose/{sc.name}.Dockerfile"]
        assert f"COPY scenarios/{sc.name}/ /src/" in dockerfile and "COPY images/entry.sh" in dockerfile


def test_fixture_service_in_the_emulated_privileged_form(tmp_path):
    from dataclasses import replace
    from reprolab.scenarios.scenario import Requires
    sc = catalog.load_one(ROOT / "tests" / "fixtures" / "scenarios" / "outcomes.yaml")
    svc = compose.service(replace(sc, requires=Requires(privileged=True)))
    assert svc["cap_add"] == ["ALL"] and svc["cap_drop"] == ["SYS_RESOURCE"]
    assert svc["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]
    assert svc["device_cgroup_rules"] == ["a *:* rwm"] and svc["cgroup"] == "private"
    assert svc["environment"] == {"REPROLAB_REMOUNT": "1", "REPROLAB_EXPECT": "reproduced"}


def test_run_time_env_survives_compose_interpolation():
    from dataclasses import replace
    sc = catalog.load_one(ROOT / "tests" / "fixtures" / "scenarios" / "outcomes.yaml")
    v = replace(sc.variant("present"), env=(("HOME_REF", "$HOME ${X} a&b"), ("Q", 'say "hi" \\')))
    sc = replace(sc, variants=tuple(v if x.name == "present" else x for x in sc.variants))
    text = compose.generate([sc])["docker-compose.yml"]
    env = yaml.safe_load(text)["services"]["outcomes"]["environment"]
    assert env == {"HOME_REF": "$$HOME $${X} a&b", "Q": 'say "hi" \\', "REPROLAB_EXPECT": "reproduced"}
