"""The dashboard's Jinja2 environment: templates from the package, autoescaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from bot.reports.build import VIETNAM

TEMPLATES = Path(__file__).parent / "templates"


def when(value: object) -> str:
    """A moment as local "HH:MM dd/mm/yyyy" (Vietnam time)."""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")
    return ""


def configure(env: jinja2.Environment) -> jinja2.Environment:
    """Add the dashboard's filters to an environment."""
    env.filters["when"] = when
    return env


def environment() -> jinja2.Environment:
    """A stand-alone environment (the bench renders pages without a server)."""
    return configure(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(default=True),
        )
    )
