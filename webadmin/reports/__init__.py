"""Reports for supervisors and admins: queues, operator efficiency, categories."""

from __future__ import annotations

from webadmin.reports import sessions as _sessions  # noqa: F401 (registers its route on bp)
from webadmin.reports.routes import bp

__all__ = ["bp"]
