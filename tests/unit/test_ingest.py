"""The capture side gives the same result in a second process as in this one, and its errors cross over."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipdiag.errors import CaptureFormatError
from sipdiag.ingest import CaptureRead, CaptureResult, ingest
from tests.conftest import SAMPLES


def _collect(path: Path, parallel: bool) -> tuple[list, CaptureResult]:
    """The datagrams and the result, checking the order: every batch, then one CaptureRead with the capture's
    facts, then the CaptureResult, last."""
    datagrams, read, result = [], None, None
    for item in ingest(path, parallel=parallel):
        assert result is None
        if isinstance(item, CaptureRead):
            assert read is None
            read = item
        elif isinstance(item, CaptureResult):
            assert read is not None
            result = item
        else:
            assert read is None
            datagrams.extend(item)
    assert result is not None and read is not None
    assert (read.info, read.rtcp_packets) == (result.info, result.rtcp_packets)
    return datagrams, result


@pytest.mark.parametrize("name", ["clean_call.pcap", "sip_over_tcp.pcap", "rtp_loss.pcap"])
def test_child_process_equals_in_process(name: str) -> None:
    here = _collect(SAMPLES / name, parallel=False)
    there = _collect(SAMPLES / name, parallel=True)
    assert there == here
    assert [d.frame for d in here[0]] == sorted(d.frame for d in here[0])


def test_child_error_reaches_the_caller(tmp_path: Path) -> None:
    bogus = tmp_path / "x.pcap"
    bogus.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureFormatError, match="is not a pcap or pcapng file"):
        _collect(bogus, parallel=True)


def test_prestarted_reader_is_taken_over_by_ingest(monkeypatch) -> None:
    from sipdiag import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)  # the samples are small; any file gets a child
    path = SAMPLES / "rtp_loss.pcap"
    ingest_module.prestart(path)
    early = ingest_module._prestarted
    assert early is not None and early[0] == str(path)
    proc = early[2]
    assert _collect(path, parallel=None) == _collect(path, parallel=False)
    assert ingest_module._prestarted is None
    assert not proc.is_alive() and proc.exitcode == 0  # the early child did the reading and ended


def test_prestarted_reader_for_another_file_is_stopped(monkeypatch) -> None:
    from sipdiag import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    ingest_module.prestart(SAMPLES / "rtp_loss.pcap")
    proc = ingest_module._prestarted[2]
    clean = SAMPLES / "clean_call.pcap"
    assert _collect(clean, parallel=None) == _collect(clean, parallel=False)
    assert not proc.is_alive()


def test_idle_work_runs_once_while_waiting_for_the_child_and_never_in_process() -> None:
    """`idle` fills the time this process would spend waiting for the reader (analysis loads the rules and the
    device knowledge base there); in-process nothing waits, so it is not called: the caller loads on first use."""
    calls: list[int] = []
    path = SAMPLES / "rtp_loss.pcap"
    there = list(ingest(path, parallel=True, idle=lambda: calls.append(1)))
    assert calls == [1]  # a fresh child is never ready at once: at least the first read waits
    here = list(ingest(path, parallel=False, idle=lambda: calls.append(2)))
    assert calls == [1]
    assert there[-1] == here[-1]


# The reader parses the SIP itself for an analysing process that is behind (ingest.BEHIND_BYTES): the same
# messages, the same analysis, whichever side parsed them.
BEHIND_SAMPLES = ["clean_call.pcap", "sip_over_tcp.pcap", "rtp_port_unreachable.pcap", "fragmented_invite_dropped.pcap",
                  "sipvicious_scan.pcap"]


def _always_behind(monkeypatch) -> None:
    from sipdiag import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "BEHIND_BYTES", 0)  # every batch counts as behind: the reader parses all


@pytest.mark.parametrize("name", BEHIND_SAMPLES)
def test_a_reader_parses_for_a_process_that_is_behind(monkeypatch, name: str) -> None:
    from dataclasses import fields

    from sipdiag.ingest import ParsedBatch
    from sipdiag.parsers.sip import SipMessage, parse_datagram

    _always_behind(monkeypatch)
    here, _ = _collect(SAMPLES / name, parallel=False)
    batches = [item for item in ingest(SAMPLES / name, parallel=True)
               if not isinstance(item, (CaptureRead, CaptureResult))]
    assert batches and all(isinstance(b, ParsedBatch) for b in batches)
    messages = [m for b in batches for m in b.messages]
    expected = [(m, d.encap) for d in here if d.kind != "icmp" and (m := parse_datagram(d)) is not None]
    assert [e[1] for e in expected] == [encap for b in batches for encap in b.encaps]
    assert [d for d in here if d.kind == "icmp"] == [d for b in batches for d in b.icmp]
    assert len(messages) == len(expected)
    for got, (want, _encap) in zip(messages, expected):
        assert type(got) is SipMessage and got == want
        assert got.headers.items == want.headers.items and got.headers.first_values == want.headers.first_values
        # the caches came computed, equal to what the properties give
        assert (got._cseq, got._from_tag, got._to_tag, got._branch) == (want.cseq, want.from_tag, want.to_tag,
                                                                        want.branch)
        assert all(getattr(got, f.name) == getattr(want, f.name) for f in fields(SipMessage))
    if name == "rtp_port_unreachable.pcap":
        assert any(b.icmp for b in batches)  # the ICMP errors cross as datagrams, for the analysis to read


@pytest.mark.parametrize("name", BEHIND_SAMPLES)
def test_the_analysis_is_the_same_whoever_parsed_the_sip(monkeypatch, name: str) -> None:
    from sipdiag import ingest as ingest_module
    from sipdiag.analysis import analyze
    from sipdiag.reports.json import to_document

    alone = to_document(analyze(SAMPLES / name))
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    _always_behind(monkeypatch)
    parsed_there = to_document(analyze(SAMPLES / name))
    assert parsed_there == alone
    assert alone["calls"] or alone["registrations"] or alone["findings"]


def test_behind_counts_what_the_other_side_has_not_read(monkeypatch) -> None:
    import multiprocessing

    from sipdiag import ingest as ingest_module

    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    monkeypatch.setattr(ingest_module, "BEHIND_BYTES", 1000)
    assert not ingest_module._behind(sender)
    sender.send_bytes(b"x" * 2000)
    assert ingest_module._behind(sender)
    receiver.recv_bytes()
    assert not ingest_module._behind(sender)
    monkeypatch.setattr(ingest_module, "BEHIND_BYTES", None)  # never
    sender.send_bytes(b"x" * 2000)
    assert not ingest_module._behind(sender)
    receiver.close()
    sender.close()


def test_message_fields_give_the_message_back_with_shared_header_names() -> None:
    from sipdiag.parsers.sip import message_fields, message_from_fields, parse_datagram

    datagrams, _ = _collect(SAMPLES / "clean_call.pcap", parallel=False)
    import pickle

    for d in datagrams:
        m = parse_datagram(d)
        assert m is not None
        back = message_from_fields(pickle.loads(pickle.dumps(message_fields(m))))
        assert back == m and back.cseq == m.cseq and type(back.cseq) is type(m.cseq)
        # the known names are the parser's own str objects again, not per-message copies from the pickle
        for (name, _), (own, _) in zip(back.headers.items, m.headers.items):
            assert name is own or name not in ("via", "from", "to", "call-id", "cseq")
