"""core.text: which characters every database stores alike."""

from __future__ import annotations

from core.text import text_problem


def _code(value: str, *, multiline: bool = False) -> str | None:
    problem = text_problem(value, multiline=multiline)
    return problem[0] if problem else None


def test_text_problem_classifies() -> None:
    assert text_problem("María José Ñúñez") is None
    assert _code("a\x00") == "text_control"
    assert _code("a\x9b") == "text_control"  # C1 control
    assert _code("a\nb") == "text_line_break"
    assert text_problem("a\nb\tc\r", multiline=True) is None
    assert _code("a\ud800") == "text_unicode"
    assert text_problem("😀 ok") is None  # a paired character outside the BMP is fine
