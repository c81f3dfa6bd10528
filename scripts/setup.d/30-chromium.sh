#!/usr/bin/env bash
# Chromium for the browser tool: Debian's package, driven by Playwright through
# executable_path (Playwright's own browser download is not used). Idempotent; run as root.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # fonts-dejavu-core and fonts-liberation give pages readable metrics; no GUI needed.
  apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation
fi

# Check that it starts headless with the flags the tool uses (no network needed).
out="$(timeout 60 chromium --headless --no-sandbox --disable-gpu \
  --disable-background-networking --disable-component-update --disable-sync \
  --no-first-run --disable-quic --dump-dom 'data:text/html,<p>chromium-ok</p>' 2>/dev/null || true)"
if [[ "$out" != *chromium-ok* ]]; then
  echo "chromium is installed but did not render a page headless" >&2
  exit 1
fi
echo "chromium: $(chromium --version 2>/dev/null | head -1)"
