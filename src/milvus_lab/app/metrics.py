"""Prometheus metrics of the search API (base units, `_total` counters; DESIGN.md section 8)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("slot", "version", "variant")
        self.requests = Counter(
            "search_api_requests_total", "HTTP requests by endpoint and status",
            (*labels, "endpoint", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "search_api_request_duration_seconds", "Search latency seen by the API, seconds",
            labels, buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.empty_results = Counter(
            "search_api_empty_results_total", "Searches that returned no hits", labels,
            registry=self.registry,
        )
        self.info = Gauge("search_api_info", "Always 1; labels say what this replica serves",
                          (*labels, "collection"), registry=self.registry)
