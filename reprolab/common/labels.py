"""The names of every label the lab puts on containers and images: one place, so that what one
module writes another can find (the session labels, `clean` filters, tests look up)."""

PREFIX = "org.reprolab"

# containers of a run, and what they run
RUN = f"{PREFIX}.run"
SCENARIO = f"{PREFIX}.scenario"
VARIANT = f"{PREFIX}.variant"
SUITE = f"{PREFIX}.suite"
PROBE = f"{PREFIX}.probe"  # the short-lived container that asks whether privileged mode works
ROOTSTEP = f"{PREFIX}.rootstep"  # a step that needs root, run in a container for a lab run as a user

# who made a container: `clean` removes it only when that process is gone
OWNER_HOST = f"{PREFIX}.owner.host"
OWNER_BOOT_ID = f"{PREFIX}.owner.boot-id"
OWNER_PID = f"{PREFIX}.owner.pid"
OWNER_START = f"{PREFIX}.owner.start"  # the pid's start time, in clock ticks since boot: pids get reused

# images
CONTENT_HASH = f"{PREFIX}.content-hash"
BASE_ID = f"{PREFIX}.base-id"
BASE_ORIGIN = f"{PREFIX}.base.origin"
BASE_SUITE = f"{PREFIX}.base.suite"
# an image of a scenario tagged `fixture` (the test suite's own scenarios): scripts/clean-test-images.sh
# removes exactly these, so that tests meet the engine as a fresh machine has it
FIXTURE = f"{PREFIX}.fixture"
FIXTURE_TAG = "fixture"

# toolchain images, one per release of a version axis (reprolab/toolchain-go:1.23.1)
TOOLCHAIN = f"{PREFIX}.toolchain"  # the axis: go
TOOLCHAIN_RELEASE = f"{PREFIX}.toolchain.release"  # the source's name of the release: 1.23.3.1
TOOLCHAIN_VERSION = f"{PREFIX}.toolchain.version"  # what the toolchain says it is: go1.23.3
TOOLCHAIN_SHA256 = f"{PREFIX}.toolchain.sha256"  # of the wheel it was unpacked from
RELEASE = f"{PREFIX}.release"  # + .<axis> on a scenario image: the release it was built with
TOOLS = f"{PREFIX}.tools"  # the host-tools image of root steps (engines/rootstep.py)
