"""Asterisk's own CDR and CEL rows, written by cdr_pgsql and cel_pgsql (standard columns).

They let `callcards reconcile` rebuild the card of a call that the FastAGI server never saw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AsteriskCdr(Base):
    """One call detail record as cdr_pgsql writes it."""

    __tablename__ = "asterisk_cdr"

    id: Mapped[int] = mapped_column(primary_key=True)
    calldate: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    clid: Mapped[str | None] = mapped_column(String(80))
    src: Mapped[str | None] = mapped_column(String(80))
    dst: Mapped[str | None] = mapped_column(String(80))
    dcontext: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(80))
    dstchannel: Mapped[str | None] = mapped_column(String(80))
    lastapp: Mapped[str | None] = mapped_column(String(80))
    lastdata: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[int | None] = mapped_column(Integer)
    billsec: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(45))
    amaflags: Mapped[int | None] = mapped_column(Integer)
    accountcode: Mapped[str | None] = mapped_column(String(20))
    uniqueid: Mapped[str | None] = mapped_column(String(150), index=True)
    userfield: Mapped[str | None] = mapped_column(String(255))
    peeraccount: Mapped[str | None] = mapped_column(String(20))
    linkedid: Mapped[str | None] = mapped_column(String(150), index=True)
    sequence: Mapped[int | None] = mapped_column(Integer)


class AsteriskCel(Base):
    """One channel event as cel_pgsql writes it."""

    __tablename__ = "asterisk_cel"

    id: Mapped[int] = mapped_column(primary_key=True)
    eventtype: Mapped[str | None] = mapped_column(String(30))
    eventtime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    userdeftype: Mapped[str | None] = mapped_column(String(255))
    cid_name: Mapped[str | None] = mapped_column(String(80))
    cid_num: Mapped[str | None] = mapped_column(String(80))
    cid_ani: Mapped[str | None] = mapped_column(String(80))
    cid_rdnis: Mapped[str | None] = mapped_column(String(80))
    cid_dnid: Mapped[str | None] = mapped_column(String(80))
    exten: Mapped[str | None] = mapped_column(String(80))
    context: Mapped[str | None] = mapped_column(String(80))
    channame: Mapped[str | None] = mapped_column(String(80))
    appname: Mapped[str | None] = mapped_column(String(80))
    appdata: Mapped[str | None] = mapped_column(String(512))
    amaflags: Mapped[int | None] = mapped_column(Integer)
    accountcode: Mapped[str | None] = mapped_column(String(20))
    peeraccount: Mapped[str | None] = mapped_column(String(20))
    uniqueid: Mapped[str | None] = mapped_column(String(150))
    linkedid: Mapped[str | None] = mapped_column(String(150), index=True)
    userfield: Mapped[str | None] = mapped_column(String(255))
    peer: Mapped[str | None] = mapped_column(String(80))
    extra: Mapped[str | None] = mapped_column(String(512))
