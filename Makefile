# veille: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= out/demo
DEMO_PATIENTS ?= 20000

.PHONY: demo test docs bench bench-pipeline bench-coverage bench-refresh bench-spark bench-quality lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/veille demo --patients $(DEMO_PATIENTS) --out $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/pytest -q --durations=15 tests

# the dbt docs (every model and column, sources with freshness, lineage to the reports), served
# on DOCS_PORT; `veille docs --no-serve` only writes dbt_project/target/index.html
DOCS_PORT ?= 8080
docs: $(STAMP)
	$(BIN)/veille docs --port $(DOCS_PORT)

bench: $(STAMP)
	$(BIN)/veille bench all

# every stage at 50,000, 200,000 and 1,000,000 patients x 5 years, both profiles: hours, ~100 GB
bench-pipeline: $(STAMP)
	$(BIN)/veille bench pipeline

# one flow month appended and built incrementally vs a full load and build, 200,000 patients x 5 years
bench-refresh: $(STAMP)
	$(BIN)/veille bench refresh

# the core warehouse built by PostgreSQL and by Spark local[2], 200,000 patients x 5 years (docs/spark.md)
bench-spark: $(STAMP)
	$(BIN)/veille bench spark

# the three detection pillars against the generator's truth on 5 seeds of 10,000 patients x 5
# years: scan AUC per method, pathways ARI, fraud precision and recall per kind (docs/benchmarks.md)
bench-quality: $(STAMP)
	$(BIN)/veille bench quality

# every shipped study on 20 generator seeds: coverage of the 95% intervals (docs/studies.md), ~1 h
bench-coverage: $(STAMP)
	$(BIN)/veille bench coverage --plot docs/img/coverage.svg --pairs out/coverage_pairs.csv

lint: $(STAMP)
	$(BIN)/ruff check python tests migrations

clean:
	-$(BIN)/veille db stop
	rm -rf .veille out reports dbt_project/target dbt_project/logs
