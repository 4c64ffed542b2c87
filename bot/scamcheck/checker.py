"""The scam check: a message in, the warning signs found and a verdict out. No I/O, no state.

A message is called a scam when it shows one *strong* sign (a look-alike link, a request for an
OTP code...) or two different *weak* ones (a deadline and an odd link ending...). The checker
never calls anything safe: finding no sign only means none of the known ones is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.core.text import fold
from bot.scamcheck.links import Link, distance, find_links, registrable, skeleton, under
from bot.scamcheck.phrases import Pattern, Span, Word, read_words
from bot.scamcheck.rules import Brand, LinkSign, ScamRules, Sign

_PHONE = re.compile(r"^\s*\+?[\d\s.\-()]{9,17}\s*$")
_HEADER = re.compile(r"^\s*[\[(]?[A-Za-z0-9_.\-]{2,20}[\])]?\s*[:\-]\s")
_TOKEN = re.compile(r"[a-z0-9]+")
_PHONE_IN_TEXT = re.compile(r"(?<![\d.,])(?:\+84|84|0)(?:[\s.\-]?\d){8,10}(?![\d.,]*\d)")
MAX_CHARS = 4000
LINK_WORD = "link"  # what an unofficial address becomes for the phrase rules
OFFICIAL_WORD = "trangchinhthuc"  # what an official one becomes
PHONE_WORD = "sodienthoai"  # what a phone number becomes
ACCOUNT_WORD = "sotaikhoan"  # what another long number (an account number) becomes
_ACCOUNT = re.compile(r"(?<![\d.,])\d{8,19}(?![\d.,]*\d)")


@dataclass(frozen=True)
class Found:
    """One sign found: its id, the sentence a citizen reads, and the lesson it leads to."""

    id: str
    text: str
    strong: bool
    lesson: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What the checker concluded about one message."""

    scam: bool
    found: tuple[Found, ...]
    links: tuple[Link, ...] = ()
    phone_only: bool = False  # the text is a phone number and nothing else
    has_phone: bool = False  # the text holds a phone number
    unknown_domains: tuple[str, ...] = ()  # registrable domains of links that are nobody's we know

    @property
    def reasons(self) -> list[str]:
        """The citizen-facing reasons behind a scam verdict (none when not a scam)."""
        return [f.text for f in self.found] if self.scam else []

    @property
    def lesson(self) -> str | None:
        """The lesson of the first sign that names one."""
        return next((f.lesson for f in self.found if f.lesson), None)


def _owner(host: str, rules: ScamRules) -> str | None:
    """The brand (or kind, or app store) whose official domain ``host`` is under."""
    for brand in rules.brands:
        if any(under(host, d) for d in brand.domains):
            return brand.id
    for kind in rules.kinds.values():
        if any(under(host, d) for d in kind.official):
            return f"kind:{kind.id}"
    if any(under(host, d) for d in rules.app_stores):
        return "store"
    return None


def _imitated(host: str, rules: ScamRules) -> Brand | None:
    """The brand whose name or a look-alike of it is in an address that is not theirs."""
    tokens = [t for label in host.split(".")[:-1] for t in _TOKEN.findall(label)]
    joined = [label.replace("-", "") for label in host.split(".")[:-1]]
    for brand in rules.brands:
        for name in brand.names:
            for token in tokens:
                if token == name or (len(token) > len(name) >= 3 and token.startswith(name)):
                    return brand
            if len(name) >= 6 and any(name in label for label in joined):
                return brand
    for brand in rules.brands:
        targets = {n for n in brand.names if len(n) >= 5}
        targets |= {d.split(".")[0] for d in brand.domains if len(d.split(".")[0]) >= 5}
        for token in tokens + joined:
            if len(token) < 5:
                continue
            for target in targets:
                if token == target:
                    continue
                limit = 1 if len(target) <= 7 else 2
                if skeleton(token) == skeleton(target) or distance(token, target, limit) <= limit:
                    return brand
    return None


def _mentioned(words: list[Word], text_tokens: set[str], rules: ScamRules) -> list[str]:
    """Brand and kind names the message speaks in (what a link should then belong to)."""
    names: list[str] = []
    for brand in rules.brands:
        if any(n in text_tokens for n in brand.names) or fold(brand.name) in text_tokens:
            names.append(brand.id)
    for kind in rules.kinds.values():
        if any(p.find(words) is not None for p in kind.mentions):
            names.append(f"kind:{kind.id}")
    return names


def _link_found(sign: LinkSign | None, **values: str) -> Found | None:
    if sign is None:
        return None
    return Found(sign.id, sign.text.format(**values), sign.strong, sign.lesson)


def _speaks(mention: str, rules: ScamRules) -> bool:
    """Whether a message naming ``mention`` speaks for someone who sends notices (not a news
    site or a social network): its kind lists words that show it."""
    kind_id = mention[5:] if mention.startswith("kind:") else None
    if kind_id is None:
        brand = next((b for b in rules.brands if b.id == mention), None)
        kind_id = brand.kind if brand is not None else None
    kind = rules.kinds.get(kind_id or "")
    return kind is not None and bool(kind.mentions)


def _speaker(mention: str, rules: ScamRules) -> tuple[str, bool]:
    """The name a message speaks in, and whether that kind is strict about links."""
    if mention.startswith("kind:"):
        kind = rules.kinds.get(mention[5:])
        return (kind.name, kind.strict) if kind is not None else (mention, False)
    brand = next((b for b in rules.brands if b.id == mention), None)
    if brand is None:
        return mention, False
    kind = rules.kinds.get(brand.kind)
    return brand.name, kind is not None and kind.strict


def _link_signs(links: list[Link], mentions: list[str], rules: ScamRules) -> list[Found | None]:
    signs = rules.link_signs
    out: list[Found | None] = []
    unofficial_done = False
    for link in links:
        owner = _owner(link.host, rules)
        domain = link.host  # shown whole: "msb.vn-ms.top", as the citizen sees it
        if link.path.lower().split("?", 1)[0].endswith(".apk"):
            out.append(_link_found(signs.get("apk"), domain=domain, brand="", ending=""))
        if owner is not None:
            continue
        if link.encoded:
            out.append(_link_found(signs.get("encoded"), domain=link.host, brand="", ending=""))
        if link.is_ip:
            if link.is_public_ip:
                out.append(_link_found(signs.get("ip_address"), domain=domain, brand="", ending=""))
            continue
        imitated = _imitated(link.ascii_host, rules)
        if imitated is not None:
            kind = rules.kinds.get(imitated.kind)
            key = "government" if kind is not None and kind.official else "lookalike"
            out.append(
                _link_found(signs.get(key), domain=domain, brand=imitated.name, ending=link.ending)
            )
        if registrable(link.host, rules.two_part) in rules.shorteners:
            out.append(_link_found(signs.get("shortener"), domain=domain, brand="", ending=""))
        elif link.ending in rules.odd_endings:
            out.append(
                _link_found(signs.get("odd_ending"), domain=domain, brand="", ending=link.ending)
            )
        if mentions and not unofficial_done and imitated is None:
            unofficial_done = True
            speakers = [_speaker(m, rules) for m in mentions]
            name, strict = next((s for s in speakers if s[1]), speakers[0])
            found = _link_found(signs.get("unofficial"), domain=domain, brand=name, ending="")
            if found is not None and not strict:
                found = replace(found, strong=False)
            out.append(found)
    return out


def _negated(span: Span, words: list[Word], negations: list[Span], window: int) -> bool:
    """A negation just before the match, or in the words its ``*`` skipped."""
    sentence = words[span.begin].sentence
    for negation in negations:
        if words[negation.begin].sentence != sentence:
            continue
        if negation.end <= span.begin and span.begin - negation.end <= window:
            return True
        if negation.begin in span.gaps:
            return True
    return False


def _negation_spans(words: list[Word], rules: ScamRules) -> list[Span]:
    conditional = [s for p in rules.negation.unless_after for s in p.spans(words)]
    spans = []
    for pattern in rules.negation.words:
        for span in pattern.spans(words):
            if any(c.end <= span.begin and span.begin - c.end <= 2 for c in conditional):
                continue  # "nếu không cung cấp ..." still asks; "ung dung" is not "đừng"
            spans.append(span)
    return spans


def _any(patterns: tuple[Pattern, ...], words: list[Word]) -> bool:
    return any(p.find(words) is not None for p in patterns)


def _phrase_found(
    sign: Sign,
    words: list[Word],
    negations: list[Span],
    window: int,
    speakers: list[tuple[str, bool]],
) -> bool:
    if sign.speaker == "any" and not speakers:
        return False
    if sign.speaker == "strict" and not any(strict for _, strict in speakers):
        return False
    hit = any(
        not _negated(span, words, negations, window)
        for pattern in sign.phrases
        for span in pattern.spans(words)
    )
    if not hit:
        return False
    if sign.with_ and not _any(sign.with_, words):
        return False
    return not (sign.unless and _any(sign.unless, words))


def check(text: str, rules: ScamRules) -> Verdict:
    """The signs of a scam in ``text``, and whether they add up to one."""
    text = text[:MAX_CHARS]
    located = find_links(text, rules.endings)
    links = [link for _, _, link in located]
    pieces: list[str] = []
    position = 0
    for start, end, link in located:
        pieces.append(text[position:start])
        known = _owner(link.host, rules) is not None or (link.is_ip and not link.is_public_ip)
        pieces.append(f" {OFFICIAL_WORD if known else LINK_WORD} ")
        position = end
    pieces.append(text[position:])
    prose, phones = _PHONE_IN_TEXT.subn(f" {PHONE_WORD} ", "".join(pieces))
    prose = _ACCOUNT.sub(f" {ACCOUNT_WORD} ", prose)
    words = read_words(prose)
    tokens = {w.fold for w in words}
    mentions = _mentioned(words, tokens, rules)
    speakers = [_speaker(m, rules) for m in mentions if _speaks(m, rules)]
    found: list[Found | None] = _link_signs(links, mentions, rules)
    if phones and speakers:
        name = next((n for n, strict in speakers if strict), speakers[0][0])
        found.append(
            _link_found(rules.link_signs.get("private_contact"), brand=name, domain="", ending="")
        )
    negations = _negation_spans(words, rules)
    for sign in rules.signs:
        if _phrase_found(sign, words, negations, rules.negation.window, speakers):
            found.append(Found(sign.id, sign.text, sign.strong, sign.lesson))
    unique: dict[str, Found] = {}
    for item in found:
        if item is not None and item.text not in unique:
            unique[item.text] = item
    ordered = sorted(unique.values(), key=lambda f: not f.strong)
    weak_kinds = {f.id for f in ordered if not f.strong}
    scam = any(f.strong for f in ordered) or len(weak_kinds) >= 2
    unknown = [
        registrable(link.host, rules.two_part)
        for link in links
        if not link.is_ip and _owner(link.host, rules) is None
    ]
    return Verdict(
        scam=scam,
        found=tuple(ordered),
        links=tuple(links),
        unknown_domains=tuple(dict.fromkeys(unknown)),
        phone_only=bool(_PHONE.match(text)) and sum(c.isdigit() for c in text) >= 9,
        has_phone=phones > 0,
    )


def has_link(text: str, rules: ScamRules) -> bool:
    """Whether the text holds an address."""
    return bool(find_links(text[:MAX_CHARS], rules.endings))


def looks_forwarded(text: str, rules: ScamRules) -> bool:
    """Whether the text reads like a message someone received (not a question to the bot):
    long enough, and with a sender's header ("VCB: ...") or one of the markers
    ("Quý khách", an amount...)."""
    words = read_words(text[:MAX_CHARS])
    if len(words) < rules.forwarded.min_words:
        return False
    if _HEADER.match(text):
        return True
    return _any(rules.forwarded.markers, words)


def asks_about(text: str, rules: ScamRules) -> bool:
    """Whether the text is someone asking about a message ("... thật hay giả?", "có người bảo
    tôi..."), which the answers serve better than a check. A sender's header ("VCB: ...")
    means the message itself was pasted."""
    text = text[:MAX_CHARS]
    if _HEADER.match(text):
        return False
    if text.rstrip().endswith("?"):
        return True
    return _any(rules.forwarded.questions, read_words(text))
