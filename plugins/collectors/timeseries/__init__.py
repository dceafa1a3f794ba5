"""The ``timeseries`` collector: per-interval rollups as InfluxDB line protocol (see collector)."""

from .collector import TimeseriesCollector, TimeseriesConfig

__all__ = ["TimeseriesCollector", "TimeseriesConfig"]
