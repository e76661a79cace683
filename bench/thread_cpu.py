#!/usr/bin/env python3
"""CPU and context switches per thread of one process while a command runs.

    bench/thread_cpu.py PID -- COMMAND [ARGS...]

Runs COMMAND (a load, e.g. wrk against the gateway; see `BENCH_HOLD=1 bench/quick.sh`), and
prints, for each thread of PID, its share of a core, and its voluntary and involuntary context
switches during the command, busiest first. Threads are read from /proc/PID/task.
"""
import os
import subprocess
import sys
import time


def snapshot(pid: str) -> dict[str, tuple[str, int, int, int]]:
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        threads[tid] = (name, ticks, int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"]))
    return threads


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__.strip(), file=sys.stderr)
        return 64
    pid, command = sys.argv[1], sys.argv[3:]
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    before, started = snapshot(pid), time.monotonic()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
    after, elapsed = snapshot(pid), time.monotonic() - started
    rows = []
    for tid, (name, ticks, voluntary, involuntary) in after.items():
        if tid in before:
            _, ticks0, voluntary0, involuntary0 = before[tid]
            rows.append((ticks - ticks0, name, voluntary - voluntary0, involuntary - involuntary0))
    print(f"{'core %':>7}  {'thread':24} {'voluntary/s':>12} {'involuntary/s':>14}")
    for ticks, name, voluntary, involuntary in sorted(rows, reverse=True):
        if ticks or voluntary or involuntary:
            print(f"{100 * ticks / ticks_per_second / elapsed:7.1f}  {name:24} {voluntary / elapsed:12.0f} {involuntary / elapsed:14.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
