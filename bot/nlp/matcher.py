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
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.nlp.normalize import Normaliser, Slot, Token, words
from bot.nlp.syllables import fold_word, is_syllable
from bot.nlp.teencode import Teencode

if TYPE_CHECKING:
    from bot.content.knowledge import Entry, OutOfScope

MAX_TEXT = 4000  # longer input is cut: nobody types more in a chat
MAX_WORD = 20  # longer "words" are not corrected
OUTSIDE = "out_of_scope:"  # id prefix of the out-of-scope topics in rankings
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
    answer_in_vector: float = 0.5  # how much answer words count in the entry's TF-IDF vector
    bigram_weight: float = 0.5
    typo_weight: float = 0.8
    real_word_typo: float = 0.6  # an unknown word that is a real syllable may not be a typo...
    real_word_fit: float = 1.0  # ...so it is only corrected when the fix fits its neighbours
    accent_mismatch: float = 0.5  # weight of a word whose marks the content never uses
    candidates: int = 12
    exact_df: int = 64  # terms in at most this many entries (or 1/common_divisor of them)...
    common_divisor: int = 40  # ...are summed in full; commoner ones only added to those found
    keep: int = 200  # how many entries found by the rarer terms get the common terms added
    impact: int = 32  # for a question of common terms only: each term's best entries
    keyword_words: int = 3  # a question this short made of topic words...
    topic_share: float = 0.5  # ...(title/keyword words in at most this share of entries)
    min_mass: float = 10.0  # the least IDF mass a question is scored against (see search)
    bm25_scale: float = 0.24  # confidence = the smaller of BM25 ratio / bm25_scale...
    whole_scale: float = 0.14  # ...and entry cosine / whole_scale: both must be strong
    answer_at: float = 1.0  # answer directly from this confidence...
    margin: float = 0.05  # ...when the runner-up's BM25 is at least this share behind
    ask_at: float = 0.7  # below this, fall back
    context_fix: float = 0.5  # weight of a likelier word next to a known word that fits nowhere
    unknown_pair: float = 1.0  # weight of an unknown word pair in the question's size
    outside_ratio: float = 0.6  # no direct answer when a topic we don't answer is this close
    outside_confidence: float = 0.6  # (in BM25, or in confidence)
    ask_within: float = 0.35  # ask back with entries whose BM25 is this close to the best
    max_choices: int = 3


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


def _idf(total: int, df: int) -> float:
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class _Postings:
    """The entries holding one term (sorted), with its BM25 weight and TF-IDF value in each."""

    docs: array[int]
    bm25: array[float]
    value: array[float]

    def find(self, doc: int) -> int:
        """The position of ``doc``, or -1."""
        i = bisect_left(self.docs, doc)
        return i if i < len(self.docs) and self.docs[i] == doc else -1


class Index:
    """The searchable form of one version of the knowledge base (immutable once built, but for
    a cache of typo candidates)."""

    def __init__(
        self,
        entries: Iterable[Entry],
        teencode: Teencode | None = None,
        settings: Settings | None = None,
        outside: Iterable[OutOfScope] = (),
    ) -> None:
        started = time.perf_counter()
        self.settings = s = settings or Settings()
        self.entries: dict[str, Entry] = {entry.id: entry for entry in entries}
        self.outside: dict[str, OutOfScope] = {f"{OUTSIDE}{o.id}": o for o in outside}
        # Documents: the entries, then the out-of-scope topics (never answered).
        self.ids: list[str] = [*self.entries, *self.outside]
        self.first_outside = len(self.entries)
        teencode = teencode or Teencode()
        protected: set[str] = set()
        for entry in self.entries.values():
            for text in (entry.title, *entry.questions, *entry.keywords):
                protected.update(fold_word(w) for w in words(text))
        self.normaliser = Normaliser(teencode, protected)
        # Pass 1: read every text; count the bigrams of the unambiguous words, which decide
        # how ambiguous abbreviations in the content itself are read.
        parsed: list[list[tuple[str, list[Slot]]]] = []
        loose: Counter[str] = Counter()
        sources: list[list[tuple[str, str]]] = []
        for entry in self.entries.values():
            texts = [("q", q) for q in entry.questions]
            texts += [("t", entry.title), *(("k", k) for k in entry.keywords)]
            sources.append([*texts, ("a", entry.answer)])
        sources += [[("q", q) for q in o.questions] for o in self.outside.values()]
        for texts in sources:
            parts: list[tuple[str, list[Slot]]] = []
            for kind, text in texts:
                slots = self.normaliser.slots(text)
                parts.append((kind, slots))
                if kind != "a":
                    folds = [s_.readings[0][0].fold for s_ in slots]
                    loose.update(set(_bigrams(folds, [s_.starts for s_ in slots])))
            parsed.append(parts)
        del sources
        self.bigram_counts: dict[str, int] = dict(loose)
        # Pass 2: weighted term frequencies of every entry, straight into postings.
        weights = {"q": 1.0, "t": s.title_weight, "k": s.keyword_weight, "a": s.answer_weight}
        docs_of: dict[str, array[int]] = {}
        tf_of: dict[str, array[float]] = {}
        shape_of: dict[str, array[float]] = {}
        question_df: Counter[str] = Counter()
        n_questions = 0
        lengths: list[float] = []
        bigrams: Counter[str] = Counter()
        vocab: Counter[str] = Counter()
        accent_forms: dict[str, set[str]] = defaultdict(set)
        title_phrases: set[tuple[str, ...]] = set()
        for doc, parts in enumerate(parsed):
            terms: dict[str, float] = defaultdict(float)  # for BM25
            shape: dict[str, float] = defaultdict(float)  # for the TF-IDF vector
            seen: set[str] = set()
            for kind, slots in parts:
                tokens, starts = self._resolve(slots)
                folds = [t.fold for t in tokens]
                for token in tokens:
                    accent_forms[token.fold].add(token.accent or token.fold)
                seen.update(folds)
                weight = weights[kind]
                in_shape = s.answer_in_vector if kind == "a" else weight
                for fold in folds:
                    terms[fold] += weight
                    shape[fold] += in_shape
                if kind == "a":
                    continue  # answers add words, not bigrams
                grams = _bigrams(folds, starts)
                bigrams.update(set(grams))
                for gram in grams:
                    terms[gram] += weight * s.bigram_weight
                    shape[gram] += weight * s.bigram_weight
                if kind in ("q", "t"):
                    question_df.update(set(folds) | set(grams))
                    n_questions += 1
                if kind == "k" or (kind == "t" and len(folds) <= 3):
                    title_phrases.add(tuple(folds))
            vocab.update(seen)
            lengths.append(sum(terms.values()))
            for term, tf in terms.items():
                if term not in docs_of:
                    docs_of[term] = array("i")
                    tf_of[term] = array("f")
                    shape_of[term] = array("f")
                docs_of[term].append(doc)
                tf_of[term].append(tf)
                shape_of[term].append(shape[term])
            del terms, shape
        del parsed
        self.bigram_counts = dict(bigrams)
        self.vocab: dict[str, int] = dict(vocab)
        self.accent_forms = {fold: frozenset(forms) for fold, forms in accent_forms.items()}
        n_docs = max(len(self.ids), 1)
        self.n_questions = n_questions = max(n_questions, 1)
        self.unknown_idf = _idf(n_questions, 0)
        self.unknown_doc_idf = _idf(n_docs, 0)
        self.question_idf = {t: _idf(n_questions, df) for t, df in question_df.items()}
        # BM25 weights and TF-IDF values, computed once.
        average = sum(lengths) / n_docs if lengths else 1.0
        norms = [s.k1 * (1 - s.b + s.b * length / max(average, 1e-9)) for length in lengths]
        norm2 = [0.0] * len(self.ids)
        self.postings: dict[str, _Postings] = {}
        self.doc_idf: dict[str, float] = {}
        for term, docs in docs_of.items():
            tfs = tf_of[term]
            idf = self.doc_idf[term] = _idf(n_docs, len(docs))
            qidf = self.question_idf.get(term, self.unknown_idf)
            bm25 = array(
                "f",
                (idf * tf * (s.k1 + 1) / (tf + norms[d]) for d, tf in zip(docs, tfs, strict=True)),
            )
            values = array(
                "f", ((1 + math.log(1 + tf)) * qidf if tf else 0.0 for tf in shape_of[term])
            )
            for d, v in zip(docs, values, strict=True):
                norm2[d] += v * v
            self.postings[term] = _Postings(docs, bm25, values)
        del docs_of, tf_of, shape_of
        self.doc_norms = [math.sqrt(x) or 1.0 for x in norm2]
        # Terms in many entries are only added to entries already found by rarer terms; for
        # a question made only of them, their highest-weighted entries are the candidates.
        self.common_df = max(s.exact_df, n_docs // s.common_divisor)
        self.impact: dict[str, list[int]] = {}
        for term, post in self.postings.items():
            if len(post.docs) > self.common_df:
                best = heapq.nlargest(s.impact, range(len(post.docs)), key=post.bm25.__getitem__)
                self.impact[term] = [post.docs[i] for i in best]
        # Topic names: keywords and short titles; one word only when it is not an everyday
        # Vietnamese syllable ("vneid", "otp") and not used by half the entries.
        self.topic_names = frozenset(
            phrase
            for phrase in title_phrases
            if phrase
            and (
                len(phrase) > 1
                or (
                    not is_syllable(phrase[0])
                    and self.vocab.get(phrase[0], 0) <= s.topic_share * n_docs
                )
            )
        )
        self._build_typo_index()
        self.build_seconds = time.perf_counter() - started

    def _build_typo_index(self) -> None:
        """Single deletions of every known word, for one-edit corrections (SymSpell style)."""
        deletes: dict[str, set[str]] = defaultdict(set)
        for word in self.vocab:
            if len(word) < 2 or len(word) > 12 or not word.isalpha():
                continue
            deletes[word].add(word)
            for i in range(len(word)):
                deletes[word[:i] + word[i + 1 :]].add(word)
        self.deletes = dict(deletes)
        self._near: dict[str, tuple[str, ...]] = {}  # filled by _candidates_for

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

    def _candidates_for(self, word: str) -> tuple[str, ...]:
        """Known words one edit away from ``word``, sorted (ties break the same way every run).

        Kept for known words (at most the vocabulary): every question's words are checked.
        """
        near = self._near.get(word)
        if near is not None:
            return near
        found: set[str] = set()
        for key in {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}:
            found.update(self.deletes.get(key, ()))
        near = tuple(sorted(c for c in found if _one_edit(word, c)))
        if word in self.vocab:
            self._near[word] = near
        return near

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
        self, folds: list[str], starts: list[bool]
    ) -> tuple[list[str], list[bool], list[float], list[tuple[str, str]]]:
        """Fix unknown words; returns the words, phrase starts, weights and the corrections."""
        out: list[str] = []
        out_starts: list[bool] = []
        weights: list[float] = []
        corrected: list[tuple[str, str]] = []
        for index, word in enumerate(folds):
            if word in self.vocab or not word.isalpha() or not 3 <= len(word) <= MAX_WORD:
                out.append(word)
                out_starts.append(starts[index])
                weights.append(1.0)
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

    def _context_fixes(
        self, folds: list[str], starts: list[bool], corrected: list[tuple[str, str]]
    ) -> list[tuple[str, float]]:
        """Known words that fit nowhere, one edit from a word that fits ("chuyển khoảng").

        Returns extra terms (the other word and the pairs it forms) with their weight.
        """
        out: list[tuple[str, float]] = []
        weight = self.settings.context_fix
        fixed = {a for a, _ in corrected}
        for index, word in enumerate(folds):
            if not 3 <= len(word) <= MAX_WORD or not word.isalpha() or word in fixed:
                continue
            before = folds[index - 1] if index > 0 and not starts[index] else None
            after = folds[index + 1] if index + 1 < len(folds) and not starts[index + 1] else None
            if before is None and after is None:
                continue
            if self._fit([word], before, after, prior=False) > 0:
                continue  # it already forms a known pair
            best, best_fit = None, self.settings.real_word_fit
            for candidate in self._candidates_for(word):
                fit = self._fit([candidate], before, after, prior=False)
                if fit > best_fit:
                    best, best_fit = candidate, fit
            if best is None:
                continue
            out.append((best, weight))
            for pair in (f"{before} {best}" if before else "", f"{best} {after}" if after else ""):
                if pair in self.bigram_counts:
                    out.append((pair, weight * self.settings.bigram_weight))
        return out

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

    def search(self, text: str, *, explain: bool = False) -> Match:
        """Rank the entries for ``text`` and decide what to do.

        With ``explain``, the nearest example question of each top entry is found too (slower;
        for ``trolyso ask``).
        """
        started = time.perf_counter()
        s = self.settings
        tokens, starts = self._resolve(self.normaliser.slots(text[:MAX_TEXT]))
        accent = self._accent_weights(tokens)
        folds, starts, weights, corrected = self._correct([t.fold for t in tokens], starts)
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
            for term, weight in self._context_fixes(folds, starts, corrected):
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

    def _bm25(self, query: dict[str, tuple[float, float]]) -> dict[int, float]:
        """BM25 of the entries worth scoring: rare terms first, common ones only added."""
        scores: dict[int, float] = {}
        common: list[tuple[_Postings, float, str]] = []
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
            tokens, starts = self._resolve(self.normaliser.slots(text))
            folds = [t.fold for t in tokens]
            terms = set(folds) | set(_bigrams(folds, starts))
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
    index = Index(entries, teencode, outside=outside)
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
