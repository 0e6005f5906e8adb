"""The one exception type for user mistakes.

Anything raised as `UserError` is printed by the CLI as a single line on stderr and exits with
status 2; everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input (data, config, paths); the message says how to fix it."""

    exit_code = 2
