# syntax=docker/dockerfile:1
# The logpipe image: one binary, one subcommand per role (`logpipe collector`, ...).
#   docker build -t logpipe .

FROM rust:1-bookworm AS builder
# What the bundled librdkafka (rdkafka-sys with ssl, zstd and libz) builds with.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libssl-dev zlib1g-dev perl python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The toolchain pinned by rust-toolchain.toml, in its own layer so that source changes
# do not download it again.
COPY rust-toolchain.toml ./
RUN rustup toolchain install
COPY . .
# Registry and target directory live in cache mounts, so rebuilds are incremental; the
# binary is copied out of the cache because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin logpipe \
 && cp target/release/logpipe /usr/local/bin/logpipe

FROM debian:bookworm-slim
# libssl3 for librdkafka's TLS, ca-certificates for TLS to brokers and webhooks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 logpipe \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin logpipe \
 && mkdir -p /var/lib/logpipe \
 && chown 10001:10001 /var/lib/logpipe
COPY --from=builder /usr/local/bin/logpipe /usr/local/bin/logpipe
# Numeric, so that Kubernetes can verify runAsNonRoot without looking the name up.
USER 10001:10001
WORKDIR /var/lib/logpipe
ENV LOGPIPE_DATA_DIR=/var/lib/logpipe
EXPOSE 8080
ENTRYPOINT ["logpipe"]
