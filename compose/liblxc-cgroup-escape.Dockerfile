# Rendered by reprolab from scenarios/liblxc-cgroup-escape.yaml, variant link-liblxc, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential ca-certificates golang-go lxc-dev pkg-config >/dev/null
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends golang-github-opencontainers-runc-dev busybox-static >/dev/null
RUN mkdir -p /out/bin
COPY scenarios/liblxc-cgroup-escape/ /src/
COPY scenarios/_shared/cgmescape/cgmescape.c /src/_shared/cgmescape/cgmescape.c
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
RUN ["sh", "build.sh"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends liblxc1 >/dev/null && rm -rf /var/lib/apt/lists/*
COPY images/entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="liblxc-cgroup-escape" org.reprolab.variant="link-liblxc" org.reprolab.suite="bookworm" org.reprolab.content-hash="0da4f53217dd6ed6"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/repro", "--mode", "c", "--build", "liblxc"]
