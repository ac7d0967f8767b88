# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MONGOSH := .tools/node_modules/.bin/mongosh

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mongoshard keys examples.pokemon_storage.models
	$(BIN)/mongoshard route examples.pokemon_storage.models:Creature '{"user_id": 7}'
	$(BIN)/mongoshard route examples.pokemon_storage.models:Creature '{"user_id": {"$$in": [1, 2, 3]}}'
	$(BIN)/mongoshard route examples.pokemon_storage.models:Creature '{"species": "pikachu"}'
	$(BIN)/mongoshard route examples.pokemon_storage.models:StorageBox '{"owner.pid": {"$$gte": 1200, "$$lt": 1800}}'
	$(BIN)/mongoshard route examples.pokemon_storage.models:Trade '{"region": "EU"}'
	$(BIN)/mongoshard advise examples.pokemon_storage.models
	$(BIN)/mongoshard simulate examples.sensors.data:readings --shards 3 \
	  --key '{"taken_at": 1}' --key '{"taken_at": "hashed"}' --key '{"sensor_id": 1, "taken_at": 1}'

# The real mongosh (npm registry) runs the compose init script against real mongods; without npm those tests skip
# outside CI (and fail in it).
$(MONGOSH):
	@if command -v npm >/dev/null; then npm install --prefix .tools --no-audit --no-fund --loglevel=error mongosh@2 >/dev/null; \
	else echo "npm not found: the compose init script tests will not run"; fi

test: $(STAMP) $(MONGOSH)
	$(BIN)/python -m pytest

# ruff's rule set and mypy's settings are in pyproject.toml; both versions are pinned in the test extra.
lint: $(STAMP)
	$(BIN)/ruff check mongoshard tests benchmarks examples
	$(BIN)/mypy

# The README's performance table: every benchmark at full size (about 10 minutes on 2 cores).
bench: $(STAMP)
	for script in benchmarks/[!_]*.py; do PYTHONPATH=. $(BIN)/python $$script || exit 1; done

# Every benchmark at a small size (.ci/run): each checks its work and prints its figures, and fails only on an error,
# never on a time.
bench-quick: $(STAMP)
	for script in benchmarks/[!_]*.py; do PYTHONPATH=. $(BIN)/python $$script --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
