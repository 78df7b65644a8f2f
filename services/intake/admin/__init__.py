"""The admin API: reference data (agents, teams, departments, help topics, SLA plans,
schedules), and webhook subscriptions."""

from services.intake.admin.routes import router
from services.intake.admin.webhooks import router as webhooks_router

__all__ = ["router", "webhooks_router"]
