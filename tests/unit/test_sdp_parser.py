"""Unit tests of the SDP parser (RFC 8866) and its VoIP helpers: connection inheritance, direction and hold,
RTCP, SRTP (SDES and DTLS), ICE, codec resolution."""

from __future__ import annotations

from sipdiag.model import Anomaly
from sipdiag.parsers.sdp import (
    STATIC_PAYLOAD_TYPES,
    IceCandidate,
    RtpMap,
    SdpConnection,
    SdpCrypto,
    SdpFingerprint,
    SdpOrigin,
    SdpRtcp,
    codec_names,
    effective_address,
    is_hold,
    parse_sdp,
    rtpmap_for,
)


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


OFFER = sdp(
    "v=0",
    "o=alice 2890844526 2890844527 IN IP4 192.0.2.4",
    "s=Talk",
    "c=IN IP4 192.0.2.4",
    "b=AS:84",
    "t=0 0",
    "m=audio 49170 RTP/AVP 8 0 18 101",
    "b=TIAS:64000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=maxptime:150",
    "a=X-nat:0",
)


def test_basic_offer() -> None:
    session = parse_sdp(OFFER)
    assert session.version == 0
    assert session.origin == SdpOrigin("alice", "2890844526", 2890844527, "IN", "IP4", "192.0.2.4")
    assert session.session_name == "Talk"
    assert session.connection == SdpConnection("IN", "IP4", "192.0.2.4")
    assert (session.times, session.bandwidths, session.direction) == (((0, 0),), (("AS", 84),), None)
    assert session.anomalies == ()
    (audio,) = session.media
    assert (audio.media, audio.port, audio.port_count, audio.proto) == ("audio", 49170, 1, "RTP/AVP")
    assert audio.formats == ("8", "0", "18", "101")
    assert audio.connection == SdpConnection("IN", "IP4", "192.0.2.4")  # inherited from the session
    assert audio.rtpmap == (
        (8, RtpMap("PCMA", 8000)),
        (0, RtpMap("PCMU", 8000)),
        (18, RtpMap("G729", 8000)),
        (101, RtpMap("telephone-event", 8000)),
    )
    assert dict(audio.rtpmap)[101] == ("telephone-event", 8000, None)
    assert audio.fmtp == ((18, "annexb=no"), (101, "0-16"))
    assert (audio.ptime_ms, audio.maxptime_ms) == (20, 150)
    assert audio.direction == "sendrecv"
    assert audio.bandwidths == (("TIAS", 64000),)
    assert audio.attributes[-1] == ("X-nat", "0")
    assert (audio.rtcp, audio.rtcp_mux, audio.crypto, audio.fingerprint, audio.candidates) == (None, False, (), None, ())
    assert codec_names(audio) == ["PCMA", "PCMU", "G729", "telephone-event"]
    assert is_hold(audio) is False


def test_str_bytes_and_lf_line_ends_give_the_same_session() -> None:
    assert parse_sdp(OFFER) == parse_sdp(OFFER.decode()) == parse_sdp(OFFER.replace(b"\r\n", b"\n"))


def test_media_level_connection_overrides_the_session() -> None:
    session = parse_sdp(
        sdp(
            "v=0",
            "o=- 1 1 IN IP4 198.51.100.1",
            "s=-",
            "c=IN IP4 198.51.100.1",
            "t=0 0",
            "m=audio 4000 RTP/AVP 0",
            "c=IN IP4 192.0.2.10",
            "m=video 4002 RTP/AVP 31",
            "m=audio 4004 RTP/AVP 0",
            "c=IN IP6 2001:db8::1",
        )
    )
    assert [effective_address(media) for media in session.media] == ["192.0.2.10", "198.51.100.1", "2001:db8::1"]
    assert session.media[2].connection == SdpConnection("IN", "IP6", "2001:db8::1")
    assert session.connection.address == "198.51.100.1"


def test_hold_by_address_and_by_direction() -> None:
    legacy = parse_sdp(sdp("v=0", "o=- 1 2 IN IP4 192.0.2.4", "s=-", "c=IN IP4 0.0.0.0", "t=0 0",
                           "m=audio 4000 RTP/AVP 0"))  # fmt: skip
    assert is_hold(legacy.media[0]) is True  # RFC 2543 style (RFC 3264 §8.4)
    session = parse_sdp(
        sdp(
            "v=0",
            "o=- 1 3 IN IP4 192.0.2.4",
            "s=-",
            "c=IN IP4 192.0.2.4",
            "t=0 0",
            "a=sendonly",
            "m=audio 4000 RTP/AVP 0",
            "m=video 4002 RTP/AVP 31",
            "a=sendrecv",
            "m=audio 4004 RTP/AVP 0",
            "a=inactive",
            "m=audio 4006 RTP/AVP 0",
            "a=recvonly",
        )
    )
    assert session.direction == "sendonly"
    assert [media.direction for media in session.media] == ["sendonly", "sendrecv", "inactive", "recvonly"]
    assert [is_hold(media) for media in session.media] == [True, False, True, False]


def test_direction_attribute_names_are_case_insensitive() -> None:
    session = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 192.0.2.4", "t=0 0",
                            "m=audio 4000 RTP/AVP 0", "a=SendOnly"))  # fmt: skip
    assert session.media[0].direction == "sendonly"


def test_rtcp_and_rtcp_mux() -> None:
    session = parse_sdp(
        sdp(
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.4",
            "s=-",
            "c=IN IP4 192.0.2.4",
            "t=0 0",
            "m=audio 49170 RTP/AVP 0",
            "a=rtcp:53020 IN IP4 126.16.64.4",
            "m=audio 49172 RTP/AVP 0",
            "a=rtcp:49173",
            "m=audio 49174 RTP/AVP 0",
            "a=rtcp-mux",
        )
    )
    assert [(media.rtcp, media.rtcp_mux) for media in session.media] == [
        (SdpRtcp(53020, "126.16.64.4", "IP4"), False),
        (SdpRtcp(49173), False),
        (None, True),
    ]


def test_sdes_crypto() -> None:
    session = parse_sdp(
        sdp(
            "v=0",
            "o=sam 2890844526 2890842807 IN IP4 192.0.2.5",
            "s=SRTP Discussion",
            "c=IN IP4 168.2.17.12",
            "t=2854678930 2854679000",
            "m=audio 49170 RTP/SAVP 0",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 "
            "UNENCRYPTED_SRTCP",
        )
    )
    audio = session.media[0]
    assert audio.proto == "RTP/SAVP"
    assert audio.crypto == (
        SdpCrypto(1, "AES_CM_128_HMAC_SHA1_80", "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"),
        SdpCrypto(
            2,
            "AES_CM_128_HMAC_SHA1_32",
            "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32",
            ("UNENCRYPTED_SRTCP",),
        ),
    )
    assert session.times == ((2854678930, 2854679000),)


WEBRTC = sdp(
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=ice-ufrag:sessUfrag",
    "a=ice-pwd:sessionPasswordSessionPassword",
    "a=fingerprint:SHA-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE",
    "a=setup:actpass",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0",
    "a=candidate:435653019 1 udp 1845501695 203.0.113.14 46243 typ srflx raddr 192.168.0.196 rport 46243 "
    "generation 0 network-id 1",
    "a=ice-ufrag:audioUfrag",
    "a=mid:0",
    "a=sendrecv",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=mid:1",
    "a=setup:active",
    "a=rtpmap:96 VP8/90000",
)


def test_webrtc_ice_dtls_and_bundle() -> None:
    session = parse_sdp(WEBRTC)
    assert session.anomalies == ()
    assert session.groups == (("BUNDLE", ("0", "1")),)
    assert session.connection is None
    audio, video = session.media
    assert (audio.mid, video.mid) == ("0", "1")
    assert (audio.ice_ufrag, audio.ice_pwd) == ("audioUfrag", "sessionPasswordSessionPassword")
    assert (video.ice_ufrag, video.ice_pwd) == ("sessUfrag", "sessionPasswordSessionPassword")
    fingerprint = SdpFingerprint(
        "sha-256", "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE"
    )
    assert audio.fingerprint == video.fingerprint == fingerprint
    assert (audio.setup, video.setup) == ("actpass", "active")
    assert audio.candidates == (
        IceCandidate("1467250027", 1, "UDP", 2122260223, "192.168.0.196", 46243, "host", None, None,
                     (("generation", "0"),)),
        IceCandidate("435653019", 1, "UDP", 1845501695, "203.0.113.14", 46243, "srflx", "192.168.0.196", 46243,
                     (("generation", "0"), ("network-id", "1"))),
    )  # fmt: skip
    assert (audio.rtcp_mux, audio.rtcp) == (True, SdpRtcp(9, "0.0.0.0", "IP4"))
    assert dict(audio.rtpmap)[111] == RtpMap("opus", 48000, 2)
    assert codec_names(audio) == ["opus", "PCMU"]
    # with ICE, c=0.0.0.0 is the trickle-ICE placeholder (RFC 8840 §4.1.1), not RFC 2543 hold
    assert audio.direction == video.direction == "sendrecv"
    assert (is_hold(audio), is_hold(video)) == (False, False)


def test_ice_lite_and_multicast_connections() -> None:
    session = parse_sdp(
        sdp(
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.4",
            "s=-",
            "c=IN IP4 224.2.36.42/127/3",
            "t=0 0",
            "a=ice-lite",
            "m=video 49170/2 RTP/AVP 31",
            "c=IN IP6 ff15::101/3",
        )
    )
    assert session.ice_lite is True
    assert session.connection == SdpConnection("IN", "IP4", "224.2.36.42", 127, 3)
    video = session.media[0]
    assert (video.port, video.port_count) == (49170, 2)
    assert video.connection == SdpConnection("IN", "IP6", "ff15::101", None, 3)


def test_static_payload_types_resolve_through_rfc3551() -> None:
    session = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 192.0.2.4", "t=0 0",
                            "m=audio 4000 RTP/AVP 0 3 4 8 9 13 18 96", "a=rtpmap:4 G723/8000"))  # fmt: skip
    audio = session.media[0]
    assert codec_names(audio) == ["PCMU", "GSM", "G723", "PCMA", "G722", "CN", "G729", "96"]
    assert rtpmap_for(audio, 9) == RtpMap("G722", 8000, 1)  # 8000 on the RTP clock (RFC 3551 §4.5.2)
    assert rtpmap_for(audio, 4) == RtpMap("G723", 8000)  # the rtpmap line wins over the table
    assert rtpmap_for(audio, 96) is None
    assert STATIC_PAYLOAD_TYPES[34] == RtpMap("H263", 90000)


def test_t38_image_stream() -> None:
    session = parse_sdp(
        sdp(
            "v=0",
            "o=IPP 782647527 782647407 IN IP4 10.33.6.100",
            "s=Phone-Call",
            "c=IN IP4 10.33.6.100",
            "t=0 0",
            "m=image 6012 udptl t38",
            "a=T38FaxVersion:0",
            "a=T38FaxRateManagement:transferredTCF",
        )
    )
    image = session.media[0]
    assert (image.media, image.proto, image.formats) == ("image", "udptl", ("t38",))
    assert codec_names(image) == ["t38"]
    assert image.attributes == (("T38FaxVersion", "0"), ("T38FaxRateManagement", "transferredTCF"))


def test_defects_are_anomalies_not_exceptions() -> None:
    session = parse_sdp(
        sdp(
            "v=1",
            "o=broken",
            "c=IN IP4",
            "m=audio port RTP/AVP 0",
            "m=audio 4000 RTP/AVP 0 31",
            "a=rtpmap:31 LPC",
            "a=rtpmap:x PCMU/8000",
            "a=fmtp:telephone-event 0-15",
            "a=ptime:twenty",
            "a=rtcp:x",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80",
            "a=fingerprint:sha-256",
            "a=candidate:1 1 udp 2122260223 192.168.0.196",
            "m =video 3227 RTP/AVP 31",
            "",
            "garbage",
        ),
        frame=42,
    )
    assert [a.code for a in session.anomalies] == [
        "sdp.bad-version",
        "sdp.bad-origin",
        "sdp.bad-connection",
        "sdp.bad-media",
        "sdp.bad-rtpmap",
        "sdp.bad-rtpmap",
        "sdp.bad-fmtp",
        "sdp.bad-attribute",
        "sdp.bad-attribute",
        "sdp.bad-attribute",
        "sdp.bad-attribute",
        "sdp.bad-attribute",
        "sdp.bad-line",
        "sdp.bad-line",
        "sdp.bad-line",
        "sdp.missing-line",
        "sdp.missing-line",
        "sdp.missing-connection",
    ]
    assert session.anomalies[-3:] == (
        Anomaly("sdp.missing-line", 42, "no s= (session name) line (RFC 8866 §5)"),
        Anomaly("sdp.missing-line", 42, "no t= (timing) line (RFC 8866 §5)"),
        Anomaly("sdp.missing-connection", 42, "media 1 (audio) has no c= line and the session none"),
    )
    (audio,) = session.media  # the m= line with a bad port is left out
    assert audio.rtpmap == ((31, RtpMap("LPC", None)),)
    assert codec_names(audio) == ["PCMU", "LPC"]
    assert effective_address(audio) is None


def test_empty_body() -> None:
    session = parse_sdp(b"")
    assert session.media == ()
    assert [a.code for a in session.anomalies] == ["sdp.missing-line"] * 4
