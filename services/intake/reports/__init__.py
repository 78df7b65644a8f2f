"""Reports over the facts the ticket workflows record: SLA by group, and per agent."""

from services.intake.reports.routes import router

__all__ = ["router"]
