"""Analytics (role analyst): aggregates only, as JSON or CSV."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/analytics", tags=["analítica"])
