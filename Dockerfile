# syntax=docker/dockerfile:1
#
# extauth container image: a release build in a Rust image, copied into a small distroless
# runtime (glibc, CA certificates, no shell) that runs as a non-root user.
#
#   docker build -t extauth:0.1.0 .
#   docker run --rm -p 8083:8083 -p 9091:9091 -v "$PWD/config:/etc/extauth:ro" extauth:0.1.0
#
# The config directory /etc/extauth is a volume: mount your AuthConfig, VirtualService and
# Upstream files there (read-only is enough; extauth reloads them when they change).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin extauth \
    && cp target/release/extauth /extauth

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /extauth /usr/local/bin/extauth
# the bundled example (the seed tutorial's files); replace it by mounting your own directory
COPY config/ /etc/extauth/
ENV EXTAUTH_CONFIG_DIR=/etc/extauth \
    EXTAUTH_LISTEN=0.0.0.0:8083 \
    EXTAUTH_ADMIN_LISTEN=0.0.0.0:9091
VOLUME ["/etc/extauth"]
# 8083: checks from Envoy; 9091: admin (/healthz, /readyz, /metrics)
EXPOSE 8083 9091
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/extauth", "healthcheck", "--path", "/readyz", "--timeout", "2s"]
ENTRYPOINT ["/usr/local/bin/extauth"]
CMD ["serve", "--config-dir", "/etc/extauth"]
