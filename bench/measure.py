#!/usr/bin/env python3
"""Runs the measurements of one phase of bench/run.sh and appends JSON lines to a results file.

    measure.py --config CONFIG.json --phase main|sampled --out results.jsonl

CONFIG (written by run.sh) names the tools, the bounded durations and the targets:
  {"bench": dir, "python": path, "duration": 10, "rate": 1000, "sim_rate": 40,
   "streams": 1000, "chunks": 30, "gap_ms": 100, "stream_timeout": 60,
   "sim_streams": 32, "sim_tps": 50,
   "json_targets": [{"name", "port", "path", "auth", "body", "pid"?, "kind": "fast"|"sim", "skip"?}],
   "stream_targets": [{"name", "port", "path", "auth", "body", "pid"?, "kind": "fast"|"sim", "skip"?}],
   "ratio_rounds": 5, "ratio_targets": ["nginx", "zgproxy-openai", …]}
`pid` is the gateway's process (its descendants are counted too): CPU time used during each
measurement and peak RSS (VmHWM, reset through /proc/PID/clear_refs before each stream test)
are read from /proc. Every load run is bounded in time (wrk -d, loadgen --duration/--drain,
sse_client --timeout) and every target is on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(text: str) -> None:
    sys.stderr.write(f"[measure {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def tree(pid: int | None) -> list[int]:
    """pid and all its descendants."""
    if not pid:
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


def status_kb(pids: list[int], key: str) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def reset_hwm(pids: list[int]) -> None:
    for p in pids:
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


class ConnSampler:
    """Counts established TCP connections to a port (the gateway's upstream) every 0.25 s."""

    def __init__(self, port: int | None, pids: list[int] | None = None) -> None:
        import threading
        self.port = port
        self.pids = {str(p) for p in (pids or [])}
        self.max = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True) if port else None

    def loop(self) -> None:
        while not self.stop.wait(0.25):
            try:
                cp = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{self.port} )"],
                                    capture_output=True, text=True, timeout=5)
                n = 0
                for ln in cp.stdout.splitlines():
                    owners = set(re.findall(r"pid=(\d+)", ln))
                    if ln.strip() and (not self.pids or owners & self.pids):
                        n += 1
                self.max = max(self.max, n)
            except (OSError, subprocess.TimeoutExpired):
                return

    def __enter__(self) -> "ConnSampler":
        if self.thread:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(6)


def run_tool(argv: list[str], env: dict | None, marker: str, timeout: float) -> dict | None:
    try:
        cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"timed out: {' '.join(argv[:3])}")
        return None
    for line in cp.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1:])
    log(f"no {marker} line from {argv[0]} (exit {cp.returncode}): {cp.stdout[-300:]} {cp.stderr[-500:]}")
    return None


class Runner:
    def __init__(self, cfg: dict, out: str, phase: str) -> None:
        self.cfg = cfg
        self.out = out
        self.phase = phase

    def emit(self, record: dict) -> None:
        record["phase"] = self.phase
        with open(self.out, "a") as f:
            f.write(json.dumps(record) + "\n")

    def wrk_once(self, t: dict, conns: int, duration: float, sample: bool) -> tuple[dict | None, float, float, int]:
        threads = min(2, conns)
        env = dict(os.environ, BENCH_BODY=t["body"], BENCH_AUTH=t.get("auth", ""))
        url = f"http://127.0.0.1:{t['port']}{t['path']}"
        pids = tree(t.get("pid"))
        c0, w0 = cpu_seconds(pids), time.monotonic()
        with ConnSampler(t.get("upstream_port") if sample else None, pids) as sampler:
            res = run_tool(["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration:g}s", "--timeout", "10s",
                            "-s", os.path.join(self.cfg["bench"], "wrk_post.lua"), url], env, "WRKJSON", duration + 60)
        c1, w1 = cpu_seconds(pids), time.monotonic()
        return res, c1 - c0, w1 - w0, sampler.max

    def wrk(self, t: dict, conns: int, duration: float, record: bool = True) -> dict | None:
        """`repeat` runs of wrk; the one with the lowest p99 is reported (this machine is shared: the
        best of N filters out other work's interference the same way for every path); all runs are kept."""
        if not record:
            return self.wrk_once(t, conns, duration, False)[0]
        repeat = max(1, int(self.cfg.get("repeat", 1)))
        runs = []
        cpu = wall = 0.0
        conns_max = 0
        for _ in range(repeat):
            res, c, w, m = self.wrk_once(t, conns, duration, True)
            cpu += c
            wall += w
            conns_max = max(conns_max, m)
            if res:
                runs.append(res)
        best = min(runs, key=lambda r: r["p99_us"]) if runs else None
        pids = tree(t.get("pid"))
        rec = {"kind": "wrk", "target": t["name"], "conns": conns, "result": best, "repeat": repeat,
               "runs": [{"rps": r["rps"], "p50_us": r["p50_us"], "p99_us": r["p99_us"]} for r in runs]}
        if t.get("upstream_port"):
            rec["upstream_conns_max"] = conns_max
        total = sum(r["requests"] for r in runs)
        if pids and total:
            rec["gw_cpu_s"] = round(cpu, 2)
            rec["gw_cpu_us_per_req"] = round(cpu / total * 1e6, 1)
            rec["gw_cpu_cores"] = round(cpu / wall, 2) if wall else None
            rec["gw_rss_kb"] = status_kb(pids, "VmRSS")
        self.emit(rec)
        if best:
            res = best
            log(f"{t['name']:<28} wrk c={conns:<4} {res['rps']:>9.1f} rps  p50 {res['p50_us'] / 1000:.3f} ms"
                f"  p99 {res['p99_us'] / 1000:.3f} ms  (best p99 of {len(runs)}: "
                + ", ".join(f"{r['p99_us'] / 1000:.2f}" for r in runs) + ")  errors(status/other) "
                f"{res['err_status']}/{res['err_connect'] + res['err_read'] + res['err_write'] + res['err_timeout']}")
        return best

    def rate(self, t: dict, rate: float, kind: str = "rate") -> None:
        py = self.cfg["python"]
        pids = tree(t.get("pid"))
        c0 = cpu_seconds(pids)
        d = self.cfg["duration"]
        res = run_tool([py, os.path.join(self.cfg["bench"], "loadgen.py"), "--port", str(t["port"]), "--path", t["path"],
                        "--body", t["body"], "--auth", t.get("auth", ""), "--rate", str(rate), "--duration", str(d),
                        "--drain", "10", "--max-conns", "64", "--label", t["name"]], None, "RATEJSON", d + 60)
        c1 = cpu_seconds(pids)
        rec = {"kind": kind, "target": t["name"], "rate": rate, "result": res}
        if pids and res and res.get("completed"):
            rec["gw_cpu_us_per_req"] = round((c1 - c0) / res["completed"] * 1e6, 1)
        self.emit(rec)
        if res:
            log(f"{t['name']:<28} {kind} {rate:g}/s achieved {res['achieved_rps']}  p50 {res['p50']} ms  p99 {res['p99']} ms"
                f"  errors {res['errors']} statuses {res['statuses']}")

    def stream(self, t: dict, streams: int, gap_ms: float, expect: int, kind: str = "stream") -> None:
        py = self.cfg["python"]
        pids = tree(t.get("pid"))
        reset_hwm(pids)
        rss0 = status_kb(pids, "VmRSS")
        c0 = cpu_seconds(pids)
        timeout = self.cfg["stream_timeout"]
        sampler = ConnSampler(t.get("upstream_port"), pids)
        sampler.__enter__()
        res = run_tool([py, os.path.join(self.cfg["bench"], "sse_client.py"), "--port", str(t["port"]), "--path", t["path"],
                        "--body", t["body"], "--auth", t.get("auth", ""), "--streams", str(streams),
                        "--ramp-per-s", str(self.cfg.get("ramp_per_s", 1000)), "--timeout", str(timeout),
                        "--gap-ms", str(gap_ms), "--expect-chunks", str(expect), "--label", t["name"]],
                       None, "SSEJSON", timeout + 60)
        sampler.__exit__()
        c1 = cpu_seconds(pids)
        rec = {"kind": kind, "target": t["name"], "streams": streams, "result": res}
        if t.get("upstream_port"):
            rec["upstream_conns_max"] = sampler.max
        if pids:
            # VmHWM of each process (reset above) summed: the tree's peak RSS, an upper bound.
            rec["gw_rss_before_kb"] = rss0
            rec["gw_peak_rss_kb"] = status_kb(pids, "VmHWM")
            rec["gw_cpu_s"] = round(c1 - c0, 2)
            if res and res.get("chunks_timed"):
                rec["gw_cpu_us_per_chunk"] = round((c1 - c0) / res["chunks_timed"] * 1e6, 1)
        self.emit(rec)
        if res:
            log(f"{t['name']:<28} {kind} {streams} streams: completed {res['completed']}/{res['started']} max open "
                f"{res['max_open']} ttfb(data) p50 {res['ttfb_data_p50']} p99 {res['ttfb_data_p99']} ms, delivery p50 "
                f"{res['delivery_p50']} p99 {res['delivery_p99']} ms, held back {res['held_back']}"
                + (f", peak RSS {rec.get('gw_peak_rss_kb', 0) / 1024:.1f} MB" if pids else "")
                + (f", upstream connections max {rec['upstream_conns_max']}" if "upstream_conns_max" in rec else "")
                + (f", gateway CPU {rec['gw_cpu_us_per_chunk']} µs/chunk" if "gw_cpu_us_per_chunk" in rec else ""))

    def ratio_rounds(self) -> None:
        """The paths of `ratio_targets` at c=32, one run each per round, round after round: each
        round's ratios compare runs made seconds apart, so a slow minute on the shared machine
        moves every path of a round alike instead of whichever path it fell on."""
        cfg = self.cfg
        by_name = {t["name"]: t for t in cfg["json_targets"] if not t.get("skip")}
        targets = [by_name[n] for n in cfg.get("ratio_targets", []) if n in by_name]
        if len(targets) < 2:
            return
        for number in range(int(cfg.get("ratio_rounds", 0))):
            for t in targets:
                res, cpu, _, _ = self.wrk_once(t, 32, cfg["duration"], False)
                if not res:
                    continue
                rec = {"kind": "ratio-round", "round": number, "target": t["name"], "rps": res["rps"], "p50_us": res["p50_us"],
                       "p99_us": res["p99_us"], "errors": res["err_status"] + res["err_connect"] + res["err_read"]
                       + res["err_write"] + res["err_timeout"]}
                if t.get("pid") and res["requests"]:
                    rec["gw_cpu_us_per_req"] = round(cpu / res["requests"] * 1e6, 1)
                self.emit(rec)
                log(f"{t['name']:<28} round {number + 1} c=32 {res['rps']:>9.1f} rps  p99 {res['p99_us'] / 1000:.3f} ms"
                    + (f"  CPU {rec['gw_cpu_us_per_req']} µs/req" if "gw_cpu_us_per_req" in rec else ""))

    def run(self) -> None:
        cfg = self.cfg
        d = cfg["duration"]
        for t in cfg["json_targets"]:
            if t.get("skip"):
                self.emit({"kind": "skip", "target": t["name"], "reason": t["skip"]})
                log(f"{t['name']:<28} skipped: {t['skip']}")
                continue
            fast = t.get("kind", "fast") == "fast"
            self.wrk(t, 8, 2, record=False)  # warm-up: connections, session token, caches
            self.wrk(t, 1, d)
            self.wrk(t, 32, d)
            if fast:
                self.wrk(t, 128, d)
            self.rate(t, cfg["rate"] if fast else cfg["sim_rate"])
            if fast and cfg.get("low_rate"):
                self.rate(t, cfg["low_rate"], kind="rate-low")
        self.ratio_rounds()
        for t in cfg["stream_targets"]:
            if t.get("skip"):
                self.emit({"kind": "skip-stream", "target": t["name"], "reason": t["skip"]})
                log(f"{t['name']:<28} streaming skipped: {t['skip']}")
                continue
            fast = t.get("kind", "fast") == "fast"
            if fast:
                self.stream(t, cfg["streams"], cfg["gap_ms"], cfg["chunks"] + 1)
            else:
                self.stream(t, cfg["sim_streams"], 1000.0 / cfg["sim_tps"], 0)
        for t in cfg.get("chunk_targets", []):
            # warm-up (session token, upstream connections), not recorded
            run_tool([cfg["python"], os.path.join(cfg["bench"], "sse_client.py"), "--port", str(t["port"]), "--path",
                      t["path"], "--body", t["body"], "--auth", t.get("auth", ""), "--streams", "2", "--timeout", "10"],
                     None, "SSEJSON", 30)
            self.stream(t, cfg.get("fast_streams", 8), 5.0, 401, kind="stream-fast")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--phase", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    Runner(cfg, args.out, args.phase).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
