"""Vietnamese normalisation: NFC, case, tones and marks, đ, Telex leftovers, teencode, emoji."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.content.sections import Reader
from bot.nlp.normalize import Normaliser, phrases, words
from bot.nlp.syllables import accent_key, is_syllable, place_tone, split_tone, telex_repair
from bot.nlp.teencode import Teencode, load_teencode

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture(scope="module")
def bundled() -> Normaliser:
    reader = Reader(CONTENT)
    teencode = load_teencode(reader)
    assert reader.problems == []
    return Normaliser(teencode)


def folds(normaliser: Normaliser, text: str) -> str:
    return " ".join(t.fold for t in normaliser.tokens(text))


def test_nfc_and_nfd_input_fold_the_same(bundled: Normaliser) -> None:
    composed = "Quên mật khẩu VNeID"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert folds(bundled, composed) == folds(bundled, decomposed) == "quen mat khau vneid"


def test_case_tones_marks_and_d_bar(bundled: Normaliser) -> None:
    assert folds(bundled, "ĐĂNG KÝ Định Danh Điện Tử") == "dang ky dinh danh dien tu"
    assert folds(bundled, "được đổi ưu đãi ở đâu") == "duoc doi uu dai o dau"


def test_misplaced_tone_keeps_the_same_accent_key() -> None:
    assert accent_key("thoaị") == accent_key("thoại")
    assert accent_key("hoà") == accent_key("hòa")
    assert split_tone("được") == ("đươc", 5)
    assert place_tone("đươc", 5) == "được"
    assert place_tone("khoa", 1) == "khóa"
    assert place_tone("gia", 2) == "già"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("dduowcj", "được"),
        ("lafm", "làm"),
        ("khoas", "khóa"),
        ("caapj", "cập"),
        ("Vieejt", "việt"),
        ("nhuwngx", "những"),
        ("nguowif", "người"),
        ("tieengs", "tiếng"),
        ("ddi", "đi"),
        ("kys", "ký"),
    ],
)
def test_telex_leftovers_are_repaired(typed: str, meant: str) -> None:
    assert telex_repair(typed) == meant


@pytest.mark.parametrize(
    "word", ["zalo", "vneid", "otp", "sms", "apps", "links", "pass", "google", "wifi", "ios", "ko"]
)
def test_real_words_and_brands_are_not_telex(word: str) -> None:
    assert telex_repair(word) is None


def test_telex_in_a_sentence_with_marks(bundled: Normaliser) -> None:
    assert folds(bundled, "Lafm sao ddeer dduowcj cấp lại") == "lam sao de duoc cap lai"
    assert folds(bundled, "Đienj thoại") == "dien thoai"


def test_teencode_expands_from_the_dictionary(bundled: Normaliser) -> None:
    assert folds(bundled, "ko dc") == "khong duoc"
    assert folds(bundled, "tk bi khoa r ntn") == "tai khoan bi khoa roi nhu the nao"
    assert folds(bundled, "ck nham stk") == "chuyen khoan nham so tai khoan"
    assert folds(bundled, "dt cua t k vao dc wifi z") == (
        "dien thoai cua toi khong vao duoc wifi vay"
    )


def test_keys_with_marks_only_match_that_spelling(bundled: Normaliser) -> None:
    assert folds(bundled, "hông biết") == "khong biet"
    assert folds(bundled, "máy hỏng rồi") == "may hong roi"  # hỏng is not "không"


def test_ambiguous_abbreviations_keep_every_meaning(bundled: Normaliser) -> None:
    slots = bundled.slots("quên mk")
    assert [t.fold for t in slots[1].readings[0]] == ["minh"]
    assert [t.fold for t in slots[1].readings[1]] == ["mat", "khau"]


def test_emoji_punctuation_stretching_and_fillers(bundled: Normaliser) -> None:
    assert folds(bundled, "Bác ơi!!! cho hỏi 😭😭 Wi-Fi nhà em... hư rồi ạ???") == (
        "bac cho hoi wifi nha em hu roi"
    )
    assert folds(bundled, "khôngggg đượcccc") == "khong duoc"


def test_punctuation_breaks_phrases() -> None:
    assert phrases("quên mật khẩu, lấy lại sao?") == [
        ["quên", "mật", "khẩu"],
        ["lấy", "lại", "sao"],
    ]
    assert words("*998# là gì") == ["998", "là", "gì"]


def test_accents_kept_only_when_typed_with_marks(bundled: Normaliser) -> None:
    marked = bundled.tokens("Tôi quên mật khẩu")
    assert all(t.accent is not None for t in marked)
    plain = bundled.tokens("toi quen mat khau")
    assert all(t.accent is None for t in plain)


def test_syllable_shape() -> None:
    for word in ("nghieng", "khuyen", "duoc", "quy", "gia", "oanh", "xoong"):
        assert is_syllable(word), word
    for word in ("lafm", "dduoc", "vneid", "zalo", "ck", "sms"):
        assert not is_syllable(word), word


def test_empty_and_odd_input(bundled: Normaliser) -> None:
    assert bundled.tokens("") == []
    assert bundled.tokens("   ?!? 👍👍 ") == []
    assert folds(bundled, "a" * 10_000) == "a"
    assert len(bundled.tokens("chữ " * 5_000)) <= 60


def test_a_custom_dictionary_is_used() -> None:
    normaliser = Normaliser(Teencode(words={"vnid": ("vneid",)}, fillers=frozenset({"nha"})))
    assert " ".join(t.fold for t in normaliser.tokens("cai vnid nha")) == "cai vneid"
