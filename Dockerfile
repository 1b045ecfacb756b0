# blockade as a container image: the image the README's Kubernetes Indexed Job runs.
#
#   podman build -t blockade .        (or: docker build -t blockade .)
#   podman run --rm blockade --version
#   podman run --rm blockade block /fixtures/contacts.csv --block-for 7d --sandbox
#
# Stage 1 builds the release binary; stage 2 is a small Debian with only the CA
# certificates (the client trusts the platform's store: /etc/ssl/certs) and the binary,
# run as an unprivileged user.

FROM docker.io/library/rust:1.95-slim-bookworm AS build
WORKDIR /src
# The manifest and lock first, so that the dependency download is a cached layer that
# only a Cargo.lock change invalidates.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/reader.rs && cp benches/reader.rs benches/end_to_end.rs \
    && touch tests/tests.rs \
    && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin blockade \
    && strip target/release/blockade

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /work --create-home --shell /usr/sbin/nologin blockade
COPY --from=build /src/target/release/blockade /usr/local/bin/blockade
COPY fixtures/contacts.csv fixtures/contacts.jsonl /fixtures/
USER 10001:10001
# The ledger (blockade-results.jsonl) is written in the working directory: mount a volume
# here to keep it.
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/blockade"]
CMD ["--help"]
