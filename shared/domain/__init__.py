"""The ticket domain: the state machine, SLA clocks, escalation, notices and the models they
work on. Pure: no I/O, no clock, no Temporal, no database."""
