"""Text that every database accepts, checked where input enters (API models, forms, query and path parameters).

PostgreSQL refuses NUL in text and JSON (`\\u0000`), and no database driver can encode a lone surrogate (a
string JSON may carry as `"\\ud800"`), while SQLite takes NUL silently: without a check the same input is a 500
on one backend and stored garbage on the other. `Annotated[str, Text(max_length)]` is the one validated string
type of the adapters: `Text` is pydantic metadata holding the length limits and refusing control characters
(single-line text: all of them; `multiline=True`: all but tab, line feed and carriage return) and lone surrogates,
with a Spanish message and an error type the API's problem details name per field. It is metadata inside
`Annotated` rather than a function returning a type so that type checkers read the field as a `str`.

    class NoteIn(BaseModel):
        body: Annotated[str, Text(4000, min_length=1, multiline=True)]

    def route(channel: Annotated[Annotated[str, Text(16)] | None, Query()] = None): ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

# C0 and C1 controls (NUL included) and DEL; the surrogate block only ever appears unpaired in a Python str
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

CONTROL_MESSAGE = "El texto contiene caracteres de control (como NUL) que no se admiten."
LINE_BREAK_MESSAGE = "El texto no admite saltos de línea ni tabuladores."
UNICODE_MESSAGE = "El texto contiene caracteres Unicode inválidos (sustitutos sueltos)."


def text_problem(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """(error type, Spanish message) when `value` cannot be stored as text everywhere; None when it can."""
    if _SURROGATE.search(value):
        return "text_unicode", UNICODE_MESSAGE
    found = (_CONTROL_MULTILINE if multiline else _CONTROL_LINE).search(value)
    if found is None:
        return None
    if found.group() in "\t\n\r":
        return "text_line_break", LINE_BREAK_MESSAGE
    return "text_control", CONTROL_MESSAGE


def _checker(multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, multiline=multiline)
        if problem is not None:
            raise PydanticCustomError(*problem)
        return value

    return AfterValidator(check)


_SINGLE_LINE, _MULTILINE = _checker(False), _checker(True)


@dataclass(frozen=True)
class Text:
    """Length limits and the character check of a validated string: `Annotated[str, Text(64, min_length=1)]`.

    Grouped metadata in annotated-types' protocol (the marker property and `__iter__`), which pydantic unpacks.
    """

    max_length: int
    min_length: int | None = None
    multiline: bool = False

    @property
    def __is_annotated_types_grouped_metadata__(self) -> Literal[True]:
        return True

    def __iter__(self) -> Iterator[Any]:
        yield from StringConstraints(min_length=self.min_length, max_length=self.max_length)
        yield _MULTILINE if self.multiline else _SINGLE_LINE
