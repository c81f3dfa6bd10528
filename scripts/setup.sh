#!/usr/bin/env bash
# Set up a fresh Debian machine for gptoss-agent, as root: the package with the CPU build of
# torch and transformers, the Docker engine and the python tool's sandbox image, Chromium for
# the browser tool. One line per step; apt, pip and build output go to the log file named at
# the end (and on failure, with its last lines). Idempotent: a second run only checks.
# What the tests need on top (pytest, ruff, mypy, llama.cpp's server, MCP servers) is
# scripts/setup-tests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/steps.sh
need_root setup.sh
start_log
started=$SECONDS

step_bg "system packages (docker.io, chromium)" bash scripts/setup.d/system-packages.sh
step "python package (gptoss-agent, MCP, serve)" pip_quiet -e ".[mcp,serve]"
step_bg "model runtime (torch CPU, transformers)" bash scripts/setup.d/model-runtime.sh
step_wait "system packages (docker.io, chromium)"
step "docker engine" bash scripts/setup.d/docker-engine.sh
step "sandbox image (offline build)" python -m gptoss_agent.sandbox build --offline --if-needed
step "chromium starts headless" bash scripts/setup.d/chromium-check.sh
step_wait "model runtime (torch CPU, transformers)"

echo "ready in $(( SECONDS - started )) s (log: $SETUP_LOG)"
