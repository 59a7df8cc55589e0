# Tessera server image. Two targets:
#   runtime (default) — the `tessera` binary alone; the HSM vendor's PKCS#11 module is mounted in.
#   trial             — adds SoftHSM2 and OpenSC, for trying the deployment without an HSM.
# Build:  docker build -t tessera .        docker build --target trial -t tessera:trial .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY hsm hsm
COPY server server
COPY sdk sdk
COPY bench bench
COPY tests tests
COPY migrations migrations
RUN cargo build --release --locked --bin tessera \
 && install -m 0755 target/release/tessera /usr/local/bin/tessera

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid tessera --home-dir /var/lib/tessera --create-home tessera
COPY --from=build /usr/local/bin/tessera /usr/local/bin/tessera
USER tessera:tessera
WORKDIR /var/lib/tessera
ENV TESSERA_DATA_DIR=/var/lib/tessera \
    TESSERA_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["tessera"]
CMD ["serve"]

FROM runtime AS trial
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 opensc \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/softhsm/tokens \
 && chown -R tessera:tessera /var/lib/softhsm /etc/softhsm
USER tessera:tessera
