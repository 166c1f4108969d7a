"""The attack suite uses the integration fixtures: the real app on SQLite and PostgreSQL."""

from tests.integration.conftest import api, backend, settings_overrides  # noqa: F401
