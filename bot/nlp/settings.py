"""The matcher's tuned constants (measured by ``bench/tune.py``)."""

from __future__ import annotations

from dataclasses import dataclass


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
    ask_at: float = 0.8  # below this, fall back
    lead_answer_at: float = 0.75  # answer from this confidence too...
    lead: float = 0.3  # ...when the next entry's BM25 is at least this share behind the best's
    long_words: int = 14  # a question of at least this many words...
    long_lead_answer_at: float = 0.85  # ...is answered from this confidence...
    long_lead: float = 0.2  # ...with this lead, when no out-of-scope topic is a candidate
    context_fix: float = 0.5  # weight of a likelier word next to a known word that fits nowhere
    unknown_pair: float = 1.0  # weight of an unknown word pair in the question's size
    outside_ratio: float = 0.6  # no direct answer when a topic we don't answer is this close
    outside_confidence: float = 0.6  # (in BM25, or in confidence)...
    long_outside_ratio: float = 0.7  # ...or this close (both), for a question of...
    long_outside_words: int = 30  # ...at least this many words
    context_weight: float = 0.3  # a context word (kinship, politeness, time) in a question...
    lexicon_weight: float = 0.5  # ...and a Vietnamese word the content never uses
    stray_weight: float = 0.3  # a word of the content no candidate holds, in the question's size
    window: int = 6  # a question longer than this many words is also judged by its parts...
    window_step: int = 3  # ...windows this far apart...
    window_top: int = 1  # ...answered with one of the whole question's top entries...
    window_answer_at: float = 1.4  # ...at this confidence...
    window_whole: float = 0.5  # ...when the whole question is at least this close
    sibling_within: float = 0.92  # a runner-up this close (BM25 share of the best)...
    sibling_shared: float = 0.7  # ...found by the same words for this share of the best's...
    sibling_lead: float = 1.0  # ...is offered too unless the best's own words weigh this much more
    owned_keywords: bool = True  # a bare keyword only one entry has answers it
    ask_within: float = 0.35  # ask back with entries whose BM25 is this close to the best
    max_choices: int = 3
