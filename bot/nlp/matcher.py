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
3. decide: answer when confident and clearly ahead of the runner-up, or less sure but far
   ahead of every other entry (its topical words all point one way); ask back with the 2–3
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
import time
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.core.text import MAX_INPUT
from bot.nlp import index as passes
from bot.nlp.decide import (
    ANSWER,
    ASK,
    FALLBACK,
    OUTSIDE,
    Deciding,
    Decision,
    Match,
    Question,
    Scored,
)
from bot.nlp.index import Postings, bigrams, entry_texts, plain_context, protected_words
from bot.nlp.lexicon import Lexicon, lexicon
from bot.nlp.normalize import Normaliser, Token
from bot.nlp.settings import Settings
from bot.nlp.sound_alikes import SoundTable
from bot.nlp.spelling import Speller, typo_deletes
from bot.nlp.syllables import accent_key
from bot.nlp.teencode import Teencode

if TYPE_CHECKING:
    from bot.content.knowledge import Entry, OutOfScope


# A posting list up to this many times longer than the documents to look up in it is walked
# (a dict lookup per posting) rather than probed (a binary search per document): in Python a
# step of the walk costs a quarter to a third of a probe.
_SCAN = 6


@dataclass(frozen=True)
class Reading:
    """A question's words after normalisation and correction, with a weight for each."""

    folds: list[str]
    starts: list[bool]  # whether each word starts a phrase
    weights: list[float]  # 1, or less for a corrected word
    accent: list[float]  # 1, or less for a word typed with marks the content never uses
    info: list[float]  # how much each word says about the topic
    changes: list[tuple[str, str]]  # the corrections made


@dataclass(frozen=True)
class Index(Deciding):
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
    postings: passes.PostingTable
    doc_idf: passes.TermValues[float]
    question_idf: passes.TermValues[float]
    doc_norms: Sequence[float]
    n_questions: int
    unknown_idf: float
    unknown_doc_idf: float
    common_df: int
    impact: Mapping[str, list[int]]
    topic_names: frozenset[tuple[str, ...]]
    owned: Mapping[tuple[str, ...], str]  # keywords only one entry has -> that entry
    lexicon: Lexicon
    doc_of: Mapping[str, int]  # entry (or out-of-scope topic) id -> document number
    context_accents: frozenset[str]  # context words typed with marks (accent keys)...
    context_folds: frozenset[str]  # ...and without
    build_seconds: float = field(default=0.0, compare=False)

    @classmethod
    def build(
        cls,
        entries: Iterable[Entry],
        teencode: Teencode | None = None,
        settings: Settings | None = None,
        outside: Iterable[OutOfScope] = (),
        sounds: SoundTable | None = None,
    ) -> Index:
        """Run the passes of ``bot.nlp.index`` over the content."""
        started = time.perf_counter()
        s = settings or Settings()
        by_id = {entry.id: entry for entry in entries}
        topics = {f"{OUTSIDE}{o.id}": o for o in outside}
        tc = teencode or Teencode()
        normaliser = Normaliser(
            tc,
            protected_words(by_id.values()),
            sounds.spellings if sounds else None,
        )
        documents = [entry_texts(entry) for entry in by_id.values()]
        documents += [[(passes.QUESTION, q) for q in o.questions] for o in topics.values()]
        parsed, loose = passes.read_texts(documents, normaliser)
        counts = passes.count_terms(parsed, Speller({}, loose, {}, s), s)
        del parsed, loose
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
            speller=Speller(vocab, weights.pair_counts, typo_deletes(vocab), s),
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
            owned=passes.owned_keywords(counts, (*by_id, *topics)),
            lexicon=lexicon(),
            doc_of={doc_id: doc for doc, doc_id in enumerate((*by_id, *topics))},
            context_accents=frozenset(accent_key(w) for w in tc.context),
            context_folds=plain_context(tc.context, counts.accent_forms),
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
        reading = self._reading(text[:MAX_INPUT])
        question = self._question(reading)
        match = self._search(question, started, explain=explain)
        if match.outcome is ANSWER or question.strange or self._torn(match, question):
            # Words we don't know at all (how out-of-scope questions show), or siblings the
            # question can't tell apart: no part of it decides.
            return match
        focused = self._focus(reading, match, started)
        return focused or match

    def _focus(self, reading: Reading, whole: Match, started: float) -> Match | None:
        """A long question answered by one of its parts ("hôm qua đi bán heo ở chợ về, bà ck
        nhầm tiền rồi"): each window of a few words is judged as a question of its own (among
        the whole question's candidates), and one answered with the whole question's best
        entry answers it."""
        s = self.settings
        size = len(reading.folds)
        if size <= s.window or not whole.ranked or whole.score < s.window_whole:
            return None
        near = [r.entry_id for r in whole.ranked[: s.window_top] if r.entry_id in self.entries]
        docs = [self.doc_of[entry_id] for entry_id in near]
        within = [self.doc_of[r.entry_id] for r in whole.ranked]
        best: Match | None = None
        present = self._present(reading.folds, docs)
        for start in range(0, size - s.window + s.window_step, s.window_step):
            end = start + s.window
            window = set(reading.folds[start:end])
            if all(len(window & words) < 2 for words in present):
                continue  # cheap check first: the window must hold two words of a near entry
            question = self._question(reading, start, end)
            if not self._may_reach(question.terms, docs, s.window_answer_at):
                continue  # no near entry's BM25 share is high enough for that confidence
            part = self._search(question, started, within=within)
            if part.outcome is not ANSWER or part.entry_id not in near:
                continue
            if part.score >= s.window_answer_at and (best is None or part.score > best.score):
                best = part
        if best is None:
            return None
        return replace(whole, outcome=ANSWER, entry_id=best.entry_id, choices=(), score=best.score)

    def _present(self, folds: Sequence[str], docs: Sequence[int]) -> list[set[str]]:
        """For each of ``docs``, the words of ``folds`` it holds."""
        present: list[set[str]] = [set() for _ in docs]
        for fold in set(folds):
            post = self.postings.get(fold)
            if post is None:
                continue
            for words, doc in zip(present, docs, strict=True):
                if post.find(doc) >= 0:
                    words.add(fold)
        return present

    def _search(
        self,
        question: Question,
        started: float,
        *,
        explain: bool = False,
        within: Sequence[int] | None = None,
    ) -> Match:
        """Rank the entries for one question (only the documents ``within``, when given: the
        candidates of the whole question a window is part of) and decide."""
        s = self.settings
        query = question.terms
        scores = self._bm25(query) if within is None else self._bm25_within(query, within)
        top = heapq.nlargest(s.candidates, scores.items(), key=lambda kv: kv[1])
        hit: set[str] = set()
        dots = self._dots([doc for doc, _ in top], query, hit)
        # Words of the content that none of the candidates holds (a long question's personal
        # context: "nhóm cựu chiến binh", "tủ lạnh") say nothing for or against any of them:
        # they count less in the question's size (words the content never uses count fully).
        stray = s.stray_weight if within is None else 1.0
        best_bm25 = self._best_bm25(query, hit, stray)
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
        return self._decide(ranked, question, started)

    def _best_bm25(
        self,
        query: dict[str, tuple[float, float]],
        hit: Collection[str] = (),
        stray: float = 1.0,
    ) -> float:
        """The best BM25 score the question could reach (what its scores are shares of); a
        term of the content not ``hit`` by any candidate counts ``stray`` times."""
        s = self.settings
        mass = sum(
            norm
            * self.doc_idf.get(t, self.unknown_doc_idf)
            * (stray if stray != 1.0 and t not in hit and t in self.postings else 1.0)
            for t, (_, norm) in query.items()
            if " " not in t or t in self.doc_idf
        )
        # A few common words ("có", "làm sao") say nothing about the topic: the floor keeps
        # them from scoring like a full question.
        return (s.k1 + 1) * max(mass, s.min_mass)

    def _may_reach(
        self, query: dict[str, tuple[float, float]], docs: Sequence[int], confidence: float
    ) -> bool:
        """Whether one of ``docs`` may reach ``confidence`` for the question: a cheap bound
        (its BM25 share alone) checked before ranking a window."""
        needed = confidence * self.settings.bm25_scale * self._best_bm25(query) * (1 - 1e-9)
        return any(bm >= needed for bm in self._bm25_within(query, docs).values())

    def _read(self, text: str) -> Question:
        """The question ``text`` as the matcher reads it."""
        return self._question(self._reading(text))

    def _reading(self, text: str) -> Reading:
        """The question's words, corrected, with their weights.

        Words that say little about the topic weigh less: context words (kinship, politeness,
        time: ``context`` in teencode.yaml) and real Vietnamese words the content never uses
        ("heo", "chợ"), so a long question about one thing is as sure as its short form. A
        string that is no Vietnamese word and no content word weighs fully: that is how
        out-of-scope questions show.
        """
        tokens, starts = self.speller.resolve(self.normaliser.slots(text))
        real = [self._is_word(t) for t in tokens]
        accent = self._accent_weights(tokens)
        fixed = self.speller.correct([t.fold for t in tokens], starts, real)
        if len(fixed.folds) == len(tokens):
            info = [self._information(t, r) for t, r in zip(tokens, real, strict=True)]
        else:  # a word was split in two: marks no longer line up
            accent = [1.0] * len(fixed.folds)
            info = [self._information(Token(f), f in self.lexicon.folded) for f in fixed.folds]
        _compounds(fixed.folds, fixed.starts, info, self.vocab)
        return Reading(fixed.folds, fixed.starts, fixed.weights, accent, info, fixed.changes)

    def _question(self, reading: Reading, start: int = 0, end: int | None = None) -> Question:
        """The terms of the words ``start:end`` of a reading (a window: no context fixes), each
        with its weight when it matches and in the question's size."""
        s = self.settings
        end = len(reading.folds) if end is None else end
        folds = reading.folds[start:end]
        starts = [True, *reading.starts[start + 1 : end]]
        weights, accent = reading.weights[start:end], reading.accent[start:end]
        info = reading.info[start:end]
        terms: dict[str, tuple[float, float]] = {}
        for word, weight, fit, part in zip(folds, weights, accent, info, strict=True):
            old = terms.get(word, (0.0, 0.0))
            terms[word] = (max(old[0], weight * fit * part), max(old[1], weight * part))
        for i in range(1, len(folds)):
            if starts[i]:
                continue
            gram = f"{folds[i - 1]} {folds[i]}"
            weight = min(weights[i - 1], weights[i]) * s.bigram_weight * min(info[i - 1], info[i])
            fit = min(accent[i - 1], accent[i])
            old = terms.get(gram, (0.0, 0.0))
            terms[gram] = (max(old[0], weight * fit), max(old[1], weight))
        if s.context_fix and start == 0 and end == len(reading.folds):
            for term, weight in self.speller.context_fixes(folds, starts, reading.changes):
                if term not in terms:
                    terms[term] = (weight, 0.0)  # an alternative reading: adds matches, not size
        unknown = tuple(w for w in dict.fromkeys(folds) if w not in self.vocab)
        keyword = (
            sum(1 for t in terms if " " not in t) <= s.keyword_words
            and not unknown
            and self._names_a_topic(folds)
        )
        strange = sum(
            1 for f, part in zip(folds, info, strict=True) if f not in self.vocab and part >= 1.0
        )
        changes = tuple(reading.changes)
        return Question(terms, " ".join(folds), unknown, changes, keyword, strange)

    def _is_word(self, token: Token) -> bool:
        """Whether a token is a Vietnamese word (exactly as typed, when typed with marks)."""
        if token.accent is not None:
            return token.accent in self.lexicon.accented
        return token.fold in self.lexicon.folded

    def _information(self, token: Token, real: bool) -> float:
        """How much a word says about the question's topic (1 for a topical word)."""
        s = self.settings
        if token.accent is not None:
            if token.accent in self.context_accents:
                return s.context_weight
        elif token.fold in self.context_folds:
            return s.context_weight
        if real and token.fold not in self.vocab:
            return s.lexicon_weight
        return 1.0

    def _bm25_within(
        self, query: dict[str, tuple[float, float]], docs: Sequence[int]
    ) -> dict[int, float]:
        """BM25 of the given documents only."""
        scores = dict.fromkeys(docs, 0.0)
        for term, (weight, _) in query.items():
            post = self.postings.get(term)
            if post is None or not weight:
                continue
            for doc in docs:
                i = post.find(doc)
                if i >= 0:
                    scores[doc] += weight * post.bm25[i]
        return scores

    def _bm25(self, query: dict[str, tuple[float, float]]) -> dict[int, float]:
        """BM25 of the entries worth scoring: rare terms first, common ones only added.

        Only the best ``candidates`` of the result are used: while the common terms are added,
        an entry that can no longer reach them (its score so far plus the most the terms left
        could add, below the current ``candidates``-th score) is dropped. The best ones come
        out exactly as if every entry were scored.
        """
        s = self.settings
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
        if len(scores) > s.keep:
            scores = dict(heapq.nlargest(s.keep, scores.items(), key=lambda kv: kv[1]))
        if not scores:
            for _, _, term in common:
                for doc in self.impact[term]:
                    scores[doc] = 0.0
        return self._add_common(scores, common)

    def _add_common(
        self, scores: dict[int, float], common: list[tuple[Postings, float, str]]
    ) -> dict[int, float]:
        """Add the common terms (the weightiest first) to the entries found, dropping those
        that can no longer be among the best ``candidates``."""
        s = self.settings
        common.sort(key=lambda c: -c[1] * self._most(c[0], c[2]))
        left = self._bounds(common)
        for n, (post, weight, _) in enumerate(common):
            if len(scores) > s.candidates:
                values = sorted(scores.values(), reverse=True)
                floor = values[s.candidates - 1] - left[n]
                if values[-1] < floor:
                    scores = {doc: v for doc, v in scores.items() if v >= floor}
            _add(scores, post, weight)
        return scores

    def _most(self, post: Postings, term: str) -> float:
        """A common term's highest BM25 weight (in the first of its best entries)."""
        return post.bm25[post.find(self.impact[term][0])]

    def _bounds(self, common: Sequence[tuple[Postings, float, str]]) -> list[float]:
        """For each position in ``common``, the most the terms from there on can add to any
        entry (a little more, for rounding); the last is 0."""
        left = [0.0] * (len(common) + 1)
        for n in range(len(common) - 1, -1, -1):
            post, weight, term = common[n]
            left[n] = left[n + 1] + weight * self._most(post, term)
        return [v * (1 + 1e-9) + 1e-12 if v else 0.0 for v in left]

    def _dots(
        self,
        docs: Sequence[int],
        query: dict[str, tuple[float, float]],
        hit: set[str] | None = None,
    ) -> list[float]:
        """The TF-IDF dot product of the question with each of ``docs`` (the candidates);
        the terms found in any of them are added to ``hit``."""
        dots = [0.0] * len(docs)
        where = {doc: k for k, doc in enumerate(docs)}
        for term, (weight, _) in query.items():
            post = self.postings.get(term)
            if post is None:
                continue
            factor = weight * self.question_idf.get(term, self.unknown_idf)
            found, values, size = post.docs, post.value, len(post.docs)
            held = False
            if size <= _SCAN * len(docs):
                for doc, value in zip(found, values, strict=True):
                    k = where.get(doc)
                    if k is not None:
                        dots[k] += factor * value
                        held = True
            else:
                for k, doc in enumerate(docs):
                    i = bisect_left(found, doc)
                    if i < size and found[i] == doc:
                        dots[k] += factor * values[i]
                        held = True
            if held and hit is not None:
                hit.add(term)
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


def _add(scores: dict[int, float], post: Postings, weight: float) -> None:
    """Add a term's BM25 weights to the entries already scored."""
    found, values = post.docs, post.bm25
    if len(found) <= _SCAN * len(scores):
        # Walking the postings is cheaper than probing them once per entry.
        for doc, value in zip(found, values, strict=True):
            if doc in scores:
                scores[doc] += weight * value
        return
    size = len(found)
    for doc in scores:
        i = bisect_left(found, doc)
        if i < size and found[i] == doc:
            scores[doc] += weight * values[i]


def _compounds(
    folds: Sequence[str], starts: Sequence[bool], info: list[float], vocab: Mapping[str, int]
) -> None:
    """Two Vietnamese words side by side that the content never uses ("kinh doanh", "thịt kho")
    name a topic it doesn't cover: they weigh fully again."""
    unknown = [f not in vocab and part < 1.0 for f, part in zip(folds, info, strict=True)]
    for i in range(1, len(folds)):
        if unknown[i - 1] and unknown[i] and not starts[i]:
            info[i - 1] = info[i] = 1.0


# The decision's names, defined in bot/nlp/decide.py, are importable from here too.
__all__ = [
    "ANSWER",
    "ASK",
    "FALLBACK",
    "OUTSIDE",
    "Decision",
    "Index",
    "Match",
    "Question",
    "Reading",
    "Scored",
]
