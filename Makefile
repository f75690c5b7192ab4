# Two commands on a fresh Debian 12 machine: `make up` and `make test`.
VENV := .venv

.PHONY: install up down test lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install.sh scripts/build_pgbouncer.sh \
                    scripts/install_postgres.sh
	bash scripts/install.sh
	touch $@

up: install
	$(VENV)/bin/billdb up

down:
	$(VENV)/bin/billdb down

lint: install
	$(VENV)/bin/ruff check .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 3 --dist loadfile  # three workers, each its own environment
