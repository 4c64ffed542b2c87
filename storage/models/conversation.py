"""Per-user conversation state and the buttons each user was offered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class ConversationState(Base):
    """Where a user is in the conversation: the flow that owns it (e.g. a lesson) and its data,
    the buttons of the last turn, and attributes that outlive flows (``attrs``).

    ``version`` gives optimistic concurrency: two processes serving one user cannot both write.
    """

    __tablename__ = "conversation_state"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attrs: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)  # outlive flows
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OfferedButton(Base):
    """A button really offered to a user; channels carry only ``token``, never the payload."""

    __tablename__ = "offered_buttons"

    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    payload: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
