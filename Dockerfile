# Synap container image: a Rust build stage and a small Debian runtime.
#
#   docker build -t synap:0.1.0 .
#   docker run --rm -p 6379:6379 -p 15500:15500 \
#     --security-opt seccomp=unconfined --ulimit memlock=-1 --ulimit nofile=1000000 synap:0.1.0
#
# io_uring: Docker's default seccomp profile blocks the io_uring system calls Synap's
# executors need, hence seccomp=unconfined (or a profile that allows io_uring_setup,
# io_uring_enter and io_uring_register). Bound to 0.0.0.0 in the container and with no API key,
# protected mode serves only clients inside the container: create the first key with
#   docker exec <container> synap-admin create-api-key --name admin --role admin

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin synap-server --bin synap-admin \
 && strip target/release/synap-server target/release/synap-admin

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 999 synap \
 && useradd --system --uid 999 --gid synap --home-dir /var/lib/synap --shell /usr/sbin/nologin synap \
 && mkdir -p /etc/synap/tls /var/lib/synap /var/lib/synap-replica-1 /var/lib/synap-replica-2 \
 && chown synap:synap /var/lib/synap /var/lib/synap-replica-1 /var/lib/synap-replica-2 \
 && chmod 0750 /var/lib/synap /var/lib/synap-replica-1 /var/lib/synap-replica-2
COPY --from=build /src/target/release/synap-server /src/target/release/synap-admin /usr/local/bin/
COPY config/config-standalone.yml /etc/synap/config.yml
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 999:999
WORKDIR /var/lib/synap
# RESP, HTTP (/health, /metrics), replication.
EXPOSE 6379 15500 15501
VOLUME ["/var/lib/synap"]
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:15500/health || exit 1
# --bind 0.0.0.0: reachable from outside the container whatever the mounted config says.
CMD ["synap-server", "--config", "/etc/synap/config.yml", "--bind", "0.0.0.0", "--data-dir", "/var/lib/synap"]
