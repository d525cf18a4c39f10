# Rendered by reprolab from scenarios/lxc-fd-race.yaml, variant model-liblxc-1.0, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential ca-certificates golang-go lxc-dev pkg-config >/dev/null
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends golang-gopkg-lxc-go-lxc.v2-dev golang-golang-x-sys-dev >/dev/null
RUN mkdir -p /out/bin
COPY scenarios/lxc-fd-race/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
RUN ["go", "build", "-o", "/out/bin/lxc-fd-race-go", "main.go"]
RUN ["sh", "-c", "dpkg-query -W -f \u0027${Version}\u0027 golang-gopkg-lxc-go-lxc.v2-dev \u003e /out/bin/go-lxc.version"]
RUN ["gcc", "-O2", "-Wall", "-pthread", "-o", "/out/bin/lxc-fd-race-model", "model.c"]
RUN ["install", "-m", "0755", "run", "setup-lxc.sh", "lxc_fd_race.py", "/out/bin/"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends lxc python3-lxc busybox-static >/dev/null && rm -rf /var/lib/apt/lists/*
COPY images/entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="lxc-fd-race" org.reprolab.variant="model-liblxc-1.0" org.reprolab.suite="bookworm" org.reprolab.content-hash="917baf94ab1734b9"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/run", "model-1.0", "--attempts", "20"]
