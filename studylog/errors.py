"""Build errors are collected as `path:line: message`, never raised one by one."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def display_path(path: Path | str) -> str:
    """Relative to the working directory when possible: short and clickable in editors."""
    p = Path(path)
    try:
        return os.path.relpath(p) if p.is_absolute() and not os.path.relpath(p).startswith("..") else str(p)
    except ValueError:  # different drive (Windows)
        return str(p)


@dataclass(frozen=True, order=True)
class BuildError:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ErrorList:
    """Accumulates errors from every stage; the build fails at the end if any."""

    def __init__(self) -> None:
        self.items: list[BuildError] = []

    def add(self, path: Path | str, line: int, message: str) -> None:
        self.items.append(BuildError(display_path(path), max(int(line or 1), 1), message))

    def extend(self, errors) -> None:
        self.items.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[BuildError]:
        # de-duplicate, stable order by path then line
        return sorted(set(self.items))


class ContentError(Exception):
    """Raised at the end of a stage when errors were collected."""

    def __init__(self, errors: list[BuildError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class RefError(Exception):
    """Raised by a link/fence handler; becomes `path:line: message` of the referencing file, at
    `line` when the handler knows a better one than the reference's (a key inside a block)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line
