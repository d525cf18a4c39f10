"""Pure: a variant → the settings of its container, and the same as a `docker run` command line."""

from reprolab.engines.privilege import CAPABILITIES, EMULATED, PRIVILEGED
from reprolab.common import labels

LOG_MAX = "20m"  # the engine keeps at most this much output per container: a flood cannot fill the disk


def container_options(scenario, variant, recipe, tag, run_id, privilege_mode, missing_caps=()):
    """Keyword arguments for docker-py's containers.create for one variant on one base."""
    req = scenario.requires
    env = dict(variant.env)
    opts = {
        "image": tag,
        "detach": True,
        "labels": {
            labels.RUN: run_id,
            labels.SCENARIO: scenario.name,
            labels.VARIANT: variant.name,
            labels.SUITE: recipe.suite or recipe.base,
        },
        "network_mode": "bridge" if req.network else "none",
        "mem_limit": scenario.memory_of(variant),
        "memswap_limit": scenario.memory_of(variant),
        "pids_limit": scenario.pids,
        "log_config": {"type": "json-file", "config": {"max-size": LOG_MAX, "max-file": "1"}},
        "cgroupns": req.cgroupns,
    }
    security = []
    if req.privileged and privilege_mode == PRIVILEGED:
        opts["privileged"] = True
    elif req.privileged:
        opts["cap_add"] = ["ALL"]
        if missing_caps:
            opts["cap_drop"] = sorted(missing_caps)
        security = ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]
        opts["device_cgroup_rules"] = ["a *:* rwm"]
        env["REPROLAB_REMOUNT"] = "1"
    else:
        if req.base_capabilities == "none":
            opts["cap_drop"] = ["ALL"]
        if req.capabilities:
            opts["cap_add"] = sorted(req.capabilities)
        if req.no_new_privileges:
            security.append("no-new-privileges")
        if req.user:
            opts["user"] = req.user
        if req.seccomp == "unconfined":
            security.append("seccomp=unconfined")
        if req.apparmor == "unconfined":
            security.append("apparmor=unconfined")
        if req.writable_cgroups:
            env["REPROLAB_REMOUNT"] = "1"
    if security:
        opts["security_opt"] = security
    if env:
        opts["environment"] = dict(sorted(env.items()))
    rule = scenario.read_rule(variant)
    if getattr(rule, "source", "") == "both" and not rule.file:
        # stdout and stderr are two pipes: nothing that reads them (the engine's log included) can
        # tell which line came first. One pipe keeps the order, as `repro 2>&1` would.
        opts["command"] = ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", *scenario.run_command, *variant.args]
    return opts


def privilege_mode(scenario, privileged_ok):
    if scenario.requires.privileged:
        return PRIVILEGED if privileged_ok else EMULATED
    return CAPABILITIES


def docker_argv(opts, name=None):
    """The `docker run` command equivalent to `opts`: what a maintainer can paste to replay a variant."""
    argv = ["docker", "run", "--rm"]
    if name:
        argv += ["--name", name]
    argv += [f"--network={opts['network_mode']}"]
    if opts.get("privileged"):
        argv.append("--privileged")
    drop_all = opts.get("cap_drop") == ["ALL"]
    if drop_all:  # read as: nothing, then the added ones
        argv += ["--cap-drop", "ALL"]
    for cap in opts.get("cap_add", []):
        argv += ["--cap-add", cap]
    for cap in [] if drop_all else opts.get("cap_drop", []):
        argv += ["--cap-drop", cap]
    for sec in opts.get("security_opt", []):
        argv += ["--security-opt", sec]
    for rule in opts.get("device_cgroup_rules", []):
        argv.append(f"--device-cgroup-rule={rule}")
    if opts.get("user"):
        argv += ["--user", opts["user"]]
    argv.append(f"--cgroupns={opts['cgroupns']}")
    argv += [f"--memory={opts['mem_limit']}", f"--memory-swap={opts['memswap_limit']}",
             f"--pids-limit={opts['pids_limit']}"]
    for key, value in opts.get("environment", {}).items():
        argv += ["-e", f"{key}={value}"]
    argv.append(opts["image"])
    return argv + list(opts.get("command", []))
