# igym: `make demo` hosts the bundled demo, `make test` runs every test. Both set up what is missing.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMPS  := .stamps
PLUGINS := $(sort $(wildcard plugins/*))
PYPROJECTS := pyproject.toml $(foreach p,$(PLUGINS),$(p)/pyproject.toml)
CLIENT_SRC := $(shell find client/src -type f 2>/dev/null) client/build.mjs
SYSTEM_PYTHON ?= python3

.PHONY: setup demo test lint docs clean

CLIENT_BUILT := igym_core/static/build.json

setup: $(STAMPS)/venv $(CLIENT_BUILT)

demo: setup
	$(VENV)/bin/igym demo

test: setup $(STAMPS)/chromium $(STAMPS)/iptables $(STAMPS)/services
	bash tests/run.sh

# docs/plugins.md is generated from the docstrings of the plugin API (a test checks it is fresh).
docs: $(STAMPS)/venv
	$(PY) -m igym_core.plugin_docs

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check igym_core plugins tests examples
	$(VENV)/bin/ruff format --check igym_core plugins tests examples

$(STAMPS)/venv: $(PYPROJECTS)
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' \
		$(foreach p,$(PLUGINS),-e '$(p)[test]')
	@touch $@

client/node_modules/.package-lock.json: client/package.json client/package-lock.json
	cd client && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CLIENT_BUILT): client/node_modules/.package-lock.json $(CLIENT_SRC)
	node client/build.mjs
	@touch $@

# Debian's Chromium drives the browser tests; IGYM_CHROMIUM may point at another one.
$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	@if [ -n "$$IGYM_CHROMIUM" ] || command -v chromium >/dev/null; then :; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
	@touch $@

# iptables drops UDP inside the browser tests' own network namespace (a real ICE failure).
$(STAMPS)/iptables:
	@mkdir -p $(STAMPS)
	@if command -v iptables >/dev/null; then :; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables; fi
	@touch $@

# Tests of the PostgreSQL store and the Redis lobby start Debian's servers as local processes.
$(STAMPS)/services:
	@mkdir -p $(STAMPS)
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null; then :; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server; fi
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS) client/node_modules igym_core/static
