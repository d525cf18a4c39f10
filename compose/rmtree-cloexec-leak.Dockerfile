# Rendered by reprolab from scenarios/rmtree-cloexec-leak.yaml, variant model-go1.12-openat, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential ca-certificates golang-go lxc-dev pkg-config >/dev/null
RUN mkdir -p /out/bin
COPY scenarios/rmtree-cloexec-leak/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
RUN ["go", "build", "-o", "/out/bin/repro-go", "./go/main.go"]
RUN ["gcc", "-O2", "-Wall", "-pthread", "-o", "/out/bin/repro-c", "c/openat_leak.c"]
RUN ["install", "-m", "0755", "repro.sh", "/out/bin/repro"]
RUN ["install", "-m", "0644", "python/rmtree_leak.py", "/out/bin/rmtree_leak.py"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
COPY images/entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="rmtree-cloexec-leak" org.reprolab.variant="model-go1.12-openat" org.reprolab.suite="bookworm" org.reprolab.content-hash="3980cb76e3935bf5"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/repro", "go", "--mode", "openat-no-cloexec"]
