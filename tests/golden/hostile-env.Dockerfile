# Rendered by reprolab from scenarios/outcomes.yaml, variant present, suite bookworm.
# Build stage: toolchains stay here; the run stage gets /out only.
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN mkdir -p /out/bin
COPY src/ /src/
WORKDIR /src
ENV GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=1
ENV AMP="a&b"
ENV BACKSLASHES="C:\\dir\\ end\\"
ENV DOLLAR_BRACE="\${HOME}x"
ENV DOLLAR_HOME="\$HOME"
ENV QUOTES="say \"hi\" it's"
ENV SUBST="\$(id) `id`"
ENV UNICODE="é ✓ 😀 <tag>"
ENV TRAILING_BACKSLASH_QUOTE="\\\""
RUN ["sh", "-c", "echo $HOME; id"]

# Run stage: the reproducer and its runtime libraries only.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
COPY entry.sh /opt/reprolab/entry.sh
COPY --from=build /out/ /opt/reprolab/
LABEL org.reprolab.scenario="outcomes" org.reprolab.variant="present" org.reprolab.suite="bookworm" org.reprolab.fixture="true" org.reprolab.content-hash="d03213ab7208df6a"
ENTRYPOINT ["/opt/reprolab/entry.sh"]
CMD ["/opt/reprolab/bin/fixture", "probe", "/etc/debian_version"]
