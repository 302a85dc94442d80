#!/usr/bin/env bash
# Installs the connector with its dev extras into .venv (if needed) and runs the whole test suite:
# unit tests, simulator tests, end-to-end tests, the health report's tests and the Airbyte standard tests.
# Extra args go to pytest. CI (.ci/run) runs the container image test, scripts/image_test.sh, beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh dev,report
exec .venv/bin/python -m pytest -m "not image_tests" -k "not docker_image" "$@"
