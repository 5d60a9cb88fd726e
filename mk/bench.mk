# `make bench`: every server model through the benchmark scenarios, then plots and a report.
#
#   make bench                          all models, every scenario but openloop, 3 rounds (~11 min
#                                       on 2 cores)
#   make bench QUICK=1                  2 rounds, efficiency and http only (~3 min)
#   make bench FULL=1                   5 rounds, longer runs, more points, 10,000 connections
#   make bench MODELS="epoll green" SCENARIOS="http idle"
#   make bench REFS=                    without the reference servers (default REFS="nginx go")
#   make bench SERVER_CPUS=0 CLIENT_CPUS=1    (default: the cores split in two, disjoint)
#   make bench SERVER_HOST=user@box CLIENT_HOSTS="user@a user@b"   across hosts, over ssh
#                                       (SERVER_ADDR=, SSH_CONFIG=, REMOTE_BUILD=1: make there;
#                                       docs/bench.md, "Across hosts")
#   make bench BENCH_ARGS="--duration 5"      any other runner option (python3 -m harness.bench -h)
#   make plots RESULTS=results/reference      redraw plots and report from a results directory
#   make compare A=results/X B=results/Y      what moved between two result sets (Markdown,
#                                             and results/compare.csv, or CSV=FILE)
#   make print-models                         the Makefile's MODELS, which the runner reads
#
# scripts/setup.sh installs wrk and gnuplot when missing (or prints how); the runner writes
# results/<UTC time>-<host>/ and points results/latest to it.

# The calibration target (harness/calib.c): the load generator's ceiling and the machine's
# noise are measured against it. Not a model: never in MODELS.
CALIB    := $(BIN)/calib
ALL_BINS += $(CALIB)
$(CALIB): $(OBJ)/harness/calib.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

BENCH_FLAGS = $(if $(filter 1,$(QUICK)),--quick) $(if $(filter 1,$(FULL)),--full) \
              --models "$(MODELS)" --refs "$(REFS)" $(if $(SCENARIOS),--scenarios "$(SCENARIOS)") \
              $(if $(SERVER_CPUS),--server-cpus "$(SERVER_CPUS)") \
              $(if $(CLIENT_CPUS),--client-cpus "$(CLIENT_CPUS)") \
              $(if $(SERVER_HOST),--server-host "$(SERVER_HOST)") \
              $(if $(CLIENT_HOSTS),--client-hosts "$(CLIENT_HOSTS)") \
              $(if $(SERVER_ADDR),--server-addr "$(SERVER_ADDR)") \
              $(if $(SSH_CONFIG),--ssh-config "$(SSH_CONFIG)") \
              $(if $(filter 1,$(REMOTE_BUILD)),--remote-build) $(BENCH_ARGS)

.PHONY: bench bench-setup plots compare print-models
bench-setup:
	@scripts/setup.sh

# The build comes after the set-up (which may install the compiler) and before the run.
bench: bench-setup
	@$(MAKE) --no-print-directory all
	@python3 -m harness.bench $(BENCH_FLAGS)

plots:
	@if [ -z "$(RESULTS)" ]; then echo "usage: make plots RESULTS=results/DIR" >&2; exit 2; fi
	@python3 -m scripts.plots "$(RESULTS)" && python3 -m scripts.report "$(RESULTS)"

compare:
	@if [ -z "$(A)" ] || [ -z "$(B)" ]; then \
		echo "usage: make compare A=results/DIR B=results/DIR" >&2; exit 2; fi
	@python3 -m harness.bench.compare "$(A)" "$(B)" $(if $(CSV),--csv "$(CSV)")

# The one list of models, for the runner (harness/bench/servers.py): no one parses the Makefile.
print-models:
	@echo $(MODELS)
