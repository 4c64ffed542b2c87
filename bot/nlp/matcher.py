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
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.text import strip_marks
from bot.nlp.normalize import Normaliser, Slot, Token, words
from bot.nlp.syllables import is_syllable
from bot.nlp.teencode import Teencode

if TYPE_CHECKING:
    from bot.content.knowledge import Entry

ANSWER = "answer"
ASK = "ask"
FALLBACK = "fallback"


@dataclass(frozen=True)
class Settings:
    """Tuned constants (measured by ``bench/tune.py``)."""

    k1: float = 2.0
    b: float = 0.75
    title_weight: float = 2.0
    keyword_weight: float = 3.0
    answer_weight: float = 0.5
    bigram_weight: float = 0.5
    typo_weight: float = 0.8
    real_word_typo: float = 0.6  # an unknown word that is a real syllable may not be a typo...
    real_word_fit: float = 1.0  # ...so it is only corrected when the fix fits its neighbours
    accent_mismatch: float = 0.5  # weight of a word whose marks the content never uses
    candidates: int = 12
    keyword_words: int = 3  # a question this short made of topic words...
    topic_share: float = 0.5  # ...(title/keyword words in at most this share of entries)
    min_mass: float = 10.0  # the least IDF mass a question is scored against (see search)
    whole_weight: float = 3.0  # confidence = BM25 ratio + whole_weight * entry cosine
    answer_at: float = 0.75  # answer directly from this confidence...
    margin: float = 0.05  # ...when the runner-up's BM25 is at least this share behind
    ask_at: float = 0.55  # below this, fall back
    ask_within: float = 0.35  # ask back with entries whose BM25 is this close to the best
    max_choices: int = 3


@dataclass(frozen=True)
class Scored:
    """One entry's score for a question, with the parts that explain it.

    ``bm25`` ranks (the BM25 score over the best one the question could get); ``whole`` is the
    TF-IDF cosine with the entry as a whole, ``question`` the one with its nearest example
    question; ``confidence`` decides whether to answer.
    """

    entry_id: str
    bm25: float
    whole: float
    confidence: float
    question: float
    best_question: str


@dataclass(frozen=True)
class Match:
    """What to do with a question: answer ``entry_id``, ask back with ``choices``, or fall back."""

    outcome: str
    entry_id: str | None
    choices: tuple[str, ...]
    score: float
    ranked: tuple[Scored, ...]
    normalised: str
    unknown: tuple[str, ...] = ()
    corrected: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def _bigrams(folds: Sequence[str], starts: Sequence[bool]) -> list[str]:
    """Adjacent pairs of words, except across punctuation."""
    return [f"{folds[i - 1]} {folds[i]}" for i in range(1, len(folds)) if not starts[i]]


@dataclass
class _Doc:
    """What the index keeps of one entry."""

    questions: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    terms: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    words: set[str] = field(default_factory=set)  # every word of the entry, answer included


class Index:
    """The searchable form of one version of the knowledge base."""

    def __init__(
        self,
        entries: Iterable[Entry],
        teencode: Teencode | None = None,
        settings: Settings | None = None,
    ) -> None:
        started = time.perf_counter()
        self.settings = settings or Settings()
        self.entries = {entry.id: entry for entry in entries}
        teencode = teencode or Teencode()
        protected: set[str] = set()
        for entry in self.entries.values():
            for text in (entry.title, *entry.questions, *entry.keywords):
                protected.update(strip_marks(w) for w in words(text))
        self.normaliser = Normaliser(teencode, protected)
        # Pass 1: slots of every text, and the bigrams their first readings form.
        parsed: dict[str, list[tuple[str, str, list[Slot]]]] = {}
        loose_bigrams: Counter[str] = Counter()
        for entry in self.entries.values():
            texts = [("q", q) for q in entry.questions]
            texts += [("t", entry.title), *(("k", k) for k in entry.keywords)]
            texts.append(("a", entry.answer))
            parsed[entry.id] = []
            for kind, text in texts:
                slots = self.normaliser.slots(text)
                parsed[entry.id].append((kind, text, slots))
                plain = [(s.readings[0], s.starts) for s in slots]
                folds = [t.fold for reading, _ in plain for t in reading]
                starts = [st and i == 0 for reading, st in plain for i, _ in enumerate(reading)]
                loose_bigrams.update(set(_bigrams(folds, starts)))
        self.bigram_counts: dict[str, int] = dict(loose_bigrams)
        # Pass 2: resolve ambiguous words, build per-entry term counts and question sets.
        weights: dict[str, float] = {
            "q": 1.0,
            "t": self.settings.title_weight,
            "k": self.settings.keyword_weight,
            "a": self.settings.answer_weight,
        }
        self.docs: dict[str, _Doc] = {}
        question_df: Counter[str] = Counter()
        n_questions = 0
        bigrams: Counter[str] = Counter()
        unigram_df: Counter[str] = Counter()
        accent_forms: dict[str, set[str]] = defaultdict(set)
        title_phrases: set[tuple[str, ...]] = set()
        for entry_id, parts in parsed.items():
            doc = _Doc()
            for kind, text, slots in parts:
                tokens, starts = self._resolve(slots)
                folds = [t.fold for t in tokens]
                for token in tokens:
                    accent_forms[token.fold].add(token.accent or token.fold)
                doc.words.update(folds)
                if kind == "a" and not weights["a"]:
                    continue
                grams = _bigrams(folds, starts)
                bigrams.update(set(grams))
                terms = folds + grams
                for term in terms:
                    doc.terms[term] += weights[kind] * (
                        self.settings.bigram_weight if " " in term else 1.0
                    )
                if kind == "k" or (kind == "t" and len(folds) <= 3):
                    title_phrases.add(tuple(folds))
                if kind in ("q", "t"):
                    unique = frozenset(terms)
                    doc.questions.append((text, unique))
                    question_df.update(unique)
                    n_questions += 1
            self.docs[entry_id] = doc
            unigram_df.update(doc.words | {t for t in doc.terms if " " not in t})
        self.bigram_counts = dict(bigrams)
        self.title_phrases = frozenset(p for p in title_phrases if p)
        self.accent_forms = {fold: frozenset(forms) for fold, forms in accent_forms.items()}
        self.vocab: dict[str, int] = dict(unigram_df)
        self.n_questions = max(n_questions, 1)
        self.idf: dict[str, float] = {
            term: math.log(1 + (self.n_questions - df + 0.5) / (df + 0.5))
            for term, df in question_df.items()
        }
        for term in {t for doc in self.docs.values() for t in doc.terms}:
            self.idf.setdefault(term, math.log(1 + (self.n_questions + 0.5) / 0.5))
        self.unknown_idf = math.log(1 + (self.n_questions + 0.5) / 0.5)
        self._build_postings()
        self._build_vectors()
        self._build_typo_index()
        self.build_seconds = time.perf_counter() - started

    # -- building ---------------------------------------------------------------------------

    def _build_postings(self) -> None:
        """BM25 weight of every (term, entry), so a query only sums postings."""
        k1, b = self.settings.k1, self.settings.b
        lengths = {eid: sum(doc.terms.values()) for eid, doc in self.docs.items()}
        average = sum(lengths.values()) / max(len(lengths), 1)
        n_docs = max(len(self.docs), 1)
        doc_df: Counter[str] = Counter()
        for doc in self.docs.values():
            doc_df.update(doc.terms.keys())
        postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for eid, doc in self.docs.items():
            norm = k1 * (1 - b + b * lengths[eid] / max(average, 1e-9))
            for term, tf in doc.terms.items():
                idf = math.log(1 + (n_docs - doc_df[term] + 0.5) / (doc_df[term] + 0.5))
                postings[term].append((eid, idf * tf * (k1 + 1) / (tf + norm)))
        self.postings = dict(postings)
        self.doc_idf = {
            term: math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) for term, df in doc_df.items()
        }
        self.unknown_doc_idf = math.log(1 + (n_docs + 0.5) / 0.5)
        # Topic names: keywords and titles; one word only when it is not an everyday
        # Vietnamese syllable ("vneid", "otp"), and not when half the entries use it.
        self.topic_names = frozenset(
            phrase
            for phrase in self.title_phrases
            if len(phrase) > 1
            or (
                not is_syllable(phrase[0])
                and doc_df.get(phrase[0], 0) <= self.settings.topic_share * n_docs
            )
        )

    def _build_vectors(self) -> None:
        """TF-IDF vectors of each example question and of each entry as a whole."""
        self.question_norms: dict[str, list[float]] = {}
        self.entry_vectors: dict[str, dict[str, float]] = {}
        self.entry_norms: dict[str, float] = {}
        for eid, doc in self.docs.items():
            self.question_norms[eid] = [
                math.sqrt(sum(self.idf[t] ** 2 for t in terms)) or 1.0 for _, terms in doc.questions
            ]
            vector = {t: (1 + math.log(1 + tf)) * self.idf[t] for t, tf in doc.terms.items()}
            self.entry_vectors[eid] = vector
            self.entry_norms[eid] = math.sqrt(sum(v * v for v in vector.values())) or 1.0

    def _build_typo_index(self) -> None:
        """Single deletions of every known word, for one-edit corrections (SymSpell style)."""
        deletes: dict[str, set[str]] = defaultdict(set)
        for word in self.vocab:
            if len(word) < 2 or not word.isalpha():
                continue
            deletes[word].add(word)
            for i in range(len(word)):
                deletes[word[:i] + word[i + 1 :]].add(word)
        self.deletes = dict(deletes)

    # -- reading a question -------------------------------------------------------------------

    def _resolve(self, slots: Sequence[Slot]) -> tuple[list[Token], list[bool]]:
        """One reading per slot (for an ambiguous word, the one forming known bigrams).

        Returns the tokens and, for each, whether it starts a phrase.
        """
        tokens: list[Token] = []
        starts: list[bool] = []
        for index, slot in enumerate(slots):
            best = slot.readings[0]
            if len(slot.readings) > 1:
                before = (
                    slots[index - 1].readings[0][-1].fold if index and not slot.starts else None
                )
                after = (
                    slots[index + 1].readings[0][0].fold
                    if index + 1 < len(slots) and not slots[index + 1].starts
                    else None
                )
                best_fit = 0.0
                for reading in slot.readings:
                    fit = self._fit([t.fold for t in reading], before, after, prior=False)
                    if fit > best_fit:
                        best, best_fit = reading, fit
            for position, token in enumerate(best):
                tokens.append(token)
                starts.append(slot.starts and position == 0)
        return tokens, starts

    def _candidates_for(self, word: str) -> set[str]:
        """Known words one edit away from ``word``."""
        found: set[str] = set()
        for key in {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}:
            found.update(self.deletes.get(key, ()))
        return {c for c in found if _one_edit(word, c)}

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

    def _correct(
        self, folds: list[str], starts: list[bool], base: list[float]
    ) -> tuple[list[str], list[bool], list[float], list[tuple[str, str]]]:
        """Fix unknown words; returns the words, phrase starts, weights and the corrections."""
        out: list[str] = []
        out_starts: list[bool] = []
        weights: list[float] = []
        corrected: list[tuple[str, str]] = []
        for index, word in enumerate(folds):
            if word in self.vocab or not word.isalpha() or len(word) < 3:
                out.append(word)
                out_starts.append(starts[index])
                weights.append(base[index])
                continue
            before = folds[index - 1] if index > 0 and not starts[index] else None
            after = folds[index + 1] if index + 1 < len(folds) and not starts[index + 1] else None
            options: list[tuple[float, list[str]]] = []
            for candidate in self._candidates_for(word):
                options.append((self._fit([candidate], before, after), [candidate]))
            for cut in range(1, len(word)):
                left, right = word[:cut], word[cut:]
                if f"{left} {right}" in self.bigram_counts:
                    options.append((self._fit([left, right], before, after) + 1, [left, right]))
            options.sort(key=lambda o: (-o[0], o[1]))
            if options and is_syllable(word) and options[0][0] < self.settings.real_word_fit:
                # A real syllable the content never uses: a typo only if the fix fits in.
                options = []
            if not options:
                out.append(word)
                out_starts.append(starts[index])
                weights.append(1.0)
                continue
            best = options[0][1]
            corrected.append((word, " ".join(best)))
            weight = self.settings.typo_weight
            if is_syllable(word):
                weight *= self.settings.real_word_typo
            for position, fixed in enumerate(best):
                out.append(fixed)
                out_starts.append(starts[index] and position == 0)
                weights.append(weight)
        return out, out_starts, weights, corrected

    def _fit(
        self, candidate: list[str], before: str | None, after: str | None, *, prior: bool = True
    ) -> float:
        """How well words fit between their neighbours: known bigrams, then frequency."""
        score = 0.0
        if before:
            score += math.log(1 + self.bigram_counts.get(f"{before} {candidate[0]}", 0))
        if after:
            score += math.log(1 + self.bigram_counts.get(f"{candidate[-1]} {after}", 0))
        if not prior:
            return score
        return score + math.log(1 + self.vocab.get(candidate[0], 0)) / 10

    # -- searching ----------------------------------------------------------------------------

    def search(self, text: str) -> Match:
        """Rank the entries for ``text`` and decide what to do."""
        started = time.perf_counter()
        tokens, starts = self._resolve(self.normaliser.slots(text))
        accent = self._accent_weights(tokens)
        folds, starts, weights, corrected = self._correct(
            [t.fold for t in tokens], starts, [1.0] * len(tokens)
        )
        if len(folds) != len(tokens):  # a word was split in two: marks no longer line up
            accent = [1.0] * len(folds)
        normalised = " ".join(folds)
        # term -> (weight when it matches, weight in the query's norm)
        query: dict[str, tuple[float, float]] = {}
        for word, weight, fit in zip(folds, weights, accent, strict=True):
            old = query.get(word, (0.0, 0.0))
            query[word] = (max(old[0], weight * fit), max(old[1], weight))
        for i in range(1, len(folds)):
            if starts[i]:
                continue
            gram = f"{folds[i - 1]} {folds[i]}"
            weight = min(weights[i - 1], weights[i]) * self.settings.bigram_weight
            fit = min(accent[i - 1], accent[i])
            old = query.get(gram, (0.0, 0.0))
            query[gram] = (max(old[0], weight * fit), max(old[1], weight))
        unknown = tuple(w for w in dict.fromkeys(folds) if w not in self.vocab)
        if not query:
            return Match(FALLBACK, None, (), 0.0, (), normalised, seconds=_since(started))
        bm25: dict[str, float] = defaultdict(float)
        for term, (weight, _) in query.items():
            for eid, value in self.postings.get(term, ()):
                bm25[eid] += weight * value
        top = heapq.nlargest(self.settings.candidates, bm25.items(), key=lambda kv: kv[1])
        mass = sum(
            norm * self.doc_idf.get(t, self.unknown_doc_idf)
            for t, (_, norm) in query.items()
            if " " not in t or t in self.doc_idf
        )
        # A few common words ("có", "làm sao") say nothing about the topic: the floor keeps
        # them from scoring like a full question.
        best_bm25 = (self.settings.k1 + 1) * max(mass, self.settings.min_mass)
        query_norm = math.sqrt(
            sum((norm * self.idf.get(t, self.unknown_idf)) ** 2 for t, (_, norm) in query.items())
        )
        ranked = [self._score(eid, bm / best_bm25, query, query_norm) for eid, bm in top]
        ranked.sort(key=lambda s: (-s.bm25, s.entry_id))
        words_typed = [t for t in query if " " not in t]
        keyword = (
            len(words_typed) <= self.settings.keyword_words
            and not unknown
            and self._names_a_topic(folds)
        )
        return self._decide(ranked, normalised, unknown, corrected, started, keyword=keyword)

    def _score(
        self,
        eid: str,
        bm25: float,
        query: dict[str, tuple[float, float]],
        query_norm: float,
    ) -> Scored:
        """Score one candidate entry; every part is kept to explain the decision."""
        doc = self.docs[eid]
        best, best_text = 0.0, ""
        for (text, terms), norm in zip(doc.questions, self.question_norms[eid], strict=True):
            dot = sum(w * self.idf[t] ** 2 for t, (w, _) in query.items() if t in terms)
            cosine = dot / (query_norm * norm) if dot else 0.0
            if cosine > best:
                best, best_text = cosine, text
        vector = self.entry_vectors[eid]
        dot = sum(w * self.idf[t] * vector[t] for t, (w, _) in query.items() if t in vector)
        whole = dot / (query_norm * self.entry_norms[eid]) if dot else 0.0
        confidence = bm25 + self.settings.whole_weight * whole
        return Scored(eid, bm25, whole, confidence, best, best_text)

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

        def match(outcome: str, entry_id: str | None, choices: tuple[str, ...]) -> Match:
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

        if not ranked:
            return match(FALLBACK, None, ())
        top = ranked[0]
        runner_up = ranked[1].bm25 if len(ranked) > 1 else 0.0
        ahead = (top.bm25 - runner_up) / top.bm25 if top.bm25 > 0 else 0.0
        if top.confidence >= s.answer_at and ahead >= s.margin:
            return match(ANSWER, top.entry_id, ())
        if top.confidence >= s.ask_at or keyword:
            # Unsure, or a bare topic name ("vneid"): offer the closest entries.
            close = [r.entry_id for r in ranked if r.bm25 >= top.bm25 * (1 - s.ask_within)]
            if len(close) < 2:
                close = [r.entry_id for r in ranked[:2]]
            return match(ASK, None, tuple(close[: s.max_choices]))
        return match(FALLBACK, None, ())


_CACHE: OrderedDict[tuple[object, ...], Index] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def cached_index(entries: tuple[Entry, ...], teencode: Teencode) -> Index:
    """The index of these entries, reused when the same content is loaded again.

    Entries and the dictionary are immutable values, so equal content gives an equal index:
    reloading unchanged files, or building many apps in tests, costs nothing.
    """
    key: tuple[object, ...] = (entries, tuple(sorted(teencode.words.items())), teencode.fillers)
    with _CACHE_LOCK:
        index = _CACHE.get(key)
        if index is not None:
            _CACHE.move_to_end(key)
            return index
    index = Index(entries, teencode)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def _since(started: float) -> float:
    return time.perf_counter() - started


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one insertion, deletion, substitution or swap apart."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))
