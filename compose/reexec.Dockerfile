# Rendered by reprolab from scenarios/reexec.yaml, variant reexec-namespaces, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential ca-certificates golang-go lxc-dev pkg-config >/dev/null
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends golang-github-opencontainers-runc-dev golang-golang-x-sys-dev >/dev/null
RUN mkdir -p /out/bin
COPY scenarios/reexec/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
RUN ["sh", "-c", "go build -ldflags \"-X main.runcNsenterVersion=$(dpkg-query -W -f=\u0027${Version}\u0027 golang-github-opencontainers-runc-dev)\" -o /out/bin/reexec-repro ."]
RUN ["gcc", "-O2", "-Wall", "-pthread", "-o", "/out/bin/forklock", "forklock/forklock.c"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
COPY images/entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="reexec" org.reprolab.variant="reexec-namespaces" org.reprolab.suite="bookworm" org.reprolab.content-hash="278f43116e99d08f"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/reexec-repro", "--mode", "reexec-namespaces"]
