# zerosum — build, run and test.
#
#   make run     install what is missing, build, start the local stack (PORT=8080)
#   make stop    stop it
#   make test    everything: unit tests (plain and ASan/UBSan), then the
#                integration suites against a throwaway stack under var/test
#   make test-model  the model-based API test for longer, with a random seed (printed)
#   make asan    the daemon and unit tests built with ASan + UBSan

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS   := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
PQ_INC  := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(JSONC_CFLAGS) $(PQ_INC) -Ifcgi -I$(BUILD)/gen -MMD -MP
LDLIBS  := -lfcgi -lpq $(JSONC_LIBS) -lssl -lcrypto

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# fcgi/ holds the process (main, supervisor, jobs, CLI) and the base modules
# (config, log, metrics, util, jwt); below it the three layers, each using only
# the ones under it (make layers-check): api/ → domain/ → store/.
LAYERS   := store domain api
SRCS     := $(wildcard fcgi/*.c) $(foreach l,$(LAYERS),$(wildcard fcgi/$(l)/*.c))
C_FILES  := $(SRCS) $(wildcard fcgi/*.h) $(foreach l,$(LAYERS),$(wildcard fcgi/$(l)/*.h))
LIB_SRCS := $(filter-out fcgi/main.c,$(SRCS))
# zerosum-verify (fcgi/verify/): a stand-alone tool on the base modules it
# needs (merkle, note) plus json-c and OpenSSL; never libpq nor libfcgi.
VERIFY_SRCS := $(wildcard fcgi/verify/*.c)
VERIFY_LIB_OBJS = $(filter-out $(BUILD)/obj/verify/main.o,$(VERIFY_SRCS:fcgi/%.c=$(BUILD)/obj/%.o)) \
                  $(BUILD)/obj/merkle.o $(BUILD)/obj/note.o $(BUILD)/obj/note_checkpoint.o
VERIFY_LDLIBS := $(JSONC_LIBS) -lssl -lcrypto
C_FILES  += $(VERIFY_SRCS) $(wildcard fcgi/verify/*.h)
# zerosum-burst (bench/): the drop-stampede's load generator, on libc alone.
BURST_OBJS = $(BUILD)/obj/bench/burst.o
# zerosum-subscribe (bench/): the sse-fanout's subscribers, on burst's HTTP parts.
SSE_OBJS = $(BUILD)/obj/bench/sse.o $(BURST_OBJS)
C_FILES  += $(wildcard bench/*.c bench/*.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
# Unit-level scripts (TAP) that drive the unit binaries: cross-checks with
# Python and the openssl CLI.
UNIT_SCRIPTS := $(wildcard tests/unit/test_*.py tests/unit/test_*.sh)

BUILD ?= build

LIB_OBJS  = $(LIB_SRCS:fcgi/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/sql_table.o
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all asan unit unit-asan run stop status test test-unit test-integration test-oracle dashboard \
        fuzz test-fuzz-replay test-faults test-model bench \
        install format format-check layers-check size-check openapi-lint clean

all: $(BUILD)/zerosum $(BUILD)/zerosum-verify $(BUILD)/zerosum-burst $(BUILD)/zerosum-subscribe

# The named statement table, generated from sql/queries/*.sql (fcgi/store/sql.h).
SQL_QUERIES := $(wildcard sql/queries/*.sql)
$(BUILD)/gen/sql_table.h $(BUILD)/gen/sql_table.c &: scripts/gen-sql $(SQL_QUERIES)
	scripts/gen-sql $(BUILD)/gen $(SQL_QUERIES)

$(BUILD)/obj/%.o: fcgi/%.c | $(BUILD)/gen/sql_table.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/sql_table.o: $(BUILD)/gen/sql_table.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/zerosum: $(LIB_OBJS) $(BUILD)/obj/main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/zerosum-verify: $(VERIFY_LIB_OBJS) $(BUILD)/obj/verify/main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(VERIFY_LDLIBS)

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/zerosum-burst: $(BURST_OBJS) $(BUILD)/obj/bench/burst_main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^

$(BUILD)/zerosum-subscribe: $(SSE_OBJS) $(BUILD)/obj/bench/sse_main.o
	$(CC) $(ALL_CFLAGS) -o $@ $^

# the subscriber's parser test links the subscriber's parts alone
$(BUILD)/tests/test_sse: tests/unit/test_sse.c $(SSE_OBJS) tests/unit/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Ibench -o $@ $< $(SSE_OBJS)

# the burst's unit test links the burst alone (json-c only to read its report back)
$(BUILD)/tests/test_burst: tests/unit/test_burst.c $(BURST_OBJS) tests/unit/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Ibench -o $@ $< $(BURST_OBJS) $(JSONC_LIBS)

# the verifier's unit tests link only what the verifier links
$(BUILD)/tests/test_verify_%: tests/unit/test_verify_%.c $(VERIFY_LIB_OBJS) tests/unit/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(VERIFY_LIB_OBJS) $(VERIFY_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) tests/unit/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LDLIBS)

unit: $(UNIT_BINS)

asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" all unit

install:
	@scripts/stack install

run: install all dashboard
	@scripts/stack start

# uPlot from npm into htdocs/vendor/ (no CDN; generated, not committed)
dashboard:
	@scripts/build-dashboard

stop:
	@scripts/stack stop

status:
	@scripts/stack status

test-unit: all unit asan
	prove --exec '' $(UNIT_BINS) $(UNIT_SCRIPTS)
	ASAN_OPTIONS=detect_leaks=1 prove --exec '' $(UNIT_BINS:$(BUILD)/%=build-asan/%)

# The suites run twice: on the postgres dialect (guards installed), and on
# the dsql profile — core schema only, REPEATABLE READ, OCC-style retries —
# proving the application keeps every invariant without PostgreSQL's guards.
DSQL_SUITES := tests/integration/test_transfer.py tests/integration/test_accounts.py \
               tests/integration/test_pending.py tests/integration/test_batch.py \
               tests/integration/test_history.py \
               tests/integration/test_bid.py tests/integration/test_proof.py \
               tests/integration/test_stampede.py tests/integration/test_markets.py \
               tests/integration/test_split_merge.py \
               tests/integration/test_idempotency.py tests/integration/test_edges.py \
               tests/integration/test_tokens.py tests/integration/test_sql.py \
               tests/integration/test_prepared.py tests/integration/test_drop_soldout.py \
               tests/integration/test_seal.py tests/integration/test_tlog.py \
               tests/integration/test_verify.py tests/integration/test_fullpass.py \
               tests/integration/test_proxy.py tests/integration/test_proof_plans.py \
               tests/integration/test_order_types.py \
               tests/integration/test_credit.py \
               tests/integration/test_events.py tests/integration/test_webhooks.py

test-integration: all asan dashboard
	scripts/test-integration
	ZS_DIALECT=dsql ZS_TEST_VAR=$(CURDIR)/var/test-dsql scripts/test-integration $(DSQL_SUITES)

# Faults (kill -9, PgBouncer and PostgreSQL fast/immediate restarts, nginx reload,
# database down) and the bank workload under faults, on a throwaway stack (~1 min).
test-faults: all asan
	TEST_PORT=18980 TEST_PG_PORT=15980 TEST_PGB_PORT=16980 ZS_TEST_VAR=$(CURDIR)/var/test-faults \
		scripts/test-integration tests/integration/test_faults.py

# The model-based API test (tests/integration/test_model.py) for longer, on its own stack,
# with a random seed that it prints (ZS_MODEL_SEED=N replays it; ZS_MODEL_FIXED=1 replays
# the derandomized run of make test); failures are shrunk. make test runs it with a fixed budget.
ZS_MODEL_EXAMPLES ?= 200
ZS_MODEL_STEPS    ?= 60
test-model: all asan
	ZS_MODEL_RANDOM=1 ZS_MODEL_SHRINK=$${ZS_MODEL_SHRINK:-1} ZS_MODEL_EXAMPLES=$(ZS_MODEL_EXAMPLES) \
	ZS_MODEL_STEPS=$(ZS_MODEL_STEPS) PROVE_OPTS=-v \
	TEST_PORT=$${TEST_PORT:-18990} TEST_PG_PORT=$${TEST_PG_PORT:-15990} TEST_PGB_PORT=$${TEST_PGB_PORT:-16990} \
	ZS_TEST_VAR=$${ZS_TEST_VAR:-$(CURDIR)/var/test-model} scripts/test-integration tests/integration/test_model.py

test-oracle: all
	ZS_BIN=$(CURDIR)/build/zerosum prove --exec "" tests/oracle/run.sh

# docs/openapi.yaml through @redocly/cli's recommended rules: no error, no warning.
openapi-lint: dashboard
	tests/openapi/node_modules/.bin/redocly lint --config tests/openapi/redocly.yaml \
		--max-problems 50 docs/openapi.yaml

test: install
	$(MAKE) format-check layers-check size-check openapi-lint
	$(MAKE) test-unit
	$(MAKE) test-fuzz-replay
	$(MAKE) test-oracle
	$(MAKE) test-integration
	$(MAKE) test-faults

FUZZ_TIME    ?= 60
FUZZ_TARGETS := fuzz_request fuzz_jwt fuzz_fingerprint

# One libFuzzer session of $(FUZZ_TIME) s per target on a scratch copy of its
# corpus; crashes land in build/fuzz/artifacts/<target>/. FUZZ_MERGE=1 merges
# new coverage back into tests/fuzz/corpus/<target>.
fuzz:
	tests/fuzz/build.sh fuzz build/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	    d=json.dict; [ $$t = fuzz_jwt ] && d=jwt.dict; \
	    rm -rf build/fuzz/work/$$t; mkdir -p build/fuzz/work/$$t build/fuzz/artifacts/$$t; \
	    cp tests/fuzz/corpus/$$t/* build/fuzz/work/$$t/; \
	    echo "fuzz: $$t for $(FUZZ_TIME)s"; \
	    build/fuzz/$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 -dict=tests/fuzz/$$d \
	        -artifact_prefix=build/fuzz/artifacts/$$t/ -print_final_stats=1 \
	        build/fuzz/work/$$t 2>build/fuzz/$$t.log || { tail -40 build/fuzz/$$t.log; exit 1; }; \
	    grep -E '^Done|number_of_executed_units' build/fuzz/$$t.log; \
	    if [ "$(FUZZ_MERGE)" = 1 ]; then \
	        build/fuzz/$$t -merge=1 -use_counters=0 tests/fuzz/corpus/$$t build/fuzz/work/$$t \
	            2>/dev/null; fi; \
	done

# The committed corpora, replayed without libFuzzer under ASan + UBSan (TAP).
test-fuzz-replay:
	prove --exec '' tests/fuzz/replay.sh

# Throughput and latency of every endpoint against pgbench running the same
# SQL, both connection policies; writes var/bench/latest.json (bench/README.md).
BENCH_SECONDS ?= 20
bench: install all dashboard
	bench/run --seconds $(BENCH_SECONDS)

format:
	clang-format -i $(C_FILES) tests/unit/*.c tests/unit/*.h

format-check:
	clang-format --dry-run --Werror $(C_FILES) tests/unit/*.c tests/unit/*.h

# No layer includes one above it: store/ only the base modules and store/,
# domain/ also store/, api/ also domain/ (scripts/layers-check).
layers-check:
	scripts/layers-check

# No C file under fcgi/ over 600 lines, no function over 120 (scripts/size-check).
size-check:
	scripts/size-check

clean:
	rm -rf build build-asan

# the unit tests too: a header a test includes (tests/unit/*.h) rebuilds it
-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/main.d $(UNIT_BINS:=.d) $(VERIFY_LIB_OBJS:.o=.d) \
         $(BUILD)/obj/verify/main.d $(BURST_OBJS:.o=.d) $(BUILD)/obj/bench/burst_main.d \
         $(BUILD)/obj/bench/sse.d $(BUILD)/obj/bench/sse_main.d
