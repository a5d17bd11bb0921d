"""Parsing of what applicants type: money amounts, years, phone numbers and names.

The one place for it: the dialog (bot and web chat) and the web form (api/services/handoff.py) parse with these
functions, so they accept the same forms ("350 mil", "$350,000", "+52 55 1234 5678") and store the same value
(pesos as a float, phones as +52XXXXXXXXXX). Each parser returns the value or raises InputError with the
Spanish message to show; bounds come from the policy's [limits] and are passed in, never written here.
`money` is the other way round, the one display of pesos for every surface (bot, cards, pages, charts, lab).
"""

from __future__ import annotations

import math
import re
import unicodedata


class InputError(ValueError):
    """A typed answer that cannot be used; `str(exc)` is the polite Spanish explanation."""


_MULTIPLIERS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"(?<![a-z])(millones|millon|mdp|mm)$"), 1_000_000.0),
    (re.compile(r"(?<![a-z])(mil|k)$"), 1_000.0),
)
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def parse_amount(text: str) -> float:
    """MXN amount from free text: "350000", "$350,000", "350 mil", "350k", "1.2 millones", "350,000.00 MXN".

    A comma or a dot followed by exactly three digits is a thousands separator; otherwise it is the decimal
    point (Mexico writes 1,234.50).
    """
    s = _fold(text).strip()
    s = re.sub(r"\b(mxn|pesos?|mn|m\.n\.)\b", " ", s).replace("$", " ")
    s = re.sub(r"\s+", " ", s).strip()
    multiplier = 1.0
    for pattern, factor in _MULTIPLIERS:
        if pattern.search(s):
            s = pattern.sub("", s).strip()
            multiplier = factor
            break
    s = s.replace(" ", "")
    if not s or not _NUMBER.match(s):
        raise InputError("No entendí la cantidad. Escríbela con números, por ejemplo 350000, $350,000 o 350 mil.")
    groups = re.split(r"[.,]", s)
    if len(groups) == 1:
        value = float(groups[0])
    elif len(groups[-1]) == 3 and all(len(g) == 3 for g in groups[1:]):
        value = float("".join(groups))  # 350,000 or 1.200.000: thousands separators only
    elif len(groups[-1]) in (1, 2) and all(len(g) == 3 for g in groups[1:-1]):
        value = float("".join(groups[:-1]) + "." + groups[-1])  # 350,000.50 / 1.5
    else:
        raise InputError("No entendí la cantidad. Escríbela con números, por ejemplo 350000, $350,000 o 350 mil.")
    return value * multiplier


def parse_vehicle_price(text: str, minimum: float, maximum: float) -> float:
    value = parse_amount(text)
    if not minimum <= value <= maximum:
        # no question here: the chat asks it again after the message, the form shows it under the field
        raise InputError(f"El precio del vehículo debe estar entre {money(minimum)} y {money(maximum)}.")
    return round(value, 2)


def parse_income(text: str, maximum: float) -> float:
    value = parse_amount(text)
    if value <= 0 or value > maximum:
        raise InputError(
            f"Escribe tu ingreso mensual en pesos, mayor que cero y hasta {money(maximum)}, "
            "o elige «Prefiero no decir»."
        )
    return round(value, 2)


def parse_year(text: str, example: int = 1988) -> int:
    """A year written with four digits (surrounding spaces allowed)."""
    s = text.strip()
    if not re.fullmatch(r"\d{4}", s):
        raise InputError(f"Escribe el año con cuatro cifras, por ejemplo {example}.")
    return int(s)


def parse_birth_year(text: str, current_year: int, age_min: int, age_max: int) -> int:
    try:
        year = parse_year(text)
    except InputError:
        raise InputError("Escribe tu año de nacimiento con cuatro cifras, por ejemplo 1988.") from None
    age = current_year - year
    if not age_min <= age <= age_max:
        raise InputError(
            f"Con ese año tendrías {age} años; necesitamos una edad entre {age_min} y {age_max} años. "
            "Revisa tu año de nacimiento, por ejemplo 1988."
        )
    return year


def parse_phone(text: str) -> str:
    """A Mexican phone number of 10 digits, with or without +52; returned as +52XXXXXXXXXX."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 12 and digits.startswith("52"):
        digits = digits[2:]
    if len(digits) == 13 and digits.startswith("521"):  # old mobile prefix
        digits = digits[3:]
    if len(digits) != 10 or text.strip().startswith("-"):
        raise InputError("Escribe un teléfono de 10 dígitos, por ejemplo 55 1234 5678, o elige «Prefiero no darlo».")
    return "+52" + digits


NAME_MAX = 80  # the bot's and the web form's limit (the form's maxlength comes from here)
_LETTERS = r"[^\W\d_]+"
# words of letters, joined by a space, a hyphen or an apostrophe (spaces around them allowed) or by an
# abbreviating dot ("Ma. Guadalupe", "Ma.Guadalupe"); a final dot too ("Pérez Jr.")
_NAME = re.compile(rf"^{_LETTERS}(?:(?:\. ?| ?[-'] ?| ){_LETTERS})*\.?$")


def parse_name(text: str, max_length: int = NAME_MAX) -> str:
    """A person's name as the bot and the web form accept it, normalised the same way: Unicode NFC (a pasted
    "María" in decomposed form is the same name), the typographic apostrophe of phone keyboards (’) as ',
    runs of spaces as one, no leading or trailing space. Letters of any script, no digits or symbols."""
    name = unicodedata.normalize("NFC", text).replace("\u2019", "'")
    name = re.sub(r"\s+", " ", name).strip()
    if len(name) < 2:
        raise InputError("Escribe tu nombre, por ejemplo «María López».")
    if len(name) > max_length:
        raise InputError(f"Escribe tu nombre con {max_length} caracteres como máximo, por ejemplo «María López».")
    if not _NAME.match(name):
        raise InputError("Escribe tu nombre solo con letras, por ejemplo «María López».")
    return name


def money(value: float | None, *, whole: bool = False) -> str:
    """Pesos as every surface shows them: the bot, the web chat and its cards, the pages, the charts' labels
    and tables, the policy lab's report. "$350,000", with cents only when there are some ("$350,000.50"),
    "-$1,200" below zero, "—" for no value (None, NaN). `whole=True` rounds to the peso ("$12,346") for
    estimates such as expected loss, where cents would be noise. parse_amount reads back what this writes.
    """
    if value is None or not math.isfinite(v := float(value)):
        return "—"
    rounded: float = round(v) if whole or abs(v - round(v)) < 0.005 else round(v, 2)
    digits = f"{abs(rounded):,}" if isinstance(rounded, int) else f"{abs(rounded):,.2f}"
    return ("-" if rounded < 0 else "") + "$" + digits
