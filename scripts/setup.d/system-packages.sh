#!/usr/bin/env bash
# Debian packages the tools need: the Docker engine, debootstrap (the offline sandbox image
# build), tini, and Chromium (its headless shell, the browser tool's default, and the full
# browser for runs with a window) with fonts for readable page metrics. No recommended packages:
# nothing here needs a desktop.
set -euo pipefail
want=()
command -v dockerd >/dev/null 2>&1 || want+=(docker.io tini)
command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
command -v chromium >/dev/null 2>&1 || want+=(chromium fonts-dejavu-core fonts-liberation)
command -v chromium-headless-shell >/dev/null 2>&1 || want+=(chromium-headless-shell)
if [ "${#want[@]}" -eq 0 ]; then
  echo "all present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${want[@]}"
