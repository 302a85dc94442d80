#!/usr/bin/env bash
# Opt-in end-to-end test through PyAirbyte (integration_tests/test_pyairbyte.py, see integration_tests/PYAIRBYTE.md).
#
# PyAirbyte lives in its own venv, .venv-pyab (git-ignored), so its pins (rich<14, cryptography<47, ==-pinned
# opentelemetry/sqlalchemy/duckdb, ...) never touch the connector's. The connector is installed in the project
# venv, .venv, and PyAirbyte runs it as a subprocess through `local_executable=.venv/bin/source-segment`.
# Nothing goes to the network at test time: AIRBYTE_OFFLINE_MODE=1 (no registry download, no telemetry).
#
# Usage: ./scripts/pyairbyte_test.sh [extra pytest args]
#   PYTHON=python3.11 ./scripts/pyairbyte_test.sh     # interpreter used to create the venvs
#   PYAIRBYTE_VERSION=0.71.3                           # the PyAirbyte release installed into .venv-pyab
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PYAIRBYTE_VERSION="${PYAIRBYTE_VERSION:-0.71.3}"

# 1. The connector, in the project venv (the same install ./scripts/test.sh makes).
./scripts/install.sh

# 2. PyAirbyte and pytest, in their own venv (100-180 s and 785 MB the first time; skipped afterwards).
# (A metadata look-up, not `import airbyte`, which alone takes ~7 s.)
installed() {
  .venv-pyab/bin/python - "$PYAIRBYTE_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("airbyte") == sys.argv[1] and version("pytest") else 1)
PY
}
if [ ! -x .venv-pyab/bin/python ] || ! installed; then
  echo "Creating .venv-pyab with airbyte==${PYAIRBYTE_VERSION} (PyAirbyte) and pytest ..." >&2
  "$PYTHON" -m venv .venv-pyab
  .venv-pyab/bin/python -m pip install --quiet --disable-pip-version-check "airbyte==${PYAIRBYTE_VERSION}" pytest
fi

# 3. The test. --noconftest: the repo's conftest files load the CDK's standard-test plugin and the connector's
#    end-to-end fixtures; the test must not import source_segment or load the CDK plugin itself (it only needs the
#    simulator, which is stdlib-only, and PyAirbyte).
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1
export SOURCE_SEGMENT_EXECUTABLE="${SOURCE_SEGMENT_EXECUTABLE:-$PWD/.venv/bin/source-segment}"
exec .venv-pyab/bin/python -m pytest --noconftest -p no:cacheprovider integration_tests/test_pyairbyte.py "$@"
