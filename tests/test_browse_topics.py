"""Browsing the knowledge base (issue 17 item 13): "Hỏi đáp" lists the groups, a group lists
its topics, a topic shows its answer; on a text-only channel each step is one message."""

from __future__ import annotations

from bot.app import App
from bot.channels.memory import MemoryChannel
from tests.conftest import consent
from tests.replies import labels, texts


async def test_ask_lists_groups_then_topics_then_the_answer(app: App, chat: MemoryChannel) -> None:
    content = app.store.current
    await consent(chat, "c1")
    replies = await chat.press("c1", "Hỏi đáp")
    assert "gõ câu hỏi" in texts(replies)
    with_entries = [g for g in content.groups if any(e.group == g.id for e in content.knowledge)]
    assert len(with_entries) >= 5
    assert labels(replies)[: len(with_entries)] == [g.title for g in with_entries]
    safety = next(g for g in with_entries if g.id == "safety")
    replies = await chat.press("c1", safety.title)
    topics = [e for e in content.knowledge if e.group == "safety"]
    shown = min(len(topics), 15)  # at most 15 topics, then "Chủ đề khác" and "Menu"
    assert labels(replies)[:shown] == [e.title for e in topics][:shown]
    assert labels(replies)[-2:] == ["Chủ đề khác", "Menu"]
    replies = await chat.press("c1", "Chủ đề khác")
    assert labels(replies)[: len(with_entries)] == [g.title for g in with_entries]
    await chat.press("c1", safety.title)
    entry = topics[0]
    replies = await chat.press("c1", entry.title)
    assert entry.answer.splitlines()[0].replace("**", "")[:30] in texts(replies).replace("**", "")


async def test_browsing_on_a_text_only_channel_is_one_message_a_step(
    app: App, text_chat: MemoryChannel
) -> None:
    await consent(text_chat, "z1")
    await text_chat.press("z1", "Hỏi đáp")
    (shown,) = text_chat.plain(text_chat.last["z1"])
    content = app.store.current
    groups = [g for g in content.groups if any(e.group == g.id for e in content.knowledge)]
    assert f"1️⃣ {groups[0].title}" in shown
    replies = await text_chat.say("z1", "5")  # the fifth group, by its number
    (shown,) = text_chat.plain(replies)
    assert groups[4].title in shown and "Trả lời số từ 1 đến" in shown
