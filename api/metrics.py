"""Prometheus metrics, one registry per app (several apps can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("frontage_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("frontage_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.events = Counter("frontage_events_total", "Edge events received", ["type", "outcome"],
                              registry=self.registry)
        self.transitions = Counter("frontage_case_actions_total", "Case actions taken", ["action"],
                                   registry=self.registry)
        self.db_unavailable = Counter("frontage_db_unavailable_total", "Requests answered 503: database down",
                                      registry=self.registry)
        self.cases_by_state = Gauge("frontage_cases", "Cases by state", ["state"], registry=self.registry)
