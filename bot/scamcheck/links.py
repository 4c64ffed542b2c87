"""Links in a message: finding them (with or without ``https://``) and reading their real domain.

The part of an address that says whose site it is, is its *registrable domain*: the last two
labels ("vn-ms.top" in "msb.vn-ms.top"), or the last three under a two-part ending such as
"com.vn" ("vietcombank.com.vn"). Everything before it is chosen freely by whoever owns it,
which is why scammers put a bank's name there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass

_SCHEME = re.compile(r"(?i)\bhttps?://[^\s<>\"'“”]+")
_BARE = re.compile(
    r"(?<![@\w.\-])((?:[\w](?:[\w\-]{0,61}[\w])?\.)+([a-z]{2,24}|xn--[a-z0-9\-]{2,59}))"
    r"(?![\w\-]|\.[\w\-])((?::\d{2,5})?(?:/[^\s<>\"'“”]*)?)",
    re.IGNORECASE | re.UNICODE,
)
_IP = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\w)((?::\d{2,5})?(?:/[^\s]*)?)")
_LOCAL = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
)
_TRAILING = ".,;:!?)]}>'\"”’…"


@dataclass(frozen=True)
class Link:
    """One address found in a message."""

    text: str  # as written (trailing punctuation removed)
    host: str  # lower case, Unicode form (punycode decoded), no "www."
    path: str  # after the host, "" when none
    ascii_host: str  # lower case, as the browser sends it (punycode)

    @property
    def is_ip(self) -> bool:
        """Whether the host is a bare IP address."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def is_public_ip(self) -> bool:
        """An IP address outside the local network (a home router's 192.168.1.1 is not a warning
        sign; any other address where a site's name should be is)."""
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return not any(address in network for network in _LOCAL)

    @property
    def encoded(self) -> bool:
        """Whether the host hides letters from other alphabets (punycode or non-ASCII)."""
        return any(label.startswith("xn--") for label in self.ascii_host.split(".")) or (
            not self.host.isascii()
        )

    @property
    def labels(self) -> list[str]:
        """The host's labels, e.g. ``["msb", "vn-ms", "top"]``."""
        return self.host.split(".")

    @property
    def ending(self) -> str:
        """The last label ("top" in "msb.vn-ms.top")."""
        return self.labels[-1]


def _decode(host: str) -> tuple[str, str]:
    """The host in Unicode and in ASCII (punycode) form; odd hosts are kept as they are."""
    host = host.lower().rstrip(".")
    try:
        unicode_host = host.encode("ascii").decode("idna") if host.isascii() else host
    except UnicodeError:
        unicode_host = host
    try:
        ascii_host = unicode_host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = host
    return unicode_host, ascii_host


def _make(text: str, host: str, path: str) -> Link:
    unicode_host, ascii_host = _decode(host)
    for prefix in ("www.",):
        if unicode_host.startswith(prefix):
            unicode_host = unicode_host[len(prefix) :]
            ascii_host = ascii_host[len(prefix) :]
    return Link(text=text, host=unicode_host, path=path, ascii_host=ascii_host)


def _trim(text: str) -> str:
    while text and text[-1] in _TRAILING:
        text = text[:-1]
    return text


def find_links(text: str, endings: Collection[str]) -> list[tuple[int, int, Link]]:
    """Every link in ``text`` with its (start, end) position.

    An address with ``http(s)://`` always counts; one without counts when it ends in a known
    ending (``endings``, e.g. "vn", "com", "top"), so "TP.HCM" or "v.v." are not links.
    """
    found: list[tuple[int, int, Link]] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for match in _SCHEME.finditer(text):
        raw = _trim(match.group(0))
        rest = raw.split("://", 1)[1]
        hostport, slash, path = rest.partition("/")
        host = hostport.rsplit("@", 1)[-1].split(":", 1)[0]
        if not host:
            continue
        start, end = match.start(), match.start() + len(raw)
        found.append((start, end, _make(raw, host, slash + path)))
        taken.append((start, end))
    for match in _IP.finditer(text):
        start, end = match.start(), match.start() + len(_trim(match.group(0)))
        host = match.group(1)
        if not free(start, end) or any(len(o) > 1 and o[0] == "0" for o in host.split(".")):
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            continue
        raw = _trim(match.group(0))
        found.append((start, end, _make(raw, host, raw[len(host) :])))
        taken.append((start, end))
    for match in _BARE.finditer(text):
        raw = _trim(match.group(0))
        start, end = match.start(), match.start() + len(raw)
        ending = match.group(2).lower()
        if not free(start, end):
            continue
        if ending not in endings and not ending.startswith("xn--"):
            continue
        host = match.group(1)
        found.append((start, end, _make(raw, host, raw[len(host) :])))
        taken.append((start, end))
    return sorted(found, key=lambda item: item[0])


def registrable(host: str, two_part: Collection[str]) -> str:
    """The part of ``host`` that names its owner: "vn-ms.top", "vietcombank.com.vn"."""
    labels = host.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in two_part:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def under(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or one of its sub-domains."""
    return host == domain or host.endswith("." + domain)


def distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), or ``limit + 1`` once above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


_LOOKS = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("3", "e"), ("5", "s"), ("l", "i"))


def skeleton(label: str) -> str:
    """``label`` with look-alike letters made the same ("vietcornbank" → "vietcombank")."""
    out = label
    for seen, meant in _LOOKS:
        out = out.replace(seen, meant)
    return out
