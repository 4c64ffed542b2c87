"""The team's printable QR poster (``trolyso team qr``): heading, team, place, QR code, one
line of instruction, the code and the team's contact, in a font with Vietnamese letters."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.reports.fonts import load_font
from bot.reports.text import contact_lines

if TYPE_CHECKING:
    from PIL import ImageFont

    from bot.config import Config
    from bot.content.messages import Messages
    from storage.models import Team

POSTER_SIZE = (1240, 1748)  # A5 portrait at 150 dpi
MARGIN = 90


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if font.getlength(candidate) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def poster_png(
    config: Config, messages: Messages, team: Team, link: str | None, oa_name: str | None = None
) -> bytes:
    """A printable A5 poster: heading, team, place, QR code, one-line instruction, the code.

    With ``oa_name`` (the team is served by a commune's Zalo OA) the QR code is the OA's link
    and the instruction names the OA, so villagers know where to find the bot.
    """
    import qrcode
    from PIL import Image, ImageDraw

    width, height = POSTER_SIZE
    image = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(image)
    inner = width - 2 * MARGIN

    def centred(text: str, font: ImageFont.FreeTypeFont, y: int, fill: str = "black") -> int:
        for line in _wrap(text, font, inner):
            box = draw.textbbox((0, 0), line, font=font)
            draw.text(((width - (box[2] - box[0])) / 2, y), line, font=font, fill=fill)
            y += int(font.size * 1.3)
        return y

    y = centred(messages("poster.heading"), load_font(config, 44, bold=True), 70, "#1d4ed8")
    y = centred(team.name, load_font(config, 62, bold=True), y + 20)
    place = messages("poster.place", village=team.village, commune=team.commune)
    y = centred(place, load_font(config, 36), y + 4, "#333333")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(link or team.code)
    qr.make(fit=True)
    contact = contact_lines(team, messages)
    small = load_font(config, 30)
    reserved = sum(len(_wrap(line, small, inner)) for line in contact) * int(small.size * 1.3)
    side = min(inner - 40, height - y - 420 - reserved - 6 * len(contact))
    qr.box_size = max(1, side // (qr.modules_count + 2 * qr.border))  # whole pixels per module
    qr_image = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    side = qr_image.width
    image.paste(qr_image, ((width - side) // 2, y + 20))
    y += side + 50
    if oa_name is not None:
        instruction = messages("poster.instruction_oa", name=oa_name)
    else:
        instruction = messages("poster.instruction_link" if link else "poster.instruction_code")
    y = centred(instruction, load_font(config, 34), y)
    y = centred(
        messages("poster.code_line", code=team.code), load_font(config, 58, bold=True), y + 24
    )
    for line in contact:  # the team's phone or Zalo, meeting place and hours
        y = centred(line, small, y + 6, "#333333")
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(150, 150))
    return out.getvalue()
