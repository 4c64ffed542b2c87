"""The certificate ("giấy ghi nhận") as a printable PNG: A5 landscape, the citizen's name, the
team and village, the five skills, the date, the verification code (also as a QR code) and the
line saying it is the team's recognition, not a state certificate.

``certificate_rows`` is the one list of what is drawn, in order; the picture draws exactly
those rows, and tests compare them with the stored record (the QR code is decoded).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.reports.build import VIETNAM
from bot.reports.fonts import load_font
from bot.reports.poster import _wrap
from storage.repos.certificates import shown

if TYPE_CHECKING:
    from bot.config import Config
    from bot.content.messages import Messages
    from storage.models import Certificate

SIZE = (1754, 1240)  # A5 landscape at 150 dpi
MARGIN = 110
BLUE, GREY, DARK = "#1d4ed8", "#444444", "#111111"


@dataclass(frozen=True)
class Row:
    """One line of text on the certificate: its size in pixels, weight, colour, alignment."""

    text: str
    size: int
    bold: bool = False
    colour: str = DARK
    left: bool = False  # the skills are a left-aligned block
    gap: int = 10  # pixels above


def issued_date(certificate: Certificate) -> str:
    """The day of issue in Vietnam, dd/mm/yyyy."""
    return certificate.issued_at.astimezone(VIETNAM).strftime("%d/%m/%Y")


def certificate_rows(messages: Messages, certificate: Certificate) -> list[Row]:
    """Every line drawn on the certificate, top to bottom."""
    c = certificate
    by = messages("cert.by_team", team=c.team_name) if c.team_name else messages("cert.by_any")
    rows = [
        Row(messages("cert.heading"), 84, bold=True, colour=BLUE, gap=0),
        Row(by, 40, colour=GREY, gap=30),
        Row(c.name, 76, bold=True, gap=24),
    ]
    if c.village or c.commune:
        place = messages("cert.place", village=c.village, commune=c.commune).strip(", ")
        rows.append(Row(place, 36, colour=GREY, gap=8))
    rows.append(Row(messages("cert.reached"), 38, gap=40))
    rows += [
        Row(messages("cert.skill", job=job, title=title), 38, left=True, gap=8)
        for job, _, title in c.skills
    ]
    rows.append(Row(messages("cert.date", date=issued_date(c)), 34, colour=GREY, gap=44))
    rows.append(Row(messages("cert.code", code=shown(c.code)), 44, bold=True, gap=12))
    rows.append(Row(messages("cert.disclaimer"), 28, colour=GREY, gap=40))
    return rows


def certificate_png(config: Config, messages: Messages, certificate: Certificate) -> bytes:
    """The certificate as a PNG (raises FileNotFoundError without a Vietnamese font)."""
    import qrcode
    from PIL import Image, ImageDraw

    width, height = SIZE
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, width - 30, height - 30), outline=BLUE, width=8)
    draw.rectangle((48, 48, width - 48, height - 48), outline=BLUE, width=2)
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=8)
    qr.add_data(certificate.code)
    qr.make(fit=True)
    code_image = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    image.paste(code_image, (width - MARGIN - code_image.width, height - MARGIN - code_image.width))
    inner = width - 2 * MARGIN
    rows = certificate_rows(messages, certificate)
    skills = [r for r in rows if r.left]
    block = max(
        (load_font(config, r.size, bold=r.bold).getlength(r.text) for r in skills), default=0
    )
    block_x = max(MARGIN, int((width - min(block, inner)) / 2))
    y = 110
    for row in rows:
        font = load_font(config, row.size, bold=row.bold)
        y += row.gap
        below = y + row.size > height - MARGIN - code_image.width  # beside the QR code
        room = inner - 2 * (code_image.width + 20) if below and not row.left else inner
        for line in _wrap(row.text, font, room):
            if row.left:
                x = float(block_x)
            else:
                box = draw.textbbox((0, 0), line, font=font)
                x = (width - (box[2] - box[0])) / 2
            draw.text((x, y), line, font=font, fill=row.colour)
            y += int(row.size * 1.3)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(150, 150), optimize=True)
    return out.getvalue()
