# Two commands on a fresh machine:
#   make demo   set everything up, start two dev clusters, run the demo
#   make test   set everything up, run flake8, the unit and functional tests, and compat

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps system-deps test unit functional compat lint demo bench profile ab clean

all: test

# Debian packages: memcached (tempauth in the dev clusters needs it).
system-deps:
	@command -v memcached >/dev/null 2>&1 || { \
	  echo "installing memcached (Debian package)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached >/dev/null; }

$(STAMP): setup.py setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

deps: system-deps $(STAMP)

lint: deps
	$(PY) -m flake8 swift_forwarder test bench

# the unit tests, and the functional tests' own helpers (test/helpers: no clusters)
unit: deps
	$(PY) -m pytest -q test/unit test/helpers

# Two workers, a file each at a time (each file's clusters are its own): the files wait on
# their clusters as much as they compute.  The slowest 10 tests are listed at the end.
FUNCTIONAL_ARGS ?= -n 2 --dist loadfile
functional: deps
	$(PY) -m pytest -q $(FUNCTIONAL_ARGS) --durations=10 test/functional

# Swift's own functional suite (from the sdist of the installed swift, cached in
# .cache/compat/), direct against a dev cluster and through the forwarder in gateway
# placement; fails when any test's outcome differs.  See swift_forwarder/testing/compat.py.
compat: deps
	$(PY) -m swift_forwarder.testing.compat $(COMPAT_ARGS)

test: lint unit functional compat

demo: deps
	$(PY) -m swift_forwarder.testing.demo

# Forwarded vs direct vs nginx (see bench/run.py); writes bench/results/.  Also needs Debian's
# nginx (run as our own process on a loopback port, never the system service) and
# matplotlib for the plot (the bench extra).  BENCH_ARGS=--quick for a short development run.
bench: deps
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  echo "installing nginx (Debian package)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.core $(filter --quick,$(BENCH_ARGS))
	$(PY) -m bench.migrate $(filter --quick,$(BENCH_ARGS))
	$(PY) -m bench.migrator $(filter --quick,$(BENCH_ARGS))

# Where the forwarder's CPU goes (see bench/profile.py), e.g.
# make profile PROFILE_ARGS="get-big --option client_chunk_size=131072"
PROFILE_ARGS ?= get-big
profile: deps
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m bench.profile $(PROFILE_ARGS)

# Before/after pairs of the forwarder's CPU per GiB and per request, in one run (see
# bench/ab.py), e.g.  make ab AB_ARGS="--variant before=HEAD~1 --variant after=WORKTREE"
AB_ARGS ?= --variant before=HEAD --variant after=WORKTREE
ab: deps
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m bench.ab $(AB_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
