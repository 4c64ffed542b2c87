"""The matcher on questions as people really ask them (issue 15): long and chatty questions,
everyday words the knowledge base doesn't use, sound-alike spellings, sibling entries, and the
two normalisation bugs (``cccd`` shortened to ``cd``; ``Ð``/``ð`` not read as đ)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.content.knowledge import Entry
from bot.content.sections import Reader
from bot.content.snapshot import load_snapshot
from bot.nlp.lexicon import lexicon
from bot.nlp.matcher import ANSWER, ASK, FALLBACK, Decision, Index, Scored
from bot.nlp.normalize import Normaliser
from bot.nlp.sound_alikes import load_sound_alikes

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture(scope="module")
def index() -> Index:
    return load_snapshot(CONTENT).index


# -- 1. confidence that does not punish length ------------------------------------------------


LEADING = (
    "ông bà ở quê mới kéo mạng cáp quang về nhà, giờ muốn cho cái điện thoại bắt wifi mà "
    "không biết bấm đâu"
)


def test_a_less_sure_question_far_ahead_of_the_rest_is_answered(index: Index) -> None:
    match = index.search(LEADING)
    assert match.score < index.settings.answer_at  # not sure by confidence alone...
    assert match.outcome is ANSWER and match.entry_id == "phone_connect_wifi_data"  # ...but leads
    strict = Index.build(
        index.entries.values(),
        index.normaliser.teencode,
        replace(index.settings, lead=1.0),
        [o for o in load_snapshot(CONTENT).out_of_scope],
        load_snapshot(CONTENT).sound_alikes,
    )
    assert strict.search(LEADING).outcome is not ANSWER


LONG = (
    "hôm trước có người trên mạng rủ tôi làm nhiệm vụ bấm thích sản phẩm, nạp tiền trước rồi "
    "được hoàn gấp đôi, giờ nạp vào mà không rút ra được, có phải bị lừa không"
)


def _rebuilt(index: Index, **changes: object) -> Index:
    snapshot = load_snapshot(CONTENT)
    return Index.build(
        index.entries.values(),
        index.normaliser.teencode,
        replace(index.settings, **changes),  # type: ignore[arg-type]
        snapshot.out_of_scope,
        snapshot.sound_alikes,
    )


def test_a_long_question_needs_a_smaller_lead(index: Index) -> None:
    """With the usual rules out of reach, only the long-question rule can answer: it does for
    a long question (at least ``long_words`` words) with no out-of-scope topic among the
    candidates, and not for its short form nor when the rule asks for more words."""
    match = index.search(LONG)
    assert (match.outcome, match.entry_id) == (ANSWER, "scam_easy_job")
    assert len(match.normalised.split()) >= index.settings.long_words
    unreachable = {"answer_at": 9.0, "lead_answer_at": 9.0, "long_lead_answer_at": 0.8}
    only_long = _rebuilt(index, **unreachable, long_lead=0.0)
    assert only_long.search(LONG).entry_id == "scam_easy_job"
    assert only_long.search(LONG).outcome is ANSWER
    short = only_long.search("nạp tiền làm nhiệm vụ không rút ra được")
    assert short.outcome is not ANSWER
    assert _rebuilt(index, **unreachable, long_words=99).search(LONG).outcome is not ANSWER


def test_the_long_question_rule_keeps_out_of_scope_topics_away(index: Index) -> None:
    question = index._read(LONG)
    best = Scored("scam_easy_job", bm25=0.2, whole=0.2, confidence=0.9)  # lead 0.25
    runner_up = Scored("scam_investment", bm25=0.15, whole=0.1, confidence=0.6)
    far_outside = Scored("out_of_scope:prices", bm25=0.02, whole=0.01, confidence=0.1)
    assert index._decide([best, runner_up], question, 0.0).outcome is ANSWER
    assert index._decide([best, runner_up, far_outside], question, 0.0).outcome is ASK
    short = index._read("nạp tiền làm nhiệm vụ không rút ra được")
    assert index._decide([best, runner_up], short, 0.0).outcome is not ANSWER


@pytest.mark.parametrize(
    "question",
    [
        "thay màn hình điện thoại bị vỡ hết bao nhiêu tiền",
        "thay pin điện thoại bị chai ở tiệm nào uy tín",
    ],
)
def test_repairing_a_broken_phone_is_out_of_scope(index: Index, question: str) -> None:
    assert index.search(question).outcome is FALLBACK


@pytest.mark.parametrize(
    "question",
    [
        "bảo hiểm chi trả bao nhiêu phần trăm khi khám trái tuyến",
        "đóng bảo hiểm tự nguyện thấp nhất mỗi tháng bao nhiêu tiền",
    ],
)
def test_insurance_rates_are_out_of_scope(index: Index, question: str) -> None:
    match = index.search(question)
    assert match.outcome is FALLBACK
    assert match.ranked[0].entry_id == "out_of_scope:insurance_policy"


@pytest.mark.parametrize(
    "question",
    [
        "xem mình đã đóng bảo hiểm xã hội được mấy năm trên điện thoại",
        "thẻ bảo hiểm y tế điện tử xem ở đâu",
    ],
)
def test_looking_up_ones_own_insurance_is_still_answered(index: Index, question: str) -> None:
    match = index.search(question)
    assert (match.outcome, match.entry_id) == (ANSWER, "vssid_social_insurance")


@pytest.mark.parametrize(
    "word",
    [
        "bự",
        "dỏm",
        "gởi",
        "lẹ",
        "rớt",
        "refund",
        "connect",
        "bdhvs",
        "sk",
        "cty",
        "checkout",
        "biểu",
    ],
)
def test_regional_and_english_words_are_read_as_standard_ones(index: Index, word: str) -> None:
    assert index.normaliser.teencode.meanings(word) is not None


@pytest.mark.parametrize(
    "question",
    [
        "ck nhầm tiền",
        "hôm qua đi bán heo ở chợ về, bà ck nhầm tiền rồi",
        "bác ơi cho cháu hỏi, hôm qua cháu lỡ ck nhầm tiền cho người lạ, giờ làm sao ạ, cảm ơn bác",
    ],
)
def test_a_long_chatty_question_is_answered_like_its_short_form(
    index: Index, question: str
) -> None:
    match = index.search(question)
    assert (match.outcome, match.entry_id) == (ANSWER, "bank_wrong_transfer"), match


@pytest.mark.parametrize(
    "question",
    [
        "bác ơi cho cháu hỏi giá vàng hôm nay bao nhiêu một chỉ, cảm ơn bác nhiều",
        "hôm qua đi chợ về bà hàng xóm hỏi tối nay đội tuyển đá mấy giờ",
        "ban hang online co phai dang ky kinh doanh khong",
    ],
)
def test_a_chatty_out_of_scope_question_is_not_answered(index: Index, question: str) -> None:
    assert index.search(question).outcome is not ANSWER


def test_context_words_weigh_less_than_topic_words(index: Index) -> None:
    question = index._read("bà cháu ck nhầm tiền")
    assert question.terms["ba"][1] < question.terms["nham"][1]
    assert isinstance(index.search("ck nhầm tiền").outcome, Decision)
    told = index._read("tụi nó dặn cài zalo")
    assert told.terms["no"][1] < 1.0 and told.terms["dan"][1] < 1.0
    assert told.terms["zalo"][1] == 1.0


STRAY = "hôm qua đi ăn cưới ở xóm bên, về mở zalo thấy có người lạ nhắn mượn tiền"


def test_content_words_no_candidate_holds_count_less(index: Index) -> None:
    """Words of the content that none of the candidates holds ("ăn", "xóm": the question's
    personal context) count ``stray_weight`` times in the question's size; words the content
    never uses count fully."""
    question = index._read(STRAY)
    match = index.search(STRAY)
    docs = [index.doc_of[r.entry_id] for r in match.ranked]
    hit: set[str] = set()
    index._dots(docs, question.terms, hit)
    stray = [t for t in question.terms if t in index.postings and t not in hit]
    assert {"an", "xom"} <= set(stray)
    whole = index._best_bm25(question.terms)
    assert index._best_bm25(question.terms, hit, 0.3) < whole
    assert index._best_bm25(question.terms, set(question.terms), 0.3) == whole
    unknown = index._read("qwzx ngoại hạng")
    assert index._best_bm25(unknown.terms, (), 0.3) == index._best_bm25(unknown.terms)
    assert match.ranked[0].entry_id == "scam_deepfake_borrow"


def test_a_long_question_may_have_an_out_of_scope_topic_a_little_closer(index: Index) -> None:
    """A very long question's personal context matches the everyday words of the wide
    out-of-scope topics a little: ``long_outside_ratio`` instead of ``outside_ratio`` for it."""
    best = Scored("scam_easy_job", bm25=0.2, whole=0.2, confidence=1.2)
    runner_up = Scored("scam_investment", bm25=0.1, whole=0.1, confidence=0.6)
    outside = Scored("out_of_scope:prices", bm25=0.13, whole=0.13, confidence=0.78)  # 0.65
    long = index._read(f"hôm qua bà đi chợ về mệt quá, {LONG}")
    assert len(long.normalised.split()) >= index.settings.long_outside_words
    assert index._decide([best, outside, runner_up], long, 0.0).outcome is ANSWER
    short = index._read("nạp tiền làm nhiệm vụ không rút ra được")
    assert index._decide([best, outside, runner_up], short, 0.0).outcome is not ANSWER
    closer = Scored("out_of_scope:prices", bm25=0.15, whole=0.15, confidence=0.9)  # 0.75
    assert index._decide([best, closer, runner_up], long, 0.0).outcome is not ANSWER


def test_a_short_question_far_from_every_entry_falls_back_instead_of_asking(
    index: Index,
) -> None:
    """A short question (fewer than ``short_words``) that no entry matches well is most often
    about something else ("cái remote tivi bấm không ăn"): it falls back, to a person, rather
    than offer entries it is not about. A long one as weak asks back: its context words thin
    its match with the entry it is about."""
    best = Scored("zalo_account_security", bm25=0.2, whole=0.13, confidence=0.9)
    runner_up = Scored("password_strong", bm25=0.18, whole=0.12, confidence=0.85)
    short = index._read("cái remote tivi bấm không ăn thay pin rồi vẫn không được")
    assert len(short.normalised.split()) < index.settings.short_words
    assert index._decide([best, runner_up], short, 0.0).outcome is FALLBACK
    long = index._read(f"hôm qua bà đi chợ về mệt quá, {LONG}")
    assert len(long.normalised.split()) >= index.settings.short_words
    assert index._decide([best, runner_up], long, 0.0).outcome is ASK
    sure = Scored("zalo_account_security", bm25=0.2, whole=0.15, confidence=1.0)
    close = Scored("password_strong", bm25=0.195, whole=0.12, confidence=0.95)
    assert index._decide([sure, close], short, 0.0).outcome is ASK
    assert index.search("remote tivi bấm không ăn, thay pin rồi vẫn không được").outcome is FALLBACK


def test_dropping_entries_while_scoring_keeps_the_best_exactly() -> None:
    """Entries that can no longer reach the best candidates are dropped while common terms are
    added: the candidates come out as when every entry is scored in full."""
    entries = [
        Entry(
            id=f"e{n}",
            group="basics",
            title=f"mục số {n}",
            questions=(
                f"cách làm việc {n % 7} với điện thoại",
                f"hỏi về tài khoản {n % 5} ngân hàng",
            ),
            keywords=(),
            answer="Trả lời " + " ".join(["điện thoại", "tài khoản", "ngân hàng"][: 1 + n % 3]),
        )
        for n in range(90)
    ]
    built = Index.build(entries)
    assert built.common_df < 90
    for text in ["cách làm việc 3 với điện thoại", "tài khoản ngân hàng điện thoại", "mục số 4"]:
        query = built._read(text).terms
        full: dict[int, float] = {}
        for term, (weight, _) in query.items():
            post = built.postings.get(term)
            for doc, value in zip(post.docs, post.bm25, strict=True) if post else ():
                full[doc] = full.get(doc, 0.0) + weight * value
        best = sorted(full.values(), reverse=True)[: built.settings.candidates]
        found = sorted(built._bm25(query).values(), reverse=True)[: built.settings.candidates]
        assert found == pytest.approx(best, rel=1e-6)


def test_a_bare_keyword_only_one_entry_has_answers_it(index: Index) -> None:
    match = index.search("cách chuyển khoản")
    assert (match.outcome, match.entry_id) == (ANSWER, "bank_transfer_basics")
    assert match.score < index.settings.ask_at  # not by confidence: "chuyển khoản" is everywhere
    assert _rebuilt(index, owned_keywords=False).search("cách chuyển khoản").outcome is ASK
    for phrase, entry_id in index.owned.items():
        holders = [
            e.id
            for e in index.entries.values()
            if phrase in {tuple(t.fold for t in index.normaliser.tokens(k)) for k in e.keywords}
        ]
        assert holders == [entry_id] and len(phrase) > 1


def test_a_keyword_with_words_of_its_own_is_not_answered_by_it(index: Index) -> None:
    assert index._owns("bank_transfer_basics", index._read("cách chuyển khoản"))
    assert not index._owns("bank_transfer_basics", index._read("chuyển khoản sang Mỹ"))


# -- 2. a Vietnamese lexicon ------------------------------------------------------------------


def test_the_lexicon_knows_vietnamese_words_and_not_strings() -> None:
    words = lexicon()
    assert words.knows("tốn") and words.knows("móc") and words.knows("chợ")
    assert words.knows("ton")  # without marks: some word folds to it
    assert not words.knows("tốnn") and not words.knows("mattt") and not words.knows("vneid")


def test_a_real_word_is_never_corrected(index: Index) -> None:
    assert "ton" not in index.vocab
    match = index.search("chuyển tiền có tốn phí không")
    assert all(typed != "ton" for typed, _ in match.corrected)


def test_a_real_word_the_content_lacks_is_neutral_and_a_non_word_is_not(index: Index) -> None:
    assert "moc" not in index.vocab
    real = index._read("mất điện thoại móc").terms["moc"][1]
    strange = index._read("mất điện thoại xqzv").terms["xqzv"][1]
    assert real < strange


def test_an_abbreviation_without_vowels_is_not_corrected(index: Index) -> None:
    assert all(typed != "cns" for typed, _ in index.search("tổ cns ở xã").corrected)


def test_typos_that_are_no_words_are_still_corrected(index: Index) -> None:
    match = index.search("quen mat khauu vneid")
    assert ("khauu", "khau") in match.corrected


# -- 3. sound-alike spellings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("da lô bị khóa", "zalo bi khoa"),
        ("bán hàng lai sờ trim", "ban hang livestream"),
        ("ô tê pê là gì", "otp la gi"),
        ("mo bai mo ni là gì", "mobile money la gi"),
        ("cài vê en e i đê", "cai vneid"),
        ("vê nê ai đi là gì", "vneid la gi"),
        ("quét kiu a", "quet qr"),
        ("vê en ê ai đi mức 2", "vneid muc 2"),
        ("vào chợ play tải", "vao ch play tai"),
        ("đổi mã pát cốt", "doi ma passcode"),
    ],
)
def test_sound_alike_spellings_read_as_the_term(index: Index, heard: str, meant: str) -> None:
    assert index.search(heard).normalised == meant


def test_a_sound_alike_alone_finds_its_entry(index: Index) -> None:
    match = index.search("ô tê pê là gì vậy")
    assert (match.outcome, match.entry_id) == (ANSWER, "otp_what_is")


def test_sound_alike_file_is_validated(tmp_path: Path) -> None:
    (tmp_path / "sound_alikes.yaml").write_text(
        "terms:\n  Zalo: [da lô, lô]\n  Zalo Pay: [da lô]\n  OTP: ô tê pê\nextra: 1\n",
        encoding="utf-8",
    )
    reader = Reader(tmp_path)
    table = load_sound_alikes(reader)
    messages = " | ".join(p.message for p in reader.problems)
    assert "là một từ tiếng Việt" in messages  # "lô" alone
    assert "đã là cách viết của Zalo" in messages
    assert "cần một danh sách" in messages
    assert "khóa lạ" in messages
    assert table.spellings == {("da", "lo"): ("zalo",)}


def test_the_bundled_sound_alike_file_is_valid() -> None:
    reader = Reader(CONTENT)
    assert len(load_sound_alikes(reader).spellings) > 50
    assert reader.problems == []


# -- 4. sibling separation --------------------------------------------------------------------


def test_distinguishing_words_decide_between_siblings(index: Index) -> None:
    pay = index.search("quét mã QR để trả tiền ở chợ")
    assert (pay.outcome, pay.entry_id) == (ANSWER, "qr_payment_vietqr")
    follow_up = index.search("nộp hồ sơ rồi giờ xem kết quả ở đâu")
    assert (follow_up.outcome, follow_up.entry_id) == (ANSWER, "dvc_track_result")


def test_siblings_without_distinguishing_words_are_both_offered(index: Index) -> None:
    match = index.search("shipper bảo quét mã QR để nhận hàng mà tôi chưa thấy hàng")
    assert match.outcome is ASK
    assert set(match.choices[:2]) == {"qr_payment_vietqr", "ecommerce_fake_shipper"}


# -- 5. normalisation bugs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return load_snapshot(CONTENT).index.normaliser


def folds(normaliser: Normaliser, text: str) -> str:
    return " ".join(t.fold for t in normaliser.tokens(text))


def test_abbreviations_with_repeated_letters_are_not_shortened(normaliser: Normaliser) -> None:
    assert folds(normaliser, "cccd gan chip lam o dau") == "can cuoc cong dan gan chip lam o dau"
    assert folds(normaliser, "khôngggg đượcccc") == "khong duoc"


def test_eth_is_read_as_d_bar(normaliser: Normaliser) -> None:
    assert folds(normaliser, "Ðăng ký ðịnh danh") == "dang ky dinh danh"
    tokens = normaliser.tokens("ðược")
    assert tokens[0].text == "được"
