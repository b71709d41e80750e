# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app mapapp
# Catalogues: .po files are in git, the .mo files the app reads are built from them.
CATALOGUES := mapapp/translations
MO := $(patsubst %.po,%.mo,$(wildcard $(CATALOGUES)/*/LC_MESSAGES/messages.po))

.PHONY: run serve test install install-test translations lint format bench bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/pybabel -q compile -d $(CATALOGUES)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,redis]'
	$(BIN)/pybabel -q compile -d $(CATALOGUES)
	touch $(VENV)/.installed $@

# axe-core for the accessibility tests, from the npm registry (pinned by the lock file).
tests/axe/node_modules/axe-core/axe.min.js: tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	touch $@

# Redocly's linter for the OpenAPI document (tests/test_openapi.py), pinned by its lock file.
tests/redocly/node_modules/.bin/redocly: tests/redocly/package-lock.json
	npm ci --prefix tests/redocly --no-audit --no-fund --silent
	touch $@

# Recompile a catalogue whenever its .po file changes after the install.
%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

install: $(VENV)/.installed $(MO)

install-test: $(VENV)/.installed-test $(MO)

# Re-extract the text to translate from the code and templates, and merge it into every
# language's catalogue; new or changed text then waits there with an empty translation.
# Sorted by message, without source lines: two branches adding text rarely touch the same lines.
translations: install
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k _l -c "Translators:" --project mapapp \
		--copyright-holder "mapapp contributors" --no-location --sort-output \
		-o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete \
		-i $(CATALOGUES)/messages.pot -d $(CATALOGUES)
	# No dates or source lines in the catalogues: branches that add text then merge cleanly.
	sed -i '/^"POT-Creation-Date: /d; /^"PO-Revision-Date: /d' $(CATALOGUES)/messages.pot \
		$(CATALOGUES)/*/LC_MESSAGES/messages.po
	$(BIN)/pybabel -q compile -d $(CATALOGUES)

run: install
	$(FLASK) init-db
	MAPAPP_DEVELOPMENT=1 $(FLASK) run --host 127.0.0.1 --port $(PORT)

# The production stack in the foreground: nginx on PORT in front of gunicorn on a unix socket
# (instance/gunicorn.sock, master pid in instance/gunicorn.pid); SIGTERM or Ctrl-C stops both.
serve: install
	$(BIN)/python deploy/extras.py
	$(FLASK) init-db
	exec $(BIN)/python deploy/serve.py --listen $(or $(LISTEN),127.0.0.1:$(PORT))

test: install-test tests/axe/node_modules/axe-core/axe.min.js tests/redocly/node_modules/.bin/redocly
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/geojson.py
	$(BIN)/python bench/serve.py --rallies 10000

# make serve under 64 connections, a killed worker and 200 slow clients, against gunicorn alone.
bench-load: install
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) instance .pytest_cache
