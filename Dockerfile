# syntax=docker/dockerfile:1
# The logpipe image: one binary, one subcommand per role (`logpipe collector`, ...).
#   docker build -t logpipe \
#     --build-arg LOGPIPE_BUILD_COMMIT="$(git rev-parse HEAD)" \
#     --build-arg LOGPIPE_BUILD_DIRTY="$(git diff --quiet HEAD && echo false || echo true)" .
# The build context leaves .git out, so the commit comes in as a build argument: it is
# what `logpipe --version`, the startup line and `logpipe_build_info` report, and the
# image's `org.opencontainers.image.revision`.

# Base images, pinned by digest so that a build uses the image that was reviewed, not
# whatever the tag points to on the day. To move to newer images, review them, take the
# tags' current digests with
#   docker buildx imagetools inspect rust:1-bookworm --format '{{json .Manifest.Digest}}'
#   docker buildx imagetools inspect debian:bookworm-slim --format '{{json .Manifest.Digest}}'
# and update both (or override them per build with --build-arg RUST_IMAGE=...
# --build-arg RUNTIME_IMAGE=...). The toolchain itself is rust-toolchain.toml's.
ARG RUST_IMAGE=rust:1-bookworm@sha256:93ce27a88655056a51dbdd8f5f2d7ddc071c7b0070fb288a37b5a285fc83971e
ARG RUNTIME_IMAGE=debian:bookworm-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c

FROM ${RUST_IMAGE} AS builder
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
# Read by build.rs where there is no .git.
ARG LOGPIPE_BUILD_COMMIT=unknown
ARG LOGPIPE_BUILD_DIRTY=unknown
# Registry and target directory live in cache mounts, so rebuilds are incremental; the
# binary is copied out of the cache because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin logpipe \
 && cp target/release/logpipe /usr/local/bin/logpipe

FROM ${RUNTIME_IMAGE}
# libssl3 for librdkafka's TLS, ca-certificates for TLS to brokers and webhooks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 logpipe \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin logpipe \
 && mkdir -p /var/lib/logpipe \
 && chown 10001:10001 /var/lib/logpipe
COPY --from=builder /usr/local/bin/logpipe /usr/local/bin/logpipe
# OCI annotations: which code the image holds and where it comes from. The version is
# the workspace's (Cargo.toml), checked by the end-to-end tests.
ARG LOGPIPE_BUILD_COMMIT=unknown
ARG LOGPIPE_VERSION=0.1.0
ARG LOGPIPE_SOURCE=https://github.com/logpipe/logpipe
LABEL org.opencontainers.image.title="logpipe" \
      org.opencontainers.image.description="Kubernetes log aggregation pipeline: collector, indexer, query, alerting" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${LOGPIPE_VERSION}" \
      org.opencontainers.image.revision="${LOGPIPE_BUILD_COMMIT}" \
      org.opencontainers.image.source="${LOGPIPE_SOURCE}"
# Numeric, so that Kubernetes can verify runAsNonRoot without looking the name up.
USER 10001:10001
WORKDIR /var/lib/logpipe
ENV LOGPIPE_DATA_DIR=/var/lib/logpipe
EXPOSE 8080
ENTRYPOINT ["logpipe"]
