# The storage proxy, both editions, as the seed deploys them.
#   docker build -t storage-proxy .
#   docker run -v "$PWD/storage:/app/storage" storage-proxy          # Personal Edition: SQLite in the volume
# The Enterprise Edition (PostgreSQL + Redis, agents over TCP) is docker-compose.yml.

# --- build: the Swift toolchain image, with the C libraries' headers
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1-dev libhiredis-dev libpq-dev libsqlite3-dev libcurl4-openssl-dev libh2o-dev libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The commit --version and /metrics report (the build context has no .git):
#   docker build --build-arg COMMIT="$(git rev-parse --short=12 HEAD)" -t storage-proxy .
ARG COMMIT=unknown
ENV STORAGE_PROXY_COMMIT=$COMMIT
COPY Package.swift ./
RUN swift package resolve
COPY Sources Sources
RUN swift build -c release --static-swift-stdlib --product storage-proxy \
 && cp "$(swift build -c release --show-bin-path)/storage-proxy" /usr/local/bin/storage-proxy

# --- run: slim Debian with the runtime libraries only
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libhiredis0.14 libpq5 libsqlite3-0 libcurl4 libh2o0.13 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app --uid 10001 proxy \
 && mkdir -p /app/storage && chown proxy /app/storage
COPY --from=build /usr/local/bin/storage-proxy /usr/local/bin/storage-proxy
COPY config /app/config
WORKDIR /app
USER proxy
VOLUME /app/storage
# Personal Edition by default: SQLite at /app/storage/data.db, socket /app/storage/proxy.sock.
ENTRYPOINT ["storage-proxy"]
CMD ["serve"]
HEALTHCHECK --interval=10s --timeout=5s --retries=5 \
  CMD ["storage-proxy", "call", "health_check", "--address", "unix:///app/storage/proxy.sock"]
