"""Linux capability names and the bounding-set arithmetic used to emulate privileged mode."""

# Index = capability number (linux/capability.h), without the CAP_ prefix as Docker spells them.
NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)


def from_mask(mask):
    """Capability names whose bits are set in `mask` (as /proc/PID/status prints CapBnd)."""
    return tuple(name for bit, name in enumerate(NAMES) if mask >> bit & 1)


def missing_from(mask):
    """Names Docker knows that the bounding set `mask` lacks: what cannot be granted on that host."""
    return tuple(name for bit, name in enumerate(NAMES) if not mask >> bit & 1)


def bounding_set(status_text):
    """Parse CapBnd out of a /proc/PID/status text; None when absent."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return None
