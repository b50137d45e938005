"""The CLI's tables: a rich table on a terminal, whole tab-separated lines when the output is a pipe or a file.

A pipe never gets a table cut to a terminal's width: ``labkit audit FILE | grep ...`` and ``labkit demo > out``
see every cell whole, one row per line (TSV, with ``# title`` above the header).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from ._text import safe_text

__all__ = ["Cell", "emit", "is_terminal"]

Cell = str | tuple[str, str]  # text, or (text, rich style) on a terminal


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stdout) is a terminal."""
    target = sys.stdout if stream is None else stream
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def _text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def _tsv(value: str) -> str:
    # a cell never breaks its line or its columns; safe_text already escapes control characters
    return safe_text(value, 10_000).replace("\t", " ").replace("\n", " ")


def emit(title: str, columns: Sequence[str], rows: Iterable[Sequence[Cell]], *, stream: TextIO | None = None,
         justify: Sequence[str] | None = None) -> None:
    """Print one table to ``stream`` (default stdout): rich on a terminal, TSV otherwise. Cells are data, never
    markup."""
    target = sys.stdout if stream is None else stream
    if not is_terminal(target):
        print(f"# {_tsv(title)}", file=target)
        print("\t".join(_tsv(c) for c in columns), file=target)
        for row in rows:
            print("\t".join(_tsv(_text(c)) for c in row), file=target)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title))
    for index, column in enumerate(columns):
        table.add_column(column, justify=justify[index] if justify else "left")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(safe_text(c)) if isinstance(c, str) else Text(safe_text(c[0]), style=c[1])
                        for c in row))
    Console(file=target, highlight=False).print(table)
