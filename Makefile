# orderdesk: `make run` to try it, `make test` to check it. Both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-deps client bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/orderdesk db upgrade
	$(BIN)/orderdesk seed-demo --if-empty
	$(BIN)/orderdesk serve --host 127.0.0.1 --port $(or $(PORT),8080)

test: $(STAMP) test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Besides Python, the TypeScript client, browser and fuzzing tests need npm packages and Debian's Chromium.
NODE_DEPS := clients/typescript/node_modules/.package-lock.json tests/browser/node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium

test-deps: $(NODE_DEPS) $(CHROMIUM)

%/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --prefer-offline --no-audit --no-fund
	touch $@

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "$(CHROMIUM) is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Regenerate clients/typescript from the API after changing webhooks/schemas.py or webhooks/api.py; commit the result.
client: $(STAMP) clients/typescript/node_modules/.package-lock.json
	$(BIN)/python scripts/openapi_dump.py clients/typescript/openapi.json
	cd clients/typescript && npm run --silent generate && node_modules/.bin/tsc --noEmit

bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
