"""The V4A patch format (the ``apply_patch`` format gpt-oss was trained with).

A patch looks like::

    *** Begin Patch
    *** Add File: notes/todo.txt
    +first line
    *** Update File: src/app.py
    *** Move to: src/main.py
    @@ def handler():
         context line
    -    old line
    +    new line
    *** Delete File: old.txt
    *** End Patch

Each ``@@`` starts a hunk: optional anchor text after the ``@@`` (a line that must be found
before the hunk), then lines prefixed with a space (context), ``-`` (removed) or ``+``
(added). ``*** End of File`` pins the hunk to the end of the file. Matching is exact first,
then ignoring trailing whitespace, then ignoring surrounding whitespace. Errors name the
file and the hunk that does not apply.

Modules: :mod:`.syntax` (the markers, the change values, parsing) and :mod:`.apply`
(matching and writing). Both use the standard library and
:mod:`gptoss_agent.tools.errors` only, and touch files through a small interface, so the
same code runs inside the sandbox container, where the patch is applied (see
:mod:`gptoss_agent.tools.coding.cells`), and in tests.
"""

from gptoss_agent.tools.coding.v4a.apply import FileSystem, apply_hunks, apply_patch, summarise
from gptoss_agent.tools.coding.v4a.syntax import (
    AppliedChange,
    FileChange,
    Hunk,
    PatchError,
    parse_patch,
)

__all__ = [
    "AppliedChange",
    "FileChange",
    "FileSystem",
    "Hunk",
    "PatchError",
    "apply_hunks",
    "apply_patch",
    "parse_patch",
    "summarise",
]
