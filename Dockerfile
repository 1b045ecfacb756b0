# blockade as a container image: the image the README's Kubernetes Indexed Job runs.
#
#   podman build -t blockade .        (or: docker build -t blockade .)
#   podman run --rm blockade --version
#   podman run --rm blockade block /fixtures/contacts.csv --block-for 7d --sandbox
#
# Stage 1 builds the release binary; stage 2 is a small Debian with only the CA
# certificates (the client trusts the platform's store: /etc/ssl/certs) and the binary,
# run as an unprivileged user.

# The base images are arguments, so that a machine with no access to Docker Hub can use
# local copies (see the README: "Building the image with no registry").
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The manifest and lock first, so that the dependency download is a cached layer that
# only a Cargo.lock change invalidates.
COPY Cargo.toml Cargo.lock ./
# A stub for every target path that Cargo.toml declares ([lib], [[bin]], [[test]],
# [[bench]]), so that the manifest is whole for any cargo command in this layer (cargo
# 1.95's fetch does not open them itself); keep the list in step with Cargo.toml.
RUN mkdir -p src benches tests && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in reader end_to_end goodput; do echo 'fn main() {}' > benches/$b.rs; done \
    && touch tests/tests.rs \
    && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin blockade \
    && strip target/release/blockade

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 blockade \
    && useradd --system --uid 10001 --gid 10001 --home-dir /work --create-home \
        --shell /usr/sbin/nologin blockade
COPY --from=build /src/target/release/blockade /usr/local/bin/blockade
COPY fixtures/contacts.csv fixtures/contacts.jsonl /fixtures/
USER 10001:10001
# The ledger (blockade-results.jsonl) is written in the working directory: mount a volume
# here to keep it.
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/blockade"]
CMD ["--help"]
