"""A worker process's metrics, on two ports of WORKER_METRICS_HOST: ticketflow's own
(shared/metrics.py, served by prometheus_client) on WORKER_METRICS_PORT, and the Temporal SDK's
(its Rust core's Prometheus exporter, which no Python code can add to) on
WORKER_SDK_METRICS_PORT. Either unset: not served.

`ticketflow worker --processes N` gives its i-th worker (from 0) each port plus i.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import start_http_server
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from shared.settings import Settings
from shared.temporal.runtime import core_logging


def sdk_runtime(settings: Settings) -> Runtime | None:
    """A runtime whose metrics Prometheus scrapes at WORKER_SDK_METRICS_PORT/metrics: counters
    end in _total and durations are in seconds, as Prometheus names them (and as
    deploy/grafana/ticketflow.json queries them); its core's log lines go as LOG_FORMAT asks.
    None without that port: the client's runtime as for any process."""
    if settings.worker_sdk_metrics_port is None:
        return None
    address = f"{settings.worker_metrics_host}:{settings.worker_sdk_metrics_port}"
    config = PrometheusConfig(
        bind_address=address,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=config, logging=core_logging(settings)))


@contextmanager
def serving_metrics(settings: Settings) -> Iterator[None]:
    """ticketflow's own metrics of this process at WORKER_METRICS_PORT, while inside."""
    if settings.worker_metrics_port is None:
        yield
        return
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host
    )
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def worker_environment(settings: Settings, index: int) -> dict[str, str]:
    """The environment of the `index`-th of several worker processes: its own metrics ports."""
    env = dict(os.environ)
    if settings.worker_metrics_port is not None:
        env["WORKER_METRICS_PORT"] = str(settings.worker_metrics_port + index)
    if settings.worker_sdk_metrics_port is not None:
        env["WORKER_SDK_METRICS_PORT"] = str(settings.worker_sdk_metrics_port + index)
    return env
