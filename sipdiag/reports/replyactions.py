"""What a reply asks the customer to do and promises on the operator's side, per rule (ARCHITECTURE.md "Checks":
texts in English and Russian, free of jargon for the customer).

A finding's customer text says what happened; a reply also needs one concrete step per distinct problem, and two
problems with the same remedy (one-way audio and a missing ACK are both "switch SIP ALG off") must give that step
once. So steps have keys, rules name keys, and the reply lists each key once in the order the findings came.
Rules not named here (the rule set grows) fall back to their category and owner.
"""

from __future__ import annotations

from ..checks import Finding

# Steps for the customer: things a person at home or in a small office can do without us.
CUSTOMER_STEPS: dict[str, dict[str, str]] = {
    "sip-alg-off": {
        "en": "Switch off the 'SIP ALG' feature (sometimes called 'SIP helper' or 'SIP passthrough') in your "
              "router's settings, then restart the router.",
        "ru": "Отключите в настройках роутера функцию «SIP ALG» (она также может называться «SIP helper» или "
              "«SIP passthrough») и перезагрузите роутер.",
    },
    "fragments": {
        "en": "Switch off 'SIP ALG' and any 'fragment' or 'flood' protection in your router's settings, then "
              "restart the router.",
        "ru": "Отключите в настройках роутера «SIP ALG» и защиту от «фрагментов» или «флуда», затем "
              "перезагрузите роутер.",
    },
    "check-credentials": {
        "en": "Check that the user name and password in the phone's settings are exactly the ones we gave you.",
        "ru": "Проверьте, что имя пользователя и пароль в настройках телефона в точности совпадают с теми, что "
              "мы вам выдали.",
    },
    "check-connection": {
        "en": "Check that the phone is connected to the internet: the cable is plugged in and the router is on.",
        "ru": "Проверьте, что телефон подключён к интернету: кабель вставлен, роутер включён.",
    },
    "wired": {
        "en": "If the phone uses Wi-Fi, connect it with a cable for a test call, and avoid large downloads "
              "during calls.",
        "ru": "Если телефон подключён по Wi-Fi, подключите его кабелем для пробного звонка и не запускайте "
              "больших загрузок во время разговора.",
    },
    "allow-g711": {
        "en": "Allow the voice formats G.711 (PCMA and PCMU) in the phone's settings.",
        "ru": "Разрешите в настройках телефона голосовые форматы G.711 (PCMA и PCMU).",
    },
    "strong-password": {
        "en": "Change the phone's password to a long, unique one that you do not use anywhere else.",
        "ru": "Смените пароль телефона на длинный и уникальный, который вы больше нигде не используете.",
    },
    "check-number": {
        "en": "Check the number you dialled.",
        "ru": "Проверьте набранный номер.",
    },
    "firewall-voice": {
        "en": "Check the firewall settings of your router: allow voice calls (SIP and the audio ports) to and from "
              "our servers, then restart the router.",
        "ru": "Проверьте настройки межсетевого экрана роутера: разрешите голосовые звонки (SIP и порты звука) к "
              "нашим серверам и от них, затем перезагрузите роутер.",
    },
    "tell-us": {
        "en": "Nothing needs changing on your side for now. If it happens again, note the time and the number "
              "you called and tell us.",
        "ru": "С вашей стороны пока ничего менять не нужно. Если это повторится, запишите время и номер, на "
              "который вы звонили, и сообщите нам.",
    },
}

# Steps on the operator's side, in the customer's words.
OPERATOR_STEPS: dict[str, dict[str, str]] = {
    "nat": {
        "en": "We will adjust how our servers handle the addresses of your home or office network.",
        "ru": "Мы настроим на наших серверах работу с адресами вашей домашней или офисной сети.",
    },
    "signaling": {
        "en": "We will check the connection between your equipment and our servers.",
        "ru": "Мы проверим связь между вашим оборудованием и нашими серверами.",
    },
    # call.invite-timeout over a reliable transport (TCP, TLS): the INVITE was delivered, nothing of it was lost on
    # the way (RFC 3261 §17.1.1.2: no retransmissions), the equipment it went to took it and stayed silent
    "unanswered": {
        "en": "We will check the equipment your calls were sent to and its connection with our servers.",
        "ru": "Мы проверим оборудование, которому передавались ваши звонки, и его соединение с нашими серверами.",
    },
    "media": {
        "en": "We will check the path the sound takes between your equipment and our servers.",
        "ru": "Мы проверим путь, по которому звук идёт между вашим оборудованием и нашими серверами.",
    },
    "codec": {
        "en": "We will check the voice formats allowed for your account and on our side.",
        "ru": "Мы проверим голосовые форматы, разрешённые для вашей учётной записи и на нашей стороне.",
    },
    "registration": {
        "en": "We will check your account's settings and the path to our server.",
        "ru": "Мы проверим настройки вашей учётной записи и путь до нашего сервера.",
    },
    "account": {
        "en": "We will check your account and the route of the calls that failed.",
        "ru": "Мы проверим вашу учётную запись и маршрут звонков, которые не удались.",
    },
    "security": {
        "en": "Our security team is looking at blocking the addresses the attempts came from, and we will "
              "keep watching your account.",
        "ru": "Наша служба безопасности рассматривает блокировку адресов, с которых шли попытки, и мы "
              "продолжим следить за вашей учётной записью.",
    },
    "tcp": {
        "en": "If that does not help, we can move your phone to a connection type that avoids the problem.",
        "ru": "Если это не поможет, мы можем перевести телефон на другой тип соединения, при котором этой "
              "проблемы нет.",
    },
    "recheck": {
        "en": "When you have made the change, we will check your calls again.",
        "ru": "После того как вы внесёте изменения, мы проверим ваши звонки ещё раз.",
    },
}

# rule id -> (customer steps, operator steps)
RULE_STEPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alg.sdp-rewritten-inconsistently": (("sip-alg-off",), ("recheck",)),
    "call.ack-timeout-32s": (("sip-alg-off",), ("signaling",)),
    "call.failure-response": ((), ("account",)),
    "call.invite-timeout": ((), ("signaling",)),
    "codec.answer-format-issues": ((), ("codec",)),
    "codec.no-common-codec": (("allow-g711",), ("codec",)),
    "media.low-mos": (("wired",), ("media",)),
    "media.no-rtp": ((), ("media",)),
    "media.one-way-audio": (("sip-alg-off",), ("media",)),
    "media.packet-loss": (("wired",), ("media",)),
    "nat.private-contact": ((), ("nat",)),
    "nat.private-sdp-address": ((), ("nat",)),
    # its customer text asks to enter the SIP password again (but for its causes in AUTH_LOOP_CUSTOMER_STEPS): the
    # reply's steps must not say nothing is to change
    "reg.auth-loop": (("check-credentials",), ("registration",)),
    "reg.no-response": (("check-connection",), ("registration",)),
    "reg.rejected": (("check-credentials",), ("registration",)),
    "router.udp-fragmentation": (("fragments",), ("tcp",)),
    "sec.bruteforce-auth": (("strong-password",), ("security",)),
    "sec.scanner-detected": (("strong-password",), ("security",)),
    "sec.toll-fraud-attempt": (("strong-password",), ("security",)),  # its text asks for new passwords
}

# For rules not in RULE_STEPS: a step for the customer when the rule says the problem is on their side.
# reg.rejected by its cause (checks.regrefusal): the customer's credentials only where the registrar refused them
# or could not tell; a 400 is a router rewriting the REGISTER (RULES.md reg.rejected: "check ALG"); an ACL, a
# missing option tag, a loop or a refused de-registration are ours to fix, the customer has nothing to change.
REJECTED_CUSTOMER_STEPS: dict[str, tuple[str, ...]] = {
    "credentials": ("check-credentials",), "unanswered-challenge": ("check-credentials",),
    "forbidden": ("check-credentials",), "not-found": ("check-credentials",), "malformed": ("sip-alg-off",),
}

# reg.auth-loop by its cause (checks.registration._cause), as its customer text asks: a middlebox rewriting the
# REGISTER is the router's SIP ALG (RULES.md reg.auth-loop: digest uri vs Request-URI); a phone signing another URI
# itself gets its configuration re-sent, and old nonces alone leave the customer nothing to retype; else the
# credentials.
AUTH_LOOP_CUSTOMER_STEPS: dict[str, tuple[str, ...]] = {
    "alg": ("sip-alg-off",), "phone-uri": (), "old-nonce": (), "credentials": ("check-credentials",),
}

CATEGORY_CUSTOMER_STEP = {"router": "sip-alg-off", "nat": "sip-alg-off", "media": "wired", "codec": "allow-g711",
                          "registration": "check-credentials", "signaling": "sip-alg-off",
                          "security": "strong-password"}


def steps_for(finding: Finding) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The customer's and the operator's step keys for one finding."""
    if finding.rule == "router.icmp-unreachable":  # who acts depends on who refused (the finding's owner)
        if finding.owner == "customer":
            return ("firewall-voice",), ("recheck",)
        return (), ("media" if finding.evidence.get("kind") == "RTP" else "signaling",)
    if finding.rule in RULE_STEPS:
        customer, operator = RULE_STEPS[finding.rule]
        if finding.rule == "call.failure-response" and finding.evidence.get("status") in (404, 484, 604):
            customer = ("check-number",)  # RFC 3261 §21.4.5, §21.4.22, §21.6.3: the number, not the service
        if finding.rule == "reg.rejected":
            customer = REJECTED_CUSTOMER_STEPS.get(finding.evidence.get("cause", ""), ())
        if finding.rule == "reg.auth-loop":
            customer = AUTH_LOOP_CUSTOMER_STEPS.get(finding.evidence.get("cause", ""), customer)
        if finding.rule == "call.invite-timeout" and finding.evidence.get("transport") not in (None, "udp") \
                and finding.evidence.get("final") == "none":
            # delivered over TCP/TLS and never answered (no proxy's 408 either): the receiver, not the path
            return customer, ("unanswered",)
        if finding.rule == "media.one-way-audio" and finding.evidence.get("private_target"):
            # the audio went to a private SDP address: latching/anchoring is ours (nat.private-sdp-address), the
            # customer's SIP ALG is not the cause
            return (), ("nat",)
        if finding.rule == "media.one-way-audio" and finding.evidence.get("partial_capture"):
            return (), ("media",)  # the capture misses part of the call: ours to look again, nothing to change yet
        return customer, operator
    if finding.owner == "customer":
        return (CATEGORY_CUSTOMER_STEP.get(finding.category, "tell-us"),), ("recheck",)
    return (), (finding.category if finding.category in OPERATOR_STEPS else "signaling",)


# "How to fix" of each rule (its docs are English) in Russian, for the engineer's note: a faithful, at most condensed
# translation of the rule's current "How to fix" section that keeps every remedy. Every rule has one
# (tests/unit/test_reply_fix_ru.py), so the Russian note carries no English paragraph.
FIX_RU: dict[str, str] = {
    "alg.content-length-mismatch": "Отключите SIP ALG на роутере; если это невозможно, переведите SIP на TLS или TCP "
    "либо на порт, отличный от 5060, который ALG не обрабатывает.",
    "alg.message-modified-in-transit": "Отключите SIP ALG («SIP helper», «SIP inspection») на роутере или межсетевом "
    "экране между двумя точками захвата; если отключить его нельзя, используйте SIP по TLS, чтобы он не мог читать "
    "сообщения.",
    "alg.sdp-rewritten-inconsistently": "Отключите SIP ALG («SIP helper», «SIP passthrough») на роутере; если это "
    "невозможно, переведите SIP на TCP/TLS или нестандартный порт, чтобы ALG его не видел.",
    "call.ack-timeout-32s": "Найдите, куда уходит ACK (Contact ответа 2xx и Record-Route); исправьте обработку "
    "Contact на SBC или отключите SIP ALG на роутере клиента; прокси должны добавлять Record-Route, чтобы запросы "
    "внутри диалога шли по пути сигнализации.",
    "call.failure-response": "403: проверьте запреты, баланс и учётные данные; 404/484: набранный номер и "
    "маршрутизацию; 480: вызываемый не зарегистрирован; 5xx: маршрут или ёмкость дальней стороны; 3xx без "
    "перехода: настройте вызывающую сторону на переход по перенаправлению или дальнюю сторону на ответ без "
    "перенаправления.",
    "call.in-dialog-request-misrouted": "Добавьте Record-Route на прокси, знающем о NAT, и отправляйте запросы "
    "внутри диалога на адрес и порт, с которых приходили запросы устройства (алиас Contact, rewrite_contact); "
    "отключите SIP ALG, переписывающий Contact.",
    "call.invite-timeout": "Проверьте путь до адресата: keep-alive короче таймаута NAT-трансляции, SIP по TCP или "
    "INVITE меньшего размера при потере фрагментов, правила межсетевого экрана, отвечающие ICMP. По TCP или TLS, "
    "которые доставляют INVITE или рвут соединение, проверьте SIP-сервис адресата и сбросы соединения.",
    "call.media-timeout-or-hung": "Держите NAT-трансляции открытыми в паузах разговора (комфортный шум, RTP "
    "keep-alive, без укороченных UDP-таймаутов), включите якорение медиа на SBC, проверьте доставку BYE и "
    "медиа-таймауты SBC.",
    "call.reinvite-failed": "Сравните предложение с ответом (списки кодеков, SRTP, поддержка T.38); при зацикливании "
    "на 491 проверьте, что обе стороны перед повтором выжидают случайные 2.1-4 с / 0-2 с по RFC 3261 §14.1; при "
    "отсутствии ответа проверьте, доходят ли запросы внутри диалога до другой стороны (NAT, SIP ALG).",
    "call.session-timer-expiry": "Согласуйте политику таймера сеанса на SBC и устройствах (кто обновляет сеанс, "
    "интервал, `Supported: timer`); убедитесь, что запросы внутри диалога доходят до другой стороны (Record-Route, "
    "исправление Contact); или отключите таймер сеанса на плече, которое не может обновлять сеанс.",
    "codec.answer-format-issues": "Исправьте обработку offer/answer на отвечающей стороне (PBX, B2BUA) или включите "
    "на SBC перенумерацию типов нагрузки и согласование fmtp; для AMR задайте одинаковый octet-align на обеих "
    "сторонах.",
    "codec.asymmetric-codec": "Ничего делать не нужно, если вызов работает нормально; иначе поставьте первым один и "
    "тот же предпочтительный кодек на обеих сторонах.",
    "codec.no-common-codec": "Добавьте кодек, который поддерживают обе стороны, в списки устройства и учётной "
    "записи, или включите транскодирование на SBC.",
    "codec.rtp-payload-not-negotiated": "Добейтесь, чтобы отправитель следовал ответу (расхождение типично после "
    "смены кодека через re-INVITE или при несимметричной нумерации типов нагрузки), или включите на SBC "
    "транскодирование или перенумерацию типов нагрузки.",
    "codec.timestamp-clock-mismatch": "Исправьте реализацию или настройки кодека у отправителя (обновление прошивки, "
    "частота RTP для G.722/Opus, пакетизация).",
    "dtmf.rfc4733-problem": "Задайте одинаковый режим DTMF на устройстве и в учётной записи (предпочтительно "
    "RFC 2833/4733); если одна сторона поддерживает только один способ, включите на SBC преобразование между "
    "RFC 4733 и SIP INFO; исправьте устройства, которые неправильно отправляют события.",
    "media.burst-loss": "Найдите участок с потерями: Wi-Fi (роуминг и фоновое сканирование дают периодические "
    "пропуски), перегруженный исходящий канал, полисер; снимите захват с обеих сторон подозрительного участка; "
    "дайте голосу приоритет (DSCP EF).",
    "media.clock-drift": "Прошивка устройства (часы звуковой карты), синхронизация часов шлюза (TDM) или адаптивный "
    "джиттер-буфер, компенсирующий дрейф.",
    "media.high-delay": "Проверьте маршрут (пиринг, дальние или спутниковые участки, тромбонинг через удалённый "
    "медиарелей), раздувание буферов на исходящем канале клиента (qos.bufferbloat-suspected), слишком большие "
    "джиттер-буферы.",
    "media.high-jitter": "Найдите, где образуется очередь: перегрузка исходящего канала (раздувание буферов), Wi-Fi, "
    "перегруженный канал в ядре сети; дайте голосу приоритет (DSCP EF и QoS на узком месте) или используйте "
    "адаптивный джиттер-буфер.",
    "media.loopback-sdp-address": "Задайте устройству (телефону, PBX, медиасерверу) его настоящий медиа-адрес: "
    "объявляемое им имя узла не должно разрешаться в 127.0.0.1, его RTP-сервис не должен быть привязан к "
    "localhost, а для PBX за NAT нужно задать внешний медиа-адрес. Или включите якорение медиа на SBC.",
    "media.low-mos": "Устраняйте самый большой фактор: потери и их пачки в сети, джиттер (буфер или QoS), "
    "низкоскоростной кодек (предлагайте первым G.711 или широкополосный кодек), задержку. Потери, о которых "
    "получатель сообщает сверх потерь в захвате, лежат между точкой захвата и получателем: снимите захват там.",
    "media.no-rtp": "Убедитесь, что захват видит путь медиа; откройте диапазон портов RTP; включите якорение медиа "
    "на SBC, если оба SDP содержат частные адреса.",
    "media.one-way-audio": "Включите симметричный RTP / latching или якорение медиа на SBC, исправьте настройки NAT "
    "устройства (STUN, публичный адрес) или отключите SIP ALG на роутере.",
    "media.packet-loss": "Найдите участок с потерями (Wi-Fi, перегруженный исходящий канал, полисер без приоритета "
    "голоса): снимите захват с обеих сторон подозрительного участка, помечайте голос DSCP EF и давайте ему "
    "приоритет. Потери после точки захвата лежат между ней и получателем: снимите захват у получателя или на пути "
    "к нему.",
    "media.rtcp-issues": "Откройте и пробросьте порт RTP + 1 (или используйте a=rtcp-mux согласованно на обеих "
    "сторонах), настройте медиарелей на пропуск RTCP, учитывайте a=rtcp.",
    "media.sequence-anomalies": "Сначала удалите дубликаты из захвата (SPAN в обе стороны); затем ищите многопутевую "
    "передачу или хеширование LAG, повторы Wi-Fi, медиасерверы или SBC, переключающие источник без re-INVITE.",
    "media.srtp-profile-mismatch": "Задайте одинаковую политику шифрования медиа на телефоне, в профиле учётной "
    "записи и на SBC (SRTP обязателен, необязателен или выключен) с общим набором шифров.",
    "nat.cgnat-or-double-nat": "Переведите модем провайдера в режим моста или уберите второй роутер; запросите у "
    "провайдера публичный адрес IPv4 или IPv6; иначе — короткие keepalive или SIP по TCP/TLS с outbound по "
    "RFC 5626.",
    "nat.hairpin-failure": "Включите на роутере «NAT loopback» («hairpin»); или используйте якорение медиа на SBC "
    "для вызовов, стороны которых делят один публичный адрес; или позвольте телефонам использовать свои локальные "
    "адреса (ICE).",
    "nat.media-source-mismatch": "Симметричный RTP / latching (comedia) или якорение медиа на SBC; симметричный RTP "
    "на устройстве; отключите SIP ALG, который прописывает неверные адреса.",
    "nat.no-rport-response-lost": "Включите на телефоне rport («NAT traversal») или принудительный rport на границе "
    "сети для всех (Asterisk `force_rport=yes`, FreeSWITCH `NDLB-force-rport`, Kamailio `force_rport()`).",
    "nat.port-translated": "Само по себе исправления не требует; убедитесь, что используется rport (настройка "
    "телефона или force_rport на границе сети) и включены keepalive.",
    "nat.private-contact": "Обработка Contact на SBC/регистраторе (подстановка наблюдаемого адреса) или "
    "STUN/outbound на устройстве.",
    "nat.private-sdp-address": "Симметричный RTP/latching на SBC или медиа-релее; STUN/ICE или правильный "
    "публичный адрес на устройстве; отключите SIP ALG, переписывающий только часть сообщения.",
    "nat.stun-mapping-mismatch": "Обработка NAT на стороне сервера (latching/якорение медиа) или TURN/ICE; отключите "
    "STUN на телефоне; роутер с независимым от адресата отображением («Endpoint-Independent Mapping»).",
    "nat.via-address-mismatch": "Само по себе исправления не требует. Граница сети должна отправлять ответы на адрес "
    "источника (received/rport), а запросы — на выученную привязку; сервер, который не добавляет `received=`, "
    "нужно исправить.",
    "qos.bufferbloat-suspected": "Умное управление очередями на роутере (SQM: fq_codel, CAKE), приоритет голоса, "
    "ограничение исходящего канала ниже скорости линии.",
    "qos.dscp-marking": "Задайте в телефоне DSCP для RTP (46 / ToS 0xB8) и для SIP (класс оператора), дайте голосу "
    "приоритет на роутере клиента "
    "(QoS или доверие к DSCP), а на управляемом доступе доверяйте метке или перемаркируйте голос на границе; "
    "найдите перемаркирующий узел, сняв захват с обеих его сторон.",
    "reg.auth-loop": "Заново задайте учётные данные (пользователь авторизации, пароль, realm); если digest uri "
    "отличается от Request-URI на регистраторе, ищите SIP ALG или прокси, переписывающий запрос, а если другой URI "
    "подписывает сам телефон, исправьте в нём настройки регистратора и исходящего прокси; если отвергаются только "
    "устаревшие nonce без stale=true, проверьте время жизни nonce на регистраторе, флаг stale и общие ли nonce у "
    "узлов кластера.",
    "reg.binding-churn": "Отправляйте keep-alive (CRLF, OPTIONS или STUN, RFC 5626) с интервалом меньше половины "
    "нижней оценки времени жизни NAT-трансляции (обычно 15-25 с), увеличьте UDP-таймаут роутера (RFC 4787 REQ-5: "
    "не меньше 2 мин) или включите NAT-пинги с сервера.",
    "reg.contact-binding-mismatch": "Отключите SIP ALG на роутере клиента; на регистраторе храните данные NAT вне "
    "Contact (received/Path/alias) или убедитесь, что переписанный контакт — тот, который ожидает телефон.",
    "reg.interval-too-brief": "Задайте на телефоне интервал регистрации не меньше Min-Expires регистратора и "
    "добейтесь, чтобы телефон соблюдал выданный срок (продлевал регистрацию на 50-80 % срока); вместо очень "
    "коротких регистраций используйте keep-alive.",
    "reg.no-response": "Найдите, где теряется REGISTER: маршрутизация, межсетевой экран или ACL перед "
    "регистратором, неверный адрес регистратора или запись DNS на устройстве.",
    "reg.rejected": "По коду ответа: учётные данные отвергнуты — сверьте имя пользователя, пароль и realm на "
    "устройстве; 403 без запроса авторизации — разрешённые сети учётной записи, ACL регистратора и домен; 404 — "
    "адрес регистратора и домен в телефоне (неизвестному пользователю нужна настройка); 400 — SIP ALG, "
    "переписывающий REGISTER, или его Content-Length; 420/421 — названное расширение (отключите его в телефоне или "
    "включите поддержку на регистраторе); 482/483 — маршруты прокси для домена. Если отклонена отмена регистрации, "
    "выясните, почему регистратор не принимает от устройства expires 0.",
    "reg.server-error": "Проверьте состояние и нагрузку регистратора, серверы, от которых он зависит (база данных, "
    "HSS, вышестоящий прокси), и присылаемый им Retry-After; телефон сам повторит попытку, когда сервер снова "
    "начнёт отвечать. Телефону, который повторяет попытку раньше, чем просит Retry-After, нужно исправить таймер "
    "повтора регистрации или прошивку.",
    "router.icmp-unreachable": "Откройте голосовые порты на межсетевом экране, который шлёт ошибки (сторона "
    "клиента), исправьте маршрутизацию или восстановите SIP-сервис или медиапорт на узле, который отказывает "
    "(сторона оператора); при «fragmentation needed» см. router.udp-fragmentation.",
    "router.nat-binding-timeout": "Настройте keepalive на телефоне каждые 15-25 с (или более короткий интервал "
    "регистрации), NAT-пинги с сервера или UDP-таймаут роутера не меньше 180 с.",
    "router.udp-fragmentation": "SIP по TCP (RFC 3261 §18.1.1), сообщения меньшего размера или роутер, который "
    "пропускает (или собирает) фрагменты.",
    "sec.bruteforce-auth": "Заблокируйте источник и ограничьте частоту запросов, используйте длинные уникальные "
    "пароли, отвечайте одинаково на неизвестного пользователя и неверный пароль.",
    "sec.scanner-detected": "Заблокируйте адреса источников, ограничьте частоту запросов, требуйте стойкие "
    "пароли; не отвечайте неизвестным пользователям иначе, чем на неверный пароль (перебор номеров).",
    "sec.toll-fraud-attempt": "Заблокируйте источник, закройте для учётной записи международные и платные "
    "направления, пока она не будет защищена, смените её учётные данные и требуйте аутентификацию на каждом шлюзе "
    "с выходом в PSTN.",
}
