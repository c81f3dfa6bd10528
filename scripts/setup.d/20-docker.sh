#!/usr/bin/env bash
# Docker engine and the python tool's sandbox image. Idempotent; run as root on Debian.
#
# 1. Installs Debian's docker.io (the engine) and debootstrap (the offline image build).
# 2. Starts dockerd in the background if no engine answers, with --bridge=none and
#    --iptables=false: sandbox containers must never reach any network but loopback.
# 3. Builds the sandbox image offline (debootstrap from the machine's Debian mirror, then
#    `docker import`) unless an image with the current recipe hash already exists.
set -euo pipefail
cd "$(dirname "$0")/../.."

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/gptoss-dockerd.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"

if [ "$(id -u)" -ne 0 ]; then
  echo "20-docker.sh: must run as root (installs packages and starts dockerd)" >&2
  exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io debootstrap tini >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "== docker engine already running"
else
  echo "== starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd --bridge=none --iptables=false --ip6tables=false \
    >"$DOCKERD_LOG" 2>&1 </dev/null &
  deadline=$((SECONDS + WAIT_S))
  until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "20-docker.sh: dockerd did not answer within ${WAIT_S}s; last log lines:" >&2
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "== docker engine is up"
fi

# Builds only when the image is missing or its recipe hash label differs.
python -m gptoss_agent.sandbox build --offline --if-needed
