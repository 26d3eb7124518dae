# verifier-doctor: the two commands a newcomer runs are `make demo` and `make test`.
# Both install what is missing: system packages through apt (scripts/install-deps.sh),
# Python packages into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: deps venv test test-allocator-matrix demo fixtures messages bench selftest-check clean

deps:
	bash scripts/install-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

test: deps venv
	$(BIN)/pytest -q

# The allocator suite in every kernel of the QEMU matrix alone (make test runs it too).
test-allocator-matrix: deps venv
	$(BIN)/pytest -q -m allocator_matrix tests/test_allocator.py

demo: deps venv
	bash scripts/demo.sh

fixtures: deps venv
	$(BIN)/python scripts/record_fixtures.py
	bash scripts/install-deps.sh --loaders
	$(BIN)/python scripts/record_loaders.py

# The verifier's messages, from the matrix kernels' sources (linux-source-* through apt).
messages: deps venv
	$(BIN)/python scripts/extract_messages.py
	$(BIN)/python scripts/extract_uapi_enums.py

bench: deps venv
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_allocator.py

# vdoctor on the kernel's own BPF selftests (not part of make test): docs/selftest-check.md.
selftest-check: deps venv
	nice -n 10 $(BIN)/python scripts/selftest_check.py

clean:
	rm -rf $(VENV) build .pytest_cache
