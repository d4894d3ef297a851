"""Errors that reach the user as one line: bad input exits with code 2, an artifact that is not
the model it was made from with code 1 (as a failed parity check does)."""


class UserError(Exception):
    """Bad input from the user (unknown name, unreadable file, invalid option).

    The CLI prints its message on one line and exits with :attr:`exit_code` (2); it never shows a
    traceback.
    """

    exit_code = 2


class ArtifactMismatch(UserError):
    """An artifact whose outputs are not its Keras model's: fewer or more of them, a name used
    twice, a shape that differs. Nothing is claimed for it: exit code 1."""

    exit_code = 1


class ClientRefusal(UserError):
    """A client library (MediaPipe Tasks) that does not take a file, for its own stated reason
    (no metadata, int8 input, per-channel normalization, a grey model): a fact about the client
    and the file, not a wrong computation. Reports show it apart from failures."""
