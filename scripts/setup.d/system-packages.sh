#!/usr/bin/env bash
# Debian packages the tools need: the Docker engine, debootstrap (the offline sandbox image
# build), tini, and Chromium (its headless shell, the browser tool's default, and the full
# browser for runs with a window) with fonts for readable page metrics. No recommended packages:
# nothing here needs a desktop.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
want=()
command -v dockerd >/dev/null 2>&1 || want+=(docker.io tini)
command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
command -v chromium >/dev/null 2>&1 || want+=(chromium fonts-dejavu-core fonts-liberation)
command -v chromium-headless-shell >/dev/null 2>&1 || want+=(chromium-headless-shell)
apt_install "${want[@]}"
