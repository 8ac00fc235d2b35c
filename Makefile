# The two commands of the README, and the chores around them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install translations bench clean

$(STAMP): pyproject.toml examples/portevoix-webhook-channel/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' -e examples/portevoix-webhook-channel
	touch $(STAMP)

install: $(STAMP)

## run: the admin on http://127.0.0.1:8000 with the demo personas, embedded database and queue
run: $(STAMP)
	$(BIN)/portevoix run

## test: the whole suite (installs Chromium and starts Redis/PostgreSQL checks as needed)
test: $(STAMP)
	bash scripts/test.sh

translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations
	$(BIN)/pybabel compile -d web/translations

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .pytest_cache
