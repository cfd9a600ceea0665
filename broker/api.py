"""Every REST router of the product, in one list the app includes."""

from fastapi import APIRouter

from broker.auth.views import router as auth_router
from broker.booking.views import router as booking_router
from broker.interpreter.views import router as interpreter_router
from broker.language.views import router as language_router
from broker.notification.views import router as notification_router
from broker.office.views import router as office_router
from broker.ops.health import router as health_router
from broker.ops.views import router as ops_router
from broker.report.plan_views import router as plan_router
from broker.report.views import assets_router as report_assets_router
from broker.report.views import router as report_router
from broker.request.views import router as request_router
from broker.user.views import router as user_router

ROUTERS: list[APIRouter] = [
    health_router,
    ops_router,
    auth_router,
    office_router,
    user_router,
    language_router,
    interpreter_router,
    report_router,
    plan_router,
    report_assets_router,
    request_router,
    notification_router,
    booking_router,
]
