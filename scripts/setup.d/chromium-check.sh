#!/usr/bin/env bash
# Chromium and its headless shell start headless with the flags the browser tool uses and renders a page (no
# network needed).
set -euo pipefail
for browser in chromium chromium-headless-shell; do
  "$browser" --version
  out="$(timeout 60 "$browser" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --disable-quic --dump-dom 'data:text/html,<p>chromium-ok</p>' 2>&1 || true)"
  if [[ "$out" != *chromium-ok* ]]; then
    echo "$browser is installed but did not render a page headless:"
    echo "$out" | tail -n 20
    exit 1
  fi
done
