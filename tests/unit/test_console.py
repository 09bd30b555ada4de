"""Fitting tables to the terminal: headers wrap between words, figures stay whole."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console

from sim.cli.console import fit_table, print_table, wrap_header
from sim.cli.headlines import new_table


def test_headers_wrap_between_words_and_at_the_dots_of_keys() -> None:
    """Spaces and the dots of a dotted key are break points; no piece is ever cut."""
    assert wrap_header("network.national.servers", 12) == "network.\nnational.\nservers"
    assert wrap_header("network.national.servers", 20) == "network.national.\nservers"
    assert wrap_header("settled per day (full scale)", 12) == "settled per\nday (full\nscale)"
    assert wrap_header("arrivals", 3) == "arrivals"  # one word: kept whole, the column widens
    assert wrap_header("Δ vs v000", 40) == "Δ vs v000"


def _table() -> object:
    table = new_table("a table whose headers are much wider than its figures")
    table.add_column("variant", no_wrap=True)
    table.add_column("network.provincial.service_time", justify="right")  # a value column
    for name in ("settled per day (full scale)", "cross-province share", "95% interval"):
        table.add_column(name, justify="right", no_wrap=name != "95% interval")
    table.add_row("v000", "{constant: 200ms}", "33,640,000", "0.04531", "[0.002316, 0.09446]")
    return table


def test_a_table_fits_narrow_widths_with_every_figure_whole() -> None:
    """At 80, 60 and 52 columns no line is wider and every figure appears unbroken."""
    for width in (80, 60, 52):
        out = io.StringIO()
        print_table(Console(file=out, width=width), _table())  # type: ignore[arg-type]
        lines = out.getvalue().splitlines()
        assert max(cell_len(line) for line in lines) <= width, out.getvalue()
        text = out.getvalue()
        assert "…" not in text
        for figure in ("33,640,000", "0.04531", "0.002316,", "0.09446]", "200ms}"):
            assert figure in text, (width, text)


def test_a_table_that_cannot_fit_is_printed_whole_not_cut() -> None:
    """Figures wider than the terminal together: the table is wider than it, but intact."""
    table = new_table("too wide")
    for i in range(6):
        table.add_column(f"c{i}", no_wrap=True)
    table.add_row(*(f"{10**9 + i:,}" for i in range(6)))
    assert not fit_table(table, 30)
    out = io.StringIO()
    print_table(Console(file=out, width=30), table)
    assert all(f"{10**9 + i:,}" in out.getvalue() for i in range(6)), out.getvalue()
    assert "…" not in out.getvalue()
