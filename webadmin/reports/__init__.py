"""Reports for supervisors and admins: queues, operator efficiency, categories."""

from __future__ import annotations

from webadmin.reports.routes import bp

__all__ = ["bp"]
