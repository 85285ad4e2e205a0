"""`sipdiag analyze FILE --format html`: one self-contained page; its facts, ladders, charts and E-model factors;
hostile header values inert (parsed as XML and as HTML, and in headless Chromium); caps for large captures."""

from __future__ import annotations

import fnmatch
import io
import re
import struct
import tomllib
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.checks import Finding
from sipdiag.cli import cli
from sipdiag.reports.findinggroups import ordered_findings
from sipdiag.reports.html import HtmlLimits, render_html
from sipdiag.reports.htmltexts import TEXTS
from sipdiag.reports.safe import printable
from tests import hostilecapture as hostile
from tests.chromium import chromium_path, open_page
from tests.conftest import ROOT, SAMPLES

XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
RTP_LOSS = SAMPLES / "rtp_loss.pcap"
# Every element the report writes; anything else in a page would have been injected.
OUR_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p", "span", "nav",
            "a", "section", "table", "tr", "th", "td", "div", "article", "dl", "dt", "dd", "code", "br", "strong",
            "figure", "figcaption", "footer", "details", "summary", "svg", "g", "text", "line", "polygon", "path",
            "polyline", "rect"}
CONTROL_OR_BIDI = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def analyze_html(capture: Path, out: Path, *args: str) -> int:
    """The CLI as tests/integration/test_cli.py runs it; the page is written to `out`."""
    result = CliRunner().invoke(cli, ["analyze", str(capture), "--format", "html", "-o", str(out), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.output == ""
    return result.exit_code


def text(e: ET.Element) -> str:
    return " ".join("".join(e.itertext()).split())


def rows(root: ET.Element, section: str) -> list[list[str]]:
    """The cells of every row of the tables in `<section id=...>`."""
    sec = next(s for s in root.iter(f"{XHTML}section") if s.get("id") == section)
    return [[text(c) for c in tr] for tr in sec.iter(f"{XHTML}tr")]


def by_id(root: ET.Element, ident: str) -> ET.Element:
    return next(e for e in root.iter() if e.get("id") == ident)


class Tags(HTMLParser):
    """Every start tag as an HTML parser (the browser's rules) sees it, with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def html_tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


@pytest.fixture(scope="module")
def hostile_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.hostile_capture(tmp_path_factory.mktemp("hostile") / "hostile.pcap")


@pytest.fixture(scope="module")
def rtp_loss_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert analyze_html(RTP_LOSS, out) == 1  # a major finding: exit 1 as for every format
    return out


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory, hostile_pcap: Path) -> Path:
    out = tmp_path_factory.mktemp("html") / "hostile.html"
    assert analyze_html(hostile_pcap, out) == 1
    return out


# ------------------------------------------------------------------------------------------------ the content

def test_summary_findings_calls_and_streams_of_a_lab_capture(rtp_loss_page: Path) -> None:
    root = ET.parse(rtp_loss_page).getroot()  # well-formed XML as well as HTML
    assert root.get("lang") == "en"
    assert text(root.find(f"{XHTML}head/{XHTML}title")) == "sipdiag report: " + str(RTP_LOSS)
    assert rows(root, "summary")[:11] == [
        ["Capture", str(RTP_LOSS)], ["Format", "pcap; link types: ethernet"], ["Packets", "302"],
        ["Time (UTC)", "2026-11-22T15:56:28.458560+00:00 .. 2026-11-22T15:56:32.270563+00:00"],
        ["Duration", "3.812 s"], ["SIP", "7 messages; udp 7"], ["RTP", "293 packets in 2 streams; RTCP 0 packets"],
        ["Findings", "1"], ["Calls", "1"], ["Registrations", "0"], ["Anomalies", "0"]]
    assert rows(root, "summary")[11:] == [["Requests", "Count"], ["INVITE", "1"], ["ACK", "1"], ["BYE", "1"],
                                          ["Responses", "Count"], ["100", "1"], ["180", "1"], ["200", "2"]]
    (finding,) = sipdiag.analyze(RTP_LOSS).findings
    article = by_id(root, "finding-1")
    assert article.get("class") == "finding major"
    facts = dict(zip((text(dt) for dt in article.iter(f"{XHTML}dt")), (text(dd) for dd in article.iter(f"{XHTML}dd")),
                     strict=True))
    assert facts["Owner"] == "engineering; category media; confidence high"
    assert facts["Call"] == "#1 rtp_loss-1@sdlab"
    assert facts["For the customer"] == finding.customer_text["en"]
    assert facts["For the engineer"] == finding.engineer_text["en"]
    assert facts["Frames"] == "8"
    assert facts["lost"] == "7" and facts["loss_pct"] == "4.7" and facts["stream"] == (
        "203.0.113.2:6000 -> 203.0.113.10:7000 0x5d1a0001")
    assert rows(root, "calls") == [
        ["#", "Call-ID", "Caller", "Callee", "Start", "Outcome", "Final", "Setup, ms", "Answer, ms", "Duration, s",
         "Transport", "User agent"],
        ["1", "rtp_loss-1@sdlab", "sip:100@203.0.113.10", "sip:300@203.0.113.10", "2026-11-22T15:56:28.458596+00:00",
         "answered", "200", "1", "304", "3.5", "udp", "sdlab-phone/1.0; sdlab-pbx/1.0"]]
    assert rows(root, "details") == [
        ["From", '"100" <sip:100@203.0.113.10> at 203.0.113.2:5060'],
        ["To", "<sip:300@203.0.113.10> at 203.0.113.10:5060"],
        ["Start", "2026-11-22T15:56:28.458596+00:00, frame 3, udp"], ["Outcome", "answered, 200 OK"],
        ["Timings", "setup 1 ms, answer 304 ms, duration 3.5 s"], ["Ended", "BYE from the caller, frame 301"],
        ["User agents", "sdlab-phone/1.0sdlab-pbx/1.0"], ["Media", "audio flows both ways; stream 1, stream 2"]]
    streams = rows(root, "streams")
    assert streams[:3] == [
        ["#", "Source", "Destination", "SSRC", "Codec", "Packets", "Lost", "Max delta, ms", "Max jitter, ms",
         "Mean jitter, ms", "MOS", "Call", "Bound by"],
        ["1", "203.0.113.2:6000", "203.0.113.10:7000", "0x5d1a0001", "PCMU", "143", "7 (4.7%)", "40.002", "1.237",
         "0.167", "3.88", "#1", "sdp"],
        ["2", "203.0.113.10:7000", "203.0.113.2:6000", "0x5d1a0003", "PCMU", "150", "0 (0.0%)", "20.099", "1.247",
         "0.143", "4.37", "#1", "sdp"]]
    # Stream 1's E-model factors: what took its MOS from the codec's 4.41 down to 3.88.
    assert streams[3:9] == [
        ["Factor", "R points lost", "Why"], ["codec", "0.0", "G.711 μ-law has no coding impairment"],
        ["loss", "14.9", "4.7 % of packets lost in the network (Bpl 25.1, with loss concealment)"],
        ["burst", "0.0", "losses are random (BurstR 1.0)"],
        ["jitter buffer", "0.0", "no packet arrives too late for a 50 ms buffer"],
        ["delay", "1.9", "estimated one-way delay 80 ms without the unknown network part (jitter buffer 50 + "
                         "packetization 20 + codec 0.125 + devices 10)"]]
    card = by_id(root, "stream-1")
    assert text(card.find(f"{XHTML}p")) == "PCMU, 143 packets, 7 lost (4.7%), jitter up to 1.2 ms; call #1 " \
                                           "(caller->callee, sdp)"
    assert "MOS 3.88 (fair); R factor 76.4 / 93.2; best for the codec 4.41" in text(card)
    assert "call_id" not in facts  # the finding names its call once; the *_en/*_ru text fillers are not evidence


def test_the_ladder_is_an_svg_of_every_message(rtp_loss_page: Path) -> None:
    root = ET.parse(rtp_loss_page).getroot()
    (ladder,) = (s for s in root.iter(f"{SVG}svg") if s.get("class") == "ladder")
    assert ladder.get("data-call") == "1"
    hosts = [text(t) for t in ladder.iter(f"{SVG}text") if t.get("class") == "host"]
    assert hosts == ["203.0.113.2:5060", "203.0.113.10:5060"]
    messages = [g for g in ladder.iter(f"{SVG}g") if "msg" in g.get("class", "").split()]
    assert [(g.get("data-frame"), g.get("class"), [text(t) for t in g.iter(f"{SVG}text")]) for g in messages] == [
        ("3", "msg request", ["3", "+0.000", "INVITE +SDP"]), ("4", "msg other", ["4", "+0.000", "100 Trying"]),
        ("5", "msg other", ["5", "+0.001", "180 Ringing"]), ("6", "msg success", ["6", "+0.304", "200 OK +SDP"]),
        ("7", "msg request", ["7", "+0.305", "ACK"]), ("301", "msg request", ["301", "+3.812", "BYE"]),
        ("302", "msg success", ["302", "+3.812", "200 OK (BYE)"])]
    xs = [float(line.get("x1")) for line in ladder.iter(f"{SVG}line") if line.get("class") == "lifeline"]
    shafts = [(float(line.get("x1")), float(line.get("x2"))) for g in messages for line in g.iter(f"{SVG}line")]
    # Requests run caller -> callee (left to right), responses back; each shaft starts on a lifeline.
    assert [x2 > x1 for x1, x2 in shafts] == [True, False, False, False, True, True, False]
    assert all(x1 in xs for x1, _ in shafts)
    assert [text(m.find(f"{SVG}title")) for m in messages][0] == (
        "INVITE +SDP (frame 3, +0.000 s, 203.0.113.2:5060 -> 203.0.113.10:5060)")


def test_jitter_and_loss_charts_per_stream(rtp_loss_page: Path) -> None:
    root = ET.parse(rtp_loss_page).getroot()
    card = by_id(root, "stream-1")
    charts = {s.get("class"): s for s in card.iter(f"{SVG}svg") if "chart" in s.get("class", "")}
    assert set(charts) == {"chart jitter", "chart loss"}
    m = sipdiag.analyze(RTP_LOSS).streams[0]
    lost = {int(s): int(n) for s, n in zip(m.series.second, m.series.lost, strict=True) if n}
    bars = [text(r.find(f"{SVG}title")) for r in charts["chart loss"].iter(f"{SVG}rect")]
    assert bars == [f"{s} s: {n} lost" for s, n in sorted(lost.items())]
    assert sum(lost.values()) == 7  # every lost packet of the stream is in the chart
    (line,) = charts["chart jitter"].iter(f"{SVG}polyline")
    assert len(line.get("points").split()) == len(m.series.second)  # one point per second with packets
    factors = next(s for s in card.iter(f"{SVG}svg") if s.get("class") == "factors")
    assert [(r.get("class"), text(r.find(f"{SVG}title")).split(" (")[0]) for r in factors.iter(f"{SVG}rect")] == [
        ("f-achieved", "R kept: 76.4 R"), ("f-loss", "loss: 14.9 R"), ("f-delay", "delay: 1.9 R")]


def test_russian_page(tmp_path: Path) -> None:
    out = tmp_path / "ru.html"
    assert analyze_html(RTP_LOSS, out, "--lang", "ru") == 1
    root = ET.parse(out).getroot()
    assert root.get("lang") == "ru"
    assert [text(h) for h in root.iter(f"{XHTML}h2")] == [
        "Сводка", "Проблемы (1)", "Вызовы (1)", "Подробности вызовов (1)", "Потоки RTP (2)", "Регистрации (0)",
        "Аномалии (0)"]
    (finding,) = sipdiag.analyze(RTP_LOSS).findings
    facts = [text(dd) for dd in by_id(root, "finding-1").iter(f"{XHTML}dd")]
    assert finding.customer_text["ru"] in facts and finding.engineer_text["ru"] in facts
    assert ["Время", "установление 1 мс, ответ 304 мс, длительность 3.5 с"] in rows(root, "details")
    assert set(TEXTS["ru"]) == set(TEXTS["en"])
    # in Russian, without the English of the data ("3.812 s", "answered", "excellent", "audio flows both ways",
    # "at") and without counts the nouns do not agree with ("293 пакетов в 2 потоках")
    assert rows(root, "summary")[4:7] == [["Длительность", "3.812 с"], ["SIP", "сообщений: 7; udp 7"],
                                          ["RTP", "пакетов: 293, потоков: 2; пакетов RTCP: 0"]]
    assert rows(root, "calls")[1][5] == "отвечен"
    assert rows(root, "details")[:4] == [
        ["От", '"100" <sip:100@203.0.113.10> (203.0.113.2:5060)'], ["Кому", "<sip:300@203.0.113.10> (203.0.113.10:5060)"],
        ["Начало", "2026-11-22T15:56:28.458596+00:00, кадр 3, udp"], ["Итог", "отвечен, 200 OK"]]
    assert ["Медиа", "Звук идёт в обе стороны; поток 1, поток 2"] in rows(root, "details")
    assert [text(p) for p in root.iter(f"{XHTML}p") if text(p).startswith("MOS")] == [
        "MOS 3.88 (удовлетворительно); R-фактор 76.4 / 93.2; лучшее для кодека 4.41",
        "MOS 4.37 (отлично); R-фактор 91.3 / 93.2; лучшее для кодека 4.41"]
    # the E-model's explanations too, in the table and in the factor bar's tooltips ("G.711 μ-law has no coding
    # impairment" on the Russian page before)
    card = by_id(root, "stream-1")
    assert [[text(c) for c in tr] for tr in card.iter(f"{XHTML}tr")] == [
        ["Фактор", "Потеря R", "Почему"],
        ["кодек", "0.0", "G.711 μ-law: искажений кодирования нет"],
        ["потери", "14.9", "в сети потеряно 4.7 % пакетов (Bpl 25.1, с маскированием потерь)"],
        ["пачки потерь", "0.0", "потери случайные (BurstR 1.0)"],
        ["джиттер-буфер", "0.0", "для буфера 50 мс ни один пакет не опаздывает"],
        ["задержка", "1.9", "оценка односторонней задержки 80 мс без неизвестной сетевой части (джиттер-буфер 50 + "
                            "пакетизация 20 + кодек 0.125 + устройства 10)"]]
    factors = next(s for s in card.iter(f"{SVG}svg") if s.get("class") == "factors")
    assert [text(r.find(f"{SVG}title")) for r in factors.iter(f"{SVG}rect")] == [
        "Остаток R: 76.4 R (R 76.4 из 93.2)",
        "потери: 14.9 R (в сети потеряно 4.7 % пакетов (Bpl 25.1, с маскированием потерь))",
        "задержка: 1.9 R (оценка односторонней задержки 80 мс без неизвестной сетевой части (джиттер-буфер 50 + "
        "пакетизация 20 + кодек 0.125 + устройства 10))"]


def test_one_call_only(tmp_path: Path, hostile_pcap: Path) -> None:
    out = tmp_path / "one.html"
    assert analyze_html(hostile_pcap, out, "--call", "#2") == 1  # the scanner finding (no call) is major
    root = ET.parse(out).getroot()
    assert [r[0] for r in rows(root, "calls")[1:]] == ["2"]
    assert [s.get("data-call") for s in root.iter(f"{SVG}svg") if s.get("class") == "ladder"] == ["2"]
    assert [text(a.find(f"{XHTML}div/{XHTML}code")) for a in root.iter(f"{XHTML}article")] == [
        # the scanner's own call: its private Contact is folded into the scanner finding that explains the call
        "sec.scanner-detected", "call.failure-response"]
    assert not any(s.get("id") in ("registrations", "anomalies") for s in root.iter(f"{XHTML}section"))
    assert rows(root, "streams") == []  # the refused call had no media


# --------------------------------------------------------------------------------------------- hostile input

def test_hostile_headers_are_escaped_text(hostile_page: Path) -> None:
    page = hostile_page.read_text(encoding="utf-8")
    assert CONTROL_OR_BIDI.findall(page) == []
    # As a browser parses it: only our elements, no script, no event handler, no link leaving the page.
    tags = html_tags(page)
    assert {tag for tag, _ in tags} <= OUR_TAGS
    assert [tag for tag, _ in tags].count("script") == 0
    assert [name for _, attrs in tags for name in attrs if name.startswith("on")] == []
    assert {attrs["href"][0] for tag, attrs in tags if tag == "a"} == {"#"}
    assert [tag for tag, _ in tags].count("svg") == 2 + 2 * 2 + 1  # 2 ladders, 2 streams x 2 charts, 1 factor bar
    # As a strict XML parser reads it: the same elements, so no payload closed one or opened another.
    root = ET.parse(hostile_page).getroot()
    assert Counter(e.tag.split("}")[1] for e in root.iter()) == Counter(tag for tag, _ in tags)
    call_id = printable(hostile.CALL_ID)
    assert text(by_id(root, "call-1").find(f"{XHTML}h3")) == f"Call #1 {call_id}"
    details = dict((r[0], r[1]) for r in rows(root, "details") if len(r) == 2)
    assert details["From"] == " ".join(f'"{printable(hostile.DISPLAY)}" <sip:100@example.com> at '
                                       f"198.51.100.7:5060".split())
    assert details["User agents"] == " ".join(printable(hostile.USER_AGENT).split())
    assert [r[11] for r in rows(root, "calls")[1:]] == [" ".join(printable(hostile.USER_AGENT).split())] * 2
    refused = [g for g in root.iter(f"{SVG}g") if g.get("data-frame") == "292"]
    (label,) = (t for t in refused[0].iter(f"{SVG}text") if t.get("class") == "label")
    assert text(label).startswith("403 Forbidden <script>alert(1)") and text(label).endswith("…")  # cut to fit
    assert text(refused[0].find(f"{SVG}title")) == " ".join(
        f"403 {printable(hostile.REASON)} (frame 292, +0.020 s, 203.0.113.5:5060 -> 198.51.100.7:5060)".split())
    assert rows(root, "registrations")[1][:2] == ["sip:evil<script", "sip:100@192.168.1.10:5060"]
    codec_cell = rows(root, "streams")[2][4]
    assert codec_cell == "<b>x<i>[bold]y:fire:\\x1b[31m\ufffd\ufffd\ufffd"
    # The escapes are entities in the source, never raw markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    assert "&lt;/svg&gt;" in page


def test_the_page_loads_nothing(hostile_page: Path) -> None:
    page = hostile_page.read_text(encoding="utf-8")
    tags = html_tags(page)
    assert not {"link", "img", "iframe", "object", "embed", "script", "base", "image", "use"} & {t for t, _ in tags}
    urls = [v for _, attrs in tags for k, v in attrs.items() if k in ("src", "href", "xlink:href", "action")]
    assert all(u.startswith("#") for u in urls), urls
    style = page[page.index("<style>"):page.index("</style>")]
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    (csp,) = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline';")


# --------------------------------------------------------------------------------------------------- limits

def test_large_captures_are_capped_and_the_page_says_so(hostile_pcap: Path) -> None:
    analysis = sipdiag.analyze(hostile_pcap)
    out = io.StringIO()
    render_html(analysis, out, limits=HtmlLimits(calls=1, findings=2, ladders=1, ladder_messages=2, charts=1,
                                                 streams=1, registrations=0, anomalies=0))
    root = ET.fromstring(out.getvalue())
    notes = [text(p) for p in root.iter(f"{XHTML}p") if p.get("class") == "note"]
    assert notes == [
        # 6 findings: the second call's private Contact is folded into the scanner finding that explains the
        # scanner's own calls (sipdiag.checks.causes attack links); 3 s of audio rate no MOS finding
        # (media.min_media_for_verdict_s)
        "The first 2 of 6 are listed; the JSON document (--format json) has them all.",
        "The first 1 of 2 are listed; the JSON document (--format json) has them all.",
        "Ladders are drawn for 1 of 2 calls: those with findings or problems first, then in capture order. "
        "Draw any call with: sipdiag flow CAPTURE --call '#N'.",
        "The first 2 of 5 messages are drawn.",
        "The first 1 of 2 are listed; the JSON document (--format json) has them all.",
        "Charts are drawn for 1 of 2 streams: the lowest MOS and the most loss first. The streams table lists the "
        "figures of every stream.",
        "The first 0 of 1 are listed; the JSON document (--format json) has them all.",
        # the ESC in the first call's Call-ID: sip.control-in-identifier on each of its 5 messages
        "The first 0 of 5 are listed; the JSON document (--format json) has them all."]
    assert len(list(root.iter(f"{XHTML}article"))) == 2 + 1  # two findings, one stream card
    # the Russian notes count with a figure after the noun: "для 1 из 21 вызовов" would not agree
    out_ru = io.StringIO()
    render_html(analysis, out_ru, lang="ru", limits=HtmlLimits(calls=1, findings=2, ladders=1, ladder_messages=2,
                                                               charts=1, streams=1, registrations=0, anomalies=0))
    notes_ru = [text(p) for p in ET.fromstring(out_ru.getvalue()).iter(f"{XHTML}p") if p.get("class") == "note"]
    assert [n for n in notes_ru if not n.startswith("Показаны первые")] == [
        "Диаграммы построены не для всех вызовов (1 из 2): сначала для вызовов с проблемами, затем по порядку "
        "записи. Любой вызов: sipdiag flow ЗАПИСЬ --call '#N'.",
        "Показано первых сообщений: 2 из 5.",
        "Графики построены не для всех потоков (1 из 2): сначала с наименьшим MOS и наибольшими потерями. Таблица "
        "потоков содержит показатели всех потоков."]
    (ladder,) = (s for s in root.iter(f"{SVG}svg") if s.get("class") == "ladder")
    assert [g.get("data-frame") for g in ladder.iter(f"{SVG}g") if "msg" in g.get("class", "")] == ["1", "2"]
    # The charted stream is the worse one: the caller's, with MOS 3.32 (the other has no MOS).
    assert [a.get("id") for a in root.iter(f"{XHTML}article") if a.get("class") == "card"] == ["stream-1"]


# ------------------------------------------------------------------------------------------ causes first

@dataclass(frozen=True)
class LinkedFinding(Finding):
    """A finding with the correlator's links, as the cause/explains branch adds them."""

    cause: Any = None
    explains: Any = ()


def _finding(rule: str, severity: int = 2, call_id: str | None = "c1", **links: Any) -> LinkedFinding:
    from sipdiag.checks import Severity

    return LinkedFinding(rule=rule, category=rule.split(".")[0] if rule.split(".")[0] in ("nat", "media") else "router",
                         severity=Severity(severity), owner="customer", title=f"title of {rule}", call_id=call_id,
                         frames=(1,), evidence={}, customer_text={"en": rule, "ru": rule},
                         engineer_text={"en": rule, "ru": rule}, confidence="high", **links)


def test_findings_without_links_keep_their_order() -> None:
    findings = [_finding("media.one-way-audio"), _finding("nat.private-sdp-address", 1)]
    entries = ordered_findings(findings)
    assert [(e.index, e.explains, e.explained_by) for e in entries] == [(0, (), ()), (1, (), ())]
    plain = [replace(sipdiag.analyze(RTP_LOSS).findings[0])]  # the engine's Finding has no link fields at all
    assert [(e.index, e.explains, e.explained_by) for e in ordered_findings(plain)] == [(0, (), ())]


def test_causes_come_first_with_their_symptoms(hostile_pcap: Path) -> None:
    findings = [
        _finding("media.one-way-audio", 3),  # symptom: explained by the ALG (by rule id)
        _finding("media.packet-loss", 2),  # unrelated
        _finding("call.ack-timeout-32s", 2, cause=3),  # symptom: its cause by index
        _finding("alg.sdp-rewrite", 1, explains=("media.one-way-audio",)),
    ]
    entries = ordered_findings(findings)
    assert [(findings[e.index].rule, e.explains, e.explained_by) for e in entries] == [
        ("alg.sdp-rewrite", (0, 2), ()), ("media.one-way-audio", (), (3,)), ("call.ack-timeout-32s", (), (3,)),
        ("media.packet-loss", (), ())]
    analysis = replace(sipdiag.analyze(hostile_pcap), findings=tuple(findings))
    out = io.StringIO()
    render_html(analysis, out)
    root = ET.fromstring(out.getvalue())
    articles = list(root.iter(f"{XHTML}article"))[:4]
    assert [(a.get("id"), a.get("class"), text(a.find(f"{XHTML}div"))) for a in articles] == [
        ("finding-1", "finding minor cause", "minor cause title of alg.sdp-rewrite alg.sdp-rewrite"),
        ("finding-2", "finding critical symptom", "critical symptom title of media.one-way-audio media.one-way-audio"),
        ("finding-3", "finding major symptom", "major symptom title of call.ack-timeout-32s call.ack-timeout-32s"),
        ("finding-4", "finding major", "major title of media.packet-loss media.packet-loss")]
    links = {a.get("id"): [(x.get("href"), text(x)) for x in a.iter(f"{XHTML}a") if x.get("href", "").startswith(
        "#finding")] for a in articles}
    assert links["finding-1"] == [("#finding-2", "media.one-way-audio"), ("#finding-3", "call.ack-timeout-32s")]
    assert links["finding-2"] == links["finding-3"] == [("#finding-1", "alg.sdp-rewrite")]


# ------------------------------------------------------------------------------------------------ packaging

def test_templates_are_package_data() -> None:
    """A non-editable install ships the templates: each file matches a package-data pattern of pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["sipdiag"]
    templates = sorted((ROOT / "sipdiag" / "reports" / "templates").iterdir())
    assert [p.name for p in templates] == ["macros.html.j2", "report.css", "report.html.j2"]
    for path in templates:
        relative = path.relative_to(ROOT / "sipdiag").as_posix()
        assert any(fnmatch.fnmatchcase(relative, p) and "/" not in relative[len(p.rsplit("/", 1)[0]) + 1:]
                   for p in patterns), relative


# --------------------------------------------------------------------------------------------------- browser

LADDER_FACTS = """(() => {
  const svg = document.querySelector('svg.ladder');
  svg.scrollIntoView();
  const r = svg.getBoundingClientRect();
  const style = getComputedStyle(svg);
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const label = svg.querySelector('g.msg text.label').getBBox();
  return {
    title: document.title,
    scripts: document.scripts.length,
    elements: [...document.getElementsByTagName('*')].map(e => e.localName),
    ladders: document.querySelectorAll('svg.ladder').length,
    box: {width: r.width, height: r.height},
    shown: style.display !== 'none' && style.visibility === 'visible' && Number(style.opacity) === 1,
    hitInside: svg.contains(hit),
    labels: [...svg.querySelectorAll('g.msg text.label')].map(t => t.textContent),
    labelBox: {width: label.width, height: label.height},
    callId: document.querySelector('#call-1 h3 .wire').textContent,
  };
})()"""


def _png_size_and_dark_pixels(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of dark pixels (every channel below 100) of an 8-bit RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    dark = 0
    for y in range(height):  # PNG filters (RFC 2083 §6): None, Sub, Up, Average, Paeth
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        dark += sum(1 for x in range(0, stride, channels) if max(row[x:x + 3]) < 100)
        previous = row
    return width, height, dark


@pytest.mark.browser
@pytest.mark.parametrize("page", ["rtp_loss", "hostile"])
def test_page_renders_in_chromium_without_errors(page: str, rtp_loss_page: Path, hostile_page: Path,
                                                 hostile_pcap: Path) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (scripts/test.sh installs it from requirements-apt.txt as root)")
    path = rtp_loss_page if page == "rtp_loss" else hostile_page
    report = open_page(path, LADDER_FACTS, screenshot_of="svg.ladder")
    assert report.errors == []
    assert report.exceptions == [] and report.dialogs == []
    assert report.requests == [path.resolve().as_uri()]  # the page itself, nothing else
    facts = report.value
    assert facts["scripts"] == 0
    # The browser built exactly the elements the page holds (tbody: tables' implied body, HTML §13.2.6.4.9).
    tags = html_tags(path.read_text(encoding="utf-8"))
    assert Counter(e for e in facts["elements"] if e != "tbody") == Counter(t for t, _ in tags)
    assert facts["shown"] and facts["hitInside"]
    assert facts["box"]["height"] > 100 and facts["box"]["width"] > 250
    assert facts["labelBox"]["width"] > 20 and facts["labelBox"]["height"] > 8  # text laid out with a real font
    width, height, dark = _png_size_and_dark_pixels(report.screenshot)
    assert (width, height) == (round(facts["box"]["width"]), round(facts["box"]["height"])) or (
        abs(width - facts["box"]["width"]) <= 1 and abs(height - facts["box"]["height"]) <= 1)
    assert dark > 500  # arrows, lifelines and labels were painted
    if page == "rtp_loss":
        assert facts["title"] == f"sipdiag report: {RTP_LOSS}"
        assert facts["ladders"] == 1
        assert facts["labels"] == ["INVITE +SDP", "100 Trying", "180 Ringing", "200 OK +SDP", "ACK", "BYE",
                                   "200 OK (BYE)"]
    else:
        assert facts["ladders"] == 2
        assert facts["callId"] == printable(hostile.CALL_ID)
        assert facts["title"] == f"sipdiag report: {hostile_pcap}"


def test_mangled_identifiers_are_escaped_text_with_their_anomaly(tmp_path: Path) -> None:
    """A Call-ID and a To tag holding control bytes (ESC [ 2 J, and 0x18 0x01 as in heplify's erspan capture): the
    page holds none of them, the call's heading shows the Call-ID written out as escapes and the anomalies table
    quotes the Call-ID and the tag the same way (sip.control-in-identifier)."""
    page = tmp_path / "mangled.html"
    assert analyze_html(hostile.mangled_identifiers_capture(tmp_path / "mangled.pcap"), page) == 0
    assert CONTROL_OR_BIDI.findall(page.read_text(encoding="utf-8")) == []
    root = ET.parse(page).getroot()
    assert text(by_id(root, "call-1").find(f"{XHTML}h3")) == "Call #1 mangled-\\x18\\x01\\x1b[2J-1@pbx"
    call_id = ("Call-ID 'mangled-\\x18\\x01\\x1b[2J-1@pbx' holds control character(s) 0x18, 0x01, 0x1B; it must be a "
               "word [@ word] (RFC 3261 §25.1): the message was mangled or forged")
    tag = ("To tag 't9\\x18\\x01' holds control character(s) 0x18, 0x01; it must be a token (RFC 3261 §25.1): the "
           "message was mangled or forged")
    assert rows(root, "anomalies")[1:] == [["sip.control-in-identifier", str(frame), detail]
                                           for frame in range(1, 6)
                                           for detail in ((call_id,) if frame == 1 else (call_id, tag))]


def test_the_russian_page_gives_the_anomalies_in_russian_with_wire_text_escaped(tmp_path: Path,
                                                                                hostile_pcap: Path) -> None:
    """--lang ru: each anomaly's detail in Russian; the values it quotes from the wire (a Call-ID with control
    bytes, one with markup) are written out as the English page writes them, never as markup."""
    page = tmp_path / "mangled.html"
    assert analyze_html(hostile.mangled_identifiers_capture(tmp_path / "mangled.pcap"), page, "--lang", "ru") == 0
    assert CONTROL_OR_BIDI.findall(page.read_text(encoding="utf-8")) == []
    root = ET.parse(page).getroot()
    call_id = ("Call-ID 'mangled-\\x18\\x01\\x1b[2J-1@pbx' содержит управляющие символы 0x18, 0x01, 0x1B, а по "
               "грамматике должен быть word [@ word] (RFC 3261 §25.1): сообщение искажено или подделано")
    tag = ("тег To 't9\\x18\\x01' содержит управляющие символы 0x18, 0x01, а по грамматике должен быть token "
           "(RFC 3261 §25.1): сообщение искажено или подделано")
    assert rows(root, "anomalies") == [["Код", "кадр", "Описание"]] + [
        ["sip.control-in-identifier", str(frame), detail]
        for frame in range(1, 6) for detail in ((call_id,) if frame == 1 else (call_id, tag))]
    hostile_ru = tmp_path / "hostile.html"
    assert analyze_html(hostile_pcap, hostile_ru, "--lang", "ru") == 1
    text_ru = hostile_ru.read_text(encoding="utf-8")
    assert "<script" not in text_ru and CONTROL_OR_BIDI.findall(text_ru) == []
    anomalies = rows(ET.parse(hostile_ru).getroot(), "anomalies")[1:]
    assert anomalies[0] == ["sip.control-in-identifier", "1", " ".join(
        f"Call-ID {printable(repr(hostile.CALL_ID))} содержит управляющие символы 0x1B, а по грамматике должен быть "
        f"word [@ word] (RFC 3261 §25.1): сообщение искажено или подделано".split())]
