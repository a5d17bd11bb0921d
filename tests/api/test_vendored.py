"""The vendored browser files are exactly the ones api/static/vendor/README.md lists (package, version, sha256)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "api" / "static" / "vendor"
TEST_VENDOR = Path(__file__).resolve().parent / "vendor"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| `[^`]+` \| [0-9.]+ \| [^|]+ \| `(?P<sha>[0-9a-f]{64})` \|$")


@pytest.mark.parametrize("vendor", [VENDOR, TEST_VENDOR], ids=["api-static", "tests"])
def test_vendored_files_match_their_listed_checksums(vendor: Path) -> None:
    rows = [m.groupdict() for line in (vendor / "README.md").read_text().splitlines() if (m := ROW.match(line))]
    assert rows, "no rows in api/static/vendor/README.md"
    for row in rows:
        body = (vendor / row["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == row["sha"], row["file"]
    listed = {r["file"] for r in rows}
    shipped = {
        str(p.relative_to(vendor)) for p in vendor.rglob("*") if p.is_file() and p.suffix in (".js", ".css", ".png")
    }
    assert shipped == listed  # nothing vendored without a line in the list
