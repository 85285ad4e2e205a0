"""What reg.auth-loop's causes (registration._cause) tell the engineer to check, and where a REGISTER was captured
when its digest uri is not its Request-URI: on the phone's LAN (the phone signed the other URI) or past the
customer's router (a SIP ALG on it may have rewritten the request).

The customer's texts follow the cause in sipdiag.checks.registration; these are the engineer's: the evidence the
cause rests on and what to check, each in English and Russian."""

from __future__ import annotations

from ..addresses import address_host
from ..media import is_private, is_shared_space


def on_phone_lan(source: str) -> bool:
    """Whether a REGISTER from `source` was captured on the phone's LAN, before its router and any SIP ALG on it
    (RULES.md §0.2: a request seen from a private source address). Not from 100.64.0.0/10 (RFC 6598): private, but
    the shared space between the customer's router and a carrier-grade NAT (RULES.md §0.4), so a capture there is
    taken after the router, where its ALG can have rewritten the REGISTER."""
    host = address_host(source)
    return is_private(host) and not is_shared_space(host)


def engineer_check(cause: str, *, source: str, digest_uri: str, request_uri: str, nonce: str) -> tuple[str, str]:
    """What the engineer text says to check for `cause` (English, Russian), a clause after RFC 3261 §22.2's:
    the values are the loop's (the first AOR's of a group, as the rest of its engineer text)."""
    if cause == "alg":
        # RFC 3261 §22.4: digest-uri-value = Request-URI; a SIP ALG rewrites the Request-URI (or the uri) it
        # knows, never both, and the digest was computed over the uri as the phone sent it
        return (f"the digest uri {digest_uri} is not the Request-URI {request_uri} the registrar received (RFC 3261 "
                "§22.4: the uri parameter must equal the Request-URI): a middlebox rewrote one and not the other, "
                f"past the phone's LAN (the REGISTER comes from {source}, after the customer's router), most often "
                "the router's SIP ALG, so no password can match; check the customer's router: switch its SIP ALG "
                "(SIP Helper, SIP inspection) off and see that the next REGISTER's uri equals its Request-URI",
                f"digest uri {digest_uri} не совпадает с Request-URI {request_uri}, полученным регистратором (RFC "
                "3261 §22.4: параметр uri должен совпадать с Request-URI): промежуточное устройство за пределами "
                f"локальной сети телефона (REGISTER приходит с {source}, уже после роутера клиента), чаще всего SIP "
                "ALG роутера, переписало одно, но не другое, поэтому ни один пароль не подойдёт; проверьте роутер "
                "клиента: SIP ALG («SIP Helper», «SIP inspection») должен быть отключён, а uri следующего REGISTER "
                "совпадать с его Request-URI")
    if cause == "phone-uri":
        return (f"the phone signs digest uri {digest_uri} but sends the REGISTER to Request-URI {request_uri} (RFC "
                "3261 §22.4: the uri parameter must equal the Request-URI), as captured on its LAN (from its "
                f"private address {source}, before any router and SIP ALG): its own configuration, not a "
                "middlebox; provision its registrar (SIP server, domain) and outbound proxy so that it signs the "
                "URI it requests, and if they are right, check its firmware",
                f"телефон подписывает digest uri {digest_uri}, а отправляет REGISTER на Request-URI {request_uri} "
                "(RFC 3261 §22.4: параметр uri должен совпадать с Request-URI), как видно в его локальной сети (с "
                f"его частного адреса {source}, до роутера и SIP ALG): это его собственные настройки, а не "
                "промежуточное устройство; задайте ему регистратор (SIP-сервер, домен) и исходящий прокси так, "
                "чтобы он подписывал тот URI, на который отправляет запрос, а если они верны, проверьте прошивку")
    if cause == "old-nonce":
        # RFC 7616 §3.3: a server refusing a nonce it no longer accepts, with a valid digest for it, says
        # stale=true, and the client retries with the new nonce without asking for new credentials
        return (f"the credentials answered nonce {nonce}, which the server no longer accepts, and were refused "
                "without stale=true (RFC 7616 §3.3: a server refusing only the nonce sets stale=true), so nothing "
                "shows the password is wrong; check the registrar/SBC: its nonce lifetime against the phone's "
                "refresh interval, whether it sets stale=true for an expired nonce, and whether the nodes of a "
                "cluster share their nonces (one node refusing another's)",
                f"учётные данные ответили на nonce {nonce}, который сервер больше не принимает, и отвергнуты без "
                "stale=true (RFC 7616 §3.3: сервер, отвергающий только nonce, ставит stale=true), поэтому неверный "
                "пароль ничем не подтверждается; проверьте регистратор/SBC: время жизни nonce в сравнении с "
                "интервалом обновления регистрации телефона, ставит ли он stale=true для устаревшего nonce и общие "
                "ли nonce у узлов кластера (один узел отвергает nonce другого)")
    return ("check the provisioned auth user, password and realm (RFC 7616)",
            "проверьте пользователя авторизации, пароль и realm (RFC 7616)")
