"""The details of the anomalies (sipdiag.model.Anomaly), in English and in Russian, and the makers of anomalies.

Every anomaly's detail is made here from one entry of TEXTS, so the English and the Russian come from the same
values and a new kind cannot be added in one language and forgotten in the other (tests/unit/test_anomaly_texts.py
enumerates the kinds). An entry's key is the anomaly's code (`tcp.gap`), or the code and a variant when a kind
has several texts (`sip.bad-content-length:not-a-number`); keys without a dot before the colon are clauses that
several details embed (a URI parameter's defect, a HEP message's damage, a span of time).

The English is the detail as the JSON document, the CSV and the English reports have always shown it: the JSON
contract is language-neutral and keeps it. The Russian is what the Russian terminal and HTML reports show; its
counts agree with their nouns (sipdiag.russian.fill: "1 байт", "2 байта", "5 байт"). Values quoted from the wire
(addresses, header values, names) go into both as they came; the reports escape them for their output.
"""

from __future__ import annotations

from string import Formatter
from typing import NamedTuple

from ..model import Anomaly
from ..russian import fill


class Detail(NamedTuple):
    """One detail, or one clause of a detail, in English and in Russian."""

    en: str
    ru: str


TEXTS: dict[str, tuple[str, str]] = {
    # -- the capture file (sipdiag.parsers.capture, scan) --
    "pcap.read-error": (
        "reading stopped after {offset} bytes: {error}",
        "чтение файла остановлено после {offset} байт: {error}"),
    "pcap.read-error:gzip": (
        "reading stopped after {offset} bytes: damaged gzip stream, {damage}",
        "чтение файла остановлено после {offset} байт: повреждённый поток gzip, {damage}"),
    "gzip:cut-short": (
        "cut short (the compressed data ends before the end of the gzip stream)",
        "файл обрезан (сжатые данные кончаются раньше конца потока gzip)"),
    "gzip:corrupt": ("corrupt data ({error})", "повреждённые данные ({error})"),
    "pcap.truncated-header": (
        "the file ends inside the 24-byte pcap header",
        "файл обрывается внутри 24-байтного заголовка pcap"),
    "pcap.truncated-record:header": (
        "the file ends {left} bytes into the header of record {frame}",
        "обрезанная последняя запись: файл обрывается после {left} байт заголовка записи {frame}"),
    "pcap.truncated-record:data": (
        "record {frame} claims {caplen} bytes but the file ends after {left}; the partial record is not analysed",
        "обрезанная последняя запись: в заголовке записи {frame} указано {caplen} байт, а в файле после него "
        "осталось {left}; неполная запись не анализируется"),
    "pcap.bad-record-length": (
        "at file offset {offset} a record header claims {caplen} bytes, more than any packet can be: garbage or "
        "damage after frame {before}; {remaining} bytes and anything after them were not read",
        "по смещению {offset} в файле заголовок записи указывает длину {caplen} байт, больше любого пакета: мусор "
        "или повреждение после кадра {before}; не прочитаны {remaining} байт с этого места и всё, что за ними"),
    "pcapng.truncated-block": (
        "the file ends inside a block at offset {offset} ({left} bytes left); the partial block is not analysed",
        "файл обрывается внутри блока по смещению {offset} (в остатке {left} байт); неполный блок не анализируется"),
    "pcapng.bad-block:byte-order": (
        "section header at offset {offset} has no valid byte-order magic",
        "в заголовке секции по смещению {offset} нет допустимой метки порядка байтов"),
    "pcapng.bad-block:length": (
        "block at offset {offset} claims length {length}: damage or garbage after frame {frame}; the rest ({rest} "
        "bytes in this chunk and anything after) was not read",
        "блок по смещению {offset} указывает длину {length}: повреждение или мусор после кадра {frame}; остаток "
        "файла не прочитан (в этой части {rest} байт, и всё, что дальше)"),
    "pcapng.bad-block:statistics": (
        "interface statistics block at offset {offset} names interface {interface}, which this section does not "
        "describe: skipped",
        "блок статистики интерфейса по смещению {offset} ссылается на интерфейс {interface}, которого нет в "
        "описании этой секции: пропущен"),
    "pcapng.bad-block:name-resolution": (
        "name resolution block at offset {offset} has no end of records (a damaged block: a packet block's type "
        "overwritten?)",
        "у блока разрешения имён по смещению {offset} нет конца списка записей (повреждённый блок: затёрт тип "
        "блока пакета?)"),
    "pcapng.bad-block:decryption-secrets": (
        "decryption secrets block at offset {offset} claims {length} octets of secrets, more than the block holds "
        "(a damaged block: a packet block's type overwritten?)",
        "блок секретов расшифровки по смещению {offset} указывает {length} октетов секретов, больше, чем вмещает "
        "блок (повреждённый блок: затёрт тип блока пакета?)"),
    "pcapng.bad-option:tsoffset": (
        "interface {interface}: if_tsoffset of {offset} s is beyond any capture's time; ignored",
        "интерфейс {interface}: if_tsoffset {offset} с выходит за время любой записи; не учтён"),
    "pcapng.bad-option:overrun": (
        "{block} block at offset {offset}: an option runs past the block's end; it and the options after it are "
        "ignored",
        "блок {block} по смещению {offset}: опция выходит за конец блока; она и опции после неё не учтены"),
    "block:idb": ("interface description", "описания интерфейса"),
    "block:isb": ("interface statistics", "статистики интерфейса"),
    "pcapng.bad-caplen:block": (
        "packet block at offset {offset}: captured length {caplen} beyond its block of {size} octets; cut to the "
        "block",
        "блок пакета по смещению {offset}: захваченная длина {caplen} больше его блока ({size} октетов); обрезана "
        "по блоку"),
    "pcapng.bad-caplen:frames": (
        "frame {frame}: captured length {caplen} beyond its block of {size} octets; cut to the block ({n} such in "
        "the capture)",
        "кадр {frame}: захваченная длина {caplen} больше его блока ({size} октетов); обрезана по блоку (таких "
        "кадров в записи: {n})"),
    "pcapng.unknown-block": (
        "block at offset {offset} has type {type:#x}, which no pcapng version defines: skipped (damage, if it was "
        "a packet)",
        "блок по смещению {offset} имеет тип {type:#x}, которого нет ни в одной версии pcapng: пропущен (если это "
        "был пакет, блок повреждён)"),
    "pcapng.unknown-interface": (
        "frame {frame} refers to an interface no IDB described ({n} such frames in the capture); their link type "
        "is unknown",
        "кадр {frame} ссылается на интерфейс, не описанный ни одним IDB (таких кадров в записи: {n}); их "
        "канальный уровень неизвестен"),
    "pcapng.bad-timestamp": (
        "frame {frame}: timestamp beyond the year 2116 (a damaged block); {n} such in the capture take their "
        "predecessor's time",
        "кадр {frame}: метка времени позже 2116 года (повреждённый блок); таким кадрам в записи ({n}) дано время "
        "предыдущего"),
    "capture.time-backwards": (
        "the record time goes back {span} from the record before it: durations across it are not real",
        "скачок часов записи назад на {span} относительно предыдущей записи: длительности через этот скачок "
        "недостоверны"),
    "capture.time-jump": (
        "the record time goes forward {span} from the record before it: durations across it are not real",
        "скачок часов записи вперёд на {span} относительно предыдущей записи: длительности через этот скачок "
        "недостоверны"),
    "span:days": ("{days:.1f} days", "{days:.1f} сут."),
    "span:seconds": ("{seconds:.3f} s", "{seconds:.3f} с"),
    # -- links, IP, UDP, TCP, HEP (sipdiag.parsers.net, reassembly, tcp, hep) --
    "link.unsupported": (
        "link type {linktype} ({name}) is not decoded; its frames are counted but not analysed (try --engine "
        "tshark)",
        "канальный уровень {linktype} ({name}) не декодируется; его кадры посчитаны, но не анализируются "
        "(попробуйте --engine tshark)"),
    "link.truncated": ("Ethernet frame of {size} bytes", "обрезанный кадр Ethernet: {size} байт"),
    "ip.truncated:v4": ("IPv4 header cut at {size} bytes", "обрезанный заголовок IPv4: {size} байт"),
    "ip.truncated:v6": ("IPv6 header cut at {size} bytes", "обрезанный заголовок IPv6: {size} байт"),
    "ip.bad-header": ("IPv4 header length {ihl}", "недопустимая длина заголовка IPv4: {ihl}"),
    "udp.truncated": ("UDP header cut at {size} bytes", "обрезанный заголовок UDP: {size} байт"),
    "tcp.truncated": ("TCP header cut at {size} bytes", "обрезанный заголовок TCP: {size} байт"),
    "ip.fragment-too-large": (
        "fragment at offset {offset} with {size} bytes would make a datagram over 64 KiB; dropped",
        "фрагмент со смещением {offset} и длиной {size} байт дал бы датаграмму больше 64 КиБ; отброшен"),
    "ip.fragment-overlap": (
        "fragments of frames {frames} overlap with different content; the first copy of each part was kept",
        "фрагменты в кадрах {frames} перекрываются с разным содержимым; оставлена первая копия каждой части"),
    "ip.fragments-incomplete:timeout": (
        "{fragments} never completed within {timeout} s: {arrived} arrived ({missing}); the rest was lost before "
        "the capture point",
        "датаграмма ({fragments}) не собралась за {timeout} с: пришло {arrived} ({missing}); остальное потеряно "
        "до точки захвата"),
    "ip.fragments-incomplete:end": (
        "{fragments} never completed: {arrived} arrived ({missing})",
        "датаграмма ({fragments}) не собралась: пришло {arrived} ({missing})"),
    # the fragments of a datagram: Russian names one fragment in the singular (a datagram of which only one
    # fragment arrived is common)
    "fragments:one": ("fragments of frames {frames}", "фрагмент в кадре {frames}"),
    "fragments:many": ("fragments of frames {frames}", "фрагменты в кадрах {frames}"),
    "arrived:of": ("{size} of {total} bytes", "{size} из {total} байт"),
    "arrived:unknown": ("{size} of unknown bytes", "{size} байт, полный размер неизвестен"),
    # what a datagram lacks, by (its first fragment arrived, its last arrived)
    "missing:last": ("the last fragment is missing", "нет последнего фрагмента"),
    "missing:first": ("the first fragment is missing", "нет первого фрагмента"),
    "missing:both": ("the first and last fragments are missing", "нет первого и последнего фрагментов"),
    "missing:middle": ("a middle fragment is missing", "нет фрагмента в середине"),
    "ip.fragments-evicted": (
        "{why} in reassembly at frame {frame}: the oldest (frames {frames}) was dropped unfinished (limit "
        "{datagrams} datagrams / {mib} MiB)",
        "{why} в сборке фрагментов на кадре {frame}: самая старая датаграмма (кадры {frames}) отброшена "
        "несобранной (предел: датаграмм {datagrams}, {mib} МиБ)"),
    "evicted:datagrams": ("too many datagrams", "слишком много датаграмм"),
    "evicted:bytes": ("too many bytes", "слишком много байт"),
    "ip.fragment-duplicates": (
        "{copies} fragments of the datagram of frames {frames} repeated parts already received (retransmitted, "
        "duplicated or overlapping copies); the frames of the first {listed} are listed with it, the other {rest} "
        "only counted",
        "повторных фрагментов датаграммы из кадров {frames} (повторные передачи, дубликаты или перекрывающиеся "
        "копии уже полученных частей): {copies}; в списке кадров первые {listed} из них, остальные ({rest}) только "
        "посчитаны"),
    "hep.duplicate": (
        "a copy of the HEP message of frame {first} (same capture time, addresses and payload): relayed again, not "
        "sent again",
        "копия сообщения HEP из кадра {first} (то же время захвата, адреса и содержимое): переслано повторно, а "
        "не отправлено заново"),
    "hep.bad-message": ("damaged HEP message", "повреждённое сообщение HEP"),
    "hep.bad-message:short": (
        "HEPv3 message shorter than its 6-byte header",
        "сообщение HEPv3 короче своего 6-байтного заголовка"),
    "hep.bad-message:length": (
        "HEPv3 header claims {total} bytes, {present} present",
        "заголовок HEPv3 указывает {total} байт, а есть только {present}"),
    "hep.bad-message:chunk": (
        "HEPv3 chunk type {type} at offset {offset} has a bad length {length}",
        "у блока HEPv3 типа {type} по смещению {offset} неверная длина {length}"),
    "hep.bad-message:addresses": (
        "HEPv3 message without source/destination address chunks",
        "в сообщении HEPv3 нет блоков с адресами источника и назначения"),
    "hep.bad-message:inflates-too-much": (
        "HEPv3 compressed payload (chunk 16) inflates beyond {limit} octets",
        "сжатые данные HEPv3 (блок 16) при распаковке превышают {limit} октетов"),
    "hep.bad-message:no-inflate": (
        "HEPv3 compressed payload (chunk 16) does not inflate",
        "сжатые данные HEPv3 (блок 16) не распаковываются"),
    "hep.bad-message:no-payload": (
        "HEPv3 message without a payload chunk", "в сообщении HEPv3 нет блока с данными"),
    "hep.bad-message:v2-family": (
        "HEPv{version} header too short for address family {family}",
        "заголовок HEPv{version} слишком короткий для семейства адресов {family}"),
    "hep.bad-message:v2-time": (
        "HEPv2 message ends inside its time header", "сообщение HEPv2 обрывается внутри заголовка времени"),
    "tcp.incomplete-message": (
        "{size} bytes of an unfinished SIP message from {src}:{sport} when the connection closed",
        "соединение закрылось посреди SIP-сообщения от {src}:{sport}: незавершённая часть {size} байт"),
    "tcp.gap": (
        "{missing} bytes missing from {src}:{sport} -> {dst}:{dport} before frame {frame} (lost before the capture "
        "point); the stream is resynchronised after the hole",
        "пропуск в потоке TCP {src}:{sport} -> {dst}:{dport} перед кадром {frame}: размер пропуска {missing} байт "
        "(данные потеряны до точки захвата); после пропуска поток синхронизирован заново"),
    "tcp.unframed-data": (
        "{size} bytes from {src}:{sport} without a complete SIP message; the stream is resynchronised",
        "данные от {src}:{sport} без полного SIP-сообщения ({size} байт); поток синхронизирован заново"),
    "ws.bad-frame": (
        "WebSocket frame from {src}:{sport} larger than {limit} bytes; the rest of this stream is not read",
        "кадр WebSocket от {src}:{sport} размером более {limit} байт; остаток этого потока не читается"),
    # -- SIP (sipdiag.parsers.sip, sipvalidate, sipuri, sipheaders, tcp) --
    "sip.missing-content-length:stream": (
        "a SIP message over TCP from {src}:{sport} has no Content-Length; RFC 3261 §18.3 requires it on stream "
        "transports, a body of 0 bytes was assumed",
        "в SIP-сообщении по TCP от {src}:{sport} нет Content-Length; RFC 3261 §18.3 требует его на потоковых "
        "транспортах, тело принято пустым (0 байт)"),
    "sip.missing-content-length": (
        "no Content-Length over {transport} (RFC 3261 §18.3, §20.14)",
        "нет Content-Length при передаче по {transport} (RFC 3261 §18.3, §20.14)"),
    "sip.bad-version": (
        "{version!r} is not a SIP-Version (SIP/2.0)",
        "{version!r} не является версией SIP (SIP/2.0)"),
    "sip.unknown-protocol-version": (
        "{version} is not supported; a server answers 505 (RFC 4475 §3.1.2.16)",
        "{version} не поддерживается; сервер отвечает 505 (RFC 4475 §3.1.2.16)"),
    "sip.bad-start-line:status": (
        "status line {line!r} is not 'SIP/2.0 SP code SP reason'",
        "строка статуса {line!r} не соответствует форме 'SIP/2.0 SP code SP reason'"),
    "sip.bad-start-line:uri-whitespace": (
        "Request-URI {uri!r} contains whitespace (RFC 4475 §3.1.2.8)",
        "Request-URI {uri!r} содержит пробельные символы (RFC 4475 §3.1.2.8)"),
    "sip.bad-start-line:separators": (
        "request line elements are not separated by exactly one SP (RFC 4475 §3.1.2.9, §3.1.2.10)",
        "элементы строки запроса разделены не ровно одним SP (RFC 4475 §3.1.2.9, §3.1.2.10)"),
    "sip.bad-start-line:no-version": (
        "request line {line!r} has no SIP-Version", "в строке запроса {line!r} нет версии SIP"),
    "sip.bad-status-code:range": (
        "status code {code} is outside 100-699 (RFC 3261 §7.2)",
        "код ответа {code} вне диапазона 100-699 (RFC 3261 §7.2)"),
    "sip.bad-status-code:digits": (
        "status code {code!r} is not three digits (RFC 3261 §7.2)",
        "код ответа {code!r} не состоит из трёх цифр (RFC 3261 §7.2)"),
    "sip.junk-before-message": (
        "{size} octets before the start line were skipped",
        "перед стартовой строкой пропущен мусор ({size} октетов)"),
    "sip.unterminated-headers": (
        "the header section does not end with an empty line (CRLF CRLF): the message may be truncated",
        "заголовки не завершаются пустой строкой (CRLF CRLF): сообщение, возможно, обрезано"),
    "sip.bad-utf8": (
        "header text is not valid UTF-8 (RFC 3261 §7.3.1)",
        "текст заголовков не является корректным UTF-8 (RFC 3261 §7.3.1)"),
    "sip.missing-header": ("no {name} header (RFC 3261 §8.1.1)", "нет заголовка {name} (RFC 3261 §8.1.1)"),
    "sip.multiple-values-single-header": (
        "{count} {name} headers ({values}) where one is allowed (RFC 4475 §3.3.8)",
        "заголовков {name}: {count} ({values}), а допустим только один (RFC 4475 §3.3.8)"),
    "sip.bad-cseq": (
        "CSeq {cseq!r} is not 'number method' with number < 2**32",
        "CSeq {cseq!r} не соответствует форме 'номер метод' с номером < 2**32"),
    "sip.cseq-method-mismatch": (
        "CSeq method in {cseq!r} differs from request method {method} (RFC 4475 §3.1.2.17)",
        "метод в CSeq {cseq!r} не совпадает с методом запроса {method} (RFC 4475 §3.1.2.17)"),
    "sip.bad-content-length:conflicting": (
        "conflicting Content-Length values; the body is taken as the {size} octets that follow",
        "противоречивые значения Content-Length; телом считается всё, что идёт после заголовков ({size} "
        "октетов)"),
    "sip.bad-content-length:not-a-number": (
        "Content-Length {value!r} is not a number", "Content-Length {value!r} не является числом"),
    "sip.bad-content-length:short": (
        "Content-Length {value} but only {size} octets follow the headers (message truncated or length wrong, "
        "RFC 4475 §3.1.2.2)",
        "Content-Length {value}, но после заголовков всего {size} октетов (сообщение обрезано или длина неверна, "
        "RFC 4475 §3.1.2.2)"),
    "sip.trailing-octets": (
        "{size} octets after the Content-Length body were ignored (RFC 3261 §18.3)",
        "данные после тела длиной Content-Length отброшены ({size} октетов, RFC 3261 §18.3)"),
    "sip.control-in-identifier:call-id": (
        "{label} {value} holds control character(s) {codes}; it must be a word [@ word] (RFC 3261 §25.1): the "
        "message was mangled or forged",
        "{label} {value} содержит управляющие символы {codes}, а по грамматике должен быть word [@ word] "
        "(RFC 3261 §25.1): сообщение искажено или подделано"),
    "sip.control-in-identifier:token": (
        "{label} {value} holds control character(s) {codes}; it must be a token (RFC 3261 §25.1): the message was "
        "mangled or forged",
        "{label} {value} содержит управляющие символы {codes}, а по грамматике должен быть token (RFC 3261 §25.1): "
        "сообщение искажено или подделано"),
    "label:from-tag": ("From tag", "тег From"),
    "label:to-tag": ("To tag", "тег To"),
    "label:via-branch": ("Via branch", "branch в Via"),
    "sip.bare-lf": (
        "a header line ends with a bare LF while the others end with CRLF (RFC 3261 §7)",
        "строка заголовка оканчивается одиночным LF, а остальные оканчиваются CRLF (RFC 3261 §7)"),
    "sip.bad-header-line": (
        "not a 'name: value' header line: {line!r}",
        "строка заголовка не соответствует форме 'name: value': {line!r}"),
    "sip.bad-header-name": (
        "header name {name} is not a token (RFC 3261 §7.3.1)",
        "имя заголовка {name} не является token (RFC 3261 §7.3.1)"),
    "sip.bad-name-addr:star": (
        "Contact: '*' combined with other Contact values (RFC 3261 §10.2.2)",
        "Contact: '*' вместе с другими значениями Contact (RFC 3261 §10.2.2)"),
    "sip.bad-name-addr:route": (
        "{label}: {element} must be a name-addr in <> (RFC 3261 §20.30)",
        "{label}: элемент {element} должен быть name-addr в <> (RFC 3261 §20.30)"),
    "sip.bad-name-addr:q": (
        "Contact q={value} is not a qvalue 0..1 (RFC 3261 §20.10)",
        "Contact q={value} не является qvalue 0..1 (RFC 3261 §20.10)"),
    "sip.bad-name-addr:empty": ("{what}: empty value", "{what}: пустое значение"),
    "sip.bad-name-addr:no-uri": (
        "{what}: quoted display name is not followed by <URI>",
        "{what}: после отображаемого имени в кавычках нет <URI>"),
    "sip.bad-name-addr:unclosed": ("{what}: '<' without a closing '>'", "{what}: '<' без закрывающей '>'"),
    "sip.bad-name-addr:whitespace": (
        "{what}: whitespace inside <{inner}> (RFC 3261 §25.1 LAQUOT/RAQUOT)",
        "{what}: пробельные символы внутри <{inner}> (RFC 3261 §25.1 LAQUOT/RAQUOT)"),
    "sip.bad-name-addr:addr-spec": (
        "{what}: URI {uri!r} contains '?' or ',' and must be enclosed in <> (RFC 3261 §20)",
        "{what}: URI {uri!r} содержит '?' или ',' и должен быть заключён в <> (RFC 3261 §20)"),
    "sip.bad-display-name:unclosed": (
        "{what}: display name has no closing '\"'",
        "{what}: у отображаемого имени нет закрывающей '\"'"),
    "sip.bad-display-name:unquoted": (
        "{what}: display name {display!r} has non-token characters and must be quoted (RFC 3261 §25.1)",
        "{what}: отображаемое имя {display!r} содержит символы, недопустимые в token, и должно быть в кавычках "
        "(RFC 3261 §25.1)"),
    "sip.bad-uri:request-uri-headers": (
        "Request-URI {uri} carries URI headers ('?...'), which are not allowed there (RFC 3261 §19.1.1, RFC 4475 "
        "§3.1.2.11)",
        "Request-URI {uri} содержит заголовки URI ('?...'), недопустимые в нём (RFC 3261 §19.1.1, RFC 4475 "
        "§3.1.2.11)"),
    "sip.bad-uri:bracketed": (
        "{what}: {uri!r} is enclosed in <> where a bare URI belongs",
        "{what}: URI {uri!r} заключён в <>, а здесь нужен URI без скобок"),
    "sip.bad-uri:whitespace": (
        "{what}: {uri!r} contains whitespace", "{what}: URI {uri!r} содержит пробельные символы"),
    "sip.bad-uri:no-scheme": ("{what}: {uri!r} has no URI scheme", "{what}: у URI {uri!r} нет схемы"),
    "sip.bad-uri:user": (
        "{what}: user part {user!r} has characters that must be escaped",
        "{what}: в имени пользователя {user!r} есть символы, которые должны быть экранированы"),
    "sip.bad-uri:password": (
        "{what}: password part has characters that must be escaped",
        "{what}: в пароле есть символы, которые должны быть экранированы"),
    "sip.bad-uri:parameter": (
        "{what}: URI parameter {name!r} has characters that must be escaped",
        "{what}: в параметре URI {name!r} есть символы, которые должны быть экранированы"),
    "sip.bad-uri:header": ("{what}: bad URI header {item!r}", "{what}: неверный заголовок URI {item!r}"),
    "sip.bad-uri:empty": ("{what}: empty URI", "{what}: пустой URI"),
    # host[:port] (a URI's, a Via's sent-by)
    "sip.bad-uri:unclosed-ipv6": (
        "{what}: IPv6 reference {hostport!r} has no closing ']'",
        "{what}: у IPv6-ссылки {hostport!r} нет закрывающей ']'"),
    "sip.bad-uri:after-ipv6": (
        "{what}: unexpected {rest!r} after the IPv6 reference",
        "{what}: лишний текст {rest!r} после IPv6-ссылки"),
    "sip.bad-uri:bare-ipv6": (
        "{what}: IPv6 address {hostport!r} is not enclosed in [] (RFC 5118 §4.2)",
        "{what}: IPv6-адрес {hostport!r} не заключён в [] (RFC 5118 §4.2)"),
    "sip.bad-uri:no-host": ("{what}: no host", "{what}: нет хоста"),
    "sip.bad-uri:host": (
        "{what}: host {host!r} is not a hostname or IP address",
        "{what}: хост {host!r} не является ни доменным именем, ни IP-адресом"),
    "sip.bad-uri:port": (
        "{what}: port {port!r} is not a number from 0 to 65535",
        "{what}: порт {port!r} не является числом от 0 до 65535"),
    "sip.bad-ipv6-reference:triple-colon": (
        "{what}: IPv6 reference [{host}] uses the ':::' form of the RFC 3261 ABNF bug; accepted as RFC 5118 §4.10 "
        "asks, but it is not a valid IPv6 address (RFC 5954)",
        "{what}: IPv6-ссылка [{host}] записана в форме ':::' из ошибки ABNF RFC 3261; принята, как требует "
        "RFC 5118 §4.10, но это некорректный IPv6-адрес (RFC 5954)"),
    "sip.bad-ipv6-reference:invalid": (
        "{what}: [{host}] is not a valid IPv6 address", "{what}: [{host}] не является корректным IPv6-адресом"),
    # ;parameters (of a URI, a name-addr, a Via): the caller files them under its own kind
    "params:unexpected": (
        "unexpected text {text!r} where ';parameters' were expected",
        "лишний текст {text!r} там, где ожидались ';параметры'"),
    "params:empty": ("empty parameter (';;' or a trailing ';')", "пустой параметр (';;' или ';' в конце)"),
    "params:name": ("parameter name {name!r} is not a token", "имя параметра {name!r} не является token"),
    "params:no-value": ("parameter {name!r} has '=' but no value", "у параметра {name!r} есть '=', но нет значения"),
    "sip.bad-via:form": (
        "{what}: {value!r} is not 'SIP/2.0/transport host[:port]'",
        "{what}: {value!r} не соответствует форме 'SIP/2.0/transport host[:port]'"),
    "sip.bad-via:no-sent-by": ("{what}: no sent-by host in {value!r}", "{what}: нет хоста sent-by в {value!r}"),
    "sip.bad-via:empty-element": (
        "Via: empty element in the comma list {value}", "Via: пустой элемент в списке через запятую {value}"),
    "sip.bad-via:received": (
        "Via: received={value} is not an IP address (RFC 3261 §18.2.1)",
        "Via: received={value} не является IP-адресом (RFC 3261 §18.2.1)"),
    "sip.bad-via:rport": (
        "Via: rport={value} is not a port number (RFC 3581 §4)",
        "Via: rport={value} не является номером порта (RFC 3581 §4)"),
    "sip.bad-via:branch": ("Via: branch parameter without a value", "Via: параметр branch без значения"),
    "sip.bad-expires:contact": (
        "Contact expires={value} is not delta-seconds 0..2**32-1 (RFC 3261 §20.10)",
        "Contact expires={value} не является delta-seconds 0..2**32-1 (RFC 3261 §20.10)"),
    "sip.bad-expires": (
        "{header} {value} is not delta-seconds 0..2**32-1 ({rfc})",
        "{header} {value} не является delta-seconds 0..2**32-1 ({rfc})"),
    "sip.bad-retry-after": (
        "{header} {value} is not delta-seconds 0..2**32-1 ({rfc})",
        "{header} {value} не является delta-seconds 0..2**32-1 ({rfc})"),
    "sip.bad-max-forwards": ("{header} {value} is not 0..255 ({rfc})", "{header} {value} вне диапазона 0..255 ({rfc})"),
    "sip.bad-session-expires": ("{header} {value} is malformed ({rfc})", "{header} {value}: неверный формат ({rfc})"),
    "sip.bad-date": (
        "{header} {value} is not an RFC 1123 date in GMT ({rfc})",
        "{header} {value} не является датой RFC 1123 в GMT ({rfc})"),
    "sip.bad-call-id": (
        "{header} {value} is not word[@word] ({rfc})",
        "{header} {value} не соответствует форме word[@word] ({rfc})"),
    "sip.bad-content-type": (
        "{header} {value} is not type/subtype ({rfc})",
        "{header} {value} не соответствует форме type/subtype ({rfc})"),
    "sip.bad-warning": (
        "Warning {value} is not '3-digit-code agent \"text\"' (RFC 3261 §20.43)",
        "Warning {value} не соответствует форме '3-digit-code agent \"text\"' (RFC 3261 §20.43)"),
    "sip.bad-multipart": (
        "multipart body does not follow the boundary of {content_type} (RFC 2046 §5.1)",
        "составное тело не соответствует границе (boundary) из {content_type} (RFC 2046 §5.1)"),
    # -- SDP (sipdiag.parsers.sdp, sdpattributes) --
    "sdp.bad-line:form": (
        "line {number} {line!r} is not 'type=value' (RFC 8866 §5)",
        "строка {number} {line!r} не соответствует форме 'type=value' (RFC 8866 §5)"),
    "sdp.bad-line:bandwidth": (
        "b={value!r} is not 'type:bandwidth' (RFC 8866 §5.8)",
        "b={value!r} не соответствует форме 'type:bandwidth' (RFC 8866 §5.8)"),
    "sdp.bad-line:timing": (
        "t={value!r} is not 'start stop' (RFC 8866 §5.9)",
        "t={value!r} не соответствует форме 'start stop' (RFC 8866 §5.9)"),
    "sdp.bad-version": (
        "v={value!r}: only version 0 exists (RFC 8866 §5.1)",
        "v={value!r}: существует только версия 0 (RFC 8866 §5.1)"),
    "sdp.bad-origin": (
        "o={value!r} does not have 6 fields (RFC 8866 §5.2)",
        "в o={value!r} не 6 полей (RFC 8866 §5.2)"),
    "sdp.bad-connection:form": (
        "c={value!r} is not 'nettype addrtype address' (RFC 8866 §5.7)",
        "c={value!r} не соответствует форме 'nettype addrtype address' (RFC 8866 §5.7)"),
    "sdp.bad-connection:suffix": (
        "c={value!r} has a malformed TTL/count suffix", "у c={value!r} неверный суффикс TTL/количества адресов"),
    "sdp.bad-media:form": (
        "m={value!r} is not 'media port[/count] proto fmt...' (RFC 8866 §5.14)",
        "m={value!r} не соответствует форме 'media port[/count] proto fmt...' (RFC 8866 §5.14)"),
    "sdp.bad-media:no-formats": ("m={value!r} lists no formats", "в m={value!r} не указано ни одного формата"),
    "sdp.bad-media:payload-type": (
        "m={value!r}: {formats} is not an RTP payload type (0-127)",
        "m={value!r}: {formats} не является типом нагрузки RTP (0-127)"),
    "sdp.missing-line": ("no {line} line (RFC 8866 §5)", "нет строки {line} (RFC 8866 §5)"),
    "line:v": ("v= (version)", "v= (версия)"),
    "line:o": ("o= (origin)", "o= (источник)"),
    "line:s": ("s= (session name)", "s= (имя сеанса)"),
    "line:t": ("t= (timing)", "t= (время)"),
    "sdp.missing-connection": (
        "media {index} ({media}) has no c= line and the session none",
        "у медиасекции {index} ({media}) нет строки c=, и у сеанса её тоже нет"),
    "sdp.bad-rtpmap": (
        "a=rtpmap:{value} is not 'pt encoding/clock[/channels]' (RFC 8866 §6.6)",
        "a=rtpmap:{value} не соответствует форме 'pt encoding/clock[/channels]' (RFC 8866 §6.6)"),
    "sdp.bad-fmtp": (
        "a=fmtp:{value} does not start with a payload type number",
        "a=fmtp:{value} не начинается с номера типа нагрузки"),
    "sdp.bad-attribute:milliseconds": (
        "a={name}:{value} is not a number of milliseconds up to {limit} (RFC 8866 §6.4)",
        "a={name}:{value} не является числом миллисекунд от 0 до {limit} (RFC 8866 §6.4)"),
    "sdp.bad-attribute:rtcp": (
        "a=rtcp:{value} is not 'port [IN IP4|IP6 address]' (RFC 3605)",
        "a=rtcp:{value} не соответствует форме 'port [IN IP4|IP6 address]' (RFC 3605)"),
    "sdp.bad-attribute:crypto": (
        "a=crypto:{value} is not 'tag suite key-params' (RFC 4568 §9.1)",
        "a=crypto:{value} не соответствует форме 'tag suite key-params' (RFC 4568 §9.1)"),
    "sdp.bad-attribute:fingerprint": (
        "a=fingerprint:{value} is not 'hash-func fingerprint' (RFC 8122 §5)",
        "a=fingerprint:{value} не соответствует форме 'hash-func fingerprint' (RFC 8122 §5)"),
    "sdp.bad-attribute:candidate": (
        "a=candidate:{value} is malformed (RFC 8839 §5.1)", "a=candidate:{value}: неверный формат (RFC 8839 §5.1)"),
    # -- the tshark engine (sipdiag.tsharkengine) --
    "tshark.stopped-early": (
        "tshark stopped reading the capture: {why}; what it read before is analysed",
        "tshark прекратил чтение записи: {why}; анализируется то, что прочитано до этого"),
    "tshark.bad-timestamp": (
        "tshark gives this packet the time {time} s, beyond what a capture can hold (a damaged time offset or "
        "resolution): it takes the time before it, as do later ones",
        "tshark даёт этому пакету время {time} с, невозможное для записи (повреждены смещение или разрешение "
        "времени): ему, как и следующим таким пакетам, дано время предыдущего"),
    "tshark.sip-without-bytes": (
        "tshark dissected SIP but gave no message bytes", "tshark разобрал SIP, но не выдал байты сообщения"),
    "tls.undecrypted": (
        "TLS flow {a}:{a_port} <-> {b}:{b_port}: {frames} frame(s) of encrypted application data on a SIP port "
        "could not be read ({why}); the SIP it carries is not in this analysis",
        "TLS-поток {a}:{a_port} <-> {b}:{b_port}: зашифрованные данные на порту SIP не прочитаны (кадров: "
        "{frames}; {why}); SIP внутри него в этот анализ не вошёл"),
    "undecrypted:keylog": (
        "the key log has no secrets for this session", "в журнале ключей нет секретов этого сеанса"),
    "undecrypted:no-keylog": ("no --keylog was given", "не задан --keylog"),
    # -- a flood of one kind (sipdiag.parsers.anomalies) --
    "more": (
        "{more} more '{code}' anomalies not listed one by one ({total} in all)",
        "ещё аномалии '{code}', не перечисленные по отдельности: {more} (всего {total})"),
}


def kind_of(key: str) -> str:
    """The anomaly code of a TEXTS key: the key up to its variant."""
    return key.partition(":")[0]


# Every anomaly kind sipdiag records: the codes of TEXTS's details (a clause's key has no dot before the colon).
KINDS: frozenset[str] = frozenset(kind_of(k) for k in TEXTS if "." in kind_of(k))


def fields(template: str) -> frozenset[str]:
    """The names of a template's fields ("{size} of {total!r}": size, total)."""
    return frozenset(name for _text, name, _spec, _conv in Formatter().parse(template) if name)


def detail(key: str, /, **values: object) -> Detail:
    """The text of TEXTS[key] in both languages, filled with `values`; a value that is a Detail (a clause) goes
    into each language as that language's text."""
    return Detail(*_texts(key, values))


def _texts(key: str, values: dict[str, object]) -> tuple[str, str]:
    en, ru = TEXTS[key]
    if any(isinstance(value, Detail) for value in values.values()):
        return (en.format(**{k: v.en if isinstance(v, Detail) else v for k, v in values.items()}),
                fill(ru, **{k: v.ru if isinstance(v, Detail) else v for k, v in values.items()}))
    return en.format(**values), fill(ru, **values)


def joined(what: str, clause: Detail) -> Detail:
    """"{what}: {clause}" in both languages: a defect named after the value it was found in ("From: ...");
    `what` is a header's or a value's name, the same in both."""
    return Detail(f"{what}: {clause.en}", f"{what}: {clause.ru}")


def anomaly(key: str, frame: int | None, /, **values: object) -> Anomaly:
    """The anomaly of TEXTS[key] (its code: the key up to its variant) at `frame`."""
    return Anomaly(key.partition(":")[0], frame, *_texts(key, values))


def anomaly_with(code: str, frame: int | None, text: Detail) -> Anomaly:
    """An anomaly of `code` whose detail was made earlier (a header's defect found before the message's frame is
    known, a HEP message's damage)."""
    return Anomaly(code, frame, text.en, text.ru)
