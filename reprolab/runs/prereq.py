"""Does this host meet a scenario's declared prerequisites? A reason to skip, or None."""


def kernel_tuple(release):
    parts = []
    for piece in release.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def skip_reason(requires, facts):
    layout = facts.get("cgroup") or "v1"
    if requires.cgroup == "v1" and layout not in ("v1", "hybrid"):
        return f"needs cgroup v1 hierarchies; this host's cgroup layout is {layout}"
    if requires.cgroup == "v2" and layout != "v2":
        return f"needs the cgroup v2 unified hierarchy; this host's cgroup layout is {layout}"
    if requires.kernel and facts.get("kernel"):
        if kernel_tuple(facts["kernel"]) < kernel_tuple(requires.kernel):
            return f"needs kernel >= {requires.kernel}; this host runs {facts['kernel']}"
    missing = facts.get("cap_bounding_missing") or []
    lacking = [c for c in requires.capabilities if c in missing]
    if lacking and not requires.privileged:
        return f"needs capabilities the host's bounding set lacks: {', '.join(lacking)}"
    return None
