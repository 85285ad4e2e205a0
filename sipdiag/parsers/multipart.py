"""Message bodies: MIME multipart splitting (RFC 2046 §5.1, as SIP uses it per RFC 5621) and SDP lookup.

SIP bodies are often multipart: SDP + ISUP for SIP-I/SIP-T (RFC 3204), SDP + MSCML media-server XML, S/MIME
(RFC 4475 §3.1.1.11). `body_parts` flattens nested multiparts into (media type, content) pairs and `sdp_of`
finds the session description wherever it sits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipdiag.parsers.sdp import SdpSession, parse_sdp
from sipdiag.parsers.sipuri import get_param, scan_params

if TYPE_CHECKING:
    from sipdiag.parsers.sip import SipMessage

MULTIPART_PREFIX = "multipart/"
_DEFAULT_PART_TYPE = "text/plain"  # RFC 2045 §5.2
_MAX_NESTING = 4


def media_type(content_type: str) -> str:
    """`Application/SDP; charset=x` -> `application/sdp`."""
    return content_type.split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str | None:
    """The `boundary` parameter of a multipart Content-Type (RFC 2046 §5.1.1), unquoted; None when absent."""
    _type, _semi, rest = content_type.partition(";")
    params, _problems = scan_params(";" + rest)
    return get_param(params, "boundary") or None


def split_multipart(body: bytes, content_type: str, _depth: int = 0) -> list[tuple[str, bytes]] | None:
    """Split a multipart body into (media type, content) pairs, nested multiparts flattened.

    :param content_type: the full Content-Type value, which carries the boundary.
    :returns: the parts, or None when the body does not follow its boundary (no boundary parameter, no first
        delimiter, or a part without a closing delimiter).
    """
    boundary = boundary_of(content_type)
    if boundary is None:
        return None
    delimiter = b"--" + boundary.encode("utf-8", "replace")
    if body.startswith(delimiter):
        pos = 0
    else:
        pos = body.find(b"\n" + delimiter)
        if pos < 0:
            return None
        pos += 1  # preamble before the first delimiter is ignored (RFC 2046 §5.1.1)
    parts: list[tuple[str, bytes]] = []
    while True:
        after = pos + len(delimiter)
        if body.startswith(b"--", after):
            return parts  # close-delimiter; the epilogue is ignored
        line_end = body.find(b"\n", after)
        if line_end < 0:
            return None
        part_start = line_end + 1
        next_delimiter = body.find(b"\n" + delimiter, part_start)
        if next_delimiter < 0:
            return None
        part_end = next_delimiter - 1 if body[next_delimiter - 1 : next_delimiter] == b"\r" else next_delimiter
        part_content_type, content = _read_part(body[part_start:part_end])
        part_type = media_type(part_content_type)
        nested = None
        if part_type.startswith(MULTIPART_PREFIX) and _depth < _MAX_NESTING:
            nested = split_multipart(content, part_content_type, _depth + 1)
        if nested is not None:
            parts.extend(nested)
        else:
            parts.append((part_type, content))
        pos = next_delimiter + 1


def _read_part(part: bytes) -> tuple[str, bytes]:
    """(Content-Type value, content) of one body part (RFC 2046 §5.1.1 body-part)."""
    if part.startswith(b"\r\n") or part.startswith(b"\n"):
        return _DEFAULT_PART_TYPE, part[2 if part[0] == 13 else 1 :]
    separator = part.find(b"\r\n\r\n")
    if separator >= 0:
        header_block, content = part[:separator], part[separator + 4 :]
    else:
        separator = part.find(b"\n\n")
        header_block, content = (part[:separator], part[separator + 2 :]) if separator >= 0 else (part, b"")
    for line in header_block.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "content-type":
            return value.strip(), content
    return _DEFAULT_PART_TYPE, content


def body_parts(message: SipMessage) -> list[tuple[str, bytes]]:
    """The body as (media type, content) pairs: one pair for a plain body, the flattened parts of a multipart
    body, [] when there is no body. A multipart body that does not follow its boundary is returned whole.
    """
    if not message.body:
        return []
    content_type = message.headers.get("content-type") or ""
    if media_type(content_type).startswith(MULTIPART_PREFIX):
        parts = split_multipart(message.body, content_type)
        if parts is not None:
            return parts
    return [(media_type(content_type), message.body)]


def sdp_of(message: SipMessage) -> SdpSession | None:
    """The SDP of a message (plain `application/sdp` body or an SDP part of a multipart body), else None.

    A body without Content-Type that starts with `v=` is taken as SDP too (RFC 2543-era devices).
    """
    for part_type, content in body_parts(message):
        if part_type == "application/sdp" or (not part_type and content.lstrip().startswith(b"v=")):
            return parse_sdp(content, frame=message.frame)
    return None
