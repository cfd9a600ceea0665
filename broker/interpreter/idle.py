"""What an idle interpreter's status is: it follows presence (`online`) and choice
(`wants_offers`). One rule in two forms: for a loaded profile, and as SQL for bulk updates
(an offer or a session ends, a wrap-up is over).
"""

from __future__ import annotations

from sqlalchemy import and_, case

from broker.enums import InterpreterStatus
from broker.interpreter.models import InterpreterProfile

# What an interpreter falls back to when an offer or session ends.
IDLE_STATUS = case(
    (and_(InterpreterProfile.online, InterpreterProfile.wants_offers), InterpreterStatus.AVAILABLE.value),
    (InterpreterProfile.online, InterpreterStatus.AWAY.value),
    else_=InterpreterStatus.OFFLINE.value,
)


def idle_status(profile: InterpreterProfile) -> InterpreterStatus:
    if profile.online and profile.wants_offers:
        return InterpreterStatus.AVAILABLE
    return InterpreterStatus.AWAY if profile.online else InterpreterStatus.OFFLINE
