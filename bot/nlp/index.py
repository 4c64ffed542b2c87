"""Building the matcher's index: named passes over the content, each producing plain data.

1. ``read_texts``: every example question, title, keyword and answer into slots (with the
   pairs of unambiguous words, which decide how ambiguous abbreviations in the content are read);
2. ``count_terms``: weighted term frequencies of every document (entries, then out-of-scope
   topics), the vocabulary, the accented forms of each word and the short topic phrases;
3. ``weigh``: BM25 weights and TF-IDF values of every term in every document, as postings;
4. ``impact_lists``: for terms in many documents, their best documents;
5. ``topic_names``: keywords and short titles that name a topic by themselves ("vneid").

``bot.nlp.matcher.Index.build`` runs them in order and freezes the result.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.nlp.normalize import Normaliser, Slot, words
from bot.nlp.settings import Settings
from bot.nlp.spelling import Speller
from bot.nlp.syllables import accent_key, fold_word, is_syllable

if TYPE_CHECKING:
    from bot.content.knowledge import Entry

QUESTION, TITLE, KEYWORD, ANSWER_TEXT = "q", "t", "k", "a"


@dataclass(frozen=True)
class Postings:
    """The documents holding one term (sorted), with its BM25 weight and TF-IDF value in each."""

    docs: array[int]
    bm25: array[float]
    value: array[float]

    def find(self, doc: int) -> int:
        """The position of ``doc``, or -1."""
        i = bisect_left(self.docs, doc)
        return i if i < len(self.docs) and self.docs[i] == doc else -1


Text = tuple[str, str]  # (kind, text)
Parsed = list[list[tuple[str, list[Slot]]]]  # per document: (kind, slots) of each text


def bigrams(folds: Sequence[str], starts: Sequence[bool]) -> list[str]:
    """Adjacent pairs of words, except across punctuation."""
    return [f"{folds[i - 1]} {folds[i]}" for i in range(1, len(folds)) if not starts[i]]


def idf(total: int, df: int) -> float:
    """The BM25 inverse document frequency."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


def read_texts(
    documents: Iterable[Sequence[Text]], normaliser: Normaliser
) -> tuple[Parsed, dict[str, int]]:
    """Pass 1: every text into slots, and the pairs of first readings (answers excluded)."""
    parsed: Parsed = []
    loose: Counter[str] = Counter()
    for texts in documents:
        parts: list[tuple[str, list[Slot]]] = []
        for kind, text in texts:
            slots = normaliser.slots(text)
            parts.append((kind, slots))
            if kind != ANSWER_TEXT:
                folds = [slot.readings[0][0].fold for slot in slots]
                loose.update(set(bigrams(folds, [slot.starts for slot in slots])))
        parsed.append(parts)
    return parsed, dict(loose)


@dataclass
class Counts:
    """Pass 2's output: per-document weighted term frequencies and what the content uses."""

    terms: list[dict[str, float]] = field(default_factory=list)  # for BM25
    shapes: list[dict[str, float]] = field(default_factory=list)  # for the TF-IDF vector
    question_df: Counter[str] = field(default_factory=Counter)
    n_questions: int = 0
    bigram_counts: Counter[str] = field(default_factory=Counter)
    vocab: Counter[str] = field(default_factory=Counter)
    accent_forms: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    title_phrases: set[tuple[str, ...]] = field(default_factory=set)
    keyword_docs: dict[tuple[str, ...], set[int]] = field(default_factory=lambda: defaultdict(set))


def count_terms(parsed: Parsed, reader: Speller, s: Settings) -> Counts:
    """Pass 2: weighted term frequencies of every document, read as a question would be."""
    weights = {QUESTION: 1.0, TITLE: s.title_weight, KEYWORD: s.keyword_weight}
    weights[ANSWER_TEXT] = s.answer_weight
    counts = Counts()
    for parts in parsed:
        terms: dict[str, float] = defaultdict(float)
        shape: dict[str, float] = defaultdict(float)
        seen: set[str] = set()
        for kind, slots in parts:
            tokens, starts = reader.resolve(slots)
            folds = [t.fold for t in tokens]
            for token in tokens:
                counts.accent_forms[token.fold].add(token.accent or token.fold)
            seen.update(folds)
            if kind == KEYWORD and folds:
                counts.keyword_docs[tuple(folds)].add(len(counts.terms))
            weight = weights[kind]
            in_shape = s.answer_in_vector if kind == ANSWER_TEXT else weight
            for fold in folds:
                terms[fold] += weight
                shape[fold] += in_shape
            if kind != ANSWER_TEXT:  # answers add words, not bigrams
                _count_phrase(counts, kind, folds, bigrams(folds, starts), terms, shape, s)
        counts.vocab.update(seen)
        counts.terms.append(dict(terms))
        counts.shapes.append(dict(shape))
    return counts


def _count_phrase(
    counts: Counts,
    kind: str,
    folds: list[str],
    grams: list[str],
    terms: dict[str, float],
    shape: dict[str, float],
    s: Settings,
) -> None:
    """The pairs of a question, title or keyword, and whether it names a topic."""
    weight = {QUESTION: 1.0, TITLE: s.title_weight, KEYWORD: s.keyword_weight}[kind]
    counts.bigram_counts.update(set(grams))
    for gram in grams:
        terms[gram] += weight * s.bigram_weight
        shape[gram] += weight * s.bigram_weight
    if kind in (QUESTION, TITLE):
        counts.question_df.update(set(folds) | set(grams))
        counts.n_questions += 1
    if kind == KEYWORD or (kind == TITLE and len(folds) <= 3):
        counts.title_phrases.add(tuple(folds))


@dataclass(frozen=True)
class Weights:
    """Pass 3's output: the postings and what scoring a question needs besides them."""

    postings: dict[str, Postings]
    doc_idf: dict[str, float]
    question_idf: dict[str, float]
    doc_norms: list[float]
    n_questions: int
    unknown_idf: float  # of a term no question uses
    unknown_doc_idf: float  # of a term no document uses


def weigh(counts: Counts, s: Settings) -> Weights:
    """Pass 3: BM25 weights and TF-IDF values of every term in every document, computed once."""
    n_docs = max(len(counts.terms), 1)
    n_questions = max(counts.n_questions, 1)
    unknown_idf = idf(n_questions, 0)
    question_idf = {t: idf(n_questions, df) for t, df in counts.question_df.items()}
    lengths = [sum(terms.values()) for terms in counts.terms]
    average = sum(lengths) / n_docs if lengths else 1.0
    norms = [s.k1 * (1 - s.b + s.b * length / max(average, 1e-9)) for length in lengths]
    docs_of: dict[str, array[int]] = {}
    for doc, terms in enumerate(counts.terms):
        for term in terms:
            docs_of.setdefault(term, array("i")).append(doc)
    norm2 = [0.0] * len(counts.terms)
    postings: dict[str, Postings] = {}
    doc_idf: dict[str, float] = {}
    for term, docs in docs_of.items():
        term_idf = doc_idf[term] = idf(n_docs, len(docs))
        qidf = question_idf.get(term, unknown_idf)
        tfs = array("f", (counts.terms[d][term] for d in docs))
        bm25 = array(
            "f",
            (term_idf * tf * (s.k1 + 1) / (tf + norms[d]) for d, tf in zip(docs, tfs, strict=True)),
        )
        shapes = array("f", (counts.shapes[d].get(term, 0.0) for d in docs))
        values = array("f", (_value(tf, qidf) for tf in shapes))
        for d, v in zip(docs, values, strict=True):
            norm2[d] += v * v
        postings[term] = Postings(docs, bm25, values)
    return Weights(
        postings=postings,
        doc_idf=doc_idf,
        question_idf=question_idf,
        doc_norms=[math.sqrt(x) or 1.0 for x in norm2],
        n_questions=n_questions,
        unknown_idf=unknown_idf,
        unknown_doc_idf=idf(n_docs, 0),
    )


def _value(tf: float, qidf: float) -> float:
    """A term's value in a document's TF-IDF vector."""
    return (1 + math.log(1 + tf)) * qidf if tf else 0.0


def common_df(n_docs: int, s: Settings) -> int:
    """Terms in more documents than this are only added to documents found by rarer ones."""
    return max(s.exact_df, n_docs // s.common_divisor)


def impact_lists(
    postings: Mapping[str, Postings], common: int, s: Settings
) -> dict[str, list[int]]:
    """Pass 4: for each common term, its highest-weighted documents (the candidates of a
    question made only of common terms)."""
    impact: dict[str, list[int]] = {}
    for term, post in postings.items():
        if len(post.docs) > common:
            best = heapq.nlargest(s.impact, range(len(post.docs)), key=post.bm25.__getitem__)
            impact[term] = [post.docs[i] for i in best]
    return impact


def topic_names(counts: Counts, n_docs: int, s: Settings) -> frozenset[tuple[str, ...]]:
    """Pass 5: keywords and short titles; one word only when it is not an everyday Vietnamese
    syllable ("vneid", "otp") and not used by half the documents."""
    return frozenset(
        phrase
        for phrase in counts.title_phrases
        if phrase
        and (
            len(phrase) > 1
            or (
                not is_syllable(phrase[0])
                and counts.vocab.get(phrase[0], 0) <= s.topic_share * n_docs
            )
        )
    )


def owned_keywords(counts: Counts, ids: Sequence[str]) -> dict[tuple[str, ...], str]:
    """Pass 6: keywords of several words that exactly one entry has ("chuyển khoản")."""
    return {
        phrase: ids[next(iter(docs))]
        for phrase, docs in counts.keyword_docs.items()
        if len(phrase) > 1 and len(docs) == 1
    }


def protected_words(entries: Iterable[Entry]) -> set[str]:
    """The content's own words, which the normaliser never "repairs"."""
    return {
        fold_word(w)
        for entry in entries
        for text in (entry.title, *entry.questions, *entry.keywords)
        for w in words(text)
    }


def plain_context(context: Iterable[str], forms: Mapping[str, set[str]]) -> frozenset[str]:
    """Context words typed without marks: those the content never uses with other marks
    ("noi" is not discounted when the content says "nói")."""
    keys = {accent_key(w) for w in context}
    return frozenset(
        fold_word(w) for w in context if forms.get(fold_word(w), set()) <= keys | {fold_word(w)}
    )


def entry_texts(entry: Entry) -> list[Text]:
    """An entry's texts by kind: questions, title, keywords, answer."""
    texts = [(QUESTION, q) for q in entry.questions]
    texts += [(TITLE, entry.title), *((KEYWORD, k) for k in entry.keywords)]
    return [*texts, (ANSWER_TEXT, entry.answer)]
