# Rendered by reprolab from scenarios/pidfd-leak.yaml, variant findprocess, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential ca-certificates golang-go lxc-dev pkg-config >/dev/null
RUN mkdir -p /out/bin
COPY scenarios/pidfd-leak/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
ENV CGO_ENABLED="0"
RUN ["go", "build", "-o", "/out/bin/repro", "./main.go"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
COPY images/entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="pidfd-leak" org.reprolab.variant="findprocess" org.reprolab.suite="bookworm" org.reprolab.content-hash="4557b2cd3a818236"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/repro", "--mode", "findprocess", "--n", "100"]
