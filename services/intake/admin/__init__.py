"""The admin API: reference data (agents, teams, departments, help topics, SLA plans,
schedules)."""

from services.intake.admin.routes import router

__all__ = ["router"]
