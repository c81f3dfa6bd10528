#!/usr/bin/env bash
# Starts dockerd in the background unless an engine answers, with no bridge and no iptables:
# sandbox containers must never reach any network but their own loopback.
set -euo pipefail
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/gptoss-dockerd.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"
if docker info >/dev/null 2>&1; then
  echo "docker engine already running"
  exit 0
fi
echo "starting dockerd (log: $DOCKERD_LOG)"
nohup dockerd --bridge=none --iptables=false --ip6tables=false \
  >"$DOCKERD_LOG" 2>&1 </dev/null &
deadline=$((SECONDS + WAIT_S))
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "dockerd did not answer within ${WAIT_S}s; last lines of $DOCKERD_LOG:"
    tail -n 20 "$DOCKERD_LOG" || true
    exit 1
  fi
  sleep 0.5
done
echo "docker engine is up"
