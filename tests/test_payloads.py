"""Typed button payloads: every payload class packs and unpacks, and any payload that is not
well formed (truncated, oversized, garbled) is a stale button, never an exception."""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

import handlers.payloads
from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.payloads import MAX_PAYLOAD, Payload, PayloadError, RowRef
from storage.models import User
from storage.repos.conversation import ConversationRepo
from tests.conftest import consent

PAYLOADS = [
    cls
    for cls in vars(handlers.payloads).values()
    if isinstance(cls, type) and issubclass(cls, Payload) and cls is not Payload
]


def sample(cls: type[Payload]) -> Payload:
    """An instance with every field set."""
    values: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if typing.get_origin(hint) is not typing.Literal and args else hint
        if typing.get_origin(hint) is typing.Literal:
            values[f.name] = typing.get_args(hint)[0]
        elif base is int:
            values[f.name] = 12
        else:
            values[f.name] = "sk_spot_phishing"
    return cls(**values)


def broken(packed: str) -> list[str]:
    """Truncated, oversized and garbled versions of a packed payload."""
    prefix, _, rest = packed.partition(":")
    cuts = {len(packed) - 1, len(prefix), len(prefix) + 1}
    cuts |= {i for i, ch in enumerate(packed) if ch == ":"} | {
        i + 1 for i, ch in enumerate(packed) if ch == ":"
    }
    out = [packed[:cut] for cut in sorted(cuts)]  # truncated: at and around every separator
    out += [
        packed + ":extra",
        packed + ":" + "9" * 20,
        packed + "x" * (MAX_PAYLOAD + 1),
        packed.replace("12", "9" * 13),  # an id of 13 digits
        packed.replace("12", "-1"),
        packed.replace("12", "１２"),  # full-width digits
        packed.replace("sk_spot_phishing", "a" * 65),
        packed.replace("sk_spot_phishing", "sk spot"),
        packed + "\x00",
        "\x00" + packed,
        packed.replace(":", "::"),
        packed.replace(":", ";"),
        packed.encode().decode("latin-1"),
        bytes(range(256)).decode("latin-1"),
        "\udcff" * 8,
        "🙂" * 40,
        f"{prefix}:{rest}:\x1b[31m",
    ]
    return out


@pytest.mark.parametrize("cls", PAYLOADS, ids=lambda c: c.__name__)
def test_every_payload_round_trips(cls: type[Payload]) -> None:
    payload = sample(cls)
    packed = payload.pack()
    assert len(packed) <= MAX_PAYLOAD and packed.startswith(cls.prefix)
    assert Payload.parse(packed) == payload
    assert cls.unpack(packed) == payload


@pytest.mark.parametrize("cls", PAYLOADS, ids=lambda c: c.__name__)
def test_broken_payloads_never_parse_as_something_else(cls: type[Payload]) -> None:
    for raw in broken(sample(cls).pack()):
        parsed = Payload.parse(raw)  # never raises
        assert parsed is None or parsed.pack() == raw, raw


def test_payload_shapes_stay_those_stored_in_offered_buttons() -> None:
    p = handlers.payloads
    assert p.LessonAnswer(3, "q1", 2).pack() == "lesson:ans:3:q1:2"
    assert p.TeamHome().pack() == "fu:home"
    assert p.TeamHome(0).pack() == "fu:home:0"
    assert p.AnswerShow("e1").pack() == "answers:show:e1"
    assert p.AnswerShow("e1", 7).pack() == "answers:show:e1:7"
    assert p.BroadcastTeam(None).pack() == "bcast:team:all"
    assert p.BroadcastTeam(5).pack() == "bcast:team:5"
    assert p.Guided(1, 2, "sk_a").pack() == "fu:guided:1:2:sk_a"
    assert Payload.parse("lesson:start:") == p.LessonStart("")
    assert p.AnswerUp(RowRef(2)).pack() == "answers:up:\x002\x00"


def test_a_payload_prefix_has_one_owner() -> None:
    with pytest.raises(PayloadError, match=r"LessonAnswer"):

        @dataclass(frozen=True)
        class Clash(Payload, prefix="lesson:ans"):
            attempt: int

    with pytest.raises(PayloadError, match="clashes"):

        @dataclass(frozen=True)
        class Nested(Payload, prefix="fu:home:x"):
            pass

    with pytest.raises(ValueError, match="cannot be put"):
        handlers.payloads.LessonStart("a:b").pack()


def _storable(raw: str) -> bool:
    """Whether a database could hold this payload (a lone surrogate is not text)."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _offer(app: App, external_id: str, payloads: list[str]) -> list[str]:
    async with app.db.transaction() as session:
        query = select(User).where(User.external_id == external_id)
        user = (await session.execute(query)).scalar_one()
        return await ConversationRepo(session).offer(user.id, payloads)


async def test_every_broken_payload_is_a_stale_button(app: App, chat: MemoryChannel) -> None:
    """Each payload type, truncated, oversized and garbled, offered as if it had been stored:
    the citizen gets the stale-button reply, and nothing fails. (Eight citizens press at once,
    so their turns share transactions and the test stays short.)"""
    bad = sorted(
        {raw[:MAX_PAYLOAD] for cls in PAYLOADS for raw in broken(sample(cls).pack())} - {""}
    )
    bad = [raw for raw in bad if Payload.parse(raw) is None and _storable(raw)]
    assert len(bad) > 300
    users = [f"u{n}" for n in range(8)]
    for user in users:
        await consent(chat, user)

    async def press_all(user: str, payloads: list[str]) -> None:
        for raw, token in zip(payloads, await _offer(app, user, payloads), strict=True):
            replies = await chat.press_token(user, token)
            assert [r.key for r in replies] == ["fallback.stale"], repr(raw)

    await asyncio.gather(*(press_all(u, bad[n :: len(users)]) for n, u in enumerate(users)))
