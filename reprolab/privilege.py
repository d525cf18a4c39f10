"""Privileged mode where the host grants it, else the explicit settings that amount to it.

Some hosts lack a capability in the bounding set (CAP_SYS_RESOURCE on the lab's build machine), and
`--privileged` then fails with 'unable to apply caps'. The equivalent used instead: every grantable
capability, no seccomp/AppArmor confinement, unmasked /proc and /sys paths, access to every device,
and a private cgroup namespace; the image's entry point remounts /sys and the cgroups read-write.
"""

import docker

PRIVILEGED, EMULATED, CAPABILITIES = "privileged", "emulated", "capabilities"


def probe(client, image):
    """(True, '') when a privileged container starts on this engine, else (False, the engine's reason)."""
    try:
        client.containers.run(image, ["true"], privileged=True, remove=True, network_mode="none",
                              labels={"org.reprolab.probe": "privileged"})
        return True, ""
    except docker.errors.ContainerError as exc:
        return False, str(exc).strip()[:300]
    except docker.errors.APIError as exc:
        return False, (exc.explanation or str(exc)).strip()[:300]
