"""The index's compact representation: flat posting arrays, idfs and pair counts by term number."""

from __future__ import annotations

import math

import pytest

from bot.content.knowledge import Entry
from bot.nlp import cache
from bot.nlp.index import idf
from bot.nlp.matcher import Index
from bot.nlp.teencode import Teencode


def entry(n: int, question: str, answer: str) -> Entry:
    return Entry(
        id=f"e{n}",
        group="basics",
        title=f"chủ đề {n}",
        questions=(question,),
        keywords=(),
        answer=answer,
    )


ENTRIES = (
    entry(1, "quên mật khẩu vneid", "vào ứng dụng chọn quên mật khẩu"),
    entry(2, "đổi mật khẩu ngân hàng", "mở ứng dụng ngân hàng"),
    entry(3, "chuyển khoản nhầm", "gọi tổng đài ngân hàng ngay"),
)


def test_postings_idfs_and_pairs_read_like_the_mappings_they_replace() -> None:
    index = Index.build(ENTRIES, Teencode())
    n_docs = len(index.ids)
    for term in index.postings:
        post = index.postings[term]
        assert list(post.docs) == sorted(post.docs) and len(post.docs) == index.postings.df(term)
        assert index.doc_idf.get(term, -1.0) == idf(n_docs, len(post.docs))
        assert all(post.find(doc) == i for i, doc in enumerate(post.docs))
        assert index.postings.get(term) is post  # kept once looked up
    assert index.postings.get("bong da") is None and "bong da" not in index.doc_idf
    assert "mat khau" in index.question_idf and "tong dai" not in index.question_idf  # answer only
    assert index.question_idf.get("tong dai", -1.0) == -1.0
    assert not math.isnan(index.question_idf.get("mat khau", math.nan))
    pairs = index.speller.bigram_counts
    assert pairs.get("mat khau", 0) == 2 and pairs.get("khau", 0) == 0 and "khau" not in pairs


def test_the_cache_drops_old_indexes_beyond_its_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_CACHE", type(cache._CACHE)())
    monkeypatch.setattr(cache, "_CACHE_DOCS", 4)
    first = cache.cached_index(ENTRIES[:2], Teencode())
    assert cache.cached_index(ENTRIES[:2], Teencode()) is first
    cache.cached_index(ENTRIES, Teencode())  # 2 + 3 documents: only the newest stays
    assert len(cache._CACHE) == 1
    assert cache.cached_index(ENTRIES[:2], Teencode()) is not first
