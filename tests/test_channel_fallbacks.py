"""Shared channel fallbacks: numbered buttons, lettered choices, splitting, markup."""

from __future__ import annotations

from pathlib import Path

from bot.channels.plain import render_plain, split_text, strip_markup, to_html
from bot.content.messages import messages_from
from bot.core.replies import Button, Reply, mark, number_buttons, typed_key

MESSAGES = messages_from(Path(__file__).resolve().parent.parent / "content")


def test_keys_show_as_keycaps_and_are_read_back_however_typed() -> None:
    assert [mark(k) for k in ("1", "9", "10", "11", "A")] == ["1️⃣", "9️⃣", "🔟", "11.", "A."]
    for typed in ("2", " 2. ", "2)", "2️⃣", "2\u20e3"):
        assert typed_key(typed) == "2", typed
    assert typed_key("🔟") == "10"
    assert typed_key("b.") == "B"
    assert typed_key("2 cái") == "2 CÁI"  # a question starting with a number is no key


def test_numbering_is_continuous_and_choices_are_lettered() -> None:
    replies = [
        Reply.with_buttons("a", [Button("X", "x"), Button("Y", "y")]),
        Reply.question("q", [Button("Có", "c"), Button("Không", "k")]),
        Reply.with_buttons("b", [Button("Z", "z")]),
    ]
    assert [k.key for k in number_buttons(replies)] == ["1", "2", "A", "B", "3"]


def test_render_plain_lists_buttons_and_says_how_to_answer() -> None:
    replies = [
        Reply(text="**Chào** bạn"),
        Reply.with_buttons("Chọn:", [Button("Bài học", "p1"), Button("Hỏi đáp", "p2")]),
    ]
    (out,) = render_plain(replies, MESSAGES, 2000)  # one message for the turn
    assert out.startswith("Chào bạn\n\nChọn:")
    assert "1️⃣ Bài học\n2️⃣ Hỏi đáp" in out
    assert "Trả lời số 1 hoặc 2" in out


def test_render_plain_letters_for_a_question() -> None:
    out = render_plain(
        [Reply.question("Câu 1?", [Button("Có", "a"), Button("Không", "b"), Button("?", "c")])],
        MESSAGES,
        2000,
    )
    assert "A. Có\nB. Không\nC. ?" in out[0]
    assert "Trả lời A, B hoặc C" in out[0]


def test_split_prefers_paragraphs_and_respects_the_limit() -> None:
    text = "\n\n".join(f"Đoạn {i} " + "chữ " * 30 for i in range(20))
    parts = split_text(text, 500)
    assert all(len(p) <= 500 for p in parts)
    assert all(p.startswith("Đoạn") for p in parts)
    assert " ".join(parts).split() == text.split()


def test_split_handles_one_huge_word_and_empty_text() -> None:
    assert split_text("", 10) == []
    parts = split_text("x" * 25, 10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


def test_markup() -> None:
    assert to_html("**a<b>** & c") == "<b>a&lt;b&gt;</b> &amp; c"
    assert strip_markup("**đậm** thường") == "đậm thường"
