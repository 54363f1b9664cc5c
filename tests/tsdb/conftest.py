from tests.tsdb_servers import influxd, victoria_metrics  # noqa: F401 - fixtures
