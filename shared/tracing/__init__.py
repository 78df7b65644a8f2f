"""OpenTelemetry traces (README "Traces"): each process's spans exported by OTLP/HTTP when
OTEL_EXPORTER_OTLP_ENDPOINT is set (`process`), stripped of anything naming a person on the
way out (`redaction`), and the trace context a notification carries to its delivery
(`carrier`)."""
