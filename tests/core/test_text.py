"""core.text: which characters every database stores alike."""

from __future__ import annotations

from core.text import text_problem


def test_text_problem_classifies() -> None:
    assert text_problem("María José Ñúñez") is None
    assert text_problem("a\x00")[0] == "text_control"
    assert text_problem("a\x9b")[0] == "text_control"  # C1 control
    assert text_problem("a\nb")[0] == "text_line_break"
    assert text_problem("a\nb\tc\r", multiline=True) is None
    assert text_problem("a\ud800")[0] == "text_unicode"
    assert text_problem("😀 ok") is None  # a paired character outside the BMP is fine
