#!/usr/bin/env bash
# Installs the connector (editable) with the given extras into .venv, creating it with $PYTHON (default python3)
# if needed:  ./scripts/install.sh [EXTRAS]   e.g. ./scripts/install.sh dev,report
# The test, demo, image-test and PyAirbyte scripts all call this one. It installs with uv, which pip puts into .venv
# first: uv installs the same packages as pip (same resolution from the same index) in about 15 s instead of ~80 s
# on a fresh machine, mostly by not byte-compiling every package up front. INSTALLER=pip uses pip alone.
# One install at a time (build/.venv.lock): CI runs the image test beside the test suite, on the same .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
TARGET="."
[ -z "$EXTRAS" ] || TARGET=".[$EXTRAS]"
mkdir -p build
exec 8> build/.venv.lock
flock 8
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
if [ "${INSTALLER:-uv}" = uv ] && .venv/bin/python -m pip install --quiet --disable-pip-version-check uv; then
  .venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e "$TARGET"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$TARGET"
fi
