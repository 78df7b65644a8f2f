"""ticketflow's own Prometheus metrics: what the desk does, counted where it happens.

Each process counts what it did itself (prometheus_client's default registry), and serves it
on its own /metrics (services/metrics_endpoint.py; the worker: services/workflows/telemetry.py).
Labels name kinds of things only (an action, an outcome, a source, a clock): never a ticket,
a person, an address or any text someone wrote, so no figure can tell who did what.
"""

from enum import StrEnum

from prometheus_client import Counter, Histogram

# Lateness and lag in seconds: from "on time" to "an hour behind".
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class CommandOutcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"  # answered 4xx: the ticket's rules, a stale version, an unknown handle
    UNAVAILABLE = "unavailable"  # answered 503: Temporal unreachable, or not applied in time
    ERROR = "error"  # answered 500: a bug


class MailOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # this try failed; it is tried again after a backoff
    UNDELIVERABLE = "undeliverable"  # given up on after a day of tries


TICKETS_CREATED = Counter(
    "ticketflow_tickets_created",
    "Tickets opened, by where they came from (counted as their opening is published).",
    ["source"],
)
COMMANDS = Counter(
    "ticketflow_commands",
    "Commands given to tickets (intake, portal, mail-in), by action and outcome.",
    ["action", "outcome"],
)
ESCALATIONS = Counter(
    "ticketflow_escalations",
    "SLA escalations fired and published (a ladder step past a breach), by clock.",
    ["clock"],
)
ESCALATION_LATENESS = Histogram(
    "ticketflow_escalation_lateness_seconds",
    "From an escalation's due time to its publication (notices queued), by clock.",
    ["clock"],
    buckets=LAG_BUCKETS,
)
MAILS = Counter(
    "ticketflow_mails",
    "Notification deliveries by the outbox, by channel, kind and outcome.",
    ["channel", "kind", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "ticketflow_webhook_attempts",
    "Webhook POSTs answered, by the delivery's state after it: delivered (2xx), pending "
    "(failed, to be retried) or failed (given up).",
    ["outcome"],
)
WEBHOOK_LAG = Histogram(
    "ticketflow_webhook_delivery_lag_seconds",
    "From a ticket event to its webhook's 2xx answer.",
    buckets=LAG_BUCKETS,
)
