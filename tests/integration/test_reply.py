"""`sipdiag reply`: the exact customer message and engineer note for lab samples in both languages, the "nothing
found" reply of the clean sample, and Markdown that stays inert whatever a hostile capture puts in its headers.

The fault sample's replies run with `--select call.ack-timeout-32s`: the rule set grows, and other rules may
rightly add findings to this capture; the texts here are about how one known fault is told, exactly.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from sipdiag import __version__
from sipdiag.cli import cli
from sipdiag.reports.markdown import md_code, md_text
from sipdiag.reports.reply import display_string, frame_set, plural_ru, without_addresses
from tests import callcapture as cc
from tests import pcapwriter as pw
from tests.conftest import SAMPLES, need_tool

ACK = SAMPLES / "ack_dropped.pcap"
CLEAN = SAMPLES / "clean_call.pcap"

ACK_CUSTOMER_EN = r"""Hello,

We have analysed the recording of your calls from 2026-11-22. It holds 1 call.

What we found

- Your answered calls are cut off after about 30 seconds. After a call is answered your equipment must confirm it, and that confirmation does not reach us, so the call is ended automatically. This is nearly always the router's 'SIP ALG' feature or a firewall: please switch SIP ALG off and restart the router.

What you can do

1. Switch off the 'SIP ALG' feature (sometimes called 'SIP helper' or 'SIP passthrough') in your router's settings, then restart the router.

What we will do

- We will check the connection between your equipment and our servers.

When you have done this, please make a test call and tell us how it went. If you have any questions, just reply to this message.

Kind regards,
Technical support
"""
ACK_CUSTOMER_RU = r"""Здравствуйте!

Мы проанализировали запись ваших звонков от 2026-11-22. В ней 1 звонок.

Что мы обнаружили

- Ваши принятые звонки обрываются примерно через 30 секунд. После ответа ваше оборудование должно подтвердить соединение, но это подтверждение до нас не доходит, и звонок завершается автоматически. Почти всегда причина в функции роутера «SIP ALG» или в межсетевом экране: отключите SIP ALG и перезагрузите роутер.

Что можете сделать вы

1. Отключите в настройках роутера функцию «SIP ALG» (она также может называться «SIP helper» или «SIP passthrough») и перезагрузите роутер.

Что сделаем мы

- Мы проверим связь между вашим оборудованием и нашими серверами.

Когда вы это сделаете, пожалуйста, совершите пробный звонок и сообщите нам, как он прошёл. Если у вас есть вопросы, просто ответьте на это письмо.

С уважением,
служба технической поддержки
"""
ACK_ENGINEER_EN = r"""sipdiag technical note

Summary: 1 finding (1 major) in 1 of 1 call; worst: call.ack-timeout-32s (major, owner engineering).

Findings

- MAJOR call.ack-timeout-32s: Answered call torn down about 32 s after answer: the ACK never arrived (category signaling, owner engineering; 1 occurrence in 1 call)
  - call #1 ack_dropped-1@sdlab, frames 6, 61, 108-109, 112-117, 120-121, confidence high
    - Wireshark: frame.number in {6, 61, 108..109, 112..117, 120..121}
    - evidence: ok_frame = 6; retransmissions = 10; span_s = 31.5; bye_frame = 121; bye_after_s = 32.0; ended_by = callee; t1_estimate_s = 0.504
    - Call ack_dropped-1@sdlab: 200 OK (frame 6) retransmitted 10 times over 31.5 s with no ACK seen at this capture point; callee sent BYE (frame 121) 32.0 s after the first 200 OK (64*T1 = 32 s, RFC 3261 §13.3.1.4). Check where the ACK goes: the 2xx Contact and Record-Route (§13.2.2.4, §12.2.1.1), NAT/ALG on the caller side.

Calls

- #1 ack_dropped-1@sdlab: sip:100@203.0.113.10 → sip:300@203.0.113.10, answered (200 OK), started 2026-11-22T15:55:51.514517+00:00, udp
  - Wireshark: sip.Call-ID == "ack_dropped-1@sdlab"
  - timings: setup 1 ms, answer 305 ms, duration 32.0 s, ended by the callee
  - User-Agent: sdlab-phone/1.0, sdlab-pbx/1.0
  - audio: audio flows both ways, but stops 31.1 s before the call ends
  - RTP 203.0.113.2:6000 → 203.0.113.10:7000 SSRC 0x5d1a0001 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 7-106
  - RTP 203.0.113.10:7000 → 203.0.113.2:6000 SSRC 0x5d1a0001 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 9-107
  - extract: sipdiag extract @FILE@ --call '#1' -o call-1.pcap

What to change

- call.ack-timeout-32s: Find where the ACK goes (2xx Contact and Record-Route); fix Contact handling at the SBC or switch off the customer router's SIP ALG; make proxies Record-Route so in-dialog requests follow the signalling path.

Capture

- file @FILE@: pcap, link types ethernet, 122 packets
- time 2026-11-22T15:55:51.514496+00:00 to 2026-11-22T15:56:23.863178+00:00 (32.349 s)
- SIP 16 messages, 1 call, 0 registrations; RTP 100 packets in 2 streams; RTCP 0 packets
- anomalies 0
- sipdiag @VERSION@
"""
ACK_ENGINEER_RU = r"""Техническая записка sipdiag

Итог: находок — 1 (major: 1), затронуто звонков: 1 из 1; самая серьёзная: call.ack-timeout-32s (major, ответственный engineering).

Находки

- MAJOR call.ack-timeout-32s: Отвеченный вызов разорван примерно через 32 с после ответа: ACK так и не пришёл (категория signaling, ответственный engineering; случаев: 1, звонков: 1)
  - звонок #1 ack_dropped-1@sdlab, кадры 6, 61, 108-109, 112-117, 120-121, достоверность high
    - Wireshark: frame.number in {6, 61, 108..109, 112..117, 120..121}
    - данные: ok_frame = 6; retransmissions = 10; span_s = 31.5; bye_frame = 121; bye_after_s = 32.0; ended_by = callee; t1_estimate_s = 0.504
    - Вызов ack_dropped-1@sdlab: 200 OK (кадр 6) переотправлен 10 раз за 31.5 с, ACK в точке захвата не виден; BYE от вызываемого (кадр 121) через 32.0 с после первого 200 OK (64*T1 = 32 с, RFC 3261 §13.3.1.4). Проверьте, куда уходит ACK: Contact ответа и Record-Route (§13.2.2.4, §12.2.1.1), NAT/ALG на стороне вызывающего.

Звонки

- #1 ack_dropped-1@sdlab: sip:100@203.0.113.10 → sip:300@203.0.113.10, отвечен (200 OK), начало 2026-11-22T15:55:51.514517+00:00, udp
  - Wireshark: sip.Call-ID == "ack_dropped-1@sdlab"
  - время от INVITE до первого 18x: 1 мс, до ответа: 305 мс; длительность 32.0 с, BYE от вызываемого
  - User-Agent: sdlab-phone/1.0, sdlab-pbx/1.0
  - медиа: Звук идёт в обе стороны, но прекращается за 31.1 с до конца вызова
  - RTP 203.0.113.2:6000 → 203.0.113.10:7000 SSRC 0x5d1a0001 PCMU: пакетов 50, потеряно 0 (0.0 %), джиттер до 1.2 мс, MOS 4.37, кадры 7-106
  - RTP 203.0.113.10:7000 → 203.0.113.2:6000 SSRC 0x5d1a0001 PCMU: пакетов 50, потеряно 0 (0.0 %), джиттер до 1.2 мс, MOS 4.37, кадры 9-107
  - выгрузка: sipdiag extract @FILE@ --call '#1' -o call-1.pcap

Что изменить

- call.ack-timeout-32s: Найдите, куда уходит ACK (Contact ответа 2xx и Record-Route); исправьте обработку Contact на SBC или отключите SIP ALG на роутере клиента; прокси должны добавлять Record-Route, чтобы запросы внутри диалога шли по пути сигнализации.

Захват

- файл @FILE@: pcap, типы канала ethernet, пакетов 122
- время 2026-11-22T15:55:51.514496+00:00 — 2026-11-22T15:56:23.863178+00:00 (32.349 с)
- SIP: сообщений 16, звонков 1, регистраций 0; RTP: пакетов 100, потоков 2; RTCP: пакетов 0
- аномалий 0
- sipdiag @VERSION@
"""
ACK_ENGINEER_EN_MD = r"""## sipdiag technical note

Summary: 1 finding (1 major) in 1 of 1 call; worst: `call.ack-timeout-32s` (major, owner engineering).

### Findings

- MAJOR `call.ack-timeout-32s`: Answered call torn down about 32 s after answer: the ACK never arrived (category signaling, owner engineering; 1 occurrence in 1 call)
  - call #1 `ack_dropped-1@sdlab`, frames 6, 61, 108-109, 112-117, 120-121, confidence high
    - Wireshark: `frame.number in {6, 61, 108..109, 112..117, 120..121}`
    - evidence: ok\_frame = 6; retransmissions = 10; span\_s = 31.5; bye\_frame = 121; bye\_after\_s = 32.0; ended\_by = callee; t1\_estimate\_s = 0.504
    - Call ack\_dropped-1@sdlab: 200 OK \(frame 6\) retransmitted 10 times over 31.5 s with no ACK seen at this capture point; callee sent BYE \(frame 121\) 32.0 s after the first 200 OK \(64\*T1 = 32 s, RFC 3261 §13.3.1.4\). Check where the ACK goes: the 2xx Contact and Record-Route \(§13.2.2.4, §12.2.1.1\), NAT/ALG on the caller side.

### Calls

- #1 `ack_dropped-1@sdlab`: `sip:100@203.0.113.10` → `sip:300@203.0.113.10`, answered (200 OK), started 2026-11-22T15:55:51.514517+00:00, udp
  - Wireshark: `sip.Call-ID == "ack_dropped-1@sdlab"`
  - timings: setup 1 ms, answer 305 ms, duration 32.0 s, ended by the callee
  - User-Agent: `sdlab-phone/1.0`, `sdlab-pbx/1.0`
  - audio: audio flows both ways, but stops 31.1 s before the call ends
  - RTP 203.0.113.2:6000 → 203.0.113.10:7000 SSRC 0x5d1a0001 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 7-106
  - RTP 203.0.113.10:7000 → 203.0.113.2:6000 SSRC 0x5d1a0001 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 9-107
  - extract: `sipdiag extract @FILE@ --call '#1' -o call-1.pcap`

### What to change

- `call.ack-timeout-32s`: Find where the ACK goes \(2xx Contact and Record-Route\); fix Contact handling at the SBC or switch off the customer router's SIP ALG; make proxies Record-Route so in-dialog requests follow the signalling path.

### Capture

- file `@FILE@`: pcap, link types ethernet, 122 packets
- time 2026-11-22T15:55:51.514496+00:00 to 2026-11-22T15:56:23.863178+00:00 (32.349 s)
- SIP 16 messages, 1 call, 0 registrations; RTP 100 packets in 2 streams; RTCP 0 packets
- anomalies 0
- sipdiag @VERSION@
"""
ACK_CUSTOMER_RU_MD = r"""Здравствуйте!

Мы проанализировали запись ваших звонков от 2026-11-22. В ней 1 звонок.

**Что мы обнаружили**

- Ваши принятые звонки обрываются примерно через 30 секунд. После ответа ваше оборудование должно подтвердить соединение, но это подтверждение до нас не доходит, и звонок завершается автоматически. Почти всегда причина в функции роутера «SIP ALG» или в межсетевом экране: отключите SIP ALG и перезагрузите роутер.

**Что можете сделать вы**

1. Отключите в настройках роутера функцию «SIP ALG» \(она также может называться «SIP helper» или «SIP passthrough»\) и перезагрузите роутер.

**Что сделаем мы**

- Мы проверим связь между вашим оборудованием и нашими серверами.

Когда вы это сделаете, пожалуйста, совершите пробный звонок и сообщите нам, как он прошёл. Если у вас есть вопросы, просто ответьте на это письмо.

С уважением,\
служба технической поддержки
"""
CLEAN_CUSTOMER_EN = r"""Hello,

We have analysed the recording of your calls from 2026-11-22. It holds 1 call.

The recording shows your service working: the call was connected and the sound went both ways.

This means the problem did not occur while the recording was made: your line and our service were working. If the problem comes back, please note the time and the number you called and tell us, ideally with a new recording of that call.

If you have any questions, just reply to this message.

Kind regards,
Technical support
"""
CLEAN_CUSTOMER_RU = r"""Здравствуйте!

Мы проанализировали запись ваших звонков от 2026-11-22. В ней 1 звонок.

Запись показывает, что связь работает: звонок состоялся, и звук шёл в обе стороны.

Это значит, что во время записи проблемы не было: ваша линия и наш сервис работали. Если проблема повторится, запишите время и номер, на который вы звонили, и сообщите нам — лучше всего вместе с новой записью этого звонка.

Если у вас есть вопросы, просто ответьте на это письмо.

С уважением,
служба технической поддержки
"""
CLEAN_ENGINEER_EN = r"""sipdiag technical note

Summary: no findings above info in 1 call and 0 registrations.

Calls

- #1 clean_call-1@sdlab: sip:200@203.0.113.10 → sip:300@203.0.113.10, answered (200 OK), started 2026-11-22T15:54:54.019198+00:00, udp
  - Wireshark: sip.Call-ID == "clean_call-1@sdlab"
  - timings: setup 1 ms, answer 308 ms, duration 1.5 s, ended by the caller
  - User-Agent: sdlab-phone/1.0, sdlab-pbx/1.0
  - audio: audio flows both ways
  - RTP 203.0.113.10:7000 → 203.0.113.20:6000 SSRC 0x5d1a0003 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 8-106
  - RTP 203.0.113.20:6000 → 203.0.113.10:7000 SSRC 0x5d1a0002 PCMU: 50 packets, lost 0 (0.0 %), jitter max 1.2 ms, MOS 4.37, frames 10-107
  - extract: sipdiag extract @FILE@ --call '#1' -o call-1.pcap

Capture

- file @FILE@: pcap, link types ethernet, 109 packets
- time 2026-11-22T15:54:54.019156+00:00 to 2026-11-22T15:54:55.835388+00:00 (1.816 s)
- SIP 7 messages, 1 call, 0 registrations; RTP 100 packets in 2 streams; RTCP 0 packets
- anomalies 0
- sipdiag @VERSION@
"""


def reply(*args: str) -> str:
    result = CliRunner().invoke(cli, ["reply", *args])
    assert result.exit_code == 0, result.output
    return result.output


def expected(text: str, path: Path) -> str:
    return text.replace("@FILE@", str(path)).replace("@VERSION@", __version__)


@pytest.mark.parametrize(("lang", "audience", "fmt", "text"), [
    ("en", "customer", "text", ACK_CUSTOMER_EN),
    ("ru", "customer", "text", ACK_CUSTOMER_RU),
    ("en", "engineer", "text", ACK_ENGINEER_EN),
    ("ru", "engineer", "text", ACK_ENGINEER_RU),
    ("en", "engineer", "markdown", ACK_ENGINEER_EN_MD),
    ("ru", "customer", "markdown", ACK_CUSTOMER_RU_MD),
])
def test_reply_to_known_fault(lang: str, audience: str, fmt: str, text: str) -> None:
    out = reply(str(ACK), "--select", "call.ack-timeout-32s", "--lang", lang, "--audience", audience, "--format", fmt)
    assert out == expected(text, ACK)


@pytest.mark.parametrize(("lang", "audience", "text"), [
    ("en", "customer", CLEAN_CUSTOMER_EN),
    ("ru", "customer", CLEAN_CUSTOMER_RU),
    ("en", "engineer", CLEAN_ENGINEER_EN),
])
def test_reply_nothing_found(lang: str, audience: str, text: str) -> None:
    """The clean lab call with the whole rule set: nothing above info, so the reply says the calls work."""
    assert reply(str(CLEAN), "--lang", lang, "--audience", audience) == expected(text, CLEAN)


@pytest.mark.parametrize(("sample", "line"), [
    ("ack_dropped.pcap", "время от INVITE до первого 18x: 1 мс, до ответа: 305 мс; длительность 32.0 с, "
                         "BYE от вызываемого"),
    ("invite_timeout.pcap", "время от INVITE до первого 18x: -, до ответа: -; длительность -"),
])
def test_russian_note_times_a_call_from_its_invite(sample: str, line: str) -> None:
    """The call's timings in words ("до 18x 1 мс" read as "up to 18 times 1 ms"), a figure not measured as "-"."""
    note = reply(str(SAMPLES / sample), "--lang", "ru", "--audience", "engineer")
    assert [x.removeprefix("  - ") for x in note.splitlines() if x.startswith("  - время")] == [line]


def test_reply_to_file_and_one_call(tmp_path: Path) -> None:
    out = tmp_path / "note.md"
    result = CliRunner().invoke(cli, ["reply", str(ACK), "--select", "call.ack-timeout-32s", "--call", "#1",
                                      "--audience", "engineer", "--format", "markdown", "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert out.read_text(encoding="utf-8") == expected(ACK_ENGINEER_EN_MD, ACK)


def test_reply_same_rule_over_many_calls_is_one_sentence(tmp_path: Path) -> None:
    """Three calls, two of them with 10 % loss on the UA's stream: one sentence for the two, with the count, and one
    step."""
    records = []
    for n, (drop, call_id) in enumerate(((10, "loss-1"), (0, "fine-2"), (10, "loss-3"))):
        part, _ = cc.call_records(call_id, 40000 + 10 * n, 50000 + 10 * n, (0x100 + n, 0x200 + n),
                                  cc.T0 + n * 10**10, 200, drop_every=drop)
        records += [(ts, frame) for _, ts, frame in part]
    path = tmp_path / "three.pcap"
    pw.write_pcap(path, records, pw.LINKTYPE_ETHERNET)
    out = reply(str(path), "--select", "media.packet-loss")
    assert out.count("- Part of the sound of your call was lost on the way (9.5 % of it)") == 1
    assert "This happened in 2 of the 3 calls of the recording." in out
    assert out.count("If the phone uses Wi-Fi, connect it with a cable") == 1
    ru = reply(str(path), "--select", "media.packet-loss", "--lang", "ru")
    assert "Так было в 2 из 3 звонков записи." in ru
    note = reply(str(path), "--select", "media.packet-loss", "--audience", "engineer")
    assert note.splitlines()[2] == ("Summary: 2 findings (2 critical) in 2 of 3 calls; worst: media.packet-loss "
                                    "(critical, owner engineering).")
    assert "(category media, owner engineering; 2 occurrences in 2 calls)" in note
    assert "  - call #1 loss-1, frames" in note and "  - call #3 loss-3, frames" in note and "#2" not in note


# ------------------------------------------------------------------------------------------- hostile headers
HOSTILE_CALL_ID = "evil`](javascript:alert(1))`\x1b[2J\x1b]0;pwned\x07<img src=x onerror=alert(1)>@h"
HOSTILE_UA = "Phone ``x`` [click](javascript:alert(2)) \x1b[31mRED\x1b[0m <script>alert(3)</script> *b* _i_ # | ~~s~~"


def hostile_capture(path: Path) -> Path:
    """An answered call with 10 % loss one way over 12 s (so it has findings: packet loss and low MOS) whose
    Call-ID and User-Agent carry Markdown link syntax, backticks, HTML and terminal escape sequences."""
    def sip(start: str, cseq: str, *, to_tag: bool, body: str = "", branch: str = "b1") -> str:
        text = cc._sip(start, HOSTILE_CALL_ID, cseq, to_tag=to_tag, body=body, branch=branch)
        return text.replace("Max-Forwards: 70\n", f"Max-Forwards: 70\nUser-Agent: {HOSTILE_UA}\n", 1)

    t, ms = 1_700_000_000 * 10**9, 10**6
    offer, answer = cc.SDP.format(ip=cc.UA[0], port=cc.UA_RTP), cc.SDP.format(ip=cc.PBX[0], port=cc.PBX_RTP)
    recs = [(t, cc.frame(sip("INVITE sip:200@example.com SIP/2.0", "1 INVITE", to_tag=False, body=offer),
                         cc.UA, cc.PBX)),
            (t + 300 * ms, cc.frame(sip("SIP/2.0 200 OK", "1 INVITE", to_tag=True, body=answer), cc.PBX, cc.UA)),
            (t + 310 * ms, cc.frame(sip("ACK sip:200@example.com SIP/2.0", "1 ACK", to_tag=True, branch="b2"),
                                    cc.UA, cc.PBX))]
    for i in range(600):
        at = t + 320 * ms + i * 20 * ms
        if i % 10:
            recs.append((at, cc.rtp_frame((cc.UA[0], cc.UA_RTP), (cc.PBX[0], cc.PBX_RTP), 1000 + i, 0x1111)))
        recs.append((at + 5 * ms, cc.rtp_frame((cc.PBX[0], cc.PBX_RTP), (cc.UA[0], cc.UA_RTP), 5000 + i, 0x2222)))
    end = t + 320 * ms + 12100 * ms
    recs += [(end, cc.frame(sip("BYE sip:200@example.com SIP/2.0", "2 BYE", to_tag=True, branch="b3"), cc.UA, cc.PBX)),
             (end + 10 * ms, cc.frame(sip("SIP/2.0 200 OK", "2 BYE", to_tag=True, branch="b3"), cc.PBX, cc.UA))]
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def _tokens(markdown: str):
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])

    def walk(tokens):
        for t in tokens:
            yield t
            yield from walk(t.children or ())

    return list(walk(parser.parse(markdown)))


@pytest.mark.parametrize(("lang", "audience"), [("en", "engineer"), ("ru", "engineer"), ("en", "customer")])
def test_hostile_headers_make_inert_markdown(tmp_path: Path, lang: str, audience: str) -> None:
    path = hostile_capture(tmp_path / "hostile.pcap")
    out = reply(str(path), "--format", "markdown", "--lang", lang, "--audience", audience)
    assert "\x1b" not in out and "\x07" not in out  # no terminal escape reaches the ticket or a terminal
    tokens = _tokens(out)
    kinds = {t.type for t in tokens}
    # No link, image, raw HTML, emphasis or strikethrough made from the wire: only our own structure.
    assert not kinds & {"link_open", "image", "html_inline", "html_block", "em_open", "s_open", "table_open",
                        "fence", "code_block"}
    assert kinds <= {"heading_open", "heading_close", "inline", "text", "paragraph_open", "paragraph_close",
                     "bullet_list_open", "bullet_list_close", "list_item_open", "list_item_close", "code_inline",
                     "ordered_list_open", "ordered_list_close", "strong_open", "strong_close", "softbreak",
                     "hardbreak"}
    if audience == "engineer":
        visible_id = HOSTILE_CALL_ID.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        visible_ua = HOSTILE_UA.replace("\x1b", "\\x1b")
        code = [t.content for t in tokens if t.type == "code_inline"]
        # The values themselves survive, verbatim but with the escapes made visible, in code spans.
        assert code.count(visible_id) == 3  # two findings' call lines and the calls table
        assert visible_ua in code
        assert f'sip.Call-ID == "{visible_id}"' in code
        assert 'frame.number in {5}' in code
        # Where an engineer text repeats the Call-ID in prose it is escaped, and renders as the same text.
        prose = "".join(t.content for t in tokens if t.type == "text")
        assert visible_id in prose


def test_hostile_headers_in_plain_text(tmp_path: Path) -> None:
    path = hostile_capture(tmp_path / "hostile.pcap")
    out = reply(str(path), "--audience", "engineer")
    assert "\x1b" not in out and "\x07" not in out
    assert 'Wireshark: sip.Call-ID == "evil`](javascript:alert(1))`\\x1b[2J\\x1b]0;pwned\\x07<img' in out


@pytest.mark.tshark
def test_wireshark_filters_select_what_they_say(tmp_path: Path) -> None:
    """The note's display filters, given to tshark as an engineer would paste them: the finding's frames, and
    the call's SIP by a Call-ID full of quotes-to-be, backticks and escape bytes."""
    tshark = need_tool("tshark")

    def count(path: Path, display: str) -> int:
        out = subprocess.run([tshark, "-n", "-r", str(path), "-Y", display], capture_output=True, text=True, check=True)
        return len(out.stdout.splitlines())

    note = reply(str(ACK), "--select", "call.ack-timeout-32s", "--audience", "engineer")
    frames = next(line for line in note.splitlines() if "frame.number in" in line).split("Wireshark: ", 1)[1]
    assert count(ACK, frames) == 12
    path = hostile_capture(tmp_path / "hostile.pcap")
    note = reply(str(path), "--audience", "engineer")
    by_call_id = next(line for line in note.splitlines() if "sip.Call-ID ==" in line).split("Wireshark: ", 1)[1]
    assert count(path, by_call_id) == 5


# ------------------------------------------------------------------------------------------- the helpers
def test_md_text_escapes_every_construct() -> None:
    assert md_text("x](javascript:alert(1))") == r"x\]\(javascript:alert\(1\)\)"
    assert md_text("<b>&amp; *a* _b_ `c` ~~d~~ | # e !") == \
        r"\<b\>\&amp; \*a\* \_b\_ \`c\` \~\~d\~\~ \| \# e \!"
    assert md_text("- item") == r"\- item"
    assert md_text("12. item") == r"12\. item"
    assert md_text("===") == r"\==="
    assert md_text("192.168.1.10 1.5 s -1") == "192.168.1.10 1.5 s -1"  # no line-start construct: left alone
    assert md_text("a\nb\x1b[2J") == r"a\\x0ab\\x1b\[2J"


def test_md_code_fence_outgrows_backticks() -> None:
    assert md_code("plain") == "`plain`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("``x``") == "``` ``x`` ```"
    assert md_code("`") == "`` ` ``"


def test_display_filter_string_and_frame_set() -> None:
    assert display_string('a"b\\c\x1bd') == '"a\\"b\\\\c\\x1bd"'
    assert frame_set([121, 6, 61, 108, 109, 112, 113, 114, 115, 116, 117, 120]) == "6, 61, 108..109, 112..117, 120..121"


def test_customer_text_loses_third_party_addresses() -> None:
    assert without_addresses("Calls to 300@203.0.113.10:5060 and sip:400@pbx.example.com fail") == \
        "Calls to 300 and 400 fail"
    assert without_addresses("sent to 192.168.1.10:6000 or [2001:db8::1]:5060") == "sent to … or …"
    assert without_addresses("at 12:30 today") == "at 12:30 today"


def test_plural_ru() -> None:
    assert [plural_ru(n, "звонок", "звонка", "звонков") for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "1 звонок", "2 звонка", "5 звонков", "11 звонков", "21 звонок", "22 звонка", "112 звонков"]


def test_reply_dates_the_calls_not_a_stray_record(tmp_path: Path) -> None:
    """A damaged first record dated 1970 (seen in captures from devices whose clock was not yet set) must not
    give the customer another day than the day of the call."""
    data = CLEAN.read_bytes()
    stray = struct.pack("<IIII", 1, 0, 0, 0)  # 1970-01-01T00:00:01, an empty frame
    path = tmp_path / "stray.pcap"
    path.write_bytes(data[:24] + stray + data[24:])
    out = reply(str(path))
    assert "We have analysed the recording of your calls from 2026-11-22. It holds 1 call." in out
    assert "1970" not in out


def test_an_attackers_calls_are_told_under_the_attack_not_as_the_customers_problems(tmp_path: Path) -> None:
    """Five calls to international numbers, each refused with 403: the toll-fraud finding explains the five
    failures (sipdiag.checks.causes). The customer read six problems of a toll-fraud run as their own (check the
    number dialled, switch SIP ALG off); now the attack alone, with its step, and the engineer reads what it
    explains in one line."""
    from tests.integration.test_rules_call_media import fraud_capture

    numbers = ["0048185422016", "01148185422016", "9011441234567890", "00972598072172", "0011611234567"]
    path = fraud_capture(tmp_path / "tf.pcap", numbers)
    customer = reply(str(path))
    found = customer.split("What we found\n\n")[1].split("\n\n")[0]
    assert found.splitlines() == [
        "- We detected 5 attempt(s) to place international calls through your account or equipment that look "
        "unauthorised. Please change your phone and voicemail passwords now and contact us: we recommend "
        "restricting international calling on your account until it is secured."]
    assert "1. Change the phone's password to a long, unique one that you do not use anywhere else.\n" in customer
    assert "Nothing needs changing on your side" not in customer
    assert "- Our security team is looking at blocking the addresses the attempts came from" in customer
    engineer = reply(str(path), "--audience", "engineer")
    assert "  - explains 5 findings on 5 calls the attacker placed (call.failure-response), not listed here nor in " \
           "the customer's message; sipdiag analyze --format json lists them, each with this finding as its " \
           "cause\n" in engineer
    assert "- MINOR call.failure-response" not in engineer
    russian = reply(str(path), "--audience", "engineer", "--lang", "ru")
    assert "объясняет находки на звонках, которые сделал атакующий (находок: 5, звонков: 5; call.failure-response)" \
        in russian
    # the same refusals without an attack are the customer's problem, told as such
    alone = reply(str(fraud_capture(tmp_path / "one.pcap", numbers[:1])))
    assert "could not be completed" in alone and "unauthorised" not in alone


def test_reply_steps_for_an_icmp_refusal_follow_who_refused() -> None:
    """router.icmp-unreachable had no steps of its own: a refusal by our PBX (owner engineering) fell back to the
    generic signalling check, and one by the customer's router would have asked for the SIP ALG to go. Now: our
    side checks the sound's path; the customer's side checks the router's firewall."""
    from dataclasses import replace

    import sipdiag
    from sipdiag.reports.replyactions import CUSTOMER_STEPS, steps_for
    from tests.conftest import SAMPLES

    (refusal,) = [f for f in sipdiag.analyze(SAMPLES / "rtp_port_unreachable.pcap").findings
                  if f.rule == "router.icmp-unreachable"]
    assert (refusal.owner, steps_for(refusal)) == ("engineering", ((), ("media",)))
    assert steps_for(replace(refusal, owner="customer")) == (("firewall-voice",), ("recheck",))
    assert CUSTOMER_STEPS["firewall-voice"]["en"].startswith("Check the firewall settings of your router")


def test_one_way_audio_to_a_private_address_does_not_send_the_customer_to_the_sip_alg() -> None:
    """The PBX sent the caller's audio to the private c= of its SDP (no latching, the lab's fault): the cause is
    nat.private-sdp-address, ours to fix. media.one-way-audio still told the customer it was "usually a router
    setting" and to switch the SIP ALG off, and the reply made that the customer's only step (RULES.md
    media.one-way-audio: the action comes from the cause)."""
    text = reply(str(SAMPLES / "nat_one_way_audio.pcap"), "--select", "media.one-way-audio",
                 "--select", "nat.private-sdp-address")
    found = text.split("\nWhat we found\n\n", 1)[1].split("\n\nWhen you have done this", 1)[0]
    assert found.splitlines() == [
        "- Your phone asks for the sound to be sent to its private home-network address, which the internet cannot "
        "reach. So you could not hear the other party.",
        "- During your call the sound travelled only one way: you could not hear the other party. It was sent to a "
        "private network address that the equipment announced, which cannot be reached from the internet. We are "
        "checking it on our side.",
        "",
        "What you can do",
        "",
        "1. Nothing needs changing on your side for now. If it happens again, note the time and the number you "
        "called and tell us.",
        "",
        "What we will do",
        "",
        "- We will adjust how our servers handle the addresses of your home or office network.",
    ]
    ru = reply(str(SAMPLES / "nat_one_way_audio.pcap"), "--select", "media.one-way-audio", "--lang", "ru")
    assert ("- Во время звонка звук шёл только в одну сторону: вы не слышали собеседника. Он отправлялся на "
            "частный сетевой адрес, объявленный оборудованием, который недостижим из интернета. Мы проверяем это "
            "со своей стороны.") in ru
    assert "SIP ALG" not in ru


def test_reply_to_an_auth_loop_asks_what_its_cause_needs(corpus) -> None:
    """aaa.pcap: voi18063's credentials refused (reg.auth-loop). reg.auth-loop had no steps of its own: the reply's
    "What you can do" said nothing needed changing on the customer's side, while its text asked to enter the SIP
    password again. Its Nero phone signs digest uri sip:192.168.1.2, its own address, not its Request-URI
    sip:sip.cybercity.dk, in a REGISTER captured on its LAN (from 192.168.1.2, before the router): the phone's own
    doing, not a SIP ALG's (RULES.md reg.auth-loop), so the text says its configuration is re-sent and nothing is
    to retype, and the steps ask nothing of the customer (tests/integration/test_auth_loop_causes.py has the
    steps of the other causes: the credentials, the router's SIP ALG)."""
    text = reply(str(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap"), "--select", "reg.auth-loop")
    found = text.split("\nWhat we found\n\n", 1)[1].split("\n\nWhat you can do", 1)[0]
    assert found.endswith("We are re-sending your phone's configuration; there is no need to type the password "
                          "again.")
    steps = text.split("\nWhat you can do\n\n", 1)[1].split("\n\nWhen you have done this", 1)[0]
    assert steps.splitlines() == [
        "1. Nothing needs changing on your side for now. If it happens again, note the time and the number you "
        "called and tell us.",
        "",
        "What we will do",
        "",
        "- We will check your account's settings and the path to our server.",
    ]


def test_failed_calls_with_different_statuses_are_told_apart(corpus) -> None:
    """aaa.pcap: two calls refused 403 (frames 348, 581) and one 480 to another number (frame 621). The reply told
    the 403's text "Your call to 0097239287044 ... forbidden" and added "This happened in 3 of the 4 calls", the
    480 call included; the engineer's note still gives the rule's fix once."""
    aaa = str(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap")
    text = reply(aaa, "--select", "call.failure-response")
    found = text.split("\nWhat we found\n\n", 1)[1].split("\n\nWhat you can do", 1)[0]
    assert found.splitlines() == [
        "- Your call to 0097239287044 could not be completed: forbidden: the account may not call this number "
        "(barring, credit, wrong credentials). We are checking why. This happened in 2 of the 4 calls of the "
        "recording.",
        "- Your call to 35104724 could not be completed: the callee is not available (not registered). We are "
        "checking why. This happened in 1 of the 4 calls of the recording.",
    ]
    note = reply(aaa, "--select", "call.failure-response", "--audience", "engineer")
    assert note.count("- call.failure-response: 403: check barring") == 1
    assert "(category signaling, owner first-line; 2 occurrences in 2 calls)" in note
    assert "(category signaling, owner first-line; 1 occurrence in 1 call)" in note


def test_reply_steps_for_a_refused_registration_follow_its_cause() -> None:
    """reg.rejected asked every customer to check the password, also when our ACL barred the phone (a 403 with no
    challenge) or a router mangled the REGISTER (400): steps follow the refusal's cause (checks.regrefusal)."""
    from dataclasses import replace

    import sipdiag
    from sipdiag.reports.replyactions import steps_for
    from tests.conftest import SAMPLES

    (refused,) = [f for f in sipdiag.analyze(SAMPLES / "register_wrong_password.pcap").findings
                  if f.rule == "reg.rejected"]
    assert (refused.evidence["cause"], steps_for(refused)) == ("credentials", (("check-credentials",),
                                                                               ("registration",)))
    for cause, customer in (("barred", ()), ("malformed", ("sip-alg-off",)), ("not-found", ("check-credentials",)),
                            ("loop", ()), ("bad-extension", ()), ("deregistration", ())):
        assert steps_for(replace(refused, evidence={**refused.evidence, "cause": cause})) == (customer,
                                                                                              ("registration",))


# The "Что изменить" section of the Russian note for lab samples whose rules had no Russian "How to fix": it showed
# the rules' English docstring paragraphs.
FIX_SECTION_RU = {
    "nat_port_churn.pcap": (
        "- reg.binding-churn: Отправляйте keep-alive (CRLF, OPTIONS или STUN, RFC 5626) с интервалом меньше половины "
        "нижней оценки времени жизни NAT-трансляции (обычно 15-25 с), увеличьте UDP-таймаут роутера (RFC 4787 "
        "REQ-5: не меньше 2 мин) или включите NAT-пинги с сервера.",
        "- router.nat-binding-timeout: Настройте keepalive на телефоне каждые 15-25 с (или более короткий интервал "
        "регистрации), NAT-пинги с сервера или UDP-таймаут роутера не меньше 180 с.",
    ),
    "answer_codec_not_offered.pcap": (
        "- codec.answer-format-issues: Исправьте обработку offer/answer на отвечающей стороне (PBX, B2BUA) или "
        "включите на SBC перенумерацию типов нагрузки и согласование fmtp; для AMR задайте одинаковый octet-align "
        "на обеих сторонах.",
        "- codec.rtp-payload-not-negotiated: Добейтесь, чтобы отправитель следовал ответу (расхождение типично после "
        "смены кодека через re-INVITE или при несимметричной нумерации типов нагрузки), или включите на SBC "
        "транскодирование или перенумерацию типов нагрузки.",
        "- dtmf.rfc4733-problem: Задайте одинаковый режим DTMF на устройстве и в учётной записи (предпочтительно "
        "RFC 2833/4733); если одна сторона поддерживает только один способ, включите на SBC преобразование между "
        "RFC 4733 и SIP INFO; исправьте устройства, которые неправильно отправляют события.",
    ),
    "nat_one_way_audio.pcap": (
        "- nat.private-sdp-address: Симметричный RTP/latching на SBC или медиа-релее; STUN/ICE или правильный "
        "публичный адрес на устройстве; отключите SIP ALG, переписывающий только часть сообщения.",
        "- media.one-way-audio: Включите симметричный RTP / latching или якорение медиа на SBC, исправьте настройки "
        "NAT устройства (STUN, публичный адрес) или отключите SIP ALG на роутере.",
        "- nat.media-source-mismatch: Симметричный RTP / latching (comedia) или якорение медиа на SBC; симметричный "
        "RTP на устройстве; отключите SIP ALG, который прописывает неверные адреса.",
    ),
}


@pytest.mark.parametrize("sample", sorted(FIX_SECTION_RU))
def test_russian_note_tells_every_fix_in_russian(sample: str) -> None:
    from sipdiag.checks import all_rules
    from tests.russiantext import english_runs

    lines = FIX_SECTION_RU[sample]
    rules = [line[2:].split(":", 1)[0] for line in lines]
    note = reply(str(SAMPLES / sample), "--lang", "ru", "--audience", "engineer",
                 *(arg for rule in rules for arg in ("--select", rule)))
    section = note.split("\nЧто изменить\n\n", 1)[1].split("\n\nЗахват\n", 1)[0]
    assert section.splitlines() == list(lines)
    assert english_runs(section) == []
    english = [" ".join(r.sections()["How to fix"].split()) for r in all_rules()]
    assert [text for text in english if text in " ".join(note.split())] == []


def test_a_scan_alone_is_no_failed_sign_in_of_the_customer() -> None:
    """svwar's eleven REGISTERs, none accepted, and nothing of the scanner got in: the scan is information, and its
    REGISTERs are not "0 of 11 sign-ins of your phone succeeded" beside "your line and our service were working"."""
    assert reply(str(SAMPLES / "sipvicious_scan.pcap")) == (
        "Hello,\n\nWe have analysed the recording you sent us (2026-11-22).\n\nThe recording holds no calls and no "
        "sign-ins of a phone to our service, so it cannot show the problem. Please make a new recording while you "
        "make a test call and send it to us.\n\nFor your information\n\n- Your phone system is being probed by "
        "automated attack tools from the internet. We recommend allowing access to it from our addresses only and "
        "using non-numeric SIP user names and strong passwords.\n\nIf you have any questions, just reply to this "
        "message.\n\nKind regards,\nTechnical support\n")


def unanswered_invite_over_tcp(path: Path) -> Path:
    """The phone's INVITE to 300 over TCP, acknowledged by the server's TCP and never answered at the SIP layer;
    the connection stays up for 40 s (past Timer B)."""
    text = cc.sip_message("INVITE sip:300@example.com SIP/2.0", "tcp-1", "1 INVITE", src=cc.UA, to_tag=False,
                          to_user="300", body=cc.SDP.format(ip=cc.UA[0], port=cc.UA_RTP))
    data = text.replace("SIP/2.0/UDP", "SIP/2.0/TCP").replace("\n", "\r\n").encode()
    ua, pbx = cc.UA[0], cc.PBX[0]

    def segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, payload: bytes, flags: str):
        return pw.ethernet(pw.ipv4(src, dst, pw.IPPROTO_TCP, pw.tcp(sport, dport, seq, payload, ack=ack, flags=flags,
                                                                    src=src, dst=dst)))

    end = 1000 + len(data)
    pw.write_pcap(path, [(cc.T0, segment(ua, pbx, 40000, 5060, 1000, 5000, data, "PA")),
                         (cc.T0 + 10**7, segment(pbx, ua, 5060, 40000, 5000, end, b"", "A")),
                         (cc.T0 + 40 * 10**9, segment(ua, pbx, 40000, 5060, end, 5000, b"", "A"))],
                  pw.LINKTYPE_ETHERNET)
    return path


@pytest.mark.parametrize(("lang", "step"), [
    ("en", "What we will do\n\n- We will check the equipment your calls were sent to and its connection with our "
           "servers.\n\n"),
    ("ru", "Что сделаем мы\n\n- Мы проверим оборудование, которому передавались ваши звонки, и его соединение с "
           "нашими серверами.\n\n")])
def test_an_invite_unanswered_over_tcp_is_the_receivers_silence_not_the_path(tmp_path: Path, lang: str,
                                                                             step: str) -> None:
    """Over TCP the INVITE is delivered or the connection breaks: no retransmissions to lose (RFC 3261
    §17.1.1.2, Timer A only over an unreliable transport). What we will do is check the equipment that took the
    call, not the generic path; over UDP the path stays the suspect."""
    import sipdiag

    path = unanswered_invite_over_tcp(tmp_path / "tcp.pcap")
    (f,) = sipdiag.analyze(path).findings
    assert (f.rule, f.evidence["transport"], f.evidence["sends"], f.evidence["final"]) == (
        "call.invite-timeout", "tcp", 1, "none")
    assert f.engineer_text["en"].startswith(
        "Call tcp-1: INVITE (frame 1) to 203.0.113.5:5060 sent once over 0.0 s without any response (Timer B, no "
        "retransmission over TCP, RFC 3261 §17.1.1.2); final status none. Over TCP the INVITE is sent once")
    assert "(таймер B, без повторных отправок по TCP, RFC 3261 §17.1.1.2)" in f.engineer_text["ru"]
    text = reply(str(path), "--lang", lang)
    assert step in text
    assert "связь между вашим оборудованием" not in text and "connection between your equipment" not in text
    # over UDP: the INVITE's retransmissions went unanswered, the connection between the two is what we check
    udp = reply(str(SAMPLES / "invite_timeout.pcap"), "--lang", lang)
    assert ("We will check the connection between your equipment and our servers." if lang == "en" else
            "Мы проверим связь между вашим оборудованием и нашими серверами.") in udp


def _two_ack_timeouts(path: Path) -> Path:
    """Two answered calls whose 200 OK is retransmitted without an ACK (RFC 3261 §13.3.1.4) and torn down by the
    UAS 64*T1 after it: the first UAS at T1 = 0.5 s (BYE after 32 s), the second, 100 s later, at T1 = 1 s (BYE
    after 64 s); call.ack-timeout-32s judges each by the T1 its 2xx gaps show."""
    script = cc.Script()
    for n, (start, t1) in enumerate(((0.0, 0.5), (100.0, 1.0)), 1):
        call_id = f"noack-{n}"
        script.sip(start, cc.sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=cc.UA,
                                         to_tag=False, branch=f"inv{n}", body=cc.SDP.format(ip=cc.UA[0],
                                                                                            port=cc.UA_RTP)),
                   cc.UA, cc.PBX)
        ok = cc.sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", src=cc.UA, branch=f"inv{n}",
                            body=cc.SDP.format(ip=cc.PBX[0], port=cc.PBX_RTP), contact=f"<sip:200@{cc.PBX[0]}:5060>")
        for at in cc.timer_schedule(t1, cap=4.0):
            script.sip(start + 0.3 + at, ok, cc.PBX, cc.UA)
        cc.bye(script, start + 0.3 + 64 * t1, call_id, from_callee=True, cseq=9 + n)
    return script.write(path)


def test_ack_timeouts_under_different_t1_are_told_with_their_own_seconds(tmp_path: Path) -> None:
    """The title and texts of call.ack-timeout-32s give 64*T1 of each call's UAS: 32 s for one call, 64 s for the
    other. The reply grouped findings by rule and told both under the first one's title and customer text ("about
    32 s", "about 30 seconds ... in 2 of the 2 calls"); findings whose titles differ are two problems."""
    path = _two_ack_timeouts(tmp_path / "two-t1.pcap")
    text = reply(str(path), "--select", "call.ack-timeout-32s")
    found = text.split("\nWhat we found\n\n", 1)[1].split("\n\nWhat you can do", 1)[0]
    assert [line[:62] for line in found.splitlines()] == [
        "- Your answered calls are cut off after about 30 seconds. Afte",
        "- Your answered calls are cut off after about 60 seconds. Afte"]
    assert [line.endswith("This happened in 1 of the 2 calls of the recording.") for line in found.splitlines()] \
        == [True, True]
    note = reply(str(path), "--select", "call.ack-timeout-32s", "--audience", "engineer")
    assert [line for line in note.splitlines() if line.startswith("- MAJOR")] == [
        "- MAJOR call.ack-timeout-32s: Answered call torn down about 32 s after answer: the ACK never arrived "
        "(category signaling, owner engineering; 1 occurrence in 1 call)",
        "- MAJOR call.ack-timeout-32s: Answered call torn down about 64 s after answer: the ACK never arrived "
        "(category signaling, owner engineering; 1 occurrence in 1 call)"]
    assert note.count("- call.ack-timeout-32s: Find where the ACK goes") == 1  # the rule's fix once
    ru = reply(str(path), "--select", "call.ack-timeout-32s", "--audience", "engineer", "--lang", "ru")
    assert [line.split(" (категория")[0] for line in ru.splitlines() if line.startswith("- MAJOR")] == [
        "- MAJOR call.ack-timeout-32s: Отвеченный вызов разорван примерно через 32 с после ответа: ACK так и не "
        "пришёл",
        "- MAJOR call.ack-timeout-32s: Отвеченный вызов разорван примерно через 64 с после ответа: ACK так и не "
        "пришёл"]
