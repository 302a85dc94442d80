#!/usr/bin/env bash
# Installs the connector into .venv (if needed), starts the bundled Segment API simulator and runs
# check, discover and a full read of every stream against it. Args go to scripts/demo.py (--size, --seed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/python scripts/demo.py "$@"
