# baton — the two commands that matter: `make run` and `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: bench-pg bench-board help build run test test-rust downstream test-python test-clients test-conformance test-browser vendor-dashboard lint fmt doc bench soak fuzz ci clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-13s %s\n", $$1, $$2}'

build: ## build the release binary
	$(CARGO) build --release --locked

run: build ## serve on 127.0.0.1:8080 with the embedded store in ./data
	./target/release/baton serve --config config/default.toml $(ARGS)

test: test-rust test-python test-clients test-conformance test-browser ## everything: unit, property, integration, MCP conformance, Python MCP SDK, Claude Code CLI, browser

test-rust: downstream ## Rust unit, proptest and integration tests (real server, real data dir, real child processes)
	$(CARGO) build --locked --examples  # the tests spawn target/debug/examples/fault_server
	$(CARGO) test --locked --lib --bins --tests --examples -- --test-threads=2

downstream: ## install the real downstream MCP server the tests call (server-everything, from npm)
	cd tests/downstream && npm ci --no-audit --no-fund --loglevel=error

test-python: downstream ## the official Python MCP SDK (venv in tests/python/.venv) driving the real binary, server-everything behind its gateway
	./scripts/python-test.sh

test-clients: downstream ## the official TypeScript SDK (a DAG, a gateway tool, paging, ajv strict) and Claude Code's CLI (npm: mcp add/list, scripted `claude -p` agents, hooks) against the real binary
	./scripts/clients-test.sh

test-conformance: ## the official MCP conformance suite (Node 22 from npm) against `baton serve`
	./scripts/conformance.sh

test-browser: ## the dashboard in headless Chromium (skipped with a notice when no dashboard exists yet)
	@if [ -f tests/browser/package.json ]; then ./scripts/browser-test.sh; else echo "no browser tests yet"; fi

vendor-dashboard: ## re-vendor the dashboard's layout library (dagre) from npm at the pinned version
	./scripts/vendor-dashboard.sh

lint: ## rustfmt check, clippy (deny warnings), the house rules (tests/layering.rs: imports point down, no two-word docs, files under 800 lines), rustdoc (deny warnings)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --lib --features conformance-fixtures -- -D warnings
	$(CARGO) test --locked --test layering
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --locked

fmt: ## format the code
	$(CARGO) fmt --all

doc: ## API docs
	$(CARGO) doc --no-deps --locked

bench: ## benchmarks (see BENCHMARKS.md): REST claim→complete and adds; gateway overhead; MCP vs REST (lean Rust client, TypeScript SDK vs Node fetch); writes under 1,000 SSE subscribers
	$(CARGO) bench --locked --bench e2e
	BENCH_PG=auto $(CARGO) bench --locked --bench e2e
	$(CARGO) build --release --locked --example fault_server --bin baton
	$(CARGO) bench --locked --bench gateway
	$(CARGO) bench --locked --bench mcp
	$(CARGO) bench --locked --bench sse
	./scripts/bench-mcp-ts.sh

bench-pg: ## baton on PostgreSQL vs a plain FOR UPDATE SKIP LOCKED loop (pgbench), same server, same run (needs Debian's postgresql)
	BENCH_PG=auto $(CARGO) bench --locked --bench e2e

bench-board: build ## the 1,000,000-task board: peak RSS while adding, restart-to-ready, RSS after restart (BENCHMARKS.md)
	python3 scripts/board-1m.py --tasks 1000000 --baton target/release/baton

soak: ## long fault runs (see RELIABILITY.md): 10 kill -9 runs of the release binary under 20 workers, 10 runs of agent-coordinate-mcp agents that retry every lost answer (3 kills each), 10 two-node PostgreSQL failover runs, 1000 model-test cases, 10,000 MCP sessions + 100,000 leases leak check
	$(CARGO) build --release --locked --bin baton
	SOAK_RUNS=10 HA_RUNS=10 SOAK_BATON=target/release/baton $(CARGO) test --locked --test soak -- --nocapture --test-threads=1
	PROPTEST_CASES=1000 $(CARGO) test --locked --test model -- --nocapture --test-threads=2
	LEAK_SESSIONS=10000 LEAK_TASKS=100000 $(CARGO) test --release --locked --test leaks -- --nocapture

fuzz: ## 1,000,000 generated REST and MCP requests against a release server (make test sends 20,000); see RELIABILITY.md
	FUZZ_REQUESTS=1000000 FUZZ_SECS=3600 $(CARGO) test --release --locked --test fuzz -- --nocapture

ci: lint test ## what CI runs

clean:
	$(CARGO) clean
