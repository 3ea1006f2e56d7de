"""AGI routes: one module per `agi://host/<route>` name used in extensions.conf."""

from __future__ import annotations

from fastagi.routes.answered import answered
from fastagi.routes.callback import callback
from fastagi.routes.hangup import hangup
from fastagi.routes.incoming import incoming
from fastagi.routes.outbound import outbound
from fastagi.routes.overflow import overflow
from fastagi.routes.ringing import ringing
from fastagi.routes.transfer import transfer

ROUTES = {
    "incoming": incoming,
    "transfer": transfer,
    "ringing": ringing,
    "answered": answered,
    "hangup": hangup,
    "outbound": outbound,
    "overflow": overflow,
    "callback": callback,
}
