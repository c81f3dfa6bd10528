#!/usr/bin/env bash
# Set up a fresh machine for gptoss-agent: the Python package with its extras, and the
# services the tools need (each step is a script of its own under scripts/setup.d/).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -e '.[dev]'
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== $step"
  bash "$step"
done
