"""A team's contact (issue 17 item 11): phone or Zalo, meeting place and hours, set with
``trolyso team contact`` or by the lead in the chat, shown by "Liên hệ tổ" and on the poster."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bot.app import App
from bot.channels.memory import MemoryChannel
from tests.conftest import consent
from tests.replies import labels, texts
from tests.test_teams import make_member, make_team
from tests.test_teams_cli import decode, trolyso, write_config


async def test_the_lead_sets_the_contact_and_citizens_see_it(app: App, chat: MemoryChannel) -> None:
    team = await make_team(app)
    await make_member(app, chat, "lead", team, "lead")
    await make_member(app, chat, "mem", team, "member")
    await consent(chat, "c1")
    await chat.say("c1", team.code)

    replies = await chat.say("mem", "/team")
    assert "Sửa thông tin liên hệ" not in labels(replies)  # members see it, leads edit it
    replies = await chat.say("lead", "/team")
    replies = await chat.press("lead", "Sửa thông tin liên hệ")
    assert "(chưa có)" in texts(replies)
    await chat.press("lead", "Số điện thoại/Zalo")
    replies = await chat.say("lead", "gọi tôi nhé")
    assert "chưa đúng" in texts(replies)
    replies = await chat.say("lead", "0912 345 678")
    assert "Đã lưu" in texts(replies) and "📞 Điện thoại/Zalo của tổ: 0912 345 678" in texts(
        replies
    )
    await chat.press("lead", "Nơi gặp")
    await chat.say("lead", "Nhà văn hóa thôn Đông")
    await chat.press("lead", "Giờ gặp")
    await chat.say("lead", "19:00-21:00 tối thứ Bảy")

    await chat.say("c1", "menu")
    replies = await chat.press("c1", "Liên hệ tổ")
    shown = texts(replies)
    assert "📞 Điện thoại/Zalo của tổ: 0912 345 678" in shown
    assert "📍 Nơi gặp tổ: Nhà văn hóa thôn Đông" in shown
    assert "🕘 Giờ gặp: 19:00-21:00 tối thứ Bảy" in shown

    await chat.press("lead", "Nơi gặp")
    await chat.say("lead", "xóa")
    await chat.say("c1", "menu")
    replies = await chat.press("c1", "Liên hệ tổ")
    assert "Nơi gặp tổ" not in texts(replies) and "0912 345 678" in texts(replies)


def test_team_contact_from_the_cli_and_on_the_poster(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    trolyso(config, "team", "add", "Tổ CNS thôn Tây", "--commune", "Xã A", "--village", "Tây",
            "--code", "TAY123")  # fmt: skip
    plain = tmp_path / "plain.png"
    trolyso(config, "team", "qr", "TAY123", "--out", str(plain))
    refused = trolyso(config, "team", "contact", "TAY123", "--phone", "abc", check=False)
    assert refused.returncode == 1 and "--phone" in refused.stderr
    out = trolyso(
        config, "team", "contact", "TAY123", "--phone", "0912 345 678", "--place",
        "Nhà văn hóa thôn Tây", "--hours", "Tối thứ Bảy",
    ).stdout  # fmt: skip
    assert "📞 Điện thoại/Zalo của tổ: 0912 345 678" in out
    assert "📍 Nơi gặp tổ: Nhà văn hóa thôn Tây" in out
    assert "Tối thứ Bảy" in trolyso(config, "team", "contact", "TAY123").stdout
    poster = tmp_path / "poster.png"
    trolyso(config, "team", "qr", "TAY123", "--out", str(poster))
    assert decode(poster) == ["TAY123"]  # the QR code still reads with the contact under it
    with Image.open(plain) as before, Image.open(poster) as after:
        assert before.size == after.size == (1240, 1748)
        bottom = (0, 1400, 1240, 1748)
        assert before.crop(bottom).tobytes() != after.crop(bottom).tobytes()
