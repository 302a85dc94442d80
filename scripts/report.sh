#!/usr/bin/env bash
# Workspace health report: syncs the connector's streams with PyAirbyte into a DuckDB cache and writes one
# self-contained HTML page (plotly.js inlined: it opens offline). See health_report/__main__.py for the options.
#
#   ./scripts/report.sh --output report.html                      # the bundled simulator's demo workspace
#   ./scripts/report.sh --config secrets/config.json --output report.html --cache .cache/report   # a real workspace
#   ./scripts/report.sh --cache .cache/report --output report.html                               # re-render a synced cache
#   ./scripts/report.sh --test                                    # the opt-in PyAirbyte end-to-end test
#
# PyAirbyte lives in its own venv, .venv-report (git-ignored), with the report's extras (duckdb, plotly), so its pins
# never touch the connector's. The connector stays in the project venv, .venv, and runs as PyAirbyte's subprocess.
# AIRBYTE_OFFLINE_MODE=1: no registry download, no telemetry.
#   PYTHON=python3.11 ./scripts/report.sh ...     # interpreter used to create the venvs
#   PYAIRBYTE_VERSION=0.71.3                       # the PyAirbyte release installed into .venv-report
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PYAIRBYTE_VERSION="${PYAIRBYTE_VERSION:-0.71.3}"

# 1. The connector, in the project venv (skipped when it is already installed).
if [ ! -x .venv/bin/source-segment ]; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
fi

# 2. PyAirbyte, duckdb, plotly and pytest in .venv-report (minutes and ~800 MB the first time; skipped afterwards).
installed() {
  .venv-report/bin/python - "$PYAIRBYTE_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("airbyte") == sys.argv[1] and version("plotly") and version("pytest") else 1)
PY
}
if [ ! -x .venv-report/bin/python ] || ! installed; then
  echo "Creating .venv-report with airbyte==${PYAIRBYTE_VERSION} (PyAirbyte), plotly and pytest ..." >&2
  "$PYTHON" -m venv .venv-report
  .venv-report/bin/python -m pip install --quiet --disable-pip-version-check "airbyte==${PYAIRBYTE_VERSION}" "plotly>=5.20" pytest
fi

export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1
export SOURCE_SEGMENT_EXECUTABLE="${SOURCE_SEGMENT_EXECUTABLE:-$PWD/.venv/bin/source-segment}"
if [ "${1:-}" = "--test" ]; then
  shift
  # --noconftest: the repo's conftest files load the connector and the CDK's plugins, which this venv need not have.
  exec .venv-report/bin/python -m pytest --noconftest -p no:cacheprovider health_report/tests/test_report_pyairbyte.py "$@"
fi
exec .venv-report/bin/python -m health_report "$@"
