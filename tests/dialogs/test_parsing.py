"""What applicants type: amounts in the ways Mexicans write them, years, phones and names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.parsing import (
    InputError,
    money,
    parse_amount,
    parse_birth_year,
    parse_name,
    parse_phone,
    parse_vehicle_price,
    parse_year,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("350000", 350_000),
        ("$350,000", 350_000),
        ("$ 350,000.00", 350_000),
        ("350 mil", 350_000),
        ("350mil", 350_000),
        ("350k", 350_000),
        ("1.2 millones", 1_200_000),
        ("1,200,000 MXN", 1_200_000),
        ("1.200.000", 1_200_000),
        ("350,000 pesos", 350_000),
        ("23500.50", 23_500.5),
        ("Un millón", None),
        ("abc", None),
        ("", None),
        ("35,00,000", None),
        ("-5", None),
    ],
)
def test_parse_amount(text: str, value: float | None) -> None:
    if value is None:
        with pytest.raises(InputError):
            parse_amount(text)
    else:
        assert parse_amount(text) == pytest.approx(value)


@given(st.integers(min_value=1, max_value=10**9))
def test_amount_round_trips_through_its_display(n: int) -> None:
    assert parse_amount(money(n)) == n
    assert parse_amount(str(n)) == n


@given(st.integers(min_value=1, max_value=10**9))
def test_amount_with_cents_round_trips_through_its_display(cents: int) -> None:
    value = cents / 100
    assert parse_amount(money(value)) == pytest.approx(value)


@pytest.mark.parametrize(
    ("value", "exact", "whole"),
    [
        (350_000, "$350,000", "$350,000"),
        (350_000.0, "$350,000", "$350,000"),
        (23_500.5, "$23,500.50", "$23,500"),  # round half to even, as Python's round
        (12_345.678, "$12,345.68", "$12,346"),
        (0.004, "$0", "$0"),
        (-1_234.5, "-$1,234.50", "-$1,234"),  # a change in expected loss (the lab's report)
        (-0.001, "$0", "$0"),  # no "-$0"
        (None, "—", "—"),
        (float("nan"), "—", "—"),
    ],
)
def test_money_is_one_format_with_or_without_cents(value: float | None, exact: str, whole: str) -> None:
    """The one display of pesos (bot, chat, cards, pages, charts, lab report): cents only when there are some,
    or to the peso with whole=True; a sign before the "$"; a dash for no value."""
    assert money(value) == exact
    assert money(value, whole=True) == whole


def test_birth_year_bounds_come_from_the_caller() -> None:
    assert parse_birth_year("1988", 2026, 16, 100) == 1988
    for text in ("2014", "1916", "88", "19x8"):
        with pytest.raises(InputError):
            parse_birth_year(text, 2026, 16, 100)
    assert parse_birth_year("2010", 2026, 16, 100) == 2010  # exactly 16


def test_phone_and_name() -> None:
    assert parse_phone("55 1234 5678") == "+525512345678"
    assert parse_phone("+52 (81) 1234-5678") == "+528112345678"
    for bad in ("123", "55123456789", "llámame"):
        with pytest.raises(InputError):
            parse_phone(bad)
    assert parse_name("  maría   josé  ") == "maría josé"
    assert parse_name("O'Connor-Ruiz") == "O'Connor-Ruiz"
    for bad in ("1234", "x", "<b>Ana</b>", "a" * 81):
        with pytest.raises(InputError):
            parse_name(bad)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ma. Guadalupe Hernández", "Ma. Guadalupe Hernández"),  # the abbreviation of María, then a space
        ("Ma.Guadalupe", "Ma.Guadalupe"),
        ("O\u2019Connor", "O'Connor"),  # a phone keyboard's apostrophe
        ("Mari\u0301a Lo\u0301pez", "María López"),  # pasted decomposed: the same name, NFC
        ("José - Luis", "José - Luis"),
        ("Pérez Jr.", "Pérez Jr."),
        ("Li", "Li"),
    ],
)
def test_names_people_write_are_accepted_and_normalised(typed: str, stored: str) -> None:
    """Names the web form took before it used this parser (#18); the bot refused them."""
    assert parse_name(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Escribe tu nombre, por ejemplo"),
        ("A", "Escribe tu nombre, por ejemplo"),
        ("a" * 81, "80 caracteres como máximo"),
        ("Ana 2", "solo con letras"),
        ("Ana--López", "solo con letras"),
        ("-Ana", "solo con letras"),
        ("ana@correo.com", "solo con letras"),
    ],
)
def test_names_refused_say_why(typed: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_name(typed)


def test_years_and_vehicle_price_bounds() -> None:
    """The year and price parsers the web form shares with the chat."""
    assert parse_year(" 2025 ") == 2025
    for bad in ("25", "2025.0", "dos mil", "+2025", ""):
        with pytest.raises(InputError, match="cuatro cifras"):
            parse_year(bad)
    assert parse_vehicle_price("350 mil", 50_000, 5_000_000) == 350_000
    with pytest.raises(InputError, match=r"entre \$50,000 y \$5,000,000\.$"):
        parse_vehicle_price("10", 50_000, 5_000_000)
