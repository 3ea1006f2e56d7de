"""The operator's workspace: the card of the call on their phone pops up by itself."""

from __future__ import annotations

from webadmin.workspace.phone import bp as phone_bp
from webadmin.workspace.routes import bp

# The browser phone's routes live under the workspace (endpoint "workspace.phone.*").
bp.register_blueprint(phone_bp)

__all__ = ["bp"]
