"""Card changes replayed from a FastAGI server's local journal, remembered so each lands once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class CardOperation(Base):
    """The id of a journaled card change that has been applied."""

    __tablename__ = "card_operations"

    op_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
