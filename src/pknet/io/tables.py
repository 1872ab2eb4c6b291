"""Reading delimited text tables (label files, a run's pruned edges) with every cell as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pknet.errors import TableError

TAB_SUFFIXES = (".tsv", ".txt", ".tab")


def table_separator(path: Path) -> str:
    """Tab for `.tsv`, `.txt` and `.tab` files, else comma."""
    return "\t" if path.suffix.lower() in TAB_SUFFIXES else ","


def read_text_table(
    path: Path, *, sep: str | None = None, blank_is_text: bool = False
) -> pd.DataFrame:
    """Every cell of the table at `path` as text (`sep` from the suffix unless given). Blank
    cells are missing values, or empty strings with `blank_is_text`."""
    try:
        return pd.read_csv(
            path, sep=sep or table_separator(path), dtype=str, keep_default_na=not blank_is_text
        )
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        lines = str(exc).strip().splitlines()
        raise TableError(lines[0] if lines else type(exc).__name__) from None
