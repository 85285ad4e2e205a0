"""sipdiag.anonymize.textrewrite: the detectors find exactly what their patterns match, on long hostile text too."""

from __future__ import annotations

from sipdiag.anonymize.pseudonyms import Pseudonyms
from sipdiag.anonymize.sipfields import Harvest
from sipdiag.anonymize.textrewrite import TextRewriter, _uri_user_spans

KEY = b"textrewrite-test"


def users_and_passwords(text: str) -> list[tuple[str, str | None]]:
    return [(text[start:end], text[end + 1:password] if password > end else None)
            for start, end, password in _uri_user_spans(text)]


def test_uri_user_parts_with_and_without_password() -> None:
    # RFC 3261 §19.1.1 userinfo = user [":" password] "@"; a scheme no "@" ends is no user part, and a password
    # runs over ":" up to the "@" (the pattern's own reading, kept).
    text = ("To: <sip:alice@example.com>, <sips:bob:secret@x>, <im:carol:@y>, (sip:a(sip:b:c(sip:dave@z sip:@w "
            "pres:eve;SIP:Frank@a")
    assert users_and_passwords(text) == [("alice", None), ("bob", "secret"), ("carol", ""), ("a(sip", "b:c(sip:dave"),
                                         ("Frank", None)]


def test_100000_schemes_in_one_run_of_user_characters() -> None:
    """Each scheme made the pattern run over the rest of the text and back (":" is a password character): O(n^2),
    8 min for these 600 000 characters. Each run's end is measured once now."""
    text = "(sip:a" * 100_000
    assert users_and_passwords(text) == []
    assert list(_uri_user_spans(text + "@")) == [(5, 10, 600_000)]


def test_unquoted_display_name_with_250000_blanks() -> None:
    """The lazy display-name pattern tried the blanks before "<" after every character of the name: O(n^2) in a run
    of blanks, 37 s here (the pattern alone). The name keeps its inner blanks and loses those before "<" (RFC 3261
    §25.1)."""
    display = "a" + " " * 250_000 + "b"
    line = f"From: {display}  <sip:alice@example.com>;tag=1\r\n"
    rewritten = TextRewriter(Pseudonyms(KEY), Harvest()).rewrite(line.encode("latin-1")).decode("latin-1")
    p = Pseudonyms(KEY)
    alice = p.user("alice")  # in the rewriter's order: URI users, then display names
    assert rewritten == f"From: {p.user(display)}  <sip:{alice}@example.com>;tag=1\r\n"
    assert p.user(display) != display and len(alice) == 5
