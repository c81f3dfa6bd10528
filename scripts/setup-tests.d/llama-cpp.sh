#!/usr/bin/env bash
# llama.cpp's server and its GGUF converter, for the server-backend tests only.
#
# 1. llama-cpp-python[server]: no binary wheel exists on PyPI, so the source archive is built
#    once (about 7 minutes on 2 cores) into a wheel kept under $CACHE/wheels; later runs
#    install that wheel in seconds.
# 2. llama.cpp's convert_hf_to_gguf.py (with its conversion/ and gguf-py/ folders) is
#    unpacked from the same source archive into $CACHE/llama.cpp-VERSION/, where the tests
#    look for it.
set -euo pipefail
CACHE="${GPTOSS_AGENT_BUILD_CACHE:-/var/cache/gptoss-agent}"
LLAMA_CPP_VERSION="0.3.36"
PIP=(python -m pip install --disable-pip-version-check --progress-bar off)
mkdir -p "$CACHE/wheels" "$CACHE/sdist"
sdist="$CACHE/sdist/llama_cpp_python-$LLAMA_CPP_VERSION.tar.gz"
fetch_sdist() {
  if [ ! -f "$sdist" ]; then
    python -m pip download --quiet --no-deps --no-binary :all: -d "$CACHE/sdist" \
      "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
}

if ! python - "$LLAMA_CPP_VERSION" <<'PY' 2>/dev/null
import importlib.util, sys
import llama_cpp
ok = llama_cpp.__version__ == sys.argv[1] and importlib.util.find_spec("uvicorn") is not None
sys.exit(not ok)
PY
then
  if ! ls "$CACHE/wheels/llama_cpp_python-$LLAMA_CPP_VERSION-"*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $LLAMA_CPP_VERSION from source"
    fetch_sdist
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python -m pip wheel --quiet --no-deps \
      --wheel-dir "$CACHE/wheels" "$sdist"
  fi
  echo "installing llama-cpp-python[server] $LLAMA_CPP_VERSION"
  "${PIP[@]}" --find-links "$CACHE/wheels" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi

converter_dir="$CACHE/llama.cpp-$LLAMA_CPP_VERSION"
if [ ! -f "$converter_dir/convert_hf_to_gguf.py" ]; then
  echo "unpacking the GGUF converter into $converter_dir"
  fetch_sdist
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  tar -xzf "$sdist" -C "$scratch"
  source_dir="$scratch/llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp"
  mkdir -p "$converter_dir.tmp"
  cp -r "$source_dir/convert_hf_to_gguf.py" "$source_dir/conversion" "$source_dir/gguf-py" \
    "$converter_dir.tmp/"
  rm -rf "$converter_dir"
  mv "$converter_dir.tmp" "$converter_dir"
fi
