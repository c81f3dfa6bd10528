#!/usr/bin/env bash
# Real MCP servers for the MCP tests, from the package registries: mcp-server-time and
# mcp-server-git (PyPI, run as python -m ...), and npm's server-filesystem and
# server-everything, installed under $CACHE/npm where the tests look for them.
set -euo pipefail
CACHE="${GPTOSS_AGENT_BUILD_CACHE:-/var/cache/gptoss-agent}"
python -m pip install --disable-pip-version-check --progress-bar off \
  "mcp-server-time==2026.10.19" "mcp-server-git==2026.10.19"
if command -v npm >/dev/null 2>&1; then
  mkdir -p "$CACHE/npm"
  npm install --no-audit --no-fund --prefix "$CACHE/npm" \
    "@modelcontextprotocol/server-filesystem@2026.8.31" \
    "@modelcontextprotocol/server-everything@2026.8.31"
else
  echo "npm not found: the npm MCP server tests will be skipped (CI fails them)"
fi
