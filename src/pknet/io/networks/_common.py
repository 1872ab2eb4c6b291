"""What every network loader shares: the edge-table columns, reading files with line numbers,
and the checks that turn bad input into a `CompileError` naming the file and line."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from pknet import suggest
from pknet.errors import CompileError, Location, Problem
from pknet.files import MISSING, file_problem

SOURCE = "source"
TARGET = "target"
SIGN = "sign"
WEIGHT = "weight"
EDGE_COLUMNS = (SOURCE, TARGET, SIGN, WEIGHT)
"""Every loader returns these columns first: information flows from `source` to `target`."""

RELATION = "relation"
CONFIDENCE = "confidence"
SCORE = "score"
EVIDENCE = "evidence"

MSG_RELATIVE_PATHS = "relative paths in a spec resolve against the folder of the spec file"

_SUFFIX_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": r"\s+"}
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zip"}

_POSITIVE = frozenset(
    {"+", "activation", "activates", "activate", "stimulation", "stimulates", "positive"}
)
_NEGATIVE = frozenset(
    {"-", "inhibition", "inhibits", "inhibit", "repression", "represses", "negative"}
)
_UNKNOWN = frozenset({"", "0"})
MSG_SIGN_VALUES = (
    "a sign is +1, 1, + or activation (also activates, stimulates, positive); "
    "-1, - or inhibition (also inhibits, represses, negative); 0 or empty when unknown"
)


MSG_UNKNOWN_TERMS = (
    "an annotated term missing from the ontology is obsolete, a secondary id (alt_id), of another "
    "namespace (filter the annotations, e.g. `aspect: P`) or from another release; set "
    "`unknown_terms: drop` on this network source to leave such annotations out"
)


@dataclass(frozen=True)
class TermSet:
    """The terms an ontology defines, which annotations must cite; `source` names it."""

    terms: frozenset[str]
    source: str


def fail(path: Path, message: str, line: int | None = None, hint: str | None = None) -> NoReturn:
    """Raise a `CompileError` located in `path` (at `line` where known)."""
    raise CompileError(Problem(message, location=Location(str(path), line), hint=hint))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """A did-you-mean hint for `word` among `choices`, or None."""
    match = suggest.closest(word, choices)
    return f"did you mean {match[0]!r}?" if match else None


def check_file(path: Path) -> None:
    """Fail unless `path` is an existing, non-empty file."""
    reason = file_problem(path)
    if reason == MISSING:
        siblings = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        suggestion = closest(path.name, siblings)
        hint = f"{suggestion} ({MSG_RELATIVE_PATHS})" if suggestion else MSG_RELATIVE_PATHS
        fail(path, f"file not found: {path.name}", hint=hint)
    if reason is not None:
        fail(path, f"{path.name} {reason}")
    if path.stat().st_size == 0:
        fail(path, f"{path.name} is empty")


def read_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a UTF-8 text file (gzip if `.gz`) with their 1-based numbers."""
    check_file(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8-sig") as handle:
                text = handle.read()
        else:
            text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        fail(path, f"{path.name} is not UTF-8 text ({err.reason} at byte {err.start})")
    except OSError as err:
        fail(path, f"cannot read {path.name}: {err}")
    numbered = enumerate((line.rstrip("\r") for line in text.split("\n")), start=1)
    lines = [(n, line) for n, line in numbered if line.strip()]
    if not lines:
        fail(path, f"{path.name} is empty")
    return lines


def separator(path: Path, sep: str | None) -> str:
    """`sep` if given, else the separator the file's suffix implies (`.txt`: any whitespace)."""
    if sep is not None:
        return sep
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _SUFFIX_SEPARATORS:
        known = ", ".join(_SUFFIX_SEPARATORS)
        fail(
            path,
            f"cannot tell the column separator of {path.name} from its suffix {suffix!r}",
            hint=f"give the separator explicitly (suffixes understood: {known})",
        )
    return _SUFFIX_SEPARATORS[suffix]


def read_table(path: Path, *, sep: str | None = None, header: bool = True) -> pd.DataFrame:
    """Read a delimited file as stripped strings; the index is each row's 1-based line number.

    Blank lines are dropped; nothing is turned into NaN (a gene called `NA` stays `NA`);
    short rows are padded with empty strings.
    """
    check_file(path)
    delimiter = separator(path, sep)
    try:
        table = pd.read_csv(
            path,
            sep=delimiter,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        fail(path, f"{path.name} is empty")
    except pd.errors.ParserError as err:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if found is None:
            fail(path, f"cannot parse {path.name}: {str(err).strip()}")
        expected, line, saw = (int(g) for g in found.groups())
        fail(
            path,
            f"line has {saw} fields where {expected} were expected",
            line,
            hint=f"check the separator (reading with {delimiter!r})",
        )
    except UnicodeDecodeError as err:
        fail(path, f"{path.name} is not UTF-8 text ({err.reason} at byte {err.start})")
    except OSError as err:
        fail(path, f"cannot read {path.name}: {err}")
    table.columns = [str(c).strip() for c in table.columns]
    table = table.apply(lambda column: column.str.strip())
    table.index = pd.RangeIndex(len(table)) + (2 if header else 1)
    return table[(table != "").any(axis=1)]


def require_columns(table: pd.DataFrame, path: Path, columns: Sequence[str | None]) -> None:
    """Fail, naming every missing column with the available ones and a did-you-mean."""
    available = list(table.columns)
    problems = [
        Problem(
            f"column {column!r} not found in {path.name}; "
            f"available columns: {', '.join(available)}",
            location=Location(str(path), 1),
            hint=closest(column, available),
        )
        for column in columns
        if column is not None and column not in available
    ]
    if problems:
        raise CompileError(problems)


def node_names(table: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """The values of a node-name column; fails at the first empty one."""
    values = table[column]
    empty = values == ""
    if empty.any():
        fail(path, f"empty node name in column {column!r}", int(values.index[empty.argmax()]))
    return values.to_numpy(dtype=object)


def sign_of(text: str) -> int | None:
    """+1, -1 or 0 for a sign word or number (see `MSG_SIGN_VALUES`); None if unrecognised."""
    word = text.strip().casefold()
    if word in _POSITIVE:
        return 1
    if word in _NEGATIVE:
        return -1
    if word in _UNKNOWN:
        return 0
    try:
        number = float(word)
    except ValueError:
        return None
    return int(number) if number in (1.0, -1.0, 0.0) else None


def parse_signs(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """Signs (int8) from a sign column; fails naming the first unrecognised value's line."""
    signs = []
    for line, text in values.items():
        sign = sign_of(text)
        if sign is None:
            fail(path, f"bad sign {text!r} in column {column!r}", int(line), MSG_SIGN_VALUES)
        signs.append(sign)
    return np.asarray(signs, dtype=np.int8)


def parse_numbers(values: pd.Series, path: Path, column: str) -> np.ndarray:
    """Finite floats from a numeric column; fails naming the first bad value's line."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        line = values.index[bad.argmax()]
        fail(
            path,
            f"bad number {values.loc[line]!r} in column {column!r}",
            int(line),
            "expected a finite number such as 0.7 or 700",
        )
    return numbers


def check_filter_values(
    requested: Sequence[str], present: Iterable[str], path: Path, what: str
) -> None:
    """Fail for each requested filter value (e.g. a relation) that the file never uses."""
    present = sorted(set(present))
    problems = [
        Problem(
            f"{what} {value!r} does not occur in {path.name}; present: {', '.join(present)}",
            location=Location(str(path)),
            hint=closest(value, present),
        )
        for value in requested
        if value not in present
    ]
    if problems:
        raise CompileError(problems)


def edge_table(
    source: Sequence[str] | np.ndarray,
    target: Sequence[str] | np.ndarray,
    *,
    sign: Sequence[int] | np.ndarray | None = None,
    weight: Sequence[float] | np.ndarray | None = None,
    **extra: Sequence[object] | np.ndarray,
) -> pd.DataFrame:
    """Assemble an edge table: `EDGE_COLUMNS` with their dtypes, then `extra` columns."""
    n = len(source)
    columns: dict[str, object] = {
        SOURCE: np.asarray(source, dtype=object),
        TARGET: np.asarray(target, dtype=object),
        SIGN: np.zeros(n, np.int8) if sign is None else np.asarray(sign, dtype=np.int8),
        WEIGHT: np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64),
    }
    columns.update(extra)
    return pd.DataFrame(columns)


def require_edges(edges: pd.DataFrame, path: Path, why: str | None = None) -> pd.DataFrame:
    """Return `edges`, or fail if it is empty (`why` says what the filters left over)."""
    if len(edges) == 0:
        message = f"no edges in {path.name}" + (f" after filters: {why}" if why else "")
        fail(path, message, hint="check the filters and the column names against the file")
    return edges


def check_known_terms(
    edges: pd.DataFrame, lines: Sequence[int] | np.ndarray, terms: TermSet, path: Path
) -> None:
    """Fail at the first annotation (edge member → term, file line `lines[i]`) whose term is
    not one of `terms`."""
    unknown = ~edges[TARGET].isin(terms.terms).to_numpy()
    if not unknown.any():
        return
    first = int(np.argmax(unknown))
    member, term = edges[SOURCE].iloc[first], edges[TARGET].iloc[first]
    n_terms = edges[TARGET][unknown].nunique()
    fail(
        path,
        f"{member!r} is annotated to {term!r}, which is not a term of {terms.source} "
        f"({int(unknown.sum())} annotation(s) cite {n_terms} such term(s))",
        int(lines[first]),
        MSG_UNKNOWN_TERMS,
    )


def labelled_pairs(
    path: Path,
    *,
    source_col: str,
    target_col: str,
    label_col: str | None,
    label: str,
    keep: Sequence[str] | None,
    sep: str | None,
    must_occur: bool,
    terms: TermSet | None = None,
) -> pd.DataFrame:
    """Edges `source_col` → `target_col` of a table with a header, in file order.

    `label_col` (evidence codes, relation types) is kept as column `label`; `keep` keeps only
    rows with those labels, and with `must_occur` each of them must appear in the file. With
    `terms`, every kept row's `target_col` must be one of them.
    """
    if keep is not None and label_col is None:
        fail(path, f"a {label} filter needs the {label} column ({label}_col)")
    table = read_table(path, sep=sep)
    require_columns(table, path, [source_col, target_col, label_col])
    extra = {} if label_col is None else {label: table[label_col].to_numpy()}
    edges = edge_table(
        node_names(table, source_col, path), node_names(table, target_col, path), **extra
    )
    lines = table.index.to_numpy()
    why = None
    if keep is not None:
        if must_occur:
            check_filter_values(keep, edges[label], path, label)
        kept = edges[label].isin(list(keep)).to_numpy()
        present = ", ".join(sorted(set(edges[label])))
        why = f"{label} in {list(keep)} (codes present: {present})"
        edges, lines = edges[kept].reset_index(drop=True), lines[kept]
    if terms is not None:
        check_known_terms(edges, lines, terms, path)
    return require_edges(edges, path, why)
