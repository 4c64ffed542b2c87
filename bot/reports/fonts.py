"""Fonts with Vietnamese letters for the progress chart and the team QR poster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageFont

    from bot.config import Config

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
FONT_FILES = {
    False: ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf", "arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf", "arialbd.ttf"),
}


def find_font(config: Config, *, bold: bool = False) -> Path:
    """A TrueType font with Vietnamese letters: ``teams.font``, else a known system font."""
    if config.teams.font:
        path = config.path(config.teams.font)
        if path.is_file():
            return path
        raise FileNotFoundError(f"teams.font {config.teams.font} does not exist")
    for name in (*FONT_FILES[bold], *FONT_FILES[False]):
        for folder in FONT_DIRS:
            root = Path(folder)
            if not root.is_dir():
                continue
            direct = [p for p in root.rglob(name)]
            if direct:
                return sorted(direct)[0]
    raise FileNotFoundError(
        "no TrueType font with Vietnamese letters found: install fonts-dejavu-core "
        "(Debian/Ubuntu) or set teams.font in config.yaml"
    )


def load_font(config: Config, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The font of ``find_font`` at ``size`` pixels."""
    from PIL import ImageFont

    return ImageFont.truetype(str(find_font(config, bold=bold)), size)
