"""The admin API: reference data (agents, teams, departments, help topics, SLA plans,
schedules), agents' sign-in (invites, two-factor resets, signing out), integrations' API keys,
webhook subscriptions, requesters' data on request (erasure, export), and the audit log of
every change to them."""

from fastapi import APIRouter

from services.intake.admin.agent_access import router as agent_access_router
from services.intake.admin.api_keys import router as api_keys_router
from services.intake.admin.audit_log import router as audit_router
from services.intake.admin.requesters import router as requesters_router
from services.intake.admin.routes import router as reference_router
from services.intake.admin.webhooks import router as webhooks_router

router = APIRouter()
router.include_router(reference_router)
router.include_router(agent_access_router)
router.include_router(api_keys_router)
router.include_router(audit_router)
router.include_router(webhooks_router)
router.include_router(requesters_router)

__all__ = ["router"]
