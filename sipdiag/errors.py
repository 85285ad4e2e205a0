"""Typed errors with a hint for the next step (STYLE.md G2).

`str(error)` is the one line shown to the user after `Error: `; `hint` is the next step. The CLI converts them in
one place (`sipdiag.cli.SipdiagGroup`) into that line and the exit code below.
"""

from __future__ import annotations

# Exit codes of `sipdiag analyze` and the other commands (ARCHITECTURE.md, "The JSON contract").
EXIT_OK = 0  # nothing at or above --fail-on
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_INPUT = 3  # unreadable input or runtime error


class SipdiagError(Exception):
    """Base class. str(e) is shown to the user; .hint is an optional next step; .exit_code the process status."""

    hint: str | None = None
    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class CaptureFormatError(SipdiagError):
    """The file is neither pcap nor pcapng (nor a gzip of one)."""

    hint = "Check it with 'capinfos FILE'; convert other formats with 'editcap -F pcap IN OUT'."


class CaptureReadError(SipdiagError):
    """The capture cannot be opened or read at all (missing, permission, I/O error)."""

    hint = "Check the path and that you may read the file."


class UsageError(SipdiagError):
    """The arguments cannot work together (raised by the library, shown like click's usage errors)."""

    exit_code = EXIT_USAGE
    hint = "See 'sipdiag COMMAND --help'."


class OutputError(SipdiagError):
    """An output file cannot be written (missing folder, permission, full disk)."""

    hint = "Check that the folder exists and that you may write there, or give another path with -o."


class CaptureError(SipdiagError):
    """Live capture cannot start: no such interface, no capture rights, a socket that cannot be bound."""

    hint = "Run as root, or give the interpreter CAP_NET_RAW: sudo setcap cap_net_raw,cap_net_admin+eip PYTHON."
