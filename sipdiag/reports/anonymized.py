"""The one-paragraph summary `sipdiag anonymize` prints: what was replaced, never the values or the mapping."""

from __future__ import annotations

from typing import TextIO

from ..anonymize import AnonymizeResult


def render_anonymize_summary(result: AnonymizeResult, out: TextIO) -> None:
    """Write the summary of one anonymisation run (plain text: it names counts only, nothing from the wire
    except the file names the user gave)."""
    out.write(f"Wrote {result.output} ({result.format}, {result.frames} frames, {result.frames_changed} changed).\n")
    out.write(f"Replaced: {result.addresses} IP addresses, {result.host_names} host names, "
              f"{result.user_names} user names/numbers, {result.digest_values} digest values "
              f"({result.checksums_updated} checksums updated).\n")
    if result.rtp_payloads_dropped:
        out.write(f"Zeroed the payload of {result.rtp_payloads_dropped} RTP packets.\n")
    if result.other_payloads_dropped:
        out.write(f"Zeroed the payload of {result.other_payloads_dropped} packets of other protocols.\n")
    if result.name_resolution_blocks_dropped:
        out.write(f"Left out {result.name_resolution_blocks_dropped} pcapng name resolution blocks.\n")
    if result.other_blocks_dropped or result.options_dropped:
        out.write(f"Left out {result.other_blocks_dropped} other pcapng blocks (decryption secrets, custom, ...) and "
                  f"{result.options_dropped} pcapng options (comments, interface names and addresses, OS, ...).\n")
    if result.read_error is not None:  # the damaged tail it may leave is this damage: one line says it
        out.write(f"The capture is damaged (pcap.read-error: {result.read_error}): the frames read before the damage "
                  f"are written.\n")
    elif result.damaged_tail_dropped:
        out.write("Left out the damaged end of the capture (a truncated or impossible record and what follows).\n")
    if not result.reproducible:
        out.write("The pseudonyms come from a random key: another run gives others (use --key to repeat them).\n")
