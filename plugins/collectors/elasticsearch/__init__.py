"""The ``elasticsearch`` collector: records in Elasticsearch or OpenSearch (see collector)."""

from .collector import ElasticsearchCollector, ElasticsearchConfig

__all__ = ["ElasticsearchCollector", "ElasticsearchConfig"]
