#!/usr/bin/env bash
# What the remote-engine tests need to reach the second dockerd the way users reach an engine
# on another machine: OpenSSH's server (the tests start their own sshd on a loopback port,
# with their own keys and config; nothing listens on port 22) and openssl for the TLS
# certificates. Neither is started or configured here.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
want=()
[ -x /usr/sbin/sshd ] || want+=(openssh-server)
command -v openssl >/dev/null 2>&1 || want+=(openssl)
apt_install "${want[@]}"
