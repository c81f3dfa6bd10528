#!/usr/bin/env bash
# Chromium starts headless with the flags the browser tool uses and renders a page (no
# network needed).
set -euo pipefail
chromium --version
out="$(timeout 60 chromium --headless --no-sandbox --disable-gpu \
  --disable-background-networking --disable-component-update --disable-sync \
  --no-first-run --disable-quic --dump-dom 'data:text/html,<p>chromium-ok</p>' 2>&1 || true)"
if [[ "$out" != *chromium-ok* ]]; then
  echo "chromium is installed but did not render a page headless:"
  echo "$out" | tail -n 20
  exit 1
fi
