"""Voice codecs as the E-model sees them: RTP identity, packetization, delay, and ITU-T G.113 impairment factors.

Keyed by the encoding name of SDP `a=rtpmap` (RFC 8866 §6.6), case-insensitive; static payload types resolve through
RFC 3551 tables 4 and 5 (`sipdiag.parsers.sdp.STATIC_PAYLOAD_TYPES`, kept in one place).

Impairment values and where they come from (RULES.md §1.4 and its legend: [K] standard text cited without re-reading,
[V] checked in the cited source, [P] provisional; whatever is computed with a [P] value is an *estimate*):

- `ie` is the equipment impairment factor (G.107 §7.5) on the codec's E-model scale: the narrowband 0–100 scale of
  G.107 with the G.113 Appendix I planning values, or the 0–129 wideband scale of G.107.1 with the G.113 Appendix IV
  Ie,WB values.
- `bpl` is the packet-loss robustness factor (G.107 §7.5, G.113 Appendix I), the value *with* packet-loss
  concealment where the codec or the usual receiver has one; `bpl_no_plc` is the value without it (G.711 only).
- `ie_standard` / `bpl_standard` say whether the value is the ITU-T planning value (as reproduced by RULES.md or an
  implementation or vendor planning guide read for it) or a provisional one. `standard` is both.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipdiag.parsers.sdp import STATIC_PAYLOAD_TYPES

__all__ = ["CODECS", "NARROWBAND", "VIDEO_CLOCK", "WIDEBAND", "Codec", "codec_info", "static_payload_encoding"]

# RFC 3551 §5 and table 5: every video payload format counts at 90 kHz (their packet timing is not speech's)
VIDEO_CLOCK = 90000
NARROWBAND = "narrowband"  # G.107 scale, R 0..100 (300–3400 Hz speech)
WIDEBAND = "wideband"  # G.107.1 scale, R 0..129 (50–7000 Hz speech)


@dataclass(frozen=True, slots=True)
class Codec:
    """One codec (or one mode of a codec) with what the E-model needs.

    name: the rtpmap encoding name as usually written (`PCMU`, `G729`, `opus`); lookups ignore case.
    description: what a report calls it (`G.711 μ-law`); description_ru: what a Russian report calls it, where that
        differs (`G.726 32 кбит/с`; None: the same).
    clock_rate: RTP timestamp rate in Hz (RFC 3551 or the payload format's RFC), not always the sampling rate.
    ptime_ms: default packetization interval (RFC 3551 §4.5 per codec, or the payload format's default).
    bitrate_kbps: nominal codec bit rate without RTP/UDP/IP overhead.
    audio_band: `narrowband`, `wideband` or `fullband`: the speech band the codec carries.
    scale: the E-model scale its `ie`/`bpl` are given on: `narrowband` (G.107) or `wideband` (G.107.1).
    ie, bpl, bpl_no_plc: see the module docstring.
    algorithmic_delay_ms: frame + look-ahead, the "codec" term of the mouth-to-ear estimate (RULES.md §1.4).
    ie_standard, bpl_standard: False where the value is provisional ([P]); results using it are estimates.
    source: where the impairment values come from, for the engineer text.
    """

    name: str
    description: str
    clock_rate: int
    ptime_ms: int
    bitrate_kbps: float
    audio_band: str
    scale: str
    ie: float
    bpl: float
    algorithmic_delay_ms: float
    ie_standard: bool
    bpl_standard: bool
    source: str
    bpl_no_plc: float | None = None
    description_ru: str | None = None

    def description_in(self, lang: str) -> str:
        return self.description_ru if lang == "ru" and self.description_ru else self.description

    @property
    def standard(self) -> bool:
        """Both impairment factors are ITU-T planning values (G.113), none is provisional."""
        return self.ie_standard and self.bpl_standard

    @property
    def wideband(self) -> bool:
        """Rated on the G.107.1 wideband scale (R up to 129)."""
        return self.scale == WIDEBAND


# G.711: Ie 0 is the reference of the Ie scale (G.113 §5); Bpl 25.1 with the G.711 Appendix I concealment and 4.3
# without (G.113 App. I; OPAL metrics.cxx uses 0/25.1 "according to ITU-T G.113" [V]). Most phones and SBCs conceal
# lost G.711 frames, so 25.1 is the default and `plc=False` in `r_factor` selects 4.3.
_G711_SOURCE = "G.113 App. I: Ie 0; Bpl 25.1 with PLC (G.711 App. I), 4.3 without"

_TABLE: tuple[Codec, ...] = (
    Codec("PCMU", "G.711 μ-law", 8000, 20, 64.0, NARROWBAND, NARROWBAND, ie=0.0, bpl=25.1, bpl_no_plc=4.3,
          algorithmic_delay_ms=0.125, ie_standard=True, bpl_standard=True, source=_G711_SOURCE),
    Codec("PCMA", "G.711 A-law", 8000, 20, 64.0, NARROWBAND, NARROWBAND, ie=0.0, bpl=25.1, bpl_no_plc=4.3,
          algorithmic_delay_ms=0.125, ie_standard=True, bpl_standard=True, source=_G711_SOURCE),
    # RTP "G729" (PT 18, RFC 3551 §4.5.6) does not tell G.729 from the bit-compatible G.729 Annex A that nearly every
    # phone runs; G.113 App. I gives Ie 11 / Bpl 19.0 for G.729A + VAD (OPAL [V]) and Ie 10 for full G.729 (Mitel
    # planning guide [V vendor]) with no Bpl of its own, so the G.729A pair is used for both names.
    # Delay: 10 ms frame + 5 ms look-ahead (RULES.md §1.4).
    Codec("G729", "G.729A", 8000, 20, 8.0, NARROWBAND, NARROWBAND, ie=11.0, bpl=19.0, algorithmic_delay_ms=15.0,
          ie_standard=True, bpl_standard=True, source="G.113 App. I: G.729A + VAD, Ie 11, Bpl 19.0"),
    # G.723.1 at 6.3 kbit/s + VAD: Ie 15, Bpl 16.1 (G.113 App. I; OPAL [V]); 30 ms frame + 7.5 ms look-ahead.
    Codec("G723", "G.723.1 6.3 kbit/s", 8000, 30, 6.3, NARROWBAND, NARROWBAND, ie=15.0, bpl=16.1,
          algorithmic_delay_ms=37.5, ie_standard=True, bpl_standard=True,
          source="G.113 App. I: G.723.1 6.3 kbit/s + VAD, Ie 15, Bpl 16.1",
          description_ru="G.723.1 6.3 кбит/с"),
    # 5.3 kbit/s: Ie 19 (G.113 Table I.1 as reproduced by the Nortel planning manual [V vendor]); no Bpl of its own,
    # the 6.3 kbit/s value is borrowed [P].
    Codec("G723", "G.723.1 5.3 kbit/s", 8000, 30, 5.3, NARROWBAND, NARROWBAND, ie=19.0, bpl=16.1,
          algorithmic_delay_ms=37.5, ie_standard=True, bpl_standard=False,
          source="G.113 App. I: Ie 19; Bpl of the 6.3 kbit/s mode [P]",
          description_ru="G.723.1 5.3 кбит/с"),
    # G.728 LD-CELP 16 kbit/s: Ie 7 (G.113 Table I.1, reproduced in an ICAO working paper [V secondary]); no Bpl is
    # given, 4.3 (no concealment) is assumed [P]. Delay: one 5-sample vector, 0.625 ms (low-delay CELP).
    Codec("G728", "G.728", 8000, 20, 16.0, NARROWBAND, NARROWBAND, ie=7.0, bpl=4.3, algorithmic_delay_ms=0.625,
          ie_standard=True, bpl_standard=False, source="G.113 App. I: Ie 7; Bpl 4.3 assumed (no PLC) [P]"),
    # G.726 ADPCM 32 kbit/s: Ie 7 (G.113 Table I.1 per the Mitel planning guide [V vendor]); Bpl 4.3 [P] as G.726 has
    # no built-in concealment. Other G.726 rates: Ie 2 (40), 25 (24), 50 (16) are the G.113 Table I.1 values as
    # remembered, not re-read here [P].
    Codec("G726-32", "G.726 32 kbit/s", 8000, 20, 32.0, NARROWBAND, NARROWBAND, ie=7.0, bpl=4.3,
          algorithmic_delay_ms=0.125, ie_standard=True, bpl_standard=False,
          source="G.113 App. I: Ie 7; Bpl 4.3 (no PLC) [P]",
          description_ru="G.726 32 кбит/с"),
    Codec("G726-40", "G.726 40 kbit/s", 8000, 20, 40.0, NARROWBAND, NARROWBAND, ie=2.0, bpl=4.3,
          algorithmic_delay_ms=0.125, ie_standard=False, bpl_standard=False, source="Ie 2, Bpl 4.3 [P]",
          description_ru="G.726 40 кбит/с"),
    Codec("G726-24", "G.726 24 kbit/s", 8000, 20, 24.0, NARROWBAND, NARROWBAND, ie=25.0, bpl=4.3,
          algorithmic_delay_ms=0.125, ie_standard=False, bpl_standard=False, source="Ie 25, Bpl 4.3 [P]",
          description_ru="G.726 24 кбит/с"),
    Codec("G726-16", "G.726 16 kbit/s", 8000, 20, 16.0, NARROWBAND, NARROWBAND, ie=50.0, bpl=4.3,
          algorithmic_delay_ms=0.125, ie_standard=False, bpl_standard=False, source="Ie 50, Bpl 4.3 [P]",
          description_ru="G.726 16 кбит/с"),
    # GSM 06.10 full rate (PT 3): Ie 20 (G.113 Table I.1; OPAL [V]); Bpl 10 as OPAL uses, not verified [P].
    # 20 ms frame, no look-ahead.
    Codec("GSM", "GSM full rate", 8000, 20, 13.0, NARROWBAND, NARROWBAND, ie=20.0, bpl=10.0,
          algorithmic_delay_ms=20.0, ie_standard=True, bpl_standard=False,
          source="G.113 App. I: Ie 20; Bpl 10 (OPAL) [P]",
          description_ru="GSM FR (полноскоростной)"),
    # GSM 06.60 enhanced full rate: Ie 5, Bpl 10.0 (G.113 App. I as cited by RULES.md, not re-read).
    Codec("GSM-EFR", "GSM enhanced full rate", 8000, 20, 12.2, NARROWBAND, NARROWBAND, ie=5.0, bpl=10.0,
          algorithmic_delay_ms=20.0, ie_standard=True, bpl_standard=True, source="G.113 App. I: Ie 5, Bpl 10.0",
          description_ru="GSM EFR (улучшенный полноскоростной)"),
    # AMR-NB: the GSM-EFR values hold for the 12.2 kbit/s mode only (same ACELP) [P]; lower modes impair more and
    # are not modelled. 20 ms frame + 5 ms look-ahead.
    Codec("AMR", "AMR-NB (12.2 kbit/s mode)", 8000, 20, 12.2, NARROWBAND, NARROWBAND, ie=5.0, bpl=10.0,
          algorithmic_delay_ms=25.0, ie_standard=False, bpl_standard=False,
          source="GSM-EFR values applied to AMR 12.2 [P]",
          description_ru="AMR-NB (режим 12.2 кбит/с)"),
    # iLBC (RFC 3951/3952): no verified G.113 value; G.729A-like defaults flagged low-confidence (RULES.md §1.4) [P].
    # Modes: 30 ms frames at 13.33 kbit/s, 40 ms algorithmic delay; 20 ms frames at 15.2 kbit/s, 25 ms (RFC 3951).
    # The 30 ms mode is listed first: the mode assumed when the fmtp `mode` is absent (RFC 3952 §5 [K]).
    Codec("iLBC", "iLBC 30 ms mode", 8000, 30, 13.33, NARROWBAND, NARROWBAND, ie=11.0, bpl=19.0,
          algorithmic_delay_ms=40.0, ie_standard=False, bpl_standard=False,
          source="no G.113 value; G.729A-like Ie 11, Bpl 19 [P]",
          description_ru="iLBC, режим 30 мс"),
    Codec("iLBC", "iLBC 20 ms mode", 8000, 20, 15.2, NARROWBAND, NARROWBAND, ie=11.0, bpl=19.0,
          algorithmic_delay_ms=25.0, ie_standard=False, bpl_standard=False,
          source="no G.113 value; G.729A-like Ie 11, Bpl 19 [P]",
          description_ru="iLBC, режим 20 мс"),
    # Speex narrowband (8 kbit/s quality mode resembles G.729): G.729A-like values [P]. 20 ms frame + 10 ms
    # look-ahead (Speex manual) [P].
    Codec("speex", "Speex", 8000, 20, 8.0, NARROWBAND, NARROWBAND, ie=11.0, bpl=19.0, algorithmic_delay_ms=30.0,
          ie_standard=False, bpl_standard=False, source="no G.113 value; G.729A-like Ie 11, Bpl 19 [P]"),
    # Linear PCM: no coding distortion, so Ie 0 on the narrowband scale like the G.711 reference; no concealment
    # assumed [P]. RFC 3551 static PTs 10/11 are 44.1 kHz; dynamic L16 at 8 or 16 kHz is the VoIP case.
    Codec("L16", "linear PCM", 8000, 20, 128.0, NARROWBAND, NARROWBAND, ie=0.0, bpl=4.3, bpl_no_plc=4.3,
          algorithmic_delay_ms=0.0, ie_standard=True, bpl_standard=False,
          source="uncompressed: Ie 0; Bpl 4.3 (no PLC) [P]",
          description_ru="линейный PCM"),
    # Opus (RFC 6716/7587; RTP clock always 48000): fullband codec without a narrowband G.113 value (G.107.2 /
    # G.113 App. V would rate it on the fullband scale). RULES.md §1.4: report an estimate with Ie 0 and Bpl 25 on
    # the narrowband scale [P]. Delay 26.5 ms at 20 ms frames (RFC 6716).
    Codec("opus", "Opus", 48000, 20, 32.0, "fullband", NARROWBAND, ie=0.0, bpl=25.0, algorithmic_delay_ms=26.5,
          ie_standard=False, bpl_standard=False, source="no G.113 value; RULES.md default Ie 0, Bpl 25 [P]"),
    # SILK (Opus's speech layer, also used alone by older Skype clients): Opus's provisional values [P];
    # 20 ms frame + 5 ms look-ahead [P].
    Codec("SILK", "SILK", 16000, 20, 20.0, WIDEBAND, NARROWBAND, ie=0.0, bpl=25.0, algorithmic_delay_ms=25.0,
          ie_standard=False, bpl_standard=False, source="no G.113 value; Opus's provisional Ie 0, Bpl 25 [P]"),
    # G.722 SB-ADPCM 64 kbit/s, rated on the G.107.1 wideband scale. Ie,WB: RULES.md gives 13-14 (G.113 App. IV is
    # the normative source [K]; the Mitel planning guide lists 14 [V vendor]); 13 is used [P]. No verified Bpl; the
    # AMR-WB provisional value is used [P]. RTP clock 8000 although it samples at 16 kHz (RFC 3551 §4.5.2).
    # Delay: QMF filter bank, about 1.5 ms [P].
    Codec("G722", "G.722 64 kbit/s", 8000, 20, 64.0, WIDEBAND, WIDEBAND, ie=13.0, bpl=13.0,
          algorithmic_delay_ms=1.5, ie_standard=False, bpl_standard=False,
          source="G.113 App. IV Ie,WB 13-14 (not verified) [P]; Bpl 13 [P]",
          description_ru="G.722 64 кбит/с"),
    # AMR-WB (G.722.2) 12.65 kbit/s: Ie,WB about 13 and Bpl about 13 from a secondary implementation (RULES.md) [P].
    # 20 ms frame + 5 ms look-ahead.
    Codec("AMR-WB", "AMR-WB 12.65 kbit/s", 16000, 20, 12.65, WIDEBAND, WIDEBAND, ie=13.0, bpl=13.0,
          algorithmic_delay_ms=25.0, ie_standard=False, bpl_standard=False,
          source="Ie,WB 13, Bpl 13 from a secondary implementation [P]",
          description_ru="AMR-WB 12.65 кбит/с"),
)  # fmt: skip

#: Every codec entry, keyed by lower-case encoding name; modes of one encoding (iLBC 20/30 ms, G.723.1 6.3/5.3)
#: are listed with the default mode first.
CODECS: dict[str, tuple[Codec, ...]] = {}
for _codec in _TABLE:
    CODECS.setdefault(_codec.name.lower(), ())
    CODECS[_codec.name.lower()] += (_codec,)

# Other spellings met in SDP for the same entries.
_ALIASES = {
    "g729a": "g729",  # not a registered rtpmap name, but some equipment writes it
    "g729ab": "g729",
    "g7231": "g723",
    "g726": "g726-32",  # "G726" without rate in some devices' SDP: 32 kbit/s is the common rate
    "aal2-g726-32": "g726-32",  # RFC 3551 §4.5.4 notes the AAL2 bit order variant
    "gsm-fr": "gsm",
    "amr-nb": "amr",
    "g7222": "amr-wb",
    "speex-nb": "speex",
}


def codec_info(
    encoding: str, *, mode_ms: int | None = None, ptime_ms: float | None = None, bitrate_kbps: float | None = None
) -> Codec | None:
    """The table entry for an rtpmap encoding name (case-insensitive), or None when the E-model has no values for it
    (telephone-event, CN, video, an unknown codec).

    Codecs with several modes (iLBC, G.723.1) return the default mode unless one of these picks another:

    :param mode_ms: the iLBC fmtp `mode` (20 or 30; RFC 3952 §5).
    :param ptime_ms: the packetization seen or negotiated; picks the only mode whose frame divides it (iLBC 40 ms
        packets → 20 ms mode; 60 ms fits both and keeps the default).
    :param bitrate_kbps: the G.723.1 rate (5.3 or 6.3; RFC 4856 `bitrate` fmtp).
    """
    key = encoding.strip().lower()
    entries = CODECS.get(_ALIASES.get(key, key), ())
    if len(entries) <= 1:
        return entries[0] if entries else None
    if mode_ms is not None:
        for codec in entries:
            if codec.ptime_ms == mode_ms:
                return codec
    if bitrate_kbps is not None:
        for codec in entries:
            if abs(codec.bitrate_kbps - bitrate_kbps) < 0.05:
                return codec
    if ptime_ms is not None:
        fitting = [codec for codec in entries if ptime_ms > 0 and ptime_ms % codec.ptime_ms == 0]
        if len(fitting) == 1:
            return fitting[0]
    return entries[0]


def static_payload_encoding(payload_type: int) -> str | None:
    """The encoding name of a static RTP payload type (RFC 3551 tables 4 and 5), e.g. 0 → "PCMU", 18 → "G729";
    None for dynamic (96–127) and unassigned types, whose encoding only the SDP `a=rtpmap` gives."""
    rtpmap = STATIC_PAYLOAD_TYPES.get(payload_type)
    return rtpmap.encoding if rtpmap else None
