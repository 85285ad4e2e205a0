"""The transaction table's sweep (sipdiag.transactions.TransactionTable.expire): it forgets exactly the transactions
the full scan forgot, and looks only at those that have aged past the cutoff."""

from __future__ import annotations

import random

from sipdiag.transactions import TransactionTable
from tests.unit.test_correlate import A, P, hdr, msg

S = 10**9


def full_scan(table: TransactionTable, now_ns: int) -> set[tuple]:
    """The keys a sweep at now_ns must keep: the rule as the sweep states it, every live transaction looked at."""
    cutoff = now_ns - table.timers.keep_ns
    return {k for k, tx in table.by_key.items()
            if not (table._last_ns(tx) < cutoff and (not tx.retransmitted or table._last_ns(tx) + table._keep_ns(tx)
                                                     < now_ns))}


def traffic(seed: int, n: int = 600) -> list:
    """INVITEs (some ringing long, some answered late, some retransmitted at T1 = 2 s), OPTIONS, responses a few ms
    out of order, over ~3 x 130 s; in three parts, in time order each: the second starts 30 s before the first ends
    (capture.time-backwards), the third two days later (capture.time-jump)."""
    rng = random.Random(seed)
    parts: list[list[tuple[float, str, tuple, tuple]]] = [[], [], []]
    t = 0.0
    for i in range(n):
        part = 3 * i // n
        t += rng.uniform(0.05, 0.6)
        if i == n // 3:
            t = max(e[0] for e in parts[0]) - 30.0
        if i == 2 * n // 3:
            t = max(e[0] for e in parts[1]) + 2 * 86_400.0
        events = parts[part]
        method = rng.choice(["INVITE", "INVITE", "OPTIONS"])
        cid, branch = f"c{i}", f"b{i}"
        request = f"{method} sip:300@example.com SIP/2.0\n{hdr(cid, f'1 {method}', branch)}"
        events.append((t, request, A, P))
        if rng.random() < 0.2:  # retransmitted at T1 = 2 s (a longer keep time of its own)
            events += [(t + 2.0, request, A, P), (t + 6.0, request, A, P)]
        if method == "INVITE" and rng.random() < 0.5:
            events.append((t + rng.uniform(0.1, 1.0), f"SIP/2.0 180 Ringing\n{hdr(cid, '1 INVITE', branch, ttag='x')}",
                           P, A))
        if rng.random() < 0.7:  # the final response, late for some (a ringing INVITE answered after 60-150 s)
            late = rng.uniform(60, 150) if method == "INVITE" and rng.random() < 0.3 else rng.uniform(-0.004, 0.5)
            events.append((t + late, f"SIP/2.0 200 OK\n{hdr(cid, f'1 {method}', branch, ttag='x')}", P, A))
    ordered = [e for events in parts for e in sorted(events, key=lambda e: e[0])]
    return [msg(text, src, dst, at, frame) for frame, (at, text, src, dst) in enumerate(ordered, 1)]


def test_a_sweep_forgets_what_the_full_scan_forgot() -> None:
    for seed in range(4):
        table, swept, dropped = TransactionTable(), 0, 0
        for i, m in enumerate(traffic(seed), 1):
            table.add(m)
            if i % 25 == 0:
                expected = full_scan(table, m.ts_ns)
                before = len(table.by_key)
                table.expire(m.ts_ns)
                assert set(table.by_key) == expected, (seed, i)
                swept += 1
                dropped += before - len(table.by_key)
        assert swept > 30 and dropped > 300  # the sweeps did drop transactions, across both steps


def test_a_sweep_looks_only_at_what_aged_past_the_cutoff(monkeypatch) -> None:
    """20 000 open transactions within the keep time: a sweep looked at all 20 000 each time (every EXPIRE_EVERY
    messages: 2.1 M looks on a 30 s capture of 20 000 calls); now none."""
    table = TransactionTable()
    for i in range(20_000):
        table.add(msg(f"OPTIONS sip:300@example.com SIP/2.0\n{hdr(f'o{i}', '1 OPTIONS', f'o{i}')}", A, P,
                      i / 1000, i + 1))
    looked = []
    real = table._last_ns
    monkeypatch.setattr(table, "_last_ns", lambda tx: looked.append(tx) or real(tx))
    for k in range(10):
        table.expire(int((20 + k) * S))
    assert (len(looked), len(table.by_key)) == (0, 20_000)
    table.expire(int(45 * S))  # 40 s keep: the first 5 000 (before 5 s) go, and only they are looked at
    assert (len(looked), len(table.by_key)) == (5_000, 15_000)
