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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.nlp.normalize import Normaliser, Slot, Token, words
from bot.nlp.settings import Settings
from bot.nlp.spelling import Speller
from bot.nlp.syllables import accent_key, fold_word, is_syllable

if TYPE_CHECKING:
    from bot.content.knowledge import Entry

QUESTION, TITLE, KEYWORD, ANSWER_TEXT = "q", "t", "k", "a"


@dataclass(frozen=True, slots=True)
class Postings:
    """The documents holding one term (sorted), with its BM25 weight and TF-IDF value in each."""

    docs: array[int]
    bm25: array[float]
    value: array[float]

    def find(self, doc: int) -> int:
        """The position of ``doc``, or -1."""
        i = bisect_left(self.docs, doc)
        return i if i < len(self.docs) and self.docs[i] == doc else -1


POSTINGS_CACHE = 1 << 16  # terms kept once looked up; 4096 thrashed (LRU over a cycle of terms)


class PostingTable:
    """Every term's postings in four flat arrays, not three arrays and an object per term.

    ``terms`` numbers the terms (in order of first use); term ``t``'s documents are
    ``docs[starts[t]:starts[t + 1]]``, with their BM25 weights and TF-IDF values at the same
    positions. At 10,000 entries that is about 12 bytes per posting instead of ~500 bytes per
    term. ``get(term)`` gives the term's ``Postings`` (copied slices), kept for the most recently
    used terms (an ``lru_cache``, so a repeated look-up costs about what a dict's does).
    """

    __slots__ = ("bm25", "docs", "get", "starts", "terms", "value")

    get: Callable[[str], Postings | None]

    def __init__(
        self,
        terms: dict[str, int],
        starts: array[int],
        docs: array[int],
        bm25: array[float],
        value: array[float],
    ) -> None:
        self.terms = terms
        self.starts = starts
        self.docs = docs
        self.bm25 = bm25
        self.value = value
        # A partial, not a bound method: no reference cycle back to the table, so an old
        # index is freed as soon as the last snapshot using it is dropped.
        lookup = partial(_postings, terms, starts, docs, bm25, value)
        self.get = lru_cache(maxsize=POSTINGS_CACHE)(lookup)

    def __getitem__(self, term: str) -> Postings:
        post = self.get(term)
        if post is None:
            raise KeyError(term)
        return post

    def __contains__(self, term: object) -> bool:
        return term in self.terms

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def df(self, term: str) -> int:
        """How many documents hold ``term``."""
        t = self.terms.get(term)
        return 0 if t is None else self.starts[t + 1] - self.starts[t]


def _postings(
    terms: Mapping[str, int],
    starts: array[int],
    docs: array[int],
    bm25: array[float],
    value: array[float],
    term: str,
) -> Postings | None:
    t = terms.get(term)
    if t is None:
        return None
    a, b = starts[t], starts[t + 1]
    return Postings(docs[a:b], bm25[a:b], value[a:b])


V = TypeVar("V", int, float)


class TermValues(Generic[V]):
    """A number for some terms of a ``PostingTable`` (its idf, or how many texts use a pair),
    in an array by term number instead of a dict per kind of number (``missing`` marks a
    term without one). ``get(term, default)`` is an ``lru_cache``, as ``PostingTable.get``."""

    __slots__ = ("get", "missing", "terms", "values")

    get: Callable[[str, V], V]
    terms: dict[str, int]
    values: array[V]
    missing: float

    def __init__(self, terms: dict[str, int], values: array[V], missing: float = math.nan):
        self.terms = terms
        self.values = values
        self.missing = missing
        lookup = partial(_value_of, terms, values, missing)
        self.get = lru_cache(maxsize=POSTINGS_CACHE)(lookup)

    def __contains__(self, term: object) -> bool:
        t = self.terms.get(term) if isinstance(term, str) else None
        return t is not None and _present(self.values[t], self.missing)

    def __len__(self) -> int:
        return sum(1 for v in self.values if _present(v, self.missing))

    def items(self) -> Iterator[tuple[str, V]]:
        """The terms with a number, and the number."""
        for term, t in self.terms.items():
            if _present(self.values[t], self.missing):
                yield term, self.values[t]


def _present(value: float, missing: float) -> bool:
    return value == value if missing != missing else value != missing


def _value_of(
    terms: Mapping[str, int], values: array[Any], missing: float, term: str, default: Any
) -> Any:
    t = terms.get(term)
    if t is None:
        return default
    value = values[t]
    return value if _present(value, missing) else default


Text = tuple[str, str]  # (kind, text)
# One text after pass 1: its kind, and either its slots (some word has several readings, chosen
# in pass 2 with the pairs of the whole content) or, for most texts, its tokens and phrase starts
# at once (a tuple each: far smaller than a ``Slot`` per word, for the whole content at once).
Part = tuple[str, tuple[Slot, ...] | None, tuple[Token, ...], tuple[bool, ...]]
Parsed = list[list[Part]]  # per document: its texts


def bigrams(folds: Sequence[str], starts: Sequence[bool]) -> list[str]:
    """Adjacent pairs of words, except across punctuation."""
    return [f"{folds[i - 1]} {folds[i]}" for i in range(1, len(folds)) if not starts[i]]


def idf(total: int, df: int) -> float:
    """The BM25 inverse document frequency."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


def read_texts(
    documents: Iterable[Sequence[Text]], normaliser: Normaliser
) -> tuple[Parsed, dict[str, int]]:
    """Pass 1: every text into slots, and the pairs of first readings (answers excluded)
    that pass 2 may look up: those with a word some ambiguous abbreviation can be read as."""
    parsed: Parsed = []
    loose: Counter[str] = Counter()
    plain = Speller({}, {}, {})  # resolves slots of one reading each (never looks at pairs)
    # Pairs are only looked up next to a reading of an ambiguous word: only those are counted.
    ambiguous = normaliser.ambiguous_folds()
    for texts in documents:
        parts: list[Part] = []
        for kind, text in texts:
            slots = normaliser.slots(text)
            if any(len(slot.readings) > 1 for slot in slots):
                parts.append((kind, tuple(slots), (), ()))
            else:
                tokens, starts = plain.resolve(slots)
                parts.append((kind, None, tuple(tokens), tuple(starts)))
            if kind != ANSWER_TEXT:
                folds = [slot.readings[0][0].fold for slot in slots]
                if ambiguous.intersection(folds):
                    pairs = bigrams(folds, [slot.starts for slot in slots])
                    loose.update({p for p in pairs if ambiguous.intersection(p.split(" "))})
        parsed.append(parts)
    return parsed, dict(loose)


@dataclass
class Counts:
    """Pass 2's output: weighted term frequencies of every document, as flat arrays (one
    position per term of each document, documents in order), and what the content uses."""

    term_ids: dict[str, int] = field(default_factory=dict)  # in order of first use
    doc_terms: array[int] = field(default_factory=lambda: array("i"))  # the term at each position
    tfs: array[float] = field(default_factory=lambda: array("f"))  # for BM25
    shapes: array[float] = field(default_factory=lambda: array("f"))  # for the TF-IDF vector
    doc_ends: array[int] = field(default_factory=lambda: array("i"))  # where each document ends
    lengths: list[float] = field(default_factory=list)  # each document's summed frequencies
    question_df: array[int] = field(default_factory=lambda: array("i"))  # by term number
    n_questions: int = 0
    pair_counts: array[int] = field(default_factory=lambda: array("i"))  # by term number
    doc_qdf: Counter[str] = field(default_factory=Counter)  # this document's, until ``add``
    doc_pairs: Counter[str] = field(default_factory=Counter)
    vocab: Counter[str] = field(default_factory=Counter)
    accent_forms: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    title_phrases: set[tuple[str, ...]] = field(default_factory=set)
    keyword_docs: dict[tuple[str, ...], set[int]] = field(default_factory=lambda: defaultdict(set))

    @property
    def n_docs(self) -> int:
        """How many documents were counted."""
        return len(self.doc_ends)

    def add(self, terms: Mapping[str, float], shape: Mapping[str, float]) -> None:
        """Append one document's frequencies (``shape`` has the same terms as ``terms``)."""
        ids = self.term_ids
        for term, tf in terms.items():
            t = ids.get(term)
            if t is None:
                t = ids[term] = len(ids)
                self.question_df.append(0)
                self.pair_counts.append(0)
            self.doc_terms.append(t)
            self.tfs.append(tf)
            self.shapes.append(shape[term])
        self.lengths.append(sum(terms.values()))
        self.doc_ends.append(len(self.doc_terms))
        for term, count in self.doc_qdf.items():
            self.question_df[ids[term]] += count
        for term, count in self.doc_pairs.items():
            self.pair_counts[ids[term]] += count
        self.doc_qdf.clear()
        self.doc_pairs.clear()


def count_terms(parsed: Parsed, reader: Speller, s: Settings) -> Counts:
    """Pass 2: weighted term frequencies of every document, read as a question would be.

    Empties ``parsed`` as it goes (each document's texts are dropped once counted)."""
    weights = {QUESTION: 1.0, TITLE: s.title_weight, KEYWORD: s.keyword_weight}
    weights[ANSWER_TEXT] = s.answer_weight
    counts = Counts()
    for n, parts in enumerate(parsed):
        parsed[n] = []
        terms: dict[str, float] = defaultdict(float)
        shape: dict[str, float] = defaultdict(float)
        seen: set[str] = set()
        for kind, slots, read, phrase_starts in parts:
            tokens, starts = (read, phrase_starts) if slots is None else reader.resolve(slots)
            folds = [t.fold for t in tokens]
            for token in tokens:
                counts.accent_forms[token.fold].add(token.accent or token.fold)
            seen.update(folds)
            if kind == KEYWORD and folds:
                counts.keyword_docs[tuple(folds)].add(counts.n_docs)
            weight = weights[kind]
            in_shape = s.answer_in_vector if kind == ANSWER_TEXT else weight
            for fold in folds:
                terms[fold] += weight
                shape[fold] += in_shape
            if kind != ANSWER_TEXT:  # answers add words, not bigrams
                _count_phrase(counts, kind, folds, bigrams(folds, starts), terms, shape, s)
        counts.vocab.update(seen)
        counts.add(terms, shape)
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
    counts.doc_pairs.update(set(grams))
    for gram in grams:
        terms[gram] += weight * s.bigram_weight
        shape[gram] += weight * s.bigram_weight
    if kind in (QUESTION, TITLE):
        counts.doc_qdf.update(set(folds) | set(grams))
        counts.n_questions += 1
    if kind == KEYWORD or (kind == TITLE and len(folds) <= 3):
        counts.title_phrases.add(tuple(folds))


@dataclass(frozen=True)
class Weights:
    """Pass 3's output: the postings and what scoring a question needs besides them."""

    postings: PostingTable
    doc_idf: TermValues[float]  # every term
    question_idf: TermValues[float]  # the terms of questions and titles
    pair_counts: TermValues[int]  # how many questions, titles and keywords hold each pair
    doc_norms: list[float]
    n_questions: int
    unknown_idf: float  # of a term no question uses
    unknown_doc_idf: float  # of a term no document uses


def weigh(counts: Counts, s: Settings) -> Weights:
    """Pass 3: BM25 weights and TF-IDF values of every term in every document, computed once.

    The positions of ``counts`` (by document) are sorted by term (a counting sort: documents
    stay in order within a term) into the ``PostingTable``'s arrays; ``counts``' arrays are
    emptied on the way. The idfs and pair counts are arrays by term number too.
    """
    n_docs = max(counts.n_docs, 1)
    n_questions = max(counts.n_questions, 1)
    unknown_idf = idf(n_questions, 0)
    ids = counts.term_ids
    by_qdf: dict[int, float] = {}
    question_idf = array(
        "d", (_idf(by_qdf, n_questions, df) if df else math.nan for df in counts.question_df)
    )
    average = sum(counts.lengths) / n_docs if counts.lengths else 1.0
    norms = [s.k1 * (1 - s.b + s.b * length / max(average, 1e-9)) for length in counts.lengths]
    # The frequencies and vector weights, by term, become the BM25 weights and vector values.
    starts, docs, bm25, values = _by_term(counts)
    n_terms = len(starts) - 1
    norm2 = [0.0] * counts.n_docs
    doc_idf = array("d", bytes(8 * n_terms))
    by_df: dict[int, float] = {}
    k1 = s.k1 + 1
    for t in range(n_terms):
        a, b = starts[t], starts[t + 1]
        term_idf = doc_idf[t] = _idf(by_df, n_docs, b - a)
        qidf = question_idf[t]
        if qidf != qidf:
            qidf = unknown_idf
        for p in range(a, b):
            d, tf = docs[p], bm25[p]
            bm25[p] = term_idf * tf * k1 / (tf + norms[d])
            values[p] = _value(values[p], qidf)
            v = values[p]  # as stored (single precision)
            norm2[d] += v * v
    return Weights(
        postings=PostingTable(ids, starts, docs, bm25, values),
        doc_idf=TermValues(ids, doc_idf),
        question_idf=TermValues(ids, question_idf),
        pair_counts=TermValues(ids, counts.pair_counts, 0),
        doc_norms=[math.sqrt(x) or 1.0 for x in norm2],
        n_questions=n_questions,
        unknown_idf=unknown_idf,
        unknown_doc_idf=idf(n_docs, 0),
    )


def _idf(shared: dict[int, float], total: int, df: int) -> float:
    """``idf(total, df)``, one float object for every term with that ``df``."""
    value = shared.get(df)
    if value is None:
        value = shared[df] = idf(total, df)
    return value


def _by_term(counts: Counts) -> tuple[array[int], array[int], array[float], array[float]]:
    """The positions of ``counts`` grouped by term: where each term starts (and the end), and
    the documents, frequencies and vector weights in that order. Empties ``counts``' arrays."""
    n_terms, size = len(counts.term_ids), len(counts.doc_terms)
    starts = array("i", bytes(4 * (n_terms + 1)))
    for t in counts.doc_terms:
        starts[t + 1] += 1
    for t in range(n_terms):
        starts[t + 1] += starts[t]
    nxt = array("i", starts)
    docs = array("i", bytes(4 * size))
    tfs = array("f", bytes(4 * size))
    shapes = array("f", bytes(4 * size))
    begin = 0
    for d, end in enumerate(counts.doc_ends):
        for k in range(begin, end):
            t = counts.doc_terms[k]
            p = nxt[t]
            nxt[t] = p + 1
            docs[p], tfs[p], shapes[p] = d, counts.tfs[k], counts.shapes[k]
        begin = end
    counts.doc_terms, counts.tfs, counts.shapes = array("i"), array("f"), array("f")
    return starts, docs, tfs, shapes


def _value(tf: float, qidf: float) -> float:
    """A term's value in a document's TF-IDF vector."""
    return (1 + math.log(1 + tf)) * qidf if tf else 0.0


def common_df(n_docs: int, s: Settings) -> int:
    """Terms in more documents than this are only added to documents found by rarer ones."""
    return max(s.exact_df, n_docs // s.common_divisor)


def impact_lists(postings: PostingTable, common: int, s: Settings) -> dict[str, list[int]]:
    """Pass 4: for each common term, its highest-weighted documents (the candidates of a
    question made only of common terms)."""
    impact: dict[str, list[int]] = {}
    starts = postings.starts
    for t, term in enumerate(postings.terms):
        a, b = starts[t], starts[t + 1]
        if b - a > common:
            weights = postings.bm25[a:b]
            best = heapq.nlargest(s.impact, range(b - a), key=weights.__getitem__)
            impact[term] = [postings.docs[a + i] for i in best]
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
