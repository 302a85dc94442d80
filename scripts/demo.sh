#!/usr/bin/env bash
# Installs the connector into .venv (if needed), starts the bundled Segment API simulator and runs
# check, discover and a full read of every stream against it. Args go to scripts/demo.py (--size, --seed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python scripts/demo.py "$@"
