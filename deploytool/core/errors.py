"""Errors that reach the user as one line and exit code 2."""


class UserError(Exception):
    """Bad input from the user (unknown name, unreadable file, invalid option).

    The CLI prints its message on one line and exits with code 2; it never shows a traceback.
    """
