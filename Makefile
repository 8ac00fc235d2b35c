# Shortcuts for the README's two commands and the chores around them.
.PHONY: run test translations bench clean

run:  ## the admin on http://127.0.0.1:8000 with the demo personas, embedded database and queue
	bash scripts/run.sh

test:  ## the whole suite
	bash scripts/test.sh

translations:  ## extract, update and compile the gettext catalogues
	bash scripts/setup.sh
	.venv/bin/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ --no-location -o web/translations/messages.pot .
	.venv/bin/pybabel update -i web/translations/messages.pot -d web/translations
	.venv/bin/pybabel compile -d web/translations

bench:  ## benchmarks (print ratios measured side by side)
	bash scripts/setup.sh
	.venv/bin/python -m tests.bench

clean:
	rm -rf .venv var .pytest_cache
