#!/usr/bin/env python3
"""Turns bench/run.sh's results.jsonl into the Markdown report (tables, ratios, targets).

    report.py results.jsonl > report.md
"""

from __future__ import annotations

import json
import sys

FAST_ORDER = ["direct", "nginx", "zgproxy-openai", "zgproxy-0g-fake", "litellm"]
SIM_ORDER = ["sim-direct", "zgproxy-0g-sim", "zgproxy-0g-sim-sampled"]


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def f(v, digits=2, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v:,}{unit}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}×"


def main() -> int:
    rows = load(sys.argv[1])
    machine = next((r for r in rows if r["kind"] == "machine"), {})
    end = next((r for r in rows if r["kind"] == "machine-end"), {})
    wrk: dict[tuple[str, int], dict] = {}
    wrk_meta: dict[tuple[str, int], dict] = {}
    rate: dict[str, dict] = {}
    low: dict[str, dict] = {}
    stream: dict[str, dict] = {}
    fast: dict[str, dict] = {}
    skips: dict[str, str] = {}
    rounds: dict[int, dict[str, dict]] = {}
    for r in rows:
        k = r["kind"]
        if k == "wrk" and r.get("result"):
            wrk[(r["target"], r["conns"])] = r["result"]
            wrk_meta[(r["target"], r["conns"])] = r
        elif k == "rate" and r.get("result"):
            rate[r["target"]] = r
        elif k == "rate-low" and r.get("result"):
            low[r["target"]] = r
        elif k == "stream" and r.get("result"):
            stream[r["target"]] = r
        elif k == "stream-fast" and r.get("result"):
            fast[r["target"]] = r
        elif k in ("skip", "skip-stream"):
            skips[r["target"]] = r["reason"]
        elif k == "ratio-round":
            rounds.setdefault(r["round"], {})[r["target"]] = r

    def ms(target, conns, key):
        res = wrk.get((target, conns))
        return None if res is None else res[key] / 1000.0

    def rps(target, conns):
        res = wrk.get((target, conns))
        return None if res is None else res["rps"]

    def base_of(target):
        return "sim-direct" if target.startswith("zgproxy-0g-sim") or target == "sim-direct" else "direct"

    out = []
    w = out.append
    w(f"# Gateway benchmark — {machine.get('date', '?')}\n")
    w(f"Machine: {machine.get('cpus')} CPUs ({machine.get('cpu_model')}), {machine.get('mem_mb')} MB RAM, Linux "
      f"{machine.get('kernel')}; load average before {machine.get('load_before')}, after {end.get('load_after')}. "
      f"nginx {machine.get('nginx')}, wrk {machine.get('wrk')}, LiteLLM {machine.get('litellm') or '–'}. "
      f"{machine.get('swift', '')}. zgproxy binary built {machine.get('binary_mtime', '?')}, "
      f"digest of Sources/ + Package.* when run {machine.get('sources_sha256', '?')}.\n")
    w(f"wrk: each cell is the run with the lowest p99 of {machine.get('repeat', 1)} runs of {machine.get('duration')} s "
      f"(the machine is shared; every run is in results.jsonl); fixed rate: {machine.get('rate')} req/s "
      f"(simulated provider: {machine.get('sim_rate')} req/s) for {machine.get('duration')} s; streams: "
      f"{machine.get('streams')} concurrent × {machine.get('chunks')} chunks {machine.get('gap_ms')} ms apart "
      f"(simulated provider: {machine.get('sim_streams')} streams at {machine.get('sim_tps')} tokens/s).\n")
    if machine.get("litellm_note"):
        w(f"**{machine['litellm_note']}.**\n")
    for name, reason in skips.items():
        if name != "litellm":
            w(f"- `{name}`: skipped — {reason}.")
    w("")

    # ---------------------------------------------------------------- non-streaming
    w("## Non-streaming (POST /v1/chat/completions, canned 440-byte answer)\n")
    w("Latencies in ms. Overheads are this path minus its direct upstream at the same load "
      "(`direct` for the zero-latency fake, `sim-direct` for the simulated 0G provider). "
      "CPU = the gateway process tree's CPU time per request during the c=32 run.\n")
    w("| path | c=1 rps | c=1 p50 | c=1 p99 | c=32 rps | c=32 p50 | c=32 p99 | c=128 rps | c=128 p99 | "
      f"{machine.get('rate')} req/s: achieved / p50 / p99 | {machine.get('low_rate')} req/s: p50 / p99 | "
      "p50 overhead c=1 | p99 overhead c=32 | CPU µs/req | upstream conns (c=128) | errors |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in FAST_ORDER + SIM_ORDER:
        if t in skips and (t, 1) not in wrk:
            w(f"| {t} | skipped: {skips[t]} |||||||||||||||")
            continue
        if (t, 1) not in wrk and (t, 32) not in wrk:
            continue
        b = base_of(t)
        o50 = None if t == b else (None if ms(t, 1, "p50_us") is None or ms(b, 1, "p50_us") is None
                                   else ms(t, 1, "p50_us") - ms(b, 1, "p50_us"))
        o99 = None if t == b else (None if ms(t, 32, "p99_us") is None or ms(b, 32, "p99_us") is None
                                   else ms(t, 32, "p99_us") - ms(b, 32, "p99_us"))
        rr = rate.get(t, {}).get("result") or {}
        rate_txt = (f"{f(rr.get('achieved_rps'), 0)} / {f(rr.get('p50'), 3)} / {f(rr.get('p99'), 3)}"
                    if rr else "–")
        errs = 0
        for c in (1, 32, 128):
            res = wrk.get((t, c))
            if res:
                errs += res["err_status"] + res["err_connect"] + res["err_read"] + res["err_write"] + res["err_timeout"]
        if rr:
            errs += sum(rr.get("errors", {}).values()) + sum(v for k, v in rr.get("statuses", {}).items() if not k.startswith("2"))
        cpu = wrk_meta.get((t, 32), {}).get("gw_cpu_us_per_req")
        lr = low.get(t, {}).get("result") or {}
        low_txt = f"{f(lr.get('p50'), 3)} / {f(lr.get('p99'), 3)}" if lr else "–"
        if lr:
            errs += sum(lr.get("errors", {}).values()) + sum(v for k, v in lr.get("statuses", {}).items() if not k.startswith("2"))
        conns = wrk_meta.get((t, 128), wrk_meta.get((t, 32), {})).get("upstream_conns_max")
        w(f"| {t} | {f(rps(t, 1), 0)} | {f(ms(t, 1, 'p50_us'), 3)} | {f(ms(t, 1, 'p99_us'), 3)} | {f(rps(t, 32), 0)} | "
          f"{f(ms(t, 32, 'p50_us'), 3)} | {f(ms(t, 32, 'p99_us'), 3)} | {f(rps(t, 128), 0)} | {f(ms(t, 128, 'p99_us'), 3)} | "
          f"{rate_txt} | {low_txt} | {f(o50, 3)} | {f(o99, 3)} | {f(cpu, 0)} | {f(conns)} | {errs} |")
    w("")

    # ---------------------------------------------------------------- interleaved throughput
    def round_ratios(target):
        """zgproxy ÷ nginx req/s of each interleaved round that measured both."""
        return [r[target]["rps"] / r["nginx"]["rps"] for _, r in sorted(rounds.items())
                if target in r and "nginx" in r and r["nginx"]["rps"]]

    def median(values):
        ordered = sorted(values)
        n = len(ordered)
        return None if not n else (ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2)

    def round_p99(target):
        """Median p99 (ms) of a path over the interleaved rounds."""
        values = [r[target]["p99_us"] / 1000 for r in rounds.values() if target in r]
        return median(values) if values else None

    if rounds:
        names = [t for t in ("direct", "nginx", "zgproxy-openai", "zgproxy-0g-fake") if any(t in r for r in rounds.values())]
        gateways = [t for t in names if t.startswith("zgproxy")]
        w("### Interleaved rounds (c=32, one run of each path per round)\n")
        w("The best-of-3 cells above measure each path in its own minute; here the paths take turns, so a slow "
          "moment of the shared machine (the devchain mining an auto-funding transfer, another session's build) "
          "falls on every path of a round alike. Req/s, p99 in ms, and the gateway's CPU µs per request.\n")
        w("| round | " + " | ".join(names) + " | " + " | ".join(f"{t} ÷ nginx" for t in gateways) + " |")
        w("|---" * (1 + len(names) + len(gateways)) + "|")
        for number, r in sorted(rounds.items()):
            cells = [(f"{f(r[t]['rps'], 0)}, p99 {f(r[t]['p99_us'] / 1000, 2)}"
                      + (f", {f(r[t].get('gw_cpu_us_per_req'), 0)} µs" if r[t].get("gw_cpu_us_per_req") else ""))
                     if t in r else "–" for t in names]
            ratios = [ratio(r.get(t, {}).get("rps"), r.get("nginx", {}).get("rps")) for t in gateways]
            w(f"| {number + 1} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        meds = [f"{median(round_ratios(t)):.2f}×" if round_ratios(t) else "–" for t in gateways]
        w("| **median** | " + " | ".join(f"p99 {f(round_p99(t), 2)}" for t in names) + " | "
          + " | ".join(f"**{m}**" for m in meds) + " |")
        w("")

    # ---------------------------------------------------------------- streaming
    w("## Streaming (SSE)\n")
    w("TTFB = request sent → first `data:` event. Delivery = chunk received by the client − chunk written by the "
      "fake upstream (timestamps in the chunks); *added* = minus the same percentile direct. Held back = chunks "
      "delivered more than one gap after they were written (not forwarded as they arrived). Peak RSS = VmHWM of "
      "the gateway's processes, reset just before the run.\n")
    w("| path | streams done / started | max open | TTFB p50 | TTFB p99 | TTFB added p50 | delivery p50 | "
      "delivery p99 | delivery added p50 / p99 | held back | chunk gap p50 / p99 | heartbeats | upstream conns | "
      "peak RSS MB | CPU s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in FAST_ORDER + SIM_ORDER:
        if t in skips and t not in stream:
            w(f"| {t} | skipped: {skips[t]} ||||||||||||||")
            continue
        s = stream.get(t)
        if not s:
            continue
        r = s["result"]
        b = stream.get(base_of(t), {}).get("result") if t != base_of(t) else None

        def add(key):
            if not b or r.get(key) is None or b.get(key) is None:
                return None
            return r[key] - b[key]
        rss = s.get("gw_peak_rss_kb")
        w(f"| {t} | {r['completed']} / {r['started']} | {r['max_open']} | {f(r['ttfb_data_p50'], 1)} | "
          f"{f(r['ttfb_data_p99'], 1)} | {f(add('ttfb_data_p50'), 1)} | {f(r['delivery_p50'], 2)} | "
          f"{f(r['delivery_p99'], 2)} | {f(add('delivery_p50'), 2)} / {f(add('delivery_p99'), 2)} | "
          f"{f(r['held_back'])} / {f(r['chunks_timed'])} | {f(r.get('gap_p50'), 1)} / {f(r.get('gap_p99'), 1)} | "
          f"{r['heartbeats']} | {f(s.get('upstream_conns_max'))} | {f(rss / 1024 if rss else None, 1)} | "
          f"{f(s.get('gw_cpu_s'), 1)} |")
        if r.get("errors"):
            w(f"|  ↳ errors: {', '.join(f'{k}: {v}' for k, v in r['errors'].items())} |||||||||||||||")
    w("")

    if fast:
        w("### Relay cost per chunk (streams within any connection pool: "
          f"{next(iter(fast.values()))['streams']} streams × 400 chunks, 5 ms apart)\n")
        w("| path | streams done | TTFB p50 | delivery p50 | delivery p99 | delivery added p50 / p99 | "
          "held back > 5 ms | gateway CPU per chunk, µs |")
        w("|---|---|---|---|---|---|---|---|")
        base = fast.get("direct", {}).get("result")
        for t, s in fast.items():
            r = s["result"]
            add50 = None if not base or t == "direct" else r["delivery_p50"] - base["delivery_p50"]
            add99 = None if not base or t == "direct" else r["delivery_p99"] - base["delivery_p99"]
            w(f"| {t} | {r['completed']} / {r['started']} | {f(r['ttfb_data_p50'], 2)} | {f(r['delivery_p50'], 2)} | "
              f"{f(r['delivery_p99'], 2)} | {f(add50, 2)} / {f(add99, 2)} | {r['held_back']} / {r['chunks_timed']} | "
              f"{f(s.get('gw_cpu_us_per_chunk'), 0)} |")
        w("")

    zg_paths = [p for p in ("zgproxy-openai", "zgproxy-0g-fake") if (p, 1) in wrk or p in stream]
    for ZG in zg_paths:
        # ---------------------------------------------------------------- ratios
        def through(t):
            vals = [rps(t, c) for c in (32, 128) if rps(t, c) is not None]
            return max(vals) if vals else None

        what = {"zgproxy-0g-fake": "the 0G backend (catalog, session token, metering) in front of the zero-latency fake",
                "zgproxy-openai": "the OpenAI-compatible backend in front of the same fake"}[ZG]
        w(f"## Ratios — `{ZG}`\n")
        w(f"`zgproxy` here is `{ZG}`: {what}. Throughput = best of c=32 and c=128.\n")
        w("| metric | zgproxy | nginx | LiteLLM | zgproxy ÷ nginx | zgproxy ÷ LiteLLM |")
        w("|---|---|---|---|---|---|")
        metrics = [
            ("throughput, req/s (higher is better)", through),
            ("c=1 p50, ms", lambda t: ms(t, 1, "p50_us")),
            ("c=32 p50, ms", lambda t: ms(t, 32, "p50_us")),
            ("c=32 p99, ms", lambda t: ms(t, 32, "p99_us")),
            ("CPU per request (c=32), µs", lambda t: wrk_meta.get((t, 32), {}).get("gw_cpu_us_per_req")),
            (f"{machine.get('rate')} req/s p99, ms", lambda t: (rate.get(t, {}).get("result") or {}).get("p99")),
            (f"{machine.get('low_rate')} req/s p50, ms", lambda t: (low.get(t, {}).get("result") or {}).get("p50")),
            (f"{machine.get('streams')} streams: completed", lambda t: (stream.get(t, {}).get("result") or {}).get("completed")),
            ("streams: TTFB p99, ms", lambda t: (stream.get(t, {}).get("result") or {}).get("ttfb_data_p99")),
            ("streams: delivery p99, ms", lambda t: (stream.get(t, {}).get("result") or {}).get("delivery_p99")),
            ("streams: peak RSS, MB", lambda t: (stream.get(t, {}).get("gw_peak_rss_kb") or 0) / 1024 or None),
        ]
        for label, fn in metrics:
            z, n, l = fn(ZG), fn("nginx"), fn("litellm")
            w(f"| {label} | {f(z)} | {f(n)} | {f(l)} | {ratio(z, n)} | {ratio(z, l)} |")
        w("")

        # ---------------------------------------------------------------- targets
        w(f"## Targets — `{ZG}` (release build, this run)\n")
        verdicts = []
        zt, nt = through(ZG), through("nginx")
        interleaved = round_ratios(ZG)
        if interleaved:
            m = median(interleaved)
            verdicts.append(("non-streaming throughput ≥ 0.5 × nginx relay", m >= 0.5,
                             f"median of {len(interleaved)} interleaved rounds {m:.2f}× (rounds "
                             f"{min(interleaved):.2f}–{max(interleaved):.2f}×)"
                             + (f"; best cells {zt:,.0f} vs {nt:,.0f} req/s = {zt / nt:.2f}×" if zt is not None and nt else "")))
        elif zt is not None and nt:
            verdicts.append(("non-streaming throughput ≥ 0.5 × nginx relay", zt / nt >= 0.5,
                             f"{zt:,.0f} vs {nt:,.0f} req/s = {zt / nt:.2f}×"))
        z50, d50 = ms(ZG, 1, "p50_us"), ms("direct", 1, "p50_us")
        if z50 is not None and d50 is not None:
            verdicts.append(("p50 overhead over direct ≤ 0.5 ms at c=1", z50 - d50 <= 0.5,
                             f"{z50:.3f} − {d50:.3f} = {z50 - d50:.3f} ms"))
        z99, d99 = ms(ZG, 32, "p99_us"), ms("direct", 32, "p99_us")
        rz99, rd99 = round_p99(ZG), round_p99("direct")
        if rz99 is not None and rd99 is not None:
            block = f"; best cells {z99:.3f} − {d99:.3f} = {z99 - d99:.3f} ms" if z99 is not None and d99 is not None else ""
            verdicts.append(("p99 ≤ 2 ms at c=32, absolute", rz99 <= 2.0, f"median p99 of the interleaved rounds {rz99:.3f} ms"
                             + (f"; best cell {z99:.3f} ms" if z99 is not None else "")))
            verdicts.append(("p99 ≤ 2 ms at c=32, read as overhead over direct", rz99 - rd99 <= 2.0,
                             f"medians of the interleaved rounds {rz99:.3f} − {rd99:.3f} = {rz99 - rd99:.3f} ms{block}"))
        elif z99 is not None and d99 is not None:
            verdicts.append(("p99 ≤ 2 ms at c=32, absolute", z99 <= 2.0, f"p99 {z99:.3f} ms"))
            verdicts.append(("p99 ≤ 2 ms at c=32, read as overhead over direct", z99 - d99 <= 2.0,
                             f"{z99:.3f} − {d99:.3f} = {z99 - d99:.3f} ms"
                             + (" (direct's p99 is disturbed by other load in this run: this reading is unreliable)"
                                if d99 > 5 * max(ms("direct", 1, "p99_us") or 0, 1.0) else "")))
        s = stream.get(ZG)
        if s:
            r = s["result"]
            n = machine.get("streams")
            allok = r["completed"] == n and not r["failed"]
            verdicts.append((f"{n} concurrent streams complete", allok,
                             f"{r['completed']}/{n} completed, max {r['max_open']} open at once"))
            forwarded = (r["held_back"] == 0 and r["chunks_timed"] == (r.get("expected_chunks") or r["chunks_timed"]))
            verdicts.append(("every chunk forwarded as it arrives (all streams, none held back)", forwarded,
                             f"{r['chunks_timed']:,} of {r.get('expected_chunks') or 0:,} chunks arrived; of those "
                             f"{r['held_back']} held back > 1 gap; delivery p99 {r['delivery_p99']} ms; "
                             f"TTFB p99 {r['ttfb_data_p99']} ms"))
            rss = (s.get("gw_peak_rss_kb") or 0) / 1024
            verdicts.append(("peak RSS ≤ 150 MB during the streams", rss <= 150, f"{rss:.1f} MB"))
        w("| target | verdict | measured |")
        w("|---|---|---|")
        for name, ok, txt in verdicts:
            w(f"| {name} | {'**met**' if ok else '**missed**'} | {txt} |")
        w("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
