"""Prometheus metrics, served at GET /metrics.

Each Runtime has its own registry rather than prometheus_client's global one, so tests and
several apps in one process count separately.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# Slack wants an ack within 3 s; the buckets resolve the fast path and the road to that limit.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
# What generate_latest writes: the classic text format every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The app's counters and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "learnloop_requests",
            "Requests to /slack/events by kind (event/<type>, command/<name>, "
            "interaction/<type>, url_verification, rejected) and HTTP status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "learnloop_ack_seconds",
            "Seconds from a request's arrival to its answer (the ack Slack waits for).",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_retries = Counter(
            "learnloop_slack_retries",
            "Signed requests Slack marked as retries (X-Slack-Retry-Num), by X-Slack-Retry-Reason.",
            ["reason"],
            registry=self.registry,
        )
        self.web_api_calls = Counter(
            "learnloop_web_api_calls",
            "HTTP requests to Slack's Web API, retries included, by method and outcome "
            "(ok, error, ratelimited, server_error, connection_error).",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.web_api_ratelimited = Counter(
            "learnloop_web_api_ratelimited",
            "Web API answers of HTTP 429 (rate limited), by method.",
            ["method"],
            registry=self.registry,
        )
        self.scheduler_runs = Counter(
            "learnloop_scheduler_runs",
            "Scheduled job runs that finished, by job id.",
            ["job"],
            registry=self.registry,
        )
        self.scheduler_misses = Counter(
            "learnloop_scheduler_misses",
            "Scheduled runs skipped because they were due too long ago.",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """Everything in Prometheus' text format."""
        return generate_latest(self.registry)
