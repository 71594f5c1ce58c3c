# Overcast — build, test and demo entry points. Each target installs what it needs and is
# safe to run again: apt packages only when missing, the virtualenv only when pyproject changes.

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
PYTHON    ?= python3
# postgresql: the API suite runs against a throwaway PostgreSQL cluster the tests start;
# iperf3: the dataplane benchmark; podman, runc, busybox-static, containernetworking-plugins:
# the CNI tests run real podman containers (runc: crun refuses this kind of host's cgroups);
# docker.io: the Docker plugin tests run dockerd in a simulated host (never the host namespace);
# systemd: systemd-analyze checks the shipped units (nothing is started under systemd);
# frr, gobgpd: routers and gateways in namespaces; prometheus: a test scrapes every service
# with the real server (started by the test on a free port, never as the host's service).
APT_PACKAGES := postgresql iproute2 nftables procps openssl iputils-ping conntrack iperf3 \
	podman runc busybox-static containernetworking-plugins docker.io systemd frr gobgpd prometheus

.PHONY: all deps apt venv test test-fast demo lint bench proto clean

all: test

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing apt packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

venv: $(STAMP)

deps: apt venv

test: deps
	$(BIN)/pytest

test-fast: deps
	$(BIN)/pytest -m "not slow"

demo: deps
	$(BIN)/overcast demo

lint: deps
	$(BIN)/ruff check src tests scripts
	$(BIN)/mypy

bench: deps
	$(BIN)/pip install -q -e '.[test,lint,bench]'
	$(BIN)/overcast bench directory --output bench-results/directory.json
	$(BIN)/overcast bench controller --output bench-results/controller.json
	$(BIN)/overcast bench scale --output bench-results/scale.json --chart bench-results/scale.png
	$(BIN)/overcast bench scale --dataplane linux --output bench-results/scale-linux.json

# Regenerate the controller<->agent protocol code from proto/ (the result is committed).
proto: deps
	$(BIN)/pip install -q -e '.[dev]'
	PYTHON=$(BIN)/python scripts/gen_protocol.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
