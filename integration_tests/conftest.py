# Fixtures live in their own modules so this file stays a list of imports other suites can extend.
from integration_tests.e2e_fixtures import catalog_streams, clean_expected, clean_keys, clean_read, clean_sim, stream_pks  # noqa: F401
