"""Admin endpoints (placeholder until the admin router lands)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
