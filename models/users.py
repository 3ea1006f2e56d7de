"""Staff accounts: operators, supervisors, admins, and the queues they serve or oversee."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    delete,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import Base, utcnow
from models.routing import Queue


class Role(StrEnum):
    """What a member of staff may do (see the roles table in the README)."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class PhoneType(StrEnum):
    """How an operator's phone reaches Asterisk (the pjsip.conf template of its endpoint)."""

    WEBRTC = "webrtc"  # a browser phone over WSS
    DESKPHONE = "deskphone"  # a desk or soft phone over UDP


queue_supervisors = Table(
    "queue_supervisors",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
)


class QueueMember(Base):
    """An operator serving a queue, with the penalty Asterisk rings them by."""

    __tablename__ = "queue_members"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    penalty: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(back_populates="memberships")
    queue: Mapped[Queue] = relationship()


class User(Base):
    """A member of staff who signs in to the site; operators also have a phone extension."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'supervisor', 'admin')", name="role"),
        CheckConstraint("phone_type IN ('webrtc', 'deskphone')", name="phone_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=Role.OPERATOR.value)
    extension: Mapped[str | None] = mapped_column(String(32), unique=True)
    # The operator's phone: the SIP endpoint named after the extension (pbx.endpoints_conf).
    phone_type: Mapped[str] = mapped_column(
        String(16), default=PhoneType.WEBRTC.value, server_default=PhoneType.WEBRTC.value
    )
    # "md5:<hex>" of "<extension>:<realm>:<password>" (pjsip's password_digest), never the
    # password; None = no phone password yet, so no endpoint.
    sip_password_digest: Mapped[str | None] = mapped_column(String(128))
    sip_password_set_at: Mapped[datetime | None]
    # Bumped by each new phone password: a browser phone's password is derived from it
    # (pbx.endpoints_conf.browser_phone_password), so the old one stops working.
    phone_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    api_token_expires_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[QueueMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    supervised_queues: Mapped[list[Queue]] = relationship(secondary=queue_supervisors)

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of the password, never the password."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def served_queues(self) -> list[Queue]:
        """The queues this operator answers calls in."""
        return [membership.queue for membership in self.memberships]

    def __repr__(self) -> str:
        return f"<User {self.login} {self.role}>"


class StaffSession(Base):
    """One signed-in browser: its cookie names this row, and signing out deletes it."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # sha256 of the key in the cookie: a copy of this table opens no session.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _credentials_changed(user: User) -> bool:
    """True when this flush changes the user's password or deactivates them."""
    state = inspect(user)
    if state.attrs.password_hash.history.has_changes():
        return True
    return False in state.attrs.active.history.added


@event.listens_for(Session, "before_flush")
def _end_sessions_of_changed_users(session: Session, _context: Any, _instances: Any) -> None:
    """A new password or a deactivation ends every session of that user, whoever changes it."""
    ended = [
        obj.id
        for obj in session.dirty
        if isinstance(obj, User) and obj.id is not None and _credentials_changed(obj)
    ]
    if ended:
        # On the connection, not through the Session: its flush is starting and must not
        # be re-entered.
        session.connection().execute(delete(StaffSession).where(StaffSession.user_id.in_(ended)))
