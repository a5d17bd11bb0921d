"""One display of pesos (#18): the pages' `money` filter, the dashboard's charts and tables and the policy lab's
report all format with dialogs/parsing.money, the bot's and the web chat's. Each had a copy: the pages wrote
"" for no value and rounded away the cents an applicant typed, the lab wrote a loss going down as "$-1,234"."""

from __future__ import annotations

from api.services import charts
from api.templating import templates
from dialogs.parsing import money
from lab import report


def _page(source: str, **values: object) -> str:
    return templates.env.from_string(source).render(**values)


def test_pages_show_pesos_as_the_bot_does() -> None:
    assert _page("{{ x|money }}", x=23_500.5) == money(23_500.5) == "$23,500.50"  # was $23,500
    assert _page("{{ x|money }}", x=350_000) == "$350,000"
    assert _page("{{ x|money(whole=True) }}", x=12_345.678) == "$12,346"  # an estimate: no cents
    assert _page("{{ x|money(whole=True) }}", x=None) == "—"  # was an empty cell


def test_charts_write_whole_pesos_beside_the_bars_and_in_the_tables() -> None:
    chart = charts.hbar(["BBVA"], [charts.Series("pérdida esperada", [1_234_567.8])], fmt=charts.money, summary="")
    assert chart["rows"][0]["bars"][0]["text"] == "$1,234,568" == money(1_234_567.8, whole=True)
    table = charts.Table("t", [charts.Column("el", "Pérdida esperada", charts.money)], [{"el": None}])
    assert table.cells()[0][0]["text"] == "—"


def test_the_lab_report_shows_pesos_as_the_pages_do() -> None:
    lab_money = report._env.filters["money"]
    assert lab_money("-1234.5") == "-$1,234"  # a change read back from the CSV; was "$-1,234"
    assert lab_money("") == lab_money(None) == "—"
    assert lab_money(12_345.678) == _page("{{ x|money(whole=True) }}", x=12_345.678)
