"""What the content review of 2026-12-02 found (issue #16), each checked so it cannot come back.

Every test reads the bundled content (knowledge answers and steps, lessons, messages) and
asserts that the wrong or harmful wording is gone and the right one is there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.content.snapshot import Snapshot, load_snapshot

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return load_snapshot(CONTENT)


def entry_text(snapshot: Snapshot, entry_id: str) -> str:
    entry = snapshot.entry(entry_id)
    assert entry is not None, entry_id
    return f"{entry.answer}\n{entry.details or ''}"


def all_texts(snapshot: Snapshot) -> dict[str, str]:
    """Every text a citizen can read: answers, steps, lesson steps and quizzes, messages."""
    out = {e.id: f"{e.title}\n{e.answer}\n{e.details or ''}" for e in snapshot.knowledge}
    for skill in snapshot.lessons.skills:
        parts = [s.text for s in skill.steps]
        for q in skill.quiz:
            parts += [q.text, q.explain or "", *q.choices]
        out[skill.id] = "\n".join(parts)
    out.update({f"message {k}": v for k, v in snapshot.messages.texts.items()})
    return out


def lesson_text(snapshot: Snapshot, skill_id: str) -> str:
    skill = snapshot.lessons.get(skill_id)
    assert skill is not None
    parts = [s.text for s in skill.steps]
    for q in skill.quiz:
        parts += [q.text, q.explain or "", *q.choices]
    return "\n".join(parts)


def test_airplane_mode_then_call_from_another_phone(snapshot: Snapshot) -> None:
    """Harmful: "bật chế độ máy bay, gọi ngay ngân hàng" cannot be done from that phone."""
    for where, text in all_texts(snapshot).items():
        for line in text.splitlines():
            if "máy bay" in line and "gọi" in line:
                assert "điện thoại khác" in line, (where, line)
    text = entry_text(snapshot, "scam_fake_app_link")
    assert "chế độ máy bay **trên điện thoại đó**" in text
    assert "**Dùng một điện thoại khác** gọi ngay tổng đài ngân hàng" in text


def test_children_have_their_own_vneid_since_july_2024(snapshot: Snapshot) -> None:
    old = (
        "không có tài khoản VNeID riêng",
        "theo tài khoản của cha",
        "thông qua tài khoản định danh",
    )
    for where, text in all_texts(snapshot).items():
        for phrase in old:
            assert phrase not in text, (where, phrase)
    text = entry_text(snapshot, "vneid_child_account")
    assert "Từ 6 đến dưới 14 tuổi: mức 1; mức 2 khi cha mẹ đề nghị" in text
    assert "Cấp thẻ căn cước cho người dưới 14 tuổi" in text
    assert "tài khoản riêng" in lesson_text(snapshot, "sk_vneid_level2")


def test_bhyt_leads_with_the_chip_id_card(snapshot: Snapshot) -> None:
    for where, text in all_texts(snapshot).items():
        assert "không cấp thẻ BHYT giấy" not in text, where
        assert "không còn được cấp" not in text, where
        assert "không còn cấp thẻ BHYT giấy" not in text, where
    for entry_id in ("vneid_document_wallet", "vssid_social_insurance"):
        assert "mang căn cước gắn chip là khám được" in entry_text(snapshot, entry_id)
        assert "chưa có căn cước gắn chip" in entry_text(snapshot, entry_id)  # 3 paper-card cases
    assert "Mang căn cước gắn chip là khám được" in lesson_text(snapshot, "sk_vneid_health")


def test_the_commune_public_service_centre_not_the_one_stop_desk(snapshot: Snapshot) -> None:
    for where, text in all_texts(snapshot).items():
        if where != "reorganisation_2025":  # says what replaced it
            assert "bộ phận một cửa" not in text, where
    for entry_id in ("dvc_submit_application", "dvc_track_result", "dvc_pay_fees_online"):
        assert "Trung tâm Phục vụ hành chính công xã/phường" in entry_text(snapshot, entry_id)


def test_bank_biometrics_stated_precisely(snapshot: Snapshot) -> None:
    text = entry_text(snapshot, "bank_biometric")
    numbers = snapshot_numbers()
    assert f"chuyển một lần trên {numbers['sinh_trac_mot_lan']}" in text
    assert f"tổng tiền chuyển trong ngày đã vượt {numbers['sinh_trac_trong_ngay']}" in text
    assert "lần đầu trên một điện thoại khác máy cũ" in text  # the new-device rule
    assert "chưa có sinh trắc học" in text and "CMND 9 số" in text
    lesson = lesson_text(snapshot, "sk_mobile_banking_safe")
    assert "điện thoại mới" in lesson


def test_156_is_called_or_texted_5656_only_texted(snapshot: Snapshot) -> None:
    wrong = re.compile(r"(gọi|tổng đài)\s*(\*\*)?5656|156\*?\*? hoặc \*?\*?5656|156 và 5656")
    for where, text in all_texts(snapshot).items():
        assert not wrong.search(text), (where, wrong.search(text))
        assert "Cổng cảnh báo an toàn thông tin" not in text, where  # address unconfirmed
    text = entry_text(snapshot, "report_scam")
    assert "Gọi 156 (miễn phí)" in text
    assert "chỉ nhận tin nhắn, không gọi được" in text
    assert "LD số_gọi_tới nội_dung" in text


def test_privacy_notice_names_admins_and_the_current_law(snapshot: Snapshot) -> None:
    detail = snapshot.messages("welcome.privacy_detail")
    assert "quản trị viên" in detail
    assert "Luật Bảo vệ dữ liệu cá nhân" in detail
    assert "quản trị viên" in snapshot.messages("privacy.footer")
    for where, text in all_texts(snapshot).items():
        assert "Nghị định 13/2023" not in text, where
    assert "Luật Bảo vệ dữ liệu cá nhân" in entry_text(snapshot, "personal_data_protection")


def test_one_rule_for_writing_passwords_down_and_one_method(snapshot: Snapshot) -> None:
    for where, text in all_texts(snapshot).items():
        assert "không ghi ra giấy" not in text, where
        assert "chữ đầu mỗi từ" not in text, where  # the lesson's method only: a long phrase
    assert "ghi vào sổ giấy cất kỹ ở nhà" in entry_text(snapshot, "password_strong")
    assert "ghi vào sổ cất kỹ ở nhà" in lesson_text(snapshot, "sk_account_security")


def test_screenshot_and_report_before_deleting(snapshot: Snapshot) -> None:
    text = entry_text(snapshot, "scam_fake_bank_sms")
    assert "Xóa tin nhắn và báo" not in text
    assert text.index("Chụp màn hình") < text.index("rồi mới xóa")


def test_fake_apps_are_told_by_the_developer_not_by_downloads(snapshot: Snapshot) -> None:
    text = entry_text(snapshot, "phone_install_official_app")
    assert "ít lượt tải thì không cài" not in text
    assert "tên nhà phát triển" in text and "đừng dựa vào số lượt tải" in text


def test_each_emergency_its_own_number(snapshot: Snapshot) -> None:
    text = entry_text(snapshot, "local_citizen_app")
    assert "114" in text and "115" in text
    emergency = entry_text(snapshot, "emergency_numbers")
    for number in ("112", "113", "114", "115", "111"):
        assert number in emergency


def test_the_driving_licence_question_is_answered(snapshot: Snapshot) -> None:
    text = entry_text(snapshot, "vneid_document_wallet")
    assert "xuất trình khi CSGT kiểm tra, thay cho bản giấy" in text
    assert "muốn chắc chắn có cần mang bản giấy" not in text


def test_the_received_button_has_one_name(snapshot: Snapshot) -> None:
    for where, text in all_texts(snapshot).items():
        assert '"Đã nhận hàng"' not in text, where
        assert "**Đã nhận hàng**" not in text, where
    assert '"Đã nhận được hàng"' in entry_text(snapshot, "ecommerce_receive_return")


def test_quiz_distractors_are_plausible(snapshot: Snapshot) -> None:
    for absurd in ("Màu của mã QR", "Giờ trên điện thoại", "Điện thoại chạy nhanh hơn"):
        for where, text in all_texts(snapshot).items():
            assert absurd not in text, (where, absurd)


def test_no_decree_numbers_in_what_citizens_read(snapshot: Snapshot) -> None:
    decree = re.compile(r"\b(Nghị định|Quyết định|Thông tư|NĐ|QĐ|TT)\s*\d")
    for where, text in all_texts(snapshot).items():
        assert not decree.search(text), (where, decree.search(text))


def snapshot_numbers() -> dict[str, str]:
    import yaml

    data = yaml.safe_load((CONTENT / "numbers.yaml").read_text(encoding="utf-8"))
    return {k: str(v) for k, v in data["numbers"].items()}


def test_numbers_that_change_are_written_once(snapshot: Snapshot) -> None:
    """Limits live in numbers.yaml; the YAML texts say {name}, the bot shows the value."""
    numbers = snapshot_numbers()
    sources = [*(CONTENT / "knowledge").glob("*.yaml"), *(CONTENT / "lessons").glob("*.yaml")]
    for path in sources:
        raw = path.read_text(encoding="utf-8")
        for value in ("10 triệu đồng", "20 triệu đồng", "100 triệu đồng"):
            assert value not in raw, (path.name, value)
    assert numbers["mobile_money_thang"] in entry_text(snapshot, "mobile_money")
    assert "{" not in entry_text(snapshot, "bank_biometric")


def test_a_misspelt_number_name_is_reported(tmp_path: Path) -> None:
    import shutil

    from bot.content.problems import ContentError

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    path = content / "knowledge" / "payments.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{sinh_trac_mot_lan}", "{sinh_trac_1_lan}", 1), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_snapshot(content)
    assert any("sinh_trac_1_lan" in p.message and p.line for p in caught.value.problems)


def test_words_citizens_understand_in_messages(snapshot: Snapshot) -> None:
    """Issue #16 item 4: no team jargon, no server commands, no button that is not there."""
    texts = snapshot.messages.texts
    for key, text in texts.items():
        assert "hoàn tác" not in text, key
        assert "Nhiệm vụ" not in text and "nhiệm vụ" not in text, key
        if key.startswith(("broadcast.", "followup.", "teams.", "question.")):
            assert "trolyso" not in text, key  # team members use the chat, not the server
    assert "Bấm “Học ngay”" not in texts["broadcast.lesson_body"]  # the button says it
    assert texts["broadcast.from_team"] == "{team}"  # "Tổ công nghệ số Tổ CNS …" no more
    assert "menu_hint" not in " ".join(texts)  # one instruction per turn
    help_text = texts["help.text"]
    assert help_text.index("Cần giúp gấp") < help_text.index("Cách dùng")
    assert "113" in help_text and "ngân hàng" in help_text and "Tổ công nghệ số" in help_text
