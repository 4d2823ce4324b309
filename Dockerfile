# syntax=docker/dockerfile:1

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o /authgate ./cmd/authgate
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
EXPOSE 8080 8081
ENTRYPOINT ["/authgate"]
CMD ["serve"]
