#!/usr/bin/env bash
# What the test suite needs on top of scripts/setup.sh (run that first), as root: the dev
# tools (pytest, ruff, mypy), llama.cpp's server for the server-backend tests (built from
# source once and cached as a wheel), real MCP servers from PyPI and npm, and OpenSSH's server
# and openssl for the remote-engine tests. One line per step, details in the log file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/steps.sh
need_root setup-tests.sh
start_log
started=$SECONDS

step "dev tools (pytest, ruff, mypy, openai)" install_extra dev
step "llama.cpp server (cached wheel)" bash scripts/setup-tests.d/llama-cpp.sh
step "MCP test servers (PyPI, npm)" bash scripts/setup-tests.d/mcp-servers.sh
step "sshd, openssl (remote-engine tests)" bash scripts/setup-tests.d/remote-engine.sh

echo "test setup ready in $(( SECONDS - started )) s (log: $SETUP_LOG)"
