#!/usr/bin/env bash
# PgBouncer for the local environment, built from Debian 13's source package into
# .tools/pgbouncer (called by scripts/install.sh; nothing outside the clone is changed).
#
# Why not Debian 12's package: its PgBouncer 1.18 cannot keep the clients' prepared statements
# in transaction pooling, so every statement through it is parsed and planned again, which
# Azure's built-in PgBouncer (1.21+, pgbouncer.max_prepared_statements) does not do. The local
# stand-in must behave as the production pooler does (docs/topology.md).
#
# The source comes from Debian's archive through apt, with a configuration of billdb's own in
# .tools/debian-src (its sources list and state; the machine's apt configuration is left
# alone), the signature checked against Debian's archive keyring. Debian's own patches
# (security fixes) are applied by dpkg-source. A newer Debian revision is built when there is
# one (the weekly checklist's security_patches item compares the two the same way).
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="$PWD/.tools/pgbouncer"
SRC="$PWD/.tools/debian-src"
MIN_VERSION=1.21  # max_prepared_statements
SUITE=trixie

mkdir -p "$SRC/lists/partial" "$SRC/cache/archives/partial"
cat > "$SRC/debian.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat > "$SRC/apt.conf" <<EOF
Dir::Etc::SourceList "$SRC/debian.sources";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$SRC/lists";
Dir::Cache "$SRC/cache";
APT::Sandbox::User "root";
EOF
export APT_CONFIG="$SRC/apt.conf"

# Debian 13 installs PgBouncer 1.24 from apt (scripts/install.sh): use it as it is, at the
# same path, with its Debian version as the "source" the weekly checklist compares.
APT_PGBOUNCER=/usr/sbin/pgbouncer
apt_version=$(dpkg-query -W -f='${Version}' pgbouncer 2>/dev/null || true)
if [ -n "$apt_version" ] && [ -x "$APT_PGBOUNCER" ] \
   && dpkg --compare-versions "$apt_version" ge "$MIN_VERSION"; then
  mkdir -p "$PREFIX/bin"
  ln -sfn "$APT_PGBOUNCER" "$PREFIX/bin/pgbouncer"
  echo "$apt_version" > "$PREFIX/SOURCE_VERSION"
  exit 0
fi

have_version() {
  "$PREFIX/bin/pgbouncer" --version 2>/dev/null | sed -n 's/^PgBouncer \([0-9.]*\).*/\1/p'
}
newest_source() {  # the source apt would fetch: its own choice of the newest version
  apt-get -q source --print-uris pgbouncer 2>/dev/null \
    | sed -n 's/.* pgbouncer_\([^ ]*\)\.dsc .*/\1/p' | head -n 1
}

current=$(have_version || true)
built_source=$(cat "$PREFIX/SOURCE_VERSION" 2>/dev/null || true)
newest=""
if apt-get -q update >"$SRC/update.log" 2>&1; then
  newest=$(newest_source)
fi
if [ -n "$current" ] && dpkg --compare-versions "$current" ge "$MIN_VERSION"; then
  if [ -z "$newest" ]; then
    echo "billdb: cannot read Debian $SUITE's sources; keeping PgBouncer $current" >&2
    exit 0
  fi
  [ "$built_source" = "$newest" ] && exit 0
fi
if [ -z "$newest" ]; then
  cat "$SRC/update.log" >&2
  echo "billdb: cannot read Debian $SUITE's sources (PgBouncer source package)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/billdb-pgbouncer-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "billdb: building PgBouncer $newest from Debian $SUITE's source package into .tools/pgbouncer"
(cd "$work" && apt-get -q source --download-only "pgbouncer=$newest") >"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log" >&2; echo "billdb: cannot download pgbouncer's source" >&2; exit 1; }
# (--no-check: apt has checked the files against the signed index)
dpkg-source --no-check -x "$work"/pgbouncer_*.dsc "$work/pgbouncer" >>"$work/apt.log" 2>&1
(
  cd "$work/pgbouncer"
  ./configure --prefix="$PREFIX" --with-openssl --without-cares --without-pam \
              --without-systemd
  make -j"$(nproc)"
  make install
) >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; echo "billdb: PgBouncer build failed" >&2; exit 1; }

built=$(have_version)
if ! dpkg --compare-versions "$built" ge "$MIN_VERSION"; then
  echo "billdb: Debian $SUITE has PgBouncer $built; $MIN_VERSION or newer is needed" >&2
  exit 1
fi
echo "$newest" > "$PREFIX/SOURCE_VERSION"
echo "billdb: PgBouncer $built in .tools/pgbouncer (Debian source $newest)"
