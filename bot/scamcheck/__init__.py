"""Is this message a scam? Channel-neutral: rules from ``content/scam/``, text in, verdict out."""

from bot.scamcheck.checker import Found, Verdict, asks_about, check, has_link, looks_forwarded
from bot.scamcheck.rules import ScamRules, load_scam_rules

__all__ = [
    "Found",
    "ScamRules",
    "Verdict",
    "asks_about",
    "check",
    "has_link",
    "load_scam_rules",
    "looks_forwarded",
]
