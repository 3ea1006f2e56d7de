"""The dictionaries an operator picks from when completing a card."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base


class DictionaryItem:
    """Shared columns: a name, a place in the list, and whether new cards may use it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An item in use is never deleted, only hidden from new cards.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CallPurpose(DictionaryItem, Base):
    """Why the customer called (Запись на приём, Жалоба/претензия, ...)."""

    __tablename__ = "call_purpose"
    __table_args__ = (UniqueConstraint("name"),)


class CallCategory(DictionaryItem, Base):
    """The area the call belongs to (Медицинские услуги, Финансы/страхование, ...)."""

    __tablename__ = "call_category"
    __table_args__ = (UniqueConstraint("name"),)

    sub_categories: Mapped[list[CallSubCategory]] = relationship(
        back_populates="category", order_by="CallSubCategory.position"
    )


class CallSubCategory(DictionaryItem, Base):
    """A finer division of a category."""

    __tablename__ = "call_sub_category"
    __table_args__ = (UniqueConstraint("category_id", "name"),)

    category_id: Mapped[int] = mapped_column(ForeignKey("call_category.id"))
    category: Mapped[CallCategory] = relationship(back_populates="sub_categories")


class CallTag(DictionaryItem, Base):
    """A free label; a card may carry several."""

    __tablename__ = "call_tag"
    __table_args__ = (UniqueConstraint("name"),)


call_tags = Table(
    "call_tags",
    Base.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("call_tag.id"), primary_key=True),
)
