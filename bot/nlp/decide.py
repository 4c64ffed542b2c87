"""The matcher's decision: answer an entry, ask back with the closest ones, or fall back.

The result types (``Decision``, ``Scored``, ``Match``, ``Question``) and ``Deciding``, the part
of ``bot.nlp.matcher.Index`` that turns a ranking into a ``Match`` (the thresholds, the
out-of-scope topics, and siblings the question cannot tell apart). ``Index`` inherits it; the
names are importable from ``bot.nlp.matcher`` too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from bot.nlp.index import PostingTable, TermValues
from bot.nlp.settings import Settings

if TYPE_CHECKING:
    from bot.content.knowledge import Entry, OutOfScope

OUTSIDE = "out_of_scope:"  # id prefix of the out-of-scope topics in rankings


# The words that only ask ("cách", "làm sao", "thế nào", "là gì", "ở đâu"), folded.
ASKING = frozenset({"cach", "lam", "sao", "the", "nao", "nhu", "la", "gi", "o", "dau", "ra"})


class Decision(Enum):
    """What the bot does with a question; the value is what the question log stores."""

    ANSWER = "answer"
    ASK = "ask"
    FALLBACK = "fallback"


ANSWER, ASK, FALLBACK = Decision.ANSWER, Decision.ASK, Decision.FALLBACK


@dataclass(frozen=True)
class Scored:
    """One entry's score for a question, with the parts that explain it.

    ``bm25`` ranks (the BM25 score over the best one the question could get); ``whole`` is the
    TF-IDF cosine with the entry as a whole; ``confidence`` decides whether to answer. With
    ``search(..., explain=True)``, ``best_question`` is the nearest example question.
    """

    entry_id: str
    bm25: float
    whole: float
    confidence: float
    best_question: str = ""


@dataclass(frozen=True)
class Match:
    """What to do with a question: answer ``entry_id``, ask back with ``choices``, or fall back."""

    outcome: Decision
    entry_id: str | None
    choices: tuple[str, ...]
    score: float
    ranked: tuple[Scored, ...]
    normalised: str
    unknown: tuple[str, ...] = ()
    corrected: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Question:
    """A question as the matcher reads it: term -> (weight when it matches, weight in its size)."""

    terms: dict[str, tuple[float, float]]
    normalised: str
    unknown: tuple[str, ...]
    corrected: tuple[tuple[str, str], ...]
    keyword: bool  # short, and names a topic ("vneid")
    strange: int = 0  # words unknown to the content that are no Vietnamese words either


class Deciding:
    """The decision part of ``Index`` (whose fields these are)."""

    settings: Settings
    entries: Mapping[str, Entry]
    outside: Mapping[str, OutOfScope]
    postings: PostingTable
    question_idf: TermValues[float]
    unknown_idf: float
    doc_of: Mapping[str, int]
    owned: Mapping[tuple[str, ...], str]

    def _torn(self, match: Match, question: Question) -> bool:
        """Whether the question was asked back because it can't tell two siblings apart."""
        if match.outcome is not ASK or match.score < self.settings.answer_at:
            return False
        return self._sibling(list(match.ranked), question) is not None

    def _sibling(self, ranked: list[Scored], question: Question) -> str | None:
        """A close runner-up sharing the question's main words with the best entry, when the
        words that tell them apart don't favour the best one ("quét mã QR" for a payment or for
        a parcel): then both are offered."""
        s = self.settings
        top = ranked[0]
        rival = next((r for r in ranked[1:] if r.entry_id in self.entries), None)
        if rival is None or rival.bm25 < s.sibling_within * top.bm25:
            return None
        first, second = self.doc_of[top.entry_id], self.doc_of[rival.entry_id]
        shared = own = other = 0.0
        for term, (weight, _) in question.terms.items():
            post = self.postings.get(term)
            if post is None or not weight:
                continue
            mass = weight * self.question_idf.get(term, self.unknown_idf)
            in_first, in_second = post.find(first) >= 0, post.find(second) >= 0
            if in_first and in_second:
                shared += mass
            elif in_first:
                own += mass
            elif in_second:
                other += mass
        if shared < s.sibling_shared * (shared + own):
            return None  # the best entry is found by words of its own
        return rival.entry_id if own < s.sibling_lead * other else None

    def _owns(self, entry_id: str, question: Question) -> bool:
        """Whether a bare topic name is a keyword only this entry has, with nothing else but
        common words ("cách chuyển khoản")."""
        if not self.settings.owned_keywords:
            return False
        folds = question.normalised.split()
        for size in range(len(folds), 1, -1):
            for start in range(len(folds) - size + 1):
                if self.owned.get(tuple(folds[start : start + size])) != entry_id:
                    continue
                rest = folds[:start] + folds[start + size :]
                return all(w in ASKING for w in rest)
        return False

    def _clear(self, ranked: Sequence[Scored], long: bool = False) -> bool:
        """Whether no topic we don't answer is close to the best entry (in BM25, or in
        confidence). A very long question's personal context matches the everyday words of
        the wide topics we don't answer a little: for it, the topic must be a little closer."""
        s = self.settings
        top = ranked[0]
        near = next((r for r in ranked if r.entry_id in self.outside), None)
        ratio = s.long_outside_ratio if long else s.outside_ratio
        share = s.long_outside_ratio if long else s.outside_confidence
        return near is None or (
            near.bm25 < ratio * top.bm25 and near.confidence < share * top.confidence
        )

    def _lead(self, ranked: list[Scored]) -> float:
        """How far the best entry is ahead of the next entry (a share of its BM25)."""
        return _lead_of(ranked, self.entries)

    def _decide(self, ranked: list[Scored], question: Question, started: float) -> Match:
        s = self.settings

        def match(outcome: Decision, entry_id: str | None, choices: tuple[str, ...]) -> Match:
            return Match(
                outcome=outcome,
                entry_id=entry_id,
                choices=choices,
                score=ranked[0].confidence if ranked else 0.0,
                ranked=tuple(ranked[:5]),
                normalised=question.normalised,
                unknown=question.unknown,
                corrected=question.corrected,
                seconds=_since(started),
            )

        if not ranked or ranked[0].entry_id in self.outside:
            return match(FALLBACK, None, ())  # nothing, or closest to a topic we don't answer
        top = ranked[0]
        runner_up = ranked[1].bm25 if len(ranked) > 1 else 0.0
        ahead = (top.bm25 - runner_up) / top.bm25 if top.bm25 > 0 else 0.0
        near = next((r for r in ranked if r.entry_id in self.outside), None)
        clear = self._clear(ranked, len(question.normalised.split()) >= s.long_outside_words)
        sure = top.confidence >= s.answer_at and ahead >= s.margin
        # Less sure, but far ahead of every other entry (a long question whose topical words
        # all point one way): answered too, unless a topic we don't answer is near.
        lead = self._lead(ranked)
        leading = top.confidence >= s.lead_answer_at and lead >= s.lead
        # A long question carries more evidence: a smaller lead is enough, when no topic we
        # don't answer is among the candidates at all.
        long_lead = (
            len(question.normalised.split()) >= s.long_words
            and top.confidence >= s.long_lead_answer_at
            and lead >= s.long_lead
            and near is None
        )
        if (sure or leading or long_lead) and clear:
            sibling = self._sibling(ranked, question)
            if sibling is None:
                return match(ANSWER, top.entry_id, ())
            return match(ASK, None, (top.entry_id, sibling))
        if question.keyword and clear and self._owns(top.entry_id, question):
            return match(ANSWER, top.entry_id, ())
        short = len(question.normalised.split()) < s.short_words
        if top.confidence >= (s.short_ask_at if short else s.ask_at) or question.keyword:
            # Unsure, or a bare topic name ("vneid"): offer the closest entries.
            ours = [r for r in ranked if r.entry_id in self.entries]
            close = [r.entry_id for r in ours if r.bm25 >= top.bm25 * (1 - s.ask_within)]
            if len(close) < 2:
                close = [r.entry_id for r in ours[:2]]
            return match(ASK, None, tuple(close[: s.max_choices]))
        return match(FALLBACK, None, ())


def _lead_of(ranked: list[Scored], entries: Mapping[str, Entry]) -> float:
    """How far the best entry is ahead of the next entry (a share of its BM25)."""
    top = ranked[0]
    rival = next((r.bm25 for r in ranked[1:] if r.entry_id in entries), 0.0)
    return 1 - rival / top.bm25 if top.bm25 > 0 else 0.0


def _since(started: float) -> float:
    return time.perf_counter() - started
