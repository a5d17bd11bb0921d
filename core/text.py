"""Text that every database accepts, checked where input enters (API models, forms, query and path parameters).

PostgreSQL refuses NUL in text and JSON (`\\u0000`), and no database driver can encode a lone surrogate (a
string JSON may carry as `"\\ud800"`), while SQLite takes NUL silently: without a check the same input is a 500
on one backend and stored garbage on the other. `Text(max_length)` is the one validated string type of the
adapters: a pydantic `Annotated` string with its length limits, refusing control characters (single-line text:
all of them; `multiline=True`: all but tab, line feed and carriage return) and lone surrogates, with a Spanish
message and an error type the API's problem details name per field.

    class NoteIn(BaseModel):
        body: Text(4000, min_length=1, multiline=True)

    def route(channel: Annotated[Text(16) | None, Query()] = None): ...
"""

from __future__ import annotations

import re
from typing import Annotated, Any

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


def Text(max_length: int, *, min_length: int | None = None, multiline: bool = False) -> Any:
    """The validated string type: `Annotated[str, length limits, character check]`."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        _MULTILINE if multiline else _SINGLE_LINE,
    ]
