"""The one error the DSL raises."""

from __future__ import annotations

from pknet.errors import excerpt


class DslError(ValueError):
    """A selector or loss expression that does not parse or means nothing.

    `column` is the 1-based position in `expression` where the problem starts (counted in
    characters from the start of the expression, so it is the column for one-line expressions);
    `hint`, when there is one, says what to write instead. A ValueError, so that pydantic
    validators turn it into a validation error.
    """

    def __init__(self, message: str, column: int, expression: str, hint: str | None = None):
        self.message = message
        self.column = column
        self.expression = expression
        self.hint = hint
        super().__init__(self.format())

    def excerpt(self) -> str:
        """The expression's line holding the problem, with a caret under its column."""
        return expression_excerpt(self.expression, self.column)

    def format(self) -> str:
        """Message, excerpt and hint on separate lines."""
        text = f"{self.message} (column {self.column})\n{self.excerpt()}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def __reduce__(self):  # keep the attributes when pickled (e.g. across processes)
        return (type(self), (self.message, self.column, self.expression, self.hint))


def expression_excerpt(expression: str, column: int, gutter: str = "  ") -> str:
    """The line of `expression` holding offset `column` (1-based), a caret under it."""
    start = expression.rfind("\n", 0, column - 1) + 1
    end = expression.find("\n", start)
    return excerpt(expression[start : end if end >= 0 else None], column - start, gutter)
