#!/usr/bin/env bash
# PgBouncer for the local environment, built from Debian 13's source package into
# .tools/pgbouncer (called by scripts/install.sh; nothing outside the clone is changed).
#
# Why not Debian 12's package: its PgBouncer 1.18 cannot keep the clients' prepared statements
# in transaction pooling, so every statement through it is parsed and planned again, which
# Azure's built-in PgBouncer (1.21+, pgbouncer.max_prepared_statements) does not do. The local
# stand-in must behave as the production pooler does (docs/topology.md).
#
# The source comes from Debian's archive through apt: a private sources list and state
# directory (the machine's apt configuration is left alone), the signature checked against
# Debian's archive keyring. Debian's own patches (security fixes) are applied by dpkg-source.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="$PWD/.tools/pgbouncer"
MIN_VERSION=1.21  # max_prepared_statements
SUITE=trixie

have_version() {
  "$PREFIX/bin/pgbouncer" --version 2>/dev/null | sed -n 's/^PgBouncer \([0-9.]*\).*/\1/p'
}

current=$(have_version || true)
if [ -n "$current" ] && dpkg --compare-versions "$current" ge "$MIN_VERSION"; then
  exit 0
fi

work=$(mktemp -d /tmp/billdb-pgbouncer-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
cat > "$work/debian.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-q -o "Dir::Etc::SourceList=$work/debian.sources" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o APT::Sandbox::User=root)

echo "billdb: building PgBouncer from Debian $SUITE's source package into .tools/pgbouncer"
apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log" >&2; echo "billdb: cannot read Debian $SUITE's sources" >&2; exit 1; }
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only pgbouncer) \
  >>"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log" >&2; echo "billdb: cannot download pgbouncer's source" >&2; exit 1; }
dsc=$(ls "$work"/src/pgbouncer_*.dsc)
# (--no-check: apt has checked the files against the signed index)
dpkg-source --no-check -x "$dsc" "$work/src/pgbouncer" >>"$work/apt.log" 2>&1

(
  cd "$work/src/pgbouncer"
  ./configure --prefix="$PREFIX" --with-openssl --without-cares --without-pam \
              --without-systemd
  make -j"$(nproc)"
  make install
) >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; echo "billdb: PgBouncer build failed" >&2; exit 1; }

built=$(have_version)
if ! dpkg --compare-versions "$built" ge "$MIN_VERSION"; then
  echo "billdb: Debian $SUITE has PgBouncer $built; $MIN_VERSION or newer is needed" >&2
  exit 1
fi
echo "billdb: PgBouncer $built in .tools/pgbouncer ($(basename "$dsc" .dsc))"
