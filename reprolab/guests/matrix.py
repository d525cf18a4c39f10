"""The kernel matrix: each --kernel × --cgroup is a guest, an engine the lab starts itself.

A guest endpoint boots its kernel (guest.py), waits for its engine, receives the images the lab's own
engine built (transfer.py) and hands a client to the ordinary session, with the guest's facts for
the record. Images are never built in a guest: the session there only reuses what was sent.
"""

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from reprolab.engines import engine, speed, transfer
from reprolab.guests import guest, kernels, qemu
from reprolab.common.errors import UserError

HOST = "host"


class Plan:
    """What the user asked for, resolved before anything boots: [(Kernel or HOST, cgroup)]."""

    def __init__(self, specs, cgroups, modules="", progress=lambda msg: None):
        cgroups = list(dict.fromkeys(cgroups or ["v2"]))
        for cg in cgroups:
            if cg not in qemu.CGROUPS:
                raise UserError(f"--cgroup {cg}: choose v1 or v2")
        self.entries = []
        chosen = {}
        for spec in dict.fromkeys(specs):
            if spec == HOST:
                self.entries.append((HOST, None))
                continue
            chosen[spec] = kernels.choose(spec, modules, progress)  # unknown names fail here, nothing booted
        for spec, choice in chosen.items():
            k = kernels.fetch(choice, progress)
            for cg in cgroups:
                self.entries.append((k, cg))

    @property
    def guests(self):
        return [(k, cg) for k, cg in self.entries if k != HOST]


class Endpoints:
    """Shared by one run's endpoints: at most `jobs` engines in use at once, and who overlapped whom
    (a race's rate can change when a guest runs beside it; the record says so)."""

    def __init__(self, jobs=1):
        self.slots = threading.Semaphore(jobs)
        self.lock = threading.Lock()
        self.active = {}  # name -> the list of names that ran beside it (its record holds the same list)
        self.stopped = threading.Event()

    @contextmanager
    def slot(self, name, beside):
        with self.slots:
            with self.lock:
                for other, their in self.active.items():
                    their.append(name)
                    beside.append(other)
                self.active[name] = beside
            try:
                yield
            finally:
                with self.lock:
                    self.active.pop(name, None)


class LocalEndpoint:
    """The lab's own engine as one column of the matrix (`--kernel host`)."""

    def __init__(self, shared):
        self.name, self.shared, self.facts = HOST, shared, {"ran_beside": []}

    @contextmanager
    def engine(self, progress):
        with self.shared.slot(self.name, self.facts["ran_beside"]):
            yield engine.connect(), self.facts


class GuestEndpoint:
    """A qemu guest of one kernel and cgroup layout, given the images the lab's engine built."""

    def __init__(self, kernel, cgroup, images, source, results_dir, shared, memory_mb=2048, cpus=2,
                 boot_timeout=guest.BOOT_TIMEOUT, images_disk=None, images_disk_seconds=0.0):
        self.kernel, self.cgroup, self.images, self.source = kernel, cgroup, images, source
        self.images_disk = images_disk
        self.name = f"{kernel.spec}/{cgroup}"
        # beside the run's logs, named relative to the results folder as variant logs are
        rel = Path("logs") / "guests" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{kernel.release}-{cgroup}.console.log"
        self.console = Path(results_dir) / rel
        self.shared, self.memory_mb, self.cpus, self.boot_timeout = shared, memory_mb, cpus, boot_timeout
        self.facts = {"host_label": f"guest {kernel.release} {cgroup}", "guest": {
            "kernel_spec": kernel.spec, "kernel_release": kernel.release, "kernel_origin": kernel.origin,
            "cgroup": cgroup, "memory_mb": memory_mb, "cpus": cpus, "console_log": str(rel), "ran_beside": [],
            "image_disk": Path(images_disk).name if images_disk else None, "image_disk_seconds": images_disk_seconds}}

    @contextmanager
    def engine(self, progress):
        g = self.facts["guest"]
        with self.shared.slot(self.name, g["ran_beside"]):
            accel, why = guest.accelerator(self.kernel.image, progress)
            g.update(accel=accel, accel_reason=why, qemu=guest.qemu_version())
            try:
                with guest.booted(self.kernel, self.cgroup, self.console, self.memory_mb, self.cpus, accel,
                                  progress, boot_timeout=self.boot_timeout,
                                  stop=self.shared.stopped.is_set, images_disk=self.images_disk) as vm:
                    g["boot_seconds"] = vm.boot_seconds
                    progress(f"engine answers after {vm.boot_seconds:.0f} s")
                    client = engine.connect(vm.url)
                    # the image disk normally holds them all; whatever it lacks goes through docker load
                    todo = transfer.missing(client, self.images)
                    g["images_on_disk"] = len(self.images) - len(todo)
                    if todo:
                        progress(f"transfer: {len(todo)} image(s) not on the guest; sending them")
                    seconds, sent = transfer.copy(self.source, client, todo, progress)
                    g.update(transfer_seconds=seconds, transfer_bytes=sent, images_sent=len(todo))
                    if todo:
                        progress(f"transfer: {sent >> 20} MiB in {seconds:.0f} s")
                    yield client, self.facts
            except BaseException:
                g["console_tail"] = guest.console_tail(self.console, 40)
                raise


class Prepared:
    """A run's matrix, ready to boot: its endpoints, how to stop them, {tag: why not sent}, and the
    client of the lab's own engine it used."""

    def __init__(self, endpoints, stop, missing, local):
        self.endpoints, self.stop, self.missing, self.local = endpoints, stop, missing, local


def prepare(specs, cgroups, targets, results_dir, modules="", jobs=1, memory_mb=2048, cpus=2,
            boot_timeout=guest.BOOT_TIMEOUT, build_timeout=None, progress=lambda msg: None):
    """Resolve the kernels (an unknown one fails here: nothing boots), check tools and memory, build
    every image on the lab's engine and put them on an image disk; the endpoints, one per kernel ×
    layout (and one for `host`)."""
    from reprolab.guests import imagedisk
    plan = Plan(specs, cgroups, modules, progress)
    local = engine.connect()
    images, missing, disk, disk_seconds = {}, {}, None, 0.0
    if plan.guests:
        guest.require_tools()
        guest.check_memory(min(len(plan.guests), jobs), memory_mb)
        images, missing = images_for_guests(local, targets, progress, build_timeout)
        if images:
            disk, disk_seconds = imagedisk.disk_for(images, local, progress)
    shared = Endpoints(jobs)
    endpoints = [LocalEndpoint(shared) if kernel == HOST else
                 GuestEndpoint(kernel, cgroup, images, local, results_dir, shared, memory_mb, cpus, boot_timeout,
                               disk, disk_seconds)
                 for kernel, cgroup in plan.entries]
    return Prepared(endpoints, shared.stopped.set, missing, local)


def images_for_guests(local, targets, progress=lambda msg: None, timeout=None):
    """Build every target on the lab's own engine: ({tag or base: image id} to send, {tag: why missing})."""
    from reprolab.engines import bases, build
    images, missing = {}, {}
    kwargs = {"timeout": timeout} if timeout else {}
    for tb in build.build_targets(local, targets, progress, **kwargs):
        if tb.built is not None and tb.built.ok:
            images[tb.tag] = tb.built.image_id
            base = tb.target.recipe.base
            if base not in images:  # once per base, not once per image built on it
                base_id = bases.image_id(local, base)
                if base_id:
                    images[base] = base_id
        else:
            why = tb.skipped or (tb.built.log_tail.splitlines() or ["build failed"])[-1]
            missing[tb.tag] = f"the image did not build on the lab's engine, so no guest has it: {why[:300]}"
    # the speed calibration's image (engines.speed) goes with them: each guest measures itself once
    base = next((b for b in ("debian:bookworm", "debian:trixie", "debian:bullseye") if b in images), "")
    if base:
        image_id, why = speed.ensure_image(local, base, images[base], progress)
        if image_id:
            images[speed.TAG] = image_id
        else:
            progress(f"{why}; the guests' budgets will stay as written")
    return images, missing
