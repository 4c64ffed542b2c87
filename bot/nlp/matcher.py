"""The matcher: which knowledge entry answers a question, and how sure we are.

Every example question, title, keyword and answer of every entry is normalised (``normalize``)
into folded syllables and syllable bigrams (never across punctuation). A question is matched so:

1. rank: BM25 over entries (questions, title, keywords and answer as one weighted document),
   through an inverted index of precomputed weights, so it stays fast at 10,000 entries. The
   score is divided by the best score the question could reach (with a floor, so two common
   words like "làm sao" cannot look like a full question);
2. confidence: that ratio plus the TF-IDF cosine between the question and the whole entry.
   Words the content has never used count against both, which is what sends out-of-scope
   questions ("bóng đá", "thời tiết") to the fall-back;
3. decide: answer when confident and clearly ahead of the runner-up; ask back with the 2–3
   closest entries when less sure, or when the question is just a topic name ("vneid"); fall
   back otherwise.

Unknown words are corrected when one edit away from a known word (or two known words run
together), preferring fixes that form a known bigram with their neighbours; a real syllable is
only "corrected" when the fix fits its neighbours. A word typed with marks the content never uses
for it ("lúa" where the content only has "lừa") matches with less weight. ``bench/tune.py``
measures the constants in ``Settings`` without touching the labelled test set.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

from bot.core.text import MAX_INPUT
from bot.nlp import index as passes
from bot.nlp.index import Postings, bigrams
from bot.nlp.normalize import Normaliser, Token, words
from bot.nlp.settings import Settings
from bot.nlp.spelling import Speller, typo_deletes
from bot.nlp.syllables import fold_word
from bot.nlp.teencode import Teencode

if TYPE_CHECKING:
    from bot.content.knowledge import Entry, OutOfScope

OUTSIDE = "out_of_scope:"  # id prefix of the out-of-scope topics in rankings


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
class Index:
    """The searchable form of one version of the knowledge base, built by ``Index.build``.

    Immutable once built, but for the caches of word readings and typo candidates.
    """

    settings: Settings
    entries: Mapping[str, Entry]
    outside: Mapping[str, OutOfScope]
    ids: tuple[str, ...]  # documents: the entries, then the out-of-scope topics (never answered)
    normaliser: Normaliser
    speller: Speller
    accent_forms: Mapping[str, frozenset[str]]
    postings: Mapping[str, Postings]
    doc_idf: Mapping[str, float]
    question_idf: Mapping[str, float]
    doc_norms: Sequence[float]
    n_questions: int
    unknown_idf: float
    unknown_doc_idf: float
    common_df: int
    impact: Mapping[str, list[int]]
    topic_names: frozenset[tuple[str, ...]]
    build_seconds: float = field(default=0.0, compare=False)

    @classmethod
    def build(
        cls,
        entries: Iterable[Entry],
        teencode: Teencode | None = None,
        settings: Settings | None = None,
        outside: Iterable[OutOfScope] = (),
    ) -> Index:
        """Run the passes of ``bot.nlp.index`` over the content."""
        started = time.perf_counter()
        s = settings or Settings()
        by_id = {entry.id: entry for entry in entries}
        topics = {f"{OUTSIDE}{o.id}": o for o in outside}
        normaliser = Normaliser(teencode or Teencode(), _protected(by_id.values()))
        documents = [_texts(entry) for entry in by_id.values()]
        documents += [[(passes.QUESTION, q) for q in o.questions] for o in topics.values()]
        parsed, loose = passes.read_texts(documents, normaliser)
        counts = passes.count_terms(parsed, Speller({}, loose, {}, s), s)
        del parsed
        weights = passes.weigh(counts, s)
        vocab = dict(counts.vocab)
        n_docs = max(len(documents), 1)
        common = passes.common_df(n_docs, s)
        return cls(
            settings=s,
            entries=by_id,
            outside=topics,
            ids=(*by_id, *topics),
            normaliser=normaliser,
            speller=Speller(vocab, dict(counts.bigram_counts), typo_deletes(vocab), s),
            accent_forms={fold: frozenset(forms) for fold, forms in counts.accent_forms.items()},
            postings=weights.postings,
            doc_idf=weights.doc_idf,
            question_idf=weights.question_idf,
            doc_norms=weights.doc_norms,
            n_questions=weights.n_questions,
            unknown_idf=weights.unknown_idf,
            unknown_doc_idf=weights.unknown_doc_idf,
            common_df=common,
            impact=passes.impact_lists(weights.postings, common, s),
            topic_names=passes.topic_names(counts, n_docs, s),
            build_seconds=time.perf_counter() - started,
        )

    @property
    def vocab(self) -> Mapping[str, int]:
        """Every word of the content, with how many documents use it."""
        return self.speller.vocab

    # -- reading a question -------------------------------------------------------------------

    def _names_a_topic(self, folds: Sequence[str]) -> bool:
        """Whether the words contain a keyword or short title of some entry."""
        for size in range(1, min(len(folds), 4) + 1):
            for start in range(len(folds) - size + 1):
                if tuple(folds[start : start + size]) in self.topic_names:
                    return True
        return False

    def _accent_weights(self, tokens: Sequence[Token]) -> list[float]:
        """Less weight for a word typed with marks the content never uses ("lúa" ≠ "lừa")."""
        out = []
        for token in tokens:
            forms = self.accent_forms.get(token.fold)
            if token.accent and forms and token.accent not in forms:
                out.append(self.settings.accent_mismatch)
            else:
                out.append(1.0)
        return out

    # -- searching ----------------------------------------------------------------------------

    def search(self, text: str, *, explain: bool = False) -> Match:
        """Rank the entries for ``text`` and decide what to do.

        With ``explain``, the nearest example question of each top entry is found too (slower;
        for ``trolyso ask``).
        """
        started = time.perf_counter()
        s = self.settings
        tokens, starts = self.speller.resolve(self.normaliser.slots(text[:MAX_INPUT]))
        accent = self._accent_weights(tokens)
        fixed = self.speller.correct([t.fold for t in tokens], starts)
        folds, starts, weights, corrected = fixed.folds, fixed.starts, fixed.weights, fixed.changes
        if len(folds) != len(tokens):  # a word was split in two: marks no longer line up
            accent = [1.0] * len(folds)
        normalised = " ".join(folds)
        # term -> (weight when it matches, weight in the question's own size)
        query: dict[str, tuple[float, float]] = {}
        for word, weight, fit in zip(folds, weights, accent, strict=True):
            old = query.get(word, (0.0, 0.0))
            query[word] = (max(old[0], weight * fit), max(old[1], weight))
        for i in range(1, len(folds)):
            if starts[i]:
                continue
            gram = f"{folds[i - 1]} {folds[i]}"
            weight = min(weights[i - 1], weights[i]) * s.bigram_weight
            fit = min(accent[i - 1], accent[i])
            old = query.get(gram, (0.0, 0.0))
            query[gram] = (max(old[0], weight * fit), max(old[1], weight))
        unknown = tuple(w for w in dict.fromkeys(folds) if w not in self.vocab)
        if s.context_fix:
            for term, weight in self.speller.context_fixes(folds, starts, corrected):
                if term not in query:
                    query[term] = (weight, 0.0)  # an alternative reading: adds matches, not size
        scores = self._bm25(query)
        top = heapq.nlargest(s.candidates, scores.items(), key=lambda kv: kv[1])
        mass = sum(
            norm * self.doc_idf.get(t, self.unknown_doc_idf)
            for t, (_, norm) in query.items()
            if " " not in t or t in self.doc_idf
        )
        # A few common words ("có", "làm sao") say nothing about the topic: the floor keeps
        # them from scoring like a full question.
        best_bm25 = (s.k1 + 1) * max(mass, s.min_mass)
        unknown_pair = self.unknown_idf * s.unknown_pair
        # Unknown words count against the match (that is how out-of-scope questions show);
        # unknown pairs of known words are just another way of saying it, and count less.
        query_norm = math.sqrt(
            sum(
                (norm * self.question_idf.get(t, unknown_pair if " " in t else self.unknown_idf))
                ** 2
                for t, (_, norm) in query.items()
            )
        )
        dots = self._dots([doc for doc, _ in top], query)
        ranked = [
            self._score(doc, bm / best_bm25, dot, query_norm)
            for (doc, bm), dot in zip(top, dots, strict=True)
        ]
        ranked.sort(key=lambda r: (-r.bm25, r.entry_id))
        if explain:
            ranked[:5] = [
                replace(r, best_question=self.nearest_question(r.entry_id, query))
                for r in ranked[:5]
            ]
        keyword = (
            sum(1 for t in query if " " not in t) <= s.keyword_words
            and not unknown
            and self._names_a_topic(folds)
        )
        return self._decide(ranked, normalised, unknown, corrected, started, keyword=keyword)

    def _bm25(self, query: dict[str, tuple[float, float]]) -> dict[int, float]:  # noqa: C901
        """BM25 of the entries worth scoring: rare terms first, common ones only added."""
        scores: dict[int, float] = {}
        common: list[tuple[Postings, float, str]] = []
        for term, (weight, _) in query.items():
            post = self.postings.get(term)
            if post is None or not weight:
                continue
            if len(post.docs) > self.common_df:
                common.append((post, weight, term))
                continue
            for doc, value in zip(post.docs, post.bm25, strict=True):
                scores[doc] = scores.get(doc, 0.0) + weight * value
        if not common:
            return scores
        if len(scores) > self.settings.keep:
            scores = dict(heapq.nlargest(self.settings.keep, scores.items(), key=lambda kv: kv[1]))
        if not scores:
            for _, _, term in common:
                for doc in self.impact[term]:
                    scores[doc] = 0.0
        for post, weight, _ in common:
            for doc in scores:
                i = post.find(doc)
                if i >= 0:
                    scores[doc] += weight * post.bm25[i]
        return scores

    def _dots(self, docs: Sequence[int], query: dict[str, tuple[float, float]]) -> list[float]:
        """The TF-IDF dot product of the question with each of ``docs`` (the candidates)."""
        dots = [0.0] * len(docs)
        for term, (weight, _) in query.items():
            post = self.postings.get(term)
            if post is None:
                continue
            factor = weight * self.question_idf.get(term, self.unknown_idf)
            found, values, size = post.docs, post.value, len(post.docs)
            for k, doc in enumerate(docs):
                i = bisect_left(found, doc)
                if i < size and found[i] == doc:
                    dots[k] += factor * values[i]
        return dots

    def _score(self, doc: int, bm25: float, dot: float, query_norm: float) -> Scored:
        """Score one candidate entry; every part is kept to explain the decision."""
        whole = dot / (query_norm * self.doc_norms[doc]) if dot and query_norm else 0.0
        confidence = min(bm25 / self.settings.bm25_scale, whole / self.settings.whole_scale)
        return Scored(self.ids[doc], bm25, whole, confidence)

    def nearest_question(self, entry_id: str, query: dict[str, tuple[float, float]]) -> str:
        """The example question (or title) of an entry closest to the query (TF-IDF cosine)."""
        outside = self.outside.get(entry_id)
        if outside is not None:
            texts: tuple[str, ...] = outside.questions
        else:
            entry = self.entries[entry_id]
            texts = (*entry.questions, entry.title)
        best, best_text = -1.0, ""
        for text in texts:
            tokens, starts = self.speller.resolve(self.normaliser.slots(text))
            folds = [t.fold for t in tokens]
            terms = set(folds) | set(bigrams(folds, starts))
            idf = self.question_idf
            dot = sum(
                w * idf.get(t, self.unknown_idf) ** 2 for t, (w, _) in query.items() if t in terms
            )
            norm = math.sqrt(sum(idf.get(t, self.unknown_idf) ** 2 for t in terms)) or 1.0
            if dot / norm > best:
                best, best_text = dot / norm, text
        return best_text

    def _decide(
        self,
        ranked: list[Scored],
        normalised: str,
        unknown: tuple[str, ...],
        corrected: list[tuple[str, str]],
        started: float,
        *,
        keyword: bool = False,
    ) -> Match:
        s = self.settings

        def match(outcome: Decision, entry_id: str | None, choices: tuple[str, ...]) -> Match:
            return Match(
                outcome=outcome,
                entry_id=entry_id,
                choices=choices,
                score=ranked[0].confidence if ranked else 0.0,
                ranked=tuple(ranked[:5]),
                normalised=normalised,
                unknown=unknown,
                corrected=tuple(corrected),
                seconds=_since(started),
            )

        if not ranked or ranked[0].entry_id in self.outside:
            return match(FALLBACK, None, ())  # nothing, or closest to a topic we don't answer
        top = ranked[0]
        runner_up = ranked[1].bm25 if len(ranked) > 1 else 0.0
        ahead = (top.bm25 - runner_up) / top.bm25 if top.bm25 > 0 else 0.0
        near = next((r for r in ranked if r.entry_id in self.outside), None)
        clear = near is None or (
            near.bm25 < s.outside_ratio * top.bm25
            and near.confidence < s.outside_confidence * top.confidence
        )
        if top.confidence >= s.answer_at and ahead >= s.margin and clear:
            return match(ANSWER, top.entry_id, ())
        if top.confidence >= s.ask_at or keyword:
            # Unsure, or a bare topic name ("vneid"): offer the closest entries.
            ours = [r for r in ranked if r.entry_id in self.entries]
            close = [r.entry_id for r in ours if r.bm25 >= top.bm25 * (1 - s.ask_within)]
            if len(close) < 2:
                close = [r.entry_id for r in ours[:2]]
            return match(ASK, None, tuple(close[: s.max_choices]))
        return match(FALLBACK, None, ())


_CACHE: OrderedDict[tuple[object, ...], Index] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def cached_index(
    entries: tuple[Entry, ...], teencode: Teencode, outside: tuple[OutOfScope, ...] = ()
) -> Index:
    """The index of these entries, reused when the same content is loaded again.

    Entries and the dictionary are immutable values, so equal content gives an equal index:
    reloading unchanged files, or building many apps in tests, costs nothing.
    """
    key: tuple[object, ...] = (
        entries,
        tuple(sorted(teencode.words.items())),
        teencode.fillers,
        outside,
    )
    with _CACHE_LOCK:
        index = _CACHE.get(key)
        if index is not None:
            _CACHE.move_to_end(key)
            return index
    index = Index.build(entries, teencode, outside=outside)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def _since(started: float) -> float:
    return time.perf_counter() - started


def _protected(entries: Iterable[Entry]) -> set[str]:
    """The content's own words, which the normaliser never "repairs"."""
    return {
        fold_word(w)
        for entry in entries
        for text in (entry.title, *entry.questions, *entry.keywords)
        for w in words(text)
    }


def _texts(entry: Entry) -> list[passes.Text]:
    """An entry's texts by kind: questions, title, keywords, answer."""
    texts = [(passes.QUESTION, q) for q in entry.questions]
    texts += [(passes.TITLE, entry.title), *((passes.KEYWORD, k) for k in entry.keywords)]
    return [*texts, (passes.ANSWER_TEXT, entry.answer)]
