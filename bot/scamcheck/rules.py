"""The scam rules admins edit: ``content/scam/signs.yaml`` and ``content/scam/domains.yaml``.

``signs.yaml`` holds the warning signs the checker looks for in the words of a message (each
with the sentence a citizen reads, whether it is *strong* enough alone, and the lesson it leads
to), the wording of the signs found in links, and the words that cancel a phrase ("không",
"đừng"...). ``domains.yaml`` holds the brands scammers imitate with their official domains, and
the shorteners, odd endings and two-part endings (``com.vn``) links are read with.

Both are read like the rest of the content: every problem has file, line and field, and a bad
file keeps the last good rules in service. Without the folder the checker simply has no rules.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from bot.content.sections import Reader
from bot.content.yamlio import LineDict, LineList
from bot.scamcheck.phrases import Pattern, PatternError, compile_pattern

SIGN_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")
LABEL = re.compile(r"^[a-z0-9]{2,30}$")
MAX_SIGN_TEXT = 220
STRENGTHS = ("strong", "weak")
LINK_SIGNS = (
    "lookalike",  # the domain carries a brand's name or a look-alike of it, and is not theirs
    "unofficial",  # the message speaks in a brand's name, the link is not the brand's
    "government",  # looks like a state site but does not end in .gov.vn
    "encoded",  # punycode / letters of other alphabets in the address
    "ip_address",  # a bare public IP address instead of a name
    "apk",  # a link to an Android installer (.apk)
    "shortener",  # a shortened link that hides where it goes
    "odd_ending",  # an ending scammers use a lot (.top, .xyz...)
    "private_contact",  # a message in a bank's, an office's... name gives a mobile number
)
PLACEHOLDERS = frozenset({"domain", "brand", "ending"})
SIGN_KEYS = frozenset({"id", "strength", "text", "lesson", "phrases", "with", "unless", "speaker"})
SPEAKERS = ("any", "strict")
LINK_SIGN_KEYS = frozenset({"strength", "text", "lesson"})
BRAND_KEYS = frozenset({"id", "name", "kind", "names", "domains"})
KIND_KEYS = frozenset({"id", "name", "mentions", "official", "strict"})


@dataclass(frozen=True)
class Sign:
    """A warning sign found in the words of a message.

    It is found when one of ``phrases`` matches (and isn't cancelled by a negation just before
    it), one of ``with_`` (when given) matches somewhere too, and none of ``unless`` does; with
    a ``speaker`` ("any", "strict"), only in a message that speaks in the name of a kind of
    ``domains.yaml`` (a strict one: a bank, a state office...).
    """

    id: str
    strength: str
    text: str
    lesson: str | None = None
    phrases: tuple[Pattern, ...] = ()
    with_: tuple[Pattern, ...] = ()
    unless: tuple[Pattern, ...] = ()
    speaker: str | None = None

    @property
    def strong(self) -> bool:
        """Whether this sign alone is enough to call the message a scam."""
        return self.strength == "strong"


@dataclass(frozen=True)
class LinkSign:
    """How a sign found in a link is told: ``{domain}``, ``{brand}``, ``{ending}`` are filled."""

    id: str
    strength: str
    text: str
    lesson: str | None = None

    @property
    def strong(self) -> bool:
        """Whether this sign alone is enough to call the message a scam."""
        return self.strength == "strong"


@dataclass(frozen=True)
class Brand:
    """Someone scammers pretend to be, the words that name it and its official domains."""

    id: str
    name: str
    kind: str
    names: tuple[str, ...]  # lower-case letters/digits, as they appear in addresses: "vcb"
    domains: tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    """A kind of brand (bank, government...): the words that show a message speaks in its name.

    ``official`` lists domain endings every brand of the kind may use (``gov.vn``). When
    ``strict``, a link that is not the kind's own, in a message speaking in its name, is a sign
    as strong as ``link_signs.unofficial`` says; otherwise it is only a weak one.
    """

    id: str
    name: str
    mentions: tuple[Pattern, ...] = ()
    official: tuple[str, ...] = ()
    strict: bool = False


@dataclass(frozen=True)
class Negation:
    """Words that cancel a phrase just after them ("không cung cấp mã OTP"), unless they follow
    one of ``unless_after`` ("nếu không cung cấp..." still asks)."""

    words: tuple[Pattern, ...] = ()
    unless_after: tuple[Pattern, ...] = ()
    window: int = 4


@dataclass(frozen=True)
class Forwarded:
    """What makes a text look like a forwarded message rather than a question to the bot."""

    min_words: int = 12
    markers: tuple[Pattern, ...] = ()
    questions: tuple[Pattern, ...] = ()  # words of someone asking about a message, not the message


@dataclass(frozen=True)
class ScamRules:
    """Everything the checker reads from ``content/scam/``."""

    signs: tuple[Sign, ...] = ()
    link_signs: dict[str, LinkSign] = field(default_factory=dict)
    negation: Negation = field(default_factory=Negation)
    forwarded: Forwarded = field(default_factory=Forwarded)
    brands: tuple[Brand, ...] = ()
    kinds: dict[str, Kind] = field(default_factory=dict)
    shorteners: frozenset[str] = frozenset()
    odd_endings: frozenset[str] = frozenset()
    endings: frozenset[str] = frozenset()  # endings a bare address may have to count as a link
    two_part: frozenset[str] = frozenset()  # two-part endings: com.vn, gov.vn...
    app_stores: tuple[str, ...] = ()
    default_lesson: str | None = None

    @property
    def empty(self) -> bool:
        """Whether no rules were loaded (no ``content/scam/`` folder)."""
        return not self.signs and not self.brands


def _unknown_keys(
    reader: Reader, path: Path, item: LineDict, allowed: Collection[str], where: str
) -> None:
    for key in item:
        if key not in allowed:
            reader.problem(path, item.line_of(key), f"{where}.{key}", "trường không dùng đến")


def _patterns(
    reader: Reader, path: Path, item: LineDict, key: str, where: str, *, strict: bool = False
) -> list[Pattern]:
    out: list[Pattern] = []
    value = item.get(key)
    for index, source in enumerate(reader.strings(path, item, key, where)):
        line = value.line_of(index) if isinstance(value, LineList) else item.line_of(key)
        try:
            out.append(compile_pattern(source, strict=strict))
        except PatternError as exc:
            reader.problem(path, line, f"{where}.{key}[{index + 1}]", f"“{source}”: {exc}")
    return out


def _strength(reader: Reader, path: Path, item: LineDict, where: str) -> str:
    value = item.get("strength", "weak")
    if value not in STRENGTHS:
        reader.problem(
            path, item.line_of("strength"), f"{where}.strength", "phải là strong hoặc weak"
        )
        return "weak"
    return str(value)


def _sign_text(
    reader: Reader, path: Path, item: LineDict, where: str, allowed: Collection[str]
) -> str | None:
    text = reader.text(path, item, "text", where, max_len=MAX_SIGN_TEXT)
    if text is None:
        return None
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        reader.problem(
            path, item.line_of("text"), f"{where}.text", f"dấu {{ }} không hợp lệ ({exc})"
        )
        return None
    extra = names - set(allowed)
    if extra:
        shown = ", ".join("{" + n + "}" for n in sorted(extra))
        choices = ", ".join("{" + n + "}" for n in sorted(allowed)) or "không có"
        reader.problem(
            path,
            item.line_of("text"),
            f"{where}.text",
            f"không dùng được {shown} (được: {choices})",
        )
        return None
    return text


def _lesson(
    reader: Reader, path: Path, item: LineDict, where: str, lessons: Collection[str] | None
) -> str | None:
    lesson = reader.text(path, item, "lesson", where, required=False)
    if lesson is not None and lessons is not None and lesson not in lessons:
        reader.problem(
            path, item.line_of("lesson"), f"{where}.lesson", f"không có bài học “{lesson}”"
        )
        return None
    return lesson


def _load_signs(  # noqa: C901
    reader: Reader, path: Path, data: LineDict, lessons: Collection[str] | None
) -> tuple[list[Sign], dict[str, LinkSign], Negation, Forwarded, str | None]:
    signs: list[Sign] = []
    seen: set[str] = set()
    for index, item in enumerate(reader.sequence(path, data, "signs") or []):
        where = f"signs[{index + 1}]"
        if not isinstance(item, LineDict):
            reader.problem(path, None, where, "phải là bảng khóa: giá trị")
            continue
        _unknown_keys(reader, path, item, SIGN_KEYS, where)
        sign_id = reader.text(path, item, "id", where)
        if sign_id is not None and not SIGN_ID.match(sign_id):
            reader.problem(path, item.line_of("id"), f"{where}.id", "chỉ chữ thường, số và _")
            sign_id = None
        if sign_id is not None and (sign_id in seen or sign_id in LINK_SIGNS):
            reader.problem(path, item.line_of("id"), f"{where}.id", f"trùng mã “{sign_id}”")
            sign_id = None
        text = _sign_text(reader, path, item, where, ())
        phrases = _patterns(reader, path, item, "phrases", where)
        if not phrases and "phrases" in item:
            continue
        if not phrases:
            reader.problem(path, item.line, f"{where}.phrases", "cần ít nhất một cụm từ")
        if sign_id is None or text is None or not phrases:
            continue
        speaker = item.get("speaker")
        if speaker is not None and speaker not in SPEAKERS:
            reader.problem(
                path, item.line_of("speaker"), f"{where}.speaker", "phải là any hoặc strict"
            )
            continue
        seen.add(sign_id)
        signs.append(
            Sign(
                id=sign_id,
                strength=_strength(reader, path, item, where),
                text=text,
                lesson=_lesson(reader, path, item, where, lessons),
                phrases=tuple(phrases),
                with_=tuple(_patterns(reader, path, item, "with", where)),
                unless=tuple(_patterns(reader, path, item, "unless", where)),
                speaker=speaker,
            )
        )
    link_signs: dict[str, LinkSign] = {}
    table = reader.mapping(path, data, "link_signs")
    for sign_id in LINK_SIGNS:
        if table is None:
            break
        item = table.get(sign_id)
        where = f"link_signs.{sign_id}"
        if not isinstance(item, LineDict):
            reader.problem(path, table.line_of(sign_id), where, "thiếu, hoặc không phải bảng")
            continue
        _unknown_keys(reader, path, item, LINK_SIGN_KEYS, where)
        text = _sign_text(reader, path, item, where, PLACEHOLDERS)
        if text is not None:
            link_signs[sign_id] = LinkSign(
                id=sign_id,
                strength=_strength(reader, path, item, where),
                text=text,
                lesson=_lesson(reader, path, item, where, lessons),
            )
    for key in table or {}:
        if key not in LINK_SIGNS:
            assert table is not None
            reader.problem(
                path, table.line_of(key), f"link_signs.{key}", "không có dấu hiệu link này"
            )
    negation = Negation()
    raw = data.get("negation")
    if isinstance(raw, LineDict):
        window = raw.get("window", 4)
        if not isinstance(window, int) or not 1 <= window <= 8:
            reader.problem(path, raw.line_of("window"), "negation.window", "phải là số từ 1 đến 8")
            window = 4
        negation = Negation(
            words=tuple(_patterns(reader, path, raw, "words", "negation", strict=True)),
            unless_after=tuple(_patterns(reader, path, raw, "unless_after", "negation")),
            window=window,
        )
    elif raw is not None:
        reader.problem(path, data.line_of("negation"), "negation", "phải là bảng khóa: giá trị")
    forwarded = Forwarded()
    raw = data.get("forwarded")
    if isinstance(raw, LineDict):
        min_words = raw.get("min_words", 12)
        if not isinstance(min_words, int) or not 3 <= min_words <= 100:
            reader.problem(
                path, raw.line_of("min_words"), "forwarded.min_words", "phải là số từ 3 đến 100"
            )
            min_words = 12
        forwarded = Forwarded(
            min_words=min_words,
            markers=tuple(_patterns(reader, path, raw, "markers", "forwarded")),
            questions=tuple(_patterns(reader, path, raw, "questions", "forwarded")),
        )
    elif raw is not None:
        reader.problem(path, data.line_of("forwarded"), "forwarded", "phải là bảng khóa: giá trị")
    default_lesson = _lesson(reader, path, data, "", lessons) if "lesson" in data else None
    return signs, link_signs, negation, forwarded, default_lesson


def _domains(reader: Reader, path: Path, item: LineDict, key: str, where: str) -> list[str]:
    out: list[str] = []
    value = item.get(key)
    for index, domain in enumerate(reader.strings(path, item, key, where)):
        line = value.line_of(index) if isinstance(value, LineList) else item.line_of(key)
        if not DOMAIN.match(domain):
            reader.problem(
                path,
                line,
                f"{where}.{key}[{index + 1}]",
                f"“{domain}” không phải tên miền (chữ thường, không có https:// hay /)",
            )
            continue
        out.append(domain)
    return out


def _labels(reader: Reader, path: Path, item: LineDict, key: str, where: str) -> list[str]:
    out: list[str] = []
    value = item.get(key)
    for index, label in enumerate(reader.strings(path, item, key, where)):
        line = value.line_of(index) if isinstance(value, LineList) else item.line_of(key)
        cleaned = label.lower().lstrip(".")
        if not re.match(r"^[a-z0-9]{2,30}(\.[a-z0-9]{2,30})?$", cleaned):
            reader.problem(path, line, f"{where}.{key}[{index + 1}]", f"“{label}” không hợp lệ")
            continue
        out.append(cleaned)
    return out


def _load_domains(  # noqa: C901
    reader: Reader, path: Path, data: LineDict
) -> tuple[list[Brand], dict[str, Kind], dict[str, list[str]]]:
    kinds: dict[str, Kind] = {}
    for index, item in enumerate(reader.sequence(path, data, "kinds") or []):
        where = f"kinds[{index + 1}]"
        if not isinstance(item, LineDict):
            reader.problem(path, None, where, "phải là bảng khóa: giá trị")
            continue
        _unknown_keys(reader, path, item, KIND_KEYS, where)
        kind_id = reader.text(path, item, "id", where)
        name = reader.text(path, item, "name", where, max_len=60)
        if kind_id is None or name is None:
            continue
        if kind_id in kinds:
            reader.problem(path, item.line_of("id"), f"{where}.id", f"trùng mã “{kind_id}”")
            continue
        strict = item.get("strict", False)
        if not isinstance(strict, bool):
            reader.problem(
                path, item.line_of("strict"), f"{where}.strict", "phải là true hoặc false"
            )
            strict = False
        kinds[kind_id] = Kind(
            id=kind_id,
            name=name,
            mentions=tuple(_patterns(reader, path, item, "mentions", where)),
            official=tuple(_domains(reader, path, item, "official", where)),
            strict=strict,
        )
    brands: list[Brand] = []
    seen: set[str] = set()
    for index, item in enumerate(reader.sequence(path, data, "brands") or []):
        where = f"brands[{index + 1}]"
        if not isinstance(item, LineDict):
            reader.problem(path, None, where, "phải là bảng khóa: giá trị")
            continue
        _unknown_keys(reader, path, item, BRAND_KEYS, where)
        brand_id = reader.text(path, item, "id", where)
        name = reader.text(path, item, "name", where, max_len=60)
        kind = reader.text(path, item, "kind", where)
        if kind is not None and kind not in kinds:
            reader.problem(path, item.line_of("kind"), f"{where}.kind", f"không có loại “{kind}”")
            kind = None
        names: list[str] = []
        for position, label in enumerate(reader.strings(path, item, "names", where)):
            if not LABEL.match(label):
                reader.problem(
                    path,
                    item.line_of("names"),
                    f"{where}.names[{position + 1}]",
                    f"“{label}”: chỉ chữ thường không dấu và số, 2–30 ký tự",
                )
                continue
            names.append(label)
        domains = _domains(reader, path, item, "domains", where)
        if not domains and kind is not None and not kinds[kind].official:
            reader.problem(
                path, item.line, f"{where}.domains", "cần ít nhất một tên miền chính thức"
            )
        if brand_id in seen:
            reader.problem(path, item.line_of("id"), f"{where}.id", f"trùng mã “{brand_id}”")
            continue
        if brand_id is None or name is None or kind is None:
            continue
        seen.add(brand_id)
        brands.append(Brand(brand_id, name, kind, tuple(names), tuple(domains)))
    lists: dict[str, list[str]] = {}
    for key in ("shorteners", "app_stores"):
        lists[key] = _domains(reader, path, data, key, "")
    for key in ("odd_endings", "endings", "two_part_endings"):
        lists[key] = _labels(reader, path, data, key, "")
    return brands, kinds, lists


def load_scam_rules(reader: Reader, lessons: Collection[str] | None = None) -> ScamRules:
    """Read ``content/scam/`` (no folder: no rules); lesson ids are checked against ``lessons``."""
    folder = reader.root / "scam"
    if not folder.is_dir():
        return ScamRules()
    signs_path, domains_path = folder / "signs.yaml", folder / "domains.yaml"
    before = len(reader.problems)
    signs_data = reader.load(signs_path)
    domains_data = reader.load(domains_path)
    if not isinstance(signs_data, LineDict):
        if signs_data is not None or len(reader.problems) == before:
            reader.problem(signs_path, None, "", "tệp phải là một bảng khóa: giá trị")
        return ScamRules()
    if not isinstance(domains_data, LineDict):
        if domains_data is not None or len(reader.problems) == before:
            reader.problem(domains_path, None, "", "tệp phải là một bảng khóa: giá trị")
        return ScamRules()
    signs, link_signs, negation, forwarded, lesson = _load_signs(
        reader, signs_path, signs_data, lessons
    )
    brands, kinds, lists = _load_domains(reader, domains_path, domains_data)
    endings = set(lists["endings"]) | set(lists["odd_endings"])
    for domain in [d for b in brands for d in b.domains] + lists["shorteners"]:
        endings.add(domain.rsplit(".", 1)[-1])
    return ScamRules(
        signs=tuple(signs),
        link_signs=link_signs,
        negation=negation,
        forwarded=forwarded,
        brands=tuple(brands),
        kinds=kinds,
        shorteners=frozenset(lists["shorteners"]),
        odd_endings=frozenset(lists["odd_endings"]),
        endings=frozenset(endings),
        two_part=frozenset(lists["two_part_endings"]),
        app_stores=tuple(lists["app_stores"]),
        default_lesson=lesson,
    )
