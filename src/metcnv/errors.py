"""The one exception type users see: a single line naming the file, the problem and the fix."""

from __future__ import annotations


class MetcnvError(Exception):
    """A problem with the user's input or settings, reported as one line and exit code 2.

    Raise it with a message of the form "<file>: <what is wrong>; <how to fix it>".
    The CLI prints it without a traceback; anything else is a bug and keeps its traceback.
    """
