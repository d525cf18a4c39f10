"""Guests: engines the lab starts itself in qemu with a chosen kernel and cgroup layout. Debian
kernels and the archive, root and image disks, the initramfs, qemu argv (pure), the guest
lifecycle, and the matrix of kernels x layouts offered to a run as endpoints.

May import: common, versions, engines. Never runs: a guest reaches a run only as an endpoint."""
