#!/usr/bin/env bash
# torch, CPU build, pinned: an unpinned torch (asked for by transformers or peft) would pull a
# multi-GB CUDA build. Then the rest of the `transformers` extra, read from pyproject.toml, so
# the pins live in one place. The package itself is not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/../.."
TORCH_VERSION="2.13.0"
source scripts/lib/steps.sh
if ! python -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')"
then
  pip_quiet "torch==$TORCH_VERSION"
fi
install_extra transformers
