# syntax=docker/dockerfile:1

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The version authgate --version prints, e.g. --build-arg VERSION=v1.2.3.
# Empty, it prints "devel" (.git is not copied into the build).
ARG VERSION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-X main.version=${VERSION}" -o /authgate ./cmd/authgate
# The working directory of the final image: where a SQLite database, its
# secret file and the mail outbox live when PostgreSQL and SMTP are not used.
RUN mkdir -p /data

# distroless/static has CA certificates and time zone data, no shell, and
# runs as uid 65532 under the :nonroot tag.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /authgate /authgate
COPY --from=build --chown=65532:65532 /data /var/lib/authgate
WORKDIR /var/lib/authgate
USER nonroot:nonroot
# In a container the public listener must listen on every interface to be
# reached through a published port (bare metal keeps the loopback
# default). The admin listener stays on the container's loopback unless
# AUTHGATE_ADMIN_LISTEN says otherwise: publish it only to the host's
# loopback, and set AUTHGATE_ADMIN_URL to where a browser reaches it
# (docker-compose.yml does both).
ENV AUTHGATE_LISTEN=0.0.0.0:8080
EXPOSE 8080 8081
# No shell or curl in distroless: the binary asks its own listener for
# /health/ready (exit 0 ready, 1 not).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/authgate", "healthcheck", "--timeout", "3s"]
ENTRYPOINT ["/authgate"]
CMD ["serve"]
