#!/usr/bin/env bash
# A quick A/B of the non-streaming relay cost, for iterating on the hot path (about 2 minutes):
# the canned nginx upstream, the nginx relay and zgproxy (OpenAI-compatible backend, and the 0G
# backend in front of a fake provider registered on the sandbox chain), measured alternately with
# wrk at one concurrency, BENCH_ROUNDS times. Prints req/s, p50/p99 and the gateway's CPU per request.
#
#   bench/quick.sh [ZGPROXY_BINARY]     # default .build-release/release/zgproxy (build it first)
#
# Three endpoints are configured, as in bench/run.sh (the SSE ones are idle here), so routing
# looks through as many as there.
# Knobs: BENCH_C (32), BENCH_DURATION (5), BENCH_ROUNDS (3), BENCH_ZG_ENV (extra VAR=value settings
# for zgproxy, space-separated), BENCH_PERF (0; 1 records `perf record -g` of zgproxy for one more
# run into /tmp/zgquick-perf.data; BENCH_PERF_PATH=0g profiles the 0G path instead of the OpenAI-compatible one), BENCH_HOLD (0; 1 keeps everything running afterwards for probes by
# hand and prints the ports), BENCH_BASELINE (a second zgproxy binary, e.g. a build of the commit before,
# measured right after the first in every round: an A/B under the same conditions; BENCH_BASELINE_ENV gives it
# other settings than BENCH_ZG_ENV, for an A/B of a setting with the same binary twice).
# bench/run.sh is the full benchmark; this is a probe.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ZGPROXY=${1:-$ROOT/.build-release/release/zgproxy}
C=${BENCH_C:-32}; DURATION=${BENCH_DURATION:-5}; ROUNDS=${BENCH_ROUNDS:-3}
PY="$ROOT/.venv/bin/python"
[ -x "$ZGPROXY" ] || { echo "quick: no binary at $ZGPROXY" >&2; exit 1; }
command -v nginx >/dev/null && command -v wrk >/dev/null || scripts/bootstrap.sh nginx-light wrk

WORK=$(mktemp -d /tmp/zgquick.XXXXXX)
PIDS=()
cleanup() {
    for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r P_UP P_RELAY P_ZG P_BASE <<<"$("$PY" -c 'import socket
s=[socket.socket() for _ in range(4)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
wait_for() { for _ in $(seq 600); do curl -s -o /dev/null -m 1 "$1" && return 0; sleep 0.2; done; echo "quick: $1 did not come up" >&2; return 1; }

CANNED='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a canned answer from the benchmark upstream.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_bench"}'
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
for d in up relay; do mkdir -p "$WORK/nginx-$d"; done
common() { echo "$USER_LINE worker_rlimit_nofile 16384; pid $WORK/nginx-$1/nginx.pid; error_log $WORK/nginx-$1.log warn; events { worker_connections 8192; }"; }
temp() { echo "access_log off; keepalive_requests 10000000; keepalive_timeout 300s; client_body_temp_path $WORK/nginx-$1/b; proxy_temp_path $WORK/nginx-$1/p; fastcgi_temp_path $WORK/nginx-$1/f; uwsgi_temp_path $WORK/nginx-$1/u; scgi_temp_path $WORK/nginx-$1/s;"; }
cat > "$WORK/up.conf" <<EOF
$(common up) worker_processes 1;
http { $(temp up) server { listen 127.0.0.1:$P_UP backlog=4096; default_type application/json;
  location = /v1/chat/completions { return 200 '$CANNED'; }
  location = /v1/proxy/chat/completions { add_header ZG-Res-Key bench-fake; return 200 '$CANNED'; } } }
EOF
cat > "$WORK/relay.conf" <<EOF
$(common relay) worker_processes auto;
http { $(temp relay) upstream up { server 127.0.0.1:$P_UP; keepalive 256; keepalive_requests 10000000; }
  server { listen 127.0.0.1:$P_RELAY backlog=4096; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
nginx -p "$WORK/nginx-up" -c "$WORK/up.conf" -g 'daemon off;' & PIDS+=($!)
nginx -p "$WORK/nginx-relay" -c "$WORK/relay.conf" -g 'daemon off;' & PIDS+=($!)
RELAY_PID=$!
wait_for "http://127.0.0.1:$P_UP/" && wait_for "http://127.0.0.1:$P_RELAY/" || exit 1

"$PY" Fixtures/zerog/sandbox.py --providers qwen-2.5-7b-instruct:1:2 --fund-ledger 100 --quiet --exit-with-parent \
    > "$WORK/sandbox.out" 2> "$WORK/sandbox.log" & PIDS+=($!)
for _ in $(seq 1200); do grep -q "SANDBOX READY" "$WORK/sandbox.out" 2>/dev/null && break; sleep 0.1; done
sed -n 's/^SANDBOX READY //p' "$WORK/sandbox.out" > "$WORK/sandbox.json"
[ -s "$WORK/sandbox.json" ] || { tail "$WORK/sandbox.log" >&2; exit 1; }
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$WORK/sandbox.json" "$1"; }
"$PY" bench/zg_setup.py register-fake --sandbox "$WORK/sandbox.json" --spare 1 --url "http://127.0.0.1:$P_UP" --model bench-json > /dev/null
cat > "$WORK/endpoints.json" <<EOF
{"endpoints": [{"name": "bench-json", "type": "openai", "baseURL": "http://127.0.0.1:$P_UP/v1", "apiKey": "sk-fake", "models": ["bench-openai-json"]},
  {"name": "bench-sse", "type": "openai", "baseURL": "http://127.0.0.1:$P_UP/v1", "apiKey": "sk-fake", "models": ["bench-openai-sse"]},
  {"name": "bench-sse-fast", "type": "openai", "baseURL": "http://127.0.0.1:$P_UP/v1", "apiKey": "sk-fake", "models": ["bench-openai-sse-fast"]}]}
EOF
start_zgproxy() { # binary port name [settings]: starts one gateway (its own data directory); sets ZG_PID
    # shellcheck disable=SC2086
    env -i PATH="$PATH" HOME="$HOME" ZGPROXY_CONFIG="$WORK/endpoints.json" ZG_NETWORK=custom ZG_CHAIN_RPC="$(jget 'd["rpc"]')" \
        ZG_LEDGER_CONTRACT="$(jget 'd["ledger"]')" ZG_INFERENCE_CONTRACT="$(jget 'd["inference"]')" PRIVATE_KEY="$(jget 'd["wallet"]["privateKey"]')" \
        AUTH_TOKEN=bench HOST=127.0.0.1 PORT="$2" DATA_DIR="$WORK/data-$3" ZG_VERIFY=off ${4:-} \
        "$1" serve --env-file /nonexistent > "$WORK/zgproxy-$3.log" 2>&1 & PIDS+=($!)
    ZG_PID=$!
    wait_for "http://127.0.0.1:$2/health" || { tail -20 "$WORK/zgproxy-$3.log" >&2; exit 1; }
}
start_zgproxy "$ZGPROXY" "$P_ZG" main "${BENCH_ZG_ENV:-}"
MAIN_PID=$ZG_PID
if [ -n "${BENCH_BASELINE:-}" ]; then
    start_zgproxy "$BENCH_BASELINE" "$P_BASE" base "${BENCH_BASELINE_ENV:-${BENCH_ZG_ENV:-}}"
    BASE_PID=$ZG_PID
fi

body() { printf '{"model":"%s","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark please"}],"max_tokens":64,"temperature":0.2}' "$1"; }
cpu() { # utime + stime of a process and its children, in ticks
    local total=0 p
    for p in "$1" $(pgrep -P "$1"); do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$total"
}
run() { # name port model auth pid
    local before after out
    BENCH_BODY="$(body "$3")" BENCH_AUTH="$4" wrk -t2 -c"$C" -d2s -s bench/wrk_post.lua "http://127.0.0.1:$2/v1/chat/completions" > /dev/null
    before=$(cpu "$5")
    local faults0; faults0=$(awk '{print $10}' "/proc/$5/stat")
    out=$(BENCH_BODY="$(body "$3")" BENCH_AUTH="$4" wrk -t2 -c"$C" -d"${DURATION}s" -s bench/wrk_post.lua "http://127.0.0.1:$2/v1/chat/completions" | sed -n 's/^WRKJSON //p')
    after=$(cpu "$5")
    [ "${BENCH_FAULTS:-0}" = 1 ] && echo "minor faults: $(( $(awk '{print $10}' "/proc/$5/stat") - faults0 ))"
    "$PY" -c 'import json,sys
name, r, ticks = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[4]) - int(sys.argv[3])
n = max(r["requests"], 1); errs = r["err_status"] + r["err_read"] + r["err_connect"] + r["err_timeout"]
print("%-16s %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms  CPU %6.1f us/req  errors %d  RSS %s MB" % (name, r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, ticks * 10000 / n, errs, sys.argv[5]))' \
        "$1" "$out" "$before" "$after" "$(( $(awk '/^VmRSS/ {print $2}' "/proc/$5/status") / 1024 ))"
}
echo "c=$C, ${DURATION} s per run, $ROUNDS rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
    [ "${BENCH_ONLY_ZG:-0}" = 1 ] || run nginx "$P_RELAY" bench-model "" "$RELAY_PID"
    run zgproxy-openai "$P_ZG" bench-openai-json "Bearer bench" "$MAIN_PID"
    [ -z "${BASE_PID:-}" ] || run baseline-openai "$P_BASE" bench-openai-json "Bearer bench" "$BASE_PID"
    [ "${BENCH_ONLY_ZG:-0}" = 1 ] || run zgproxy-0g-fake "$P_ZG" bench-json "Bearer bench" "$MAIN_PID"
    [ -z "${BASE_PID:-}" ] || [ "${BENCH_ONLY_ZG:-0}" = 1 ] || run baseline-0g-fake "$P_BASE" bench-json "Bearer bench" "$BASE_PID"
done
if [ "${BENCH_PERF:-0}" = 1 ]; then
    perf record -F 999 -g -p "$MAIN_PID" -o /tmp/zgquick-perf.data -- sleep "$DURATION" > /dev/null 2>&1 &
    perf_pid=$!
    if [ "${BENCH_PERF_PATH:-openai}" = 0g ]; then
        run zgproxy-0g-fake "$P_ZG" bench-json "Bearer bench" "$MAIN_PID"
    else
        run zgproxy-openai "$P_ZG" bench-openai-json "Bearer bench" "$MAIN_PID"
    fi
    wait "$perf_pid" || true
    echo "profile: perf report -i /tmp/zgquick-perf.data"
fi
if [ "${BENCH_HOLD:-0}" = 1 ]; then
    # Keeps everything up for probes by hand (strace, perf, curl) until interrupted.
    echo "HOLD nginx=$P_RELAY zgproxy=$P_ZG zgproxy_pid=$MAIN_PID nginx_pid=$RELAY_PID upstream=$P_UP"
    echo "body: $(body bench-openai-json)"
    sleep infinity
fi
