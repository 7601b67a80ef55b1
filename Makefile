# `make run` and `make test` are all a newcomer needs: both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MO     := service/locale/de/LC_MESSAGES/messages.mo service/locale/en/LC_MESSAGES/messages.mo

.PHONY: run test soak lint format bench messages vendor clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "tagung needs Python 3.11 or newer (set PYTHON=python3.12, for example)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Translations are compiled as part of the build, never committed.
service/locale/%/LC_MESSAGES/messages.mo: service/locale/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -D messages -l $* -i $< -o $@

run: $(STAMP) $(MO)
	exec $(BIN)/tagung serve --migrate --demo --dev-mail

test: $(STAMP) $(MO)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fault tests (docs/reliability.md) at ten times the load, three rounds in a row.
soak: $(STAMP) $(MO)
	for round in 1 2 3; do TAGUNG_SOAK_SCALE=10 $(BIN)/python -m pytest -q $(PYTEST_ARGS) \
		tests/test_faults_database.py tests/test_faults_mail.py tests/test_faults_processes.py \
		|| exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks (bench/README.md); e.g. make bench BENCH_ARGS='--only door --workers 2'
bench: $(STAMP) $(MO)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Extract the messages from code and templates and merge them into both catalogues.
messages: $(STAMP)
	$(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -k lazy -k _ -k gettext \
		-k ngettext:1,2 -o service/locale/messages.pot service forums registration exhibitors
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 -D messages \
		-i service/locale/messages.pot -d service/locale

# Front-end files come from npm and are committed under service/static/vendor (never a CDN).
vendor:
	npm install --no-audit --no-fund --prefix build/vendor \
		swagger-ui-dist@$$(node -p "require('./package.json').dependencies['swagger-ui-dist']") \
		barcode-detector@$$(node -p "require('./package.json').dependencies['barcode-detector']") \
		axe-core@$$(node -p "require('./package.json').devDependencies['axe-core']")
	mkdir -p service/static/vendor/swagger-ui
	cd build/vendor/node_modules/swagger-ui-dist && cp swagger-ui-bundle.js swagger-ui.css \
		swagger-ui-standalone-preset.js favicon-32x32.png LICENSE NOTICE \
		swagger-ui-bundle.js.LICENSE.txt \
		../../../../service/static/vendor/swagger-ui/
	# The camera decoder where the browser has no BarcodeDetector: the ES module build (it
	# bundles zxing-wasm's loader) and the reader's .wasm, which scanner.js points at with
	# prepareZXingModule({overrides: {locateFile}}) instead of the package's CDN default.
	mkdir -p service/static/vendor/barcode-detector
	cd build/vendor/node_modules && cp barcode-detector/dist/es/ponyfill.js \
		barcode-detector/dist/es/zxing-exported.js zxing-wasm/dist/reader/zxing_reader.wasm \
		../../../service/static/vendor/barcode-detector/ && \
		cp barcode-detector/LICENSE ../../../service/static/vendor/barcode-detector/LICENSE && \
		cp zxing-wasm/LICENSE ../../../service/static/vendor/barcode-detector/LICENSE.zxing-wasm
	# The accessibility tests' checker, injected into the pages by tests/test_accessibility.py.
	mkdir -p tests/vendor/axe-core
	cd build/vendor/node_modules/axe-core && cp axe.min.js LICENSE LICENSE-3RD-PARTY.txt \
		../../../../tests/vendor/axe-core/

clean:
	rm -rf $(VENV) build *.egg-info service/locale/*/LC_MESSAGES/*.mo
