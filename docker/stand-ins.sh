#!/usr/bin/env bash
# Base images for docker/Dockerfile and docker/docker-compose.yml.
#
# Users get the official images (rust, debian:bookworm-slim, debian:trixie-slim, postgres:17).
# Where the public registry cannot be reached, this script makes local stand-ins from Debian's
# packages instead:
#   - the runtime bases: minimal Debian roots made by debootstrap, imported as images (bookworm
#     for the orchestrator; trixie for backup-agent, whose PostgreSQL client tools are version 17);
#   - the builder: that root plus gcc and the host's own Rust toolchain (Debian's rustc is too old
#     for the workspace, and no toolchain can be downloaded);
#   - PostgreSQL: that root plus Debian's postgresql, with an entrypoint that reads the official
#     image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB and keeps its data in the same folder.
# An image that is already present, or that can be pulled, is used as it is.
#
# Prints the images to use as KEY=VALUE lines on stdout (RUST_IMAGE, RUNTIME_IMAGE,
# AGENT_RUNTIME_IMAGE, POSTGRES_IMAGE), for `docker build --build-arg` and for compose; progress
# goes to stderr.
# Needs root (debootstrap) only when a stand-in must be made. DEBIAN_MIRROR overrides
# debootstrap's default mirror.
set -euo pipefail

RUST_IMAGE=${RUST_IMAGE:-rust:1-bookworm}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-debian:bookworm-slim}
AGENT_RUNTIME_IMAGE=${AGENT_RUNTIME_IMAGE:-debian:trixie-slim}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:17}
# The suite of the orchestrator's runtime, of the builder and of the PostgreSQL stand-in; the
# agent's runtime is the next one (its postgresql-client must be at least the server's version).
SUITE=bookworm
AGENT_SUITE=trixie
PREFIX=backups-stand-in

log() { echo "stand-ins: $*" >&2; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

# An official image is used when it is here or can be pulled; the registry's "no" comes at once
# when it cannot be reached, and the timeout covers a registry that does not answer.
usable() {
  have "$1" && return 0
  log "pulling $1"
  timeout 120 docker pull -q "$1" >/dev/null 2>&1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The stand-in of debian:SUITE-slim.
standin() { echo "$PREFIX/debian:$1-minbase"; }
runtime_standin=$(standin "$SUITE")

# make_runtime SUITE: a minimal root of that Debian suite, imported as $(standin SUITE).
make_runtime() {
  local suite=$1 tag root="$work/root-$1"
  tag=$(standin "$suite")
  have "$tag" && return 0
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
  # Each suite is a script of debootstrap's; an older debootstrap may not know a newer suite.
  local scripts="${DEBOOTSTRAP_DIR:-/usr/share/debootstrap}/scripts"
  if [ -d "$scripts" ] && [ ! -e "$scripts/$suite" ]; then
    log "this debootstrap does not know $suite (no $scripts/$suite): install a newer debootstrap"
    exit 1
  fi
  log "debootstrap $suite (minbase) for $tag"
  # shellcheck disable=SC2086 # an unset mirror lets debootstrap use its own default
  debootstrap --variant=minbase "$suite" "$root" ${DEBIAN_MIRROR:-} >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # What the slim image leaves out too: package caches, documentation, manual pages,
  # translations; and its settings, so that what images install on it is left out as well (apt
  # keeps neither its caches nor the packages it fetched; dpkg skips those paths).
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'path-exclude /usr/share/%s/*\n' doc info locale man >"$root/etc/dpkg/dpkg.cfg.d/docker"
  tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$root"
}

make_builder() {
  local sysroot version tag
  sysroot=$(rustc --print sysroot)
  version=$(rustc --version | awk '{print $2}')
  tag="$PREFIX/rust:$version-$SUITE"
  if have "$tag"; then echo "$tag"; return 0; fi
  make_runtime "$SUITE"
  log "builder $tag from $runtime_standin and the host's toolchain ($sysroot)"
  mkdir -p "$work/builder/rust"
  # bin (rustc, cargo), lib (the compiler and the standard library); the docs stay out.
  cp -a "$sysroot/bin" "$sysroot/lib" "$work/builder/rust/"
  [ -d "$sysroot/libexec" ] && cp -a "$sysroot/libexec" "$work/builder/rust/"
  # Crates come from crates.io inside the build, as with the official image; a network that
  # inspects TLS with its own authority is trusted by the host, so the builder trusts what the
  # host trusts (this image never leaves the machine).
  cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$work/builder/host-ca-certificates.crt"
  cat >"$work/builder/Dockerfile" <<EOF
FROM $runtime_standin
# What the official rust image brings for crates that build C (aws-lc-sys, zstd-sys).
RUN apt-get update \\
 && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY host-ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rust /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
EOF
  docker build -q -t "$tag" "$work/builder" >/dev/null
  rm -rf "$work/builder"
  echo "$tag"
}

make_postgres() {
  local tag="$PREFIX/postgres:15-$SUITE"
  if have "$tag"; then echo "$tag"; return 0; fi
  make_runtime "$SUITE"
  log "PostgreSQL $tag from Debian's postgresql"
  mkdir -p "$work/postgres"
  cat >"$work/postgres/entrypoint.sh" <<'EOF'
#!/bin/sh
# The official image's interface: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, data in PGDATA.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec "$@"
EOF
  cat >"$work/postgres/Dockerfile" <<EOF
FROM $runtime_standin
RUN mkdir -p /etc/postgresql-common \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \\
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
  chmod +x "$work/postgres/entrypoint.sh"
  docker build -q -t "$tag" "$work/postgres" >/dev/null
  echo "$tag"
}

if usable "$RUNTIME_IMAGE"; then
  runtime=$RUNTIME_IMAGE
else
  log "$RUNTIME_IMAGE cannot be pulled: using a stand-in"
  make_runtime "$SUITE"
  runtime=$runtime_standin
fi
if usable "$AGENT_RUNTIME_IMAGE"; then
  agent_runtime=$AGENT_RUNTIME_IMAGE
else
  log "$AGENT_RUNTIME_IMAGE cannot be pulled: using a stand-in"
  make_runtime "$AGENT_SUITE"
  agent_runtime=$(standin "$AGENT_SUITE")
fi
if usable "$RUST_IMAGE"; then
  rust=$RUST_IMAGE
else
  log "$RUST_IMAGE cannot be pulled: using a stand-in"
  rust=$(make_builder)
fi
if usable "$POSTGRES_IMAGE"; then
  postgres=$POSTGRES_IMAGE
else
  log "$POSTGRES_IMAGE cannot be pulled: using a stand-in"
  postgres=$(make_postgres)
fi

echo "RUST_IMAGE=$rust"
echo "RUNTIME_IMAGE=$runtime"
echo "AGENT_RUNTIME_IMAGE=$agent_runtime"
echo "POSTGRES_IMAGE=$postgres"
