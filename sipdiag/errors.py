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


class DamagedGzipError(CaptureReadError):
    """A gzip-compressed capture whose gzip stream fails (cut short, or corrupt data / CRC, RFC 1952) before one
    packet could be read: the capture inside may be fine, the compressed file is not."""

    hint = ("Test it with 'gzip -t FILE'. A file cut short was copied while it was still being written or its "
            "transfer was interrupted; one with corrupt data was damaged on the way: copy it again from where it was "
            "captured.")


class UsageError(SipdiagError):
    """The arguments cannot work together (raised by the library, shown like click's usage errors)."""

    exit_code = EXIT_USAGE
    hint = "See 'sipdiag COMMAND --help'."


class OutputError(SipdiagError):
    """An output file cannot be written (missing folder, permission, full disk)."""

    hint = "Check that the folder exists and that you may write there, or give another path with -o."


class TsharkMissingError(SipdiagError):
    """`--engine tshark` was asked for but no tshark program is on the PATH (sipdiag.tsharkengine)."""

    hint = ("Install Wireshark's command-line tools (Debian/Ubuntu: 'apt-get install tshark'; macOS: "
            "'brew install wireshark'; Windows: the Wireshark installer), or use the default --engine native.")


class TsharkFailedError(SipdiagError):
    """tshark started but could not dissect the capture (it exited with an error)."""

    hint = "Run 'tshark -r FILE' to see tshark's own message; the default --engine native may still read the file."


class KeylogError(SipdiagError):
    """The TLS key log given with --keylog cannot be read."""

    hint = ("Give the file the TLS client or server wrote with SSLKEYLOGFILE set (NSS key log format: lines such "
            "as 'CLIENT_RANDOM …' or 'CLIENT_TRAFFIC_SECRET_0 …').")


class CaptureError(SipdiagError):
    """Live capture cannot start: no such interface, no capture rights, a socket that cannot be bound."""

    hint = "Run as root, or give the interpreter CAP_NET_RAW: sudo setcap cap_net_raw,cap_net_admin+eip PYTHON."
