#!/usr/bin/env bash
# zgproxy gateway benchmark: one command, one run, one machine.
#
#   bench/run.sh            # install what is missing, build release, start everything, measure, report, stop
#
# What it measures (see docs/benchmarks.md), all on loopback, every load bounded in time:
#   non-streaming  wrk at fixed concurrency (c=1, 32, 128; BENCH_REPEAT runs of BENCH_DURATION s) and a fixed rate
#                  (bench/loadgen.py, open loop, latency from the scheduled send time);
#   interleaved    BENCH_RATIO_ROUNDS rounds (5) of direct, nginx, zgproxy-openai and zgproxy-0g-fake at c=32, one run
#                  each per round: the per-round throughput ratios to nginx, p99s, and their medians;
#   streaming      BENCH_STREAMS concurrent SSE streams (bench/sse_client.py): TTFB, per-chunk delivery
#                  delay, chunks held back, and the gateway's peak RSS (VmHWM); and the relay's cost per
#                  chunk: BENCH_FAST_STREAMS (8) streams of 400 chunks 5 ms apart, gateway CPU per chunk;
# through these paths:
#   direct                 the zero-latency fake upstream itself (nginx `return 200` JSON; fake_sse.py for SSE)
#   nginx                  an nginx reverse proxy (keepalive upstream, proxy_buffering off for SSE) in front of it
#   zgproxy-openai         zgproxy's OpenAI-compatible backend (BENCH_OPENAI_BACKEND=0 skips it); configures endpoints (ZGPROXY_CONFIG,
#                          type "openai") in front of the same fakes and measures it
#   zgproxy-0g-fake        zgproxy's 0G backend (catalog, app-sk session token, metering, usage recording)
#                          in front of a provider registered on the sandbox chain whose URL is the same
#                          zero-latency fake (the fake answers /v1/proxy/chat/completions too)
#   litellm                LiteLLM's proxy in front of the same fake (own venv .venv-bench; skipped if it
#                          does not install within 5 minutes)
#   sim-direct             the sandbox's simulated 0G provider (Python) hit directly with an app-sk token
#   zgproxy-0g-sim         zgproxy's 0G backend in front of that simulated provider (ZG_VERIFY=off), and
#   zgproxy-0g-sim-sampled the same with ZG_VERIFY=sampled (10 % of answers verified)
#
# Knobs (environment): BENCH_DURATION (5 s per wrk run), BENCH_REPEAT (3 wrk runs per cell, lowest p99 kept), BENCH_RATE (1000), BENCH_LOW_RATE (25), BENCH_SIM_RATE (40), BENCH_STREAMS (1000),
# BENCH_CHUNKS (20), BENCH_GAP_MS (200), BENCH_RAMP (500 streams opened per second), BENCH_STREAM_TIMEOUT (60), BENCH_SIM_STREAMS (32), BENCH_SIM_TPS (50),
# BENCH_RATIO_ROUNDS (5), BENCH_OPENAI_BACKEND (1; 0 skips the zgproxy-openai path), BENCH_LITELLM (1; 0 skips), BENCH_PROFILE (1: perf profiles of zgproxy), BENCH_SKIP_BUILD (0), BENCH_OUT (bench/results/<timestamp>).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
cd "$ROOT"

DURATION=${BENCH_DURATION:-5}
REPEAT=${BENCH_REPEAT:-3}
RATE=${BENCH_RATE:-1000}
LOW_RATE=${BENCH_LOW_RATE:-25}
SIM_RATE=${BENCH_SIM_RATE:-40}
STREAMS=${BENCH_STREAMS:-1000}
CHUNKS=${BENCH_CHUNKS:-20}
GAP_MS=${BENCH_GAP_MS:-200}
STREAM_TIMEOUT=${BENCH_STREAM_TIMEOUT:-60}
SIM_STREAMS=${BENCH_SIM_STREAMS:-32}
SIM_TPS=${BENCH_SIM_TPS:-50}
RAMP=${BENCH_RAMP:-500}
FAST_STREAMS=${BENCH_FAST_STREAMS:-8}
RATIO_ROUNDS=${BENCH_RATIO_ROUNDS:-5}
OPENAI_BACKEND=${BENCH_OPENAI_BACKEND:-1}
WANT_LITELLM=${BENCH_LITELLM:-1}
OUT=${BENCH_OUT:-$BENCH/results/$(date +%Y%m%d-%H%M%S)}
SCRATCH="$ROOT/.build-release"
PY="$ROOT/.venv/bin/python"
LVENV="$ROOT/.venv-bench"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/zgbench.XXXXXX)
PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    say "stopping everything"
    for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null || true
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ 1. install what is missing
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
say "bootstrap (Debian packages ${need[*]:-none missing}, .venv)"
scripts/bootstrap.sh "${need[@]}"
command -v nginx >/dev/null && command -v wrk >/dev/null || die "nginx or wrk did not install"

LITELLM_NOTE=""
if [ "$WANT_LITELLM" != 0 ]; then
    if [ ! -x "$LVENV/bin/litellm" ]; then
        say "installing LiteLLM's proxy into $LVENV (at most 5 minutes)"
        [ -x "$LVENV/bin/pip" ] || python3 -m venv "$LVENV"
        if ! timeout 300 "$LVENV/bin/pip" install -q --disable-pip-version-check 'litellm[proxy]' > "$WORK/litellm-install.log" 2>&1; then
            LITELLM_NOTE="LiteLLM skipped: 'pip install litellm[proxy]' failed or took over 5 minutes"
        fi
    fi
    [ -x "$LVENV/bin/litellm" ] || LITELLM_NOTE=${LITELLM_NOTE:-"LiteLLM skipped: not installed"}
else
    LITELLM_NOTE="LiteLLM skipped: BENCH_LITELLM=0"
fi

# ------------------------------------------------------------------ 2. build (release)
ZGPROXY="$SCRATCH/release/zgproxy"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$ZGPROXY" ]; then
    say "building zgproxy (release, scratch $SCRATCH)"
    swift build -c release --product zgproxy --scratch-path "$SCRATCH" 2>&1 | tail -3
fi
[ -x "$ZGPROXY" ] || die "no release binary at $ZGPROXY"
# What was measured: a digest of Sources/ and Package.resolved at build time (the tree may be shared).
SOURCES_SHA=$(cd "$ROOT" && find Sources Package.swift Package.resolved -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)

# ------------------------------------------------------------------ 3. start everything (loopback, free ports)
read -r P_UP P_RELAY P_RELAY_SSE P_ZG P_ZG2 P_LITE <<<"$("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"

wait_for() { # url seconds what
    local url=$1 n=$2 what=$3
    for _ in $(seq $((n * 5))); do
        curl -s -o /dev/null -m 1 "$url" && return 0
        sleep 0.2
    done
    die "$what did not come up at $url"
}

say "fake SSE upstream (fake_sse.py: $CHUNKS chunks, ${GAP_MS} ms apart)"
"$PY" "$BENCH/fake_sse.py" --chunks "$CHUNKS" --gap-ms "$GAP_MS" > "$WORK/fake_sse.out" 2> "$WORK/fake_sse.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "FAKE READY" "$WORK/fake_sse.out" 2>/dev/null && break; sleep 0.1; done
P_SSE=$(awk '/FAKE READY/ {print $3}' "$WORK/fake_sse.out")
[ -n "$P_SSE" ] || die "fake_sse.py did not start"
# A second one with fast chunks (400, 5 ms apart) for the relay's per-chunk cost, with streams few enough
# (BENCH_FAST_STREAMS, 8) to fit any upstream connection pool.
"$PY" "$BENCH/fake_sse.py" --chunks 400 --gap-ms 5 > "$WORK/fake_sse_fast.out" 2> "$WORK/fake_sse_fast.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "FAKE READY" "$WORK/fake_sse_fast.out" 2>/dev/null && break; sleep 0.1; done
P_SSE_FAST=$(awk '/FAKE READY/ {print $3}' "$WORK/fake_sse_fast.out")
[ -n "$P_SSE_FAST" ] || die "fake_sse.py (fast) did not start"

CANNED='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a canned answer from the benchmark upstream.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_bench"}'
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
for d in up relay; do mkdir -p "$WORK/nginx-$d"; done
cat > "$WORK/nginx-up.conf" <<EOF
$USER_LINE
worker_processes 1;
worker_rlimit_nofile 16384;
pid $WORK/nginx-up/nginx.pid;
error_log $WORK/nginx-up.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/nginx-up/body;
    proxy_temp_path $WORK/nginx-up/proxy;
    fastcgi_temp_path $WORK/nginx-up/fastcgi;
    uwsgi_temp_path $WORK/nginx-up/uwsgi;
    scgi_temp_path $WORK/nginx-up/scgi;
    server {
        listen 127.0.0.1:$P_UP backlog=4096;
        default_type application/json;
        location = /v1/chat/completions { return 200 '$CANNED'; }
        location = /v1/proxy/chat/completions { add_header ZG-Res-Key bench-fake; return 200 '$CANNED'; }
        location / { return 404 '{"error":"not found"}'; }
    }
}
EOF
cat > "$WORK/nginx-relay.conf" <<EOF
$USER_LINE
worker_processes auto;
worker_rlimit_nofile 16384;
pid $WORK/nginx-relay/nginx.pid;
error_log $WORK/nginx-relay.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/nginx-relay/body;
    proxy_temp_path $WORK/nginx-relay/proxy;
    fastcgi_temp_path $WORK/nginx-relay/fastcgi;
    uwsgi_temp_path $WORK/nginx-relay/uwsgi;
    scgi_temp_path $WORK/nginx-relay/scgi;
    upstream fake_json { server 127.0.0.1:$P_UP; keepalive 256; keepalive_requests 10000000; }
    upstream fake_sse { server 127.0.0.1:$P_SSE; keepalive 256; }
    server {
        listen 127.0.0.1:$P_RELAY backlog=4096;
        location / { proxy_pass http://fake_json; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$P_RELAY_SSE backlog=4096;
        location / {
            proxy_pass http://fake_sse; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_buffering off; proxy_read_timeout 300s;
        }
    }
}
EOF
say "nginx: fake upstream :$P_UP, relay :$P_RELAY (JSON) / :$P_RELAY_SSE (SSE)"
nginx -p "$WORK/nginx-up" -c "$WORK/nginx-up.conf" -g 'daemon off;' 2>> "$WORK/nginx-up.log" &
PIDS+=($!)
nginx -p "$WORK/nginx-relay" -c "$WORK/nginx-relay.conf" -g 'daemon off;' 2>> "$WORK/nginx-relay.log" &
PIDS+=($!)
NGINX_RELAY_PID=$!
wait_for "http://127.0.0.1:$P_UP/" 10 "nginx (fake upstream)"
wait_for "http://127.0.0.1:$P_RELAY/" 10 "nginx (relay)"

say "0G sandbox (devchain, contracts, one simulated provider, funded wallet; stream pacing $SIM_TPS tokens/s)"
"$PY" Fixtures/zerog/sandbox.py --providers qwen-2.5-7b-instruct:1:2 --tokens-per-second "$SIM_TPS" \
    --fund-ledger 100 --quiet --exit-with-parent > "$WORK/sandbox.out" 2> "$WORK/sandbox.log" &
PIDS+=($!)
for _ in $(seq 1200); do grep -q "SANDBOX READY" "$WORK/sandbox.out" 2>/dev/null && break; kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
grep -q "SANDBOX READY" "$WORK/sandbox.out" || { tail -20 "$WORK/sandbox.log" >&2; die "the sandbox did not start"; }
sed -n 's/^SANDBOX READY //p' "$WORK/sandbox.out" > "$WORK/sandbox.json"
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$WORK/sandbox.json" "$1"; }
RPC=$(jget 'd["rpc"]'); LEDGER=$(jget 'd["ledger"]'); INFERENCE=$(jget 'd["inference"]')
WALLET_KEY=$(jget 'd["wallet"]["privateKey"]')
SIM_PROVIDER=$(jget 'd["providers"][0]["provider"]'); SIM_URL=$(jget 'd["providers"][0]["url"]')
SIM_PORT=${SIM_URL##*:}

say "registering zero-latency fake 0G providers on the sandbox chain (bench-json -> nginx, bench-sse[-fast] -> fake_sse)"
"$PY" "$BENCH/zg_setup.py" register-fake --sandbox "$WORK/sandbox.json" --spare 1 --url "http://127.0.0.1:$P_UP" \
    --model bench-json > "$WORK/fake-json.json"
"$PY" "$BENCH/zg_setup.py" register-fake --sandbox "$WORK/sandbox.json" --spare 2 --url "http://127.0.0.1:$P_SSE" \
    --model bench-sse > "$WORK/fake-sse.json"
"$PY" "$BENCH/zg_setup.py" register-fake --sandbox "$WORK/sandbox.json" --spare 3 --url "http://127.0.0.1:$P_SSE_FAST" \
    --model bench-sse-fast > "$WORK/fake-sse-fast.json"
SIM_AUTH=$("$PY" "$BENCH/zg_setup.py" token --key "$WALLET_KEY" --provider "$SIM_PROVIDER")

# ---- zgproxy's OpenAI-compatible backend (the fakes as "openai" endpoints)
ZG_EXTRA_ENV=()
OPENAI_SKIP="OpenAI-compatible backend skipped (BENCH_OPENAI_BACKEND=0)"
if [ "$OPENAI_BACKEND" = 1 ]; then
    cat > "$WORK/zgproxy-endpoints.json" <<EOF
{"endpoints": [
  {"name": "bench-json", "type": "openai", "baseURL": "http://127.0.0.1:$P_UP/v1", "apiKey": "sk-fake", "models": ["bench-openai-json"]},
  {"name": "bench-sse", "type": "openai", "baseURL": "http://127.0.0.1:$P_SSE/v1", "apiKey": "sk-fake", "models": ["bench-openai-sse"]},
  {"name": "bench-sse-fast", "type": "openai", "baseURL": "http://127.0.0.1:$P_SSE_FAST/v1", "apiKey": "sk-fake", "models": ["bench-openai-sse-fast"]}
]}
EOF
    ZG_EXTRA_ENV=(ZGPROXY_CONFIG="$WORK/zgproxy-endpoints.json")
    OPENAI_SKIP=""
fi

start_zgproxy() { # port verify-mode log
    env -i PATH="$PATH" HOME="$HOME" "${ZG_EXTRA_ENV[@]}" ZG_NETWORK=custom ZG_CHAIN_RPC="$RPC" ZG_LEDGER_CONTRACT="$LEDGER" \
        ZG_INFERENCE_CONTRACT="$INFERENCE" PRIVATE_KEY="$WALLET_KEY" AUTH_TOKEN=bench HOST=127.0.0.1 PORT="$1" DATA_DIR="$WORK/data-$1" \
        ZG_VERIFY="$2" "$ZGPROXY" serve --env-file /nonexistent > "$3" 2>&1 &
    PIDS+=($!)
    ZG_PID=$!
    wait_for "http://127.0.0.1:$1/health" 120 "zgproxy (ZG_VERIFY=$2)"
}

LITE_PID=""
if [ -z "$LITELLM_NOTE" ]; then
    say "LiteLLM proxy :$P_LITE"
    cat > "$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: bench-json
    litellm_params: {model: openai/bench-model, api_base: "http://127.0.0.1:$P_UP/v1", api_key: sk-fake}
  - model_name: bench-sse
    litellm_params: {model: openai/bench-model, api_base: "http://127.0.0.1:$P_SSE/v1", api_key: sk-fake}
litellm_settings:
  telemetry: false
general_settings:
  master_key: sk-bench-2f9c1e7a4b6d8e0f3a5c7b9d1e3f5a7c
EOF
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR "$LVENV/bin/litellm" --config "$WORK/litellm.yaml" \
        --host 127.0.0.1 --port "$P_LITE" > "$WORK/litellm.log" 2>&1 &
    PIDS+=($!)
    LITE_PID=$!
    ok=0
    for _ in $(seq 600); do
        curl -s -o /dev/null -m 1 "http://127.0.0.1:$P_LITE/health/liveliness" && { ok=1; break; }
        kill -0 "$LITE_PID" 2>/dev/null || break
        sleep 0.2
    done
    [ $ok = 1 ] || { LITELLM_NOTE="LiteLLM skipped: its proxy did not start (see litellm.log)"; LITE_PID=""; }
fi

say "zgproxy (ZG_VERIFY=off) :$P_ZG"
start_zgproxy "$P_ZG" off "$WORK/zgproxy-off.log"
ZG_OFF_PID=$ZG_PID

# ------------------------------------------------------------------ 4. measure
BODY_FAST='{"model":"MODEL","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark please"}],"max_tokens":64,"temperature":0.2}'
body() { printf '%s' "${BODY_FAST/MODEL/$1}"; }
sbody() { printf '%s' "${BODY_FAST/MODEL/$1}" | sed 's/}$/,"stream":true}/'; }
LITE_AUTH="Bearer sk-bench-2f9c1e7a4b6d8e0f3a5c7b9d1e3f5a7c"

"$PY" - "$WORK/config-main.json" <<EOF
import json, sys
bench, py = "$BENCH", "$PY"
lite_skip = """$LITELLM_NOTE""" or None
openai_skip = """$OPENAI_SKIP""" or None
lite_pid = int("${LITE_PID:-0}") or None
zg = {"port": $P_ZG, "path": "/v1/chat/completions", "auth": "Bearer bench", "pid": $ZG_OFF_PID}
def t(name, **kw): return dict(name=name, **kw)
cfg = {
  "bench": bench, "python": py, "duration": $DURATION, "repeat": $REPEAT, "rate": $RATE, "low_rate": $LOW_RATE, "sim_rate": $SIM_RATE,
  "streams": $STREAMS, "chunks": $CHUNKS, "gap_ms": $GAP_MS, "stream_timeout": $STREAM_TIMEOUT,
  "sim_streams": $SIM_STREAMS, "sim_tps": $SIM_TPS, "ramp_per_s": $RAMP,
  "json_targets": [
    t("direct", port=$P_UP, path="/v1/chat/completions", body='''$(body bench-model)'''),
    t("nginx", port=$P_RELAY, path="/v1/chat/completions", body='''$(body bench-model)''', pid=$NGINX_RELAY_PID,
      upstream_port=$P_UP),
    # The OpenAI-compatible backend (BENCH_OPENAI_BACKEND=0 skips it)
    t("zgproxy-openai", skip=openai_skip, body='''$(body bench-openai-json)''', upstream_port=$P_UP, **zg),
    t("zgproxy-0g-fake", body='''$(body bench-json)''', upstream_port=$P_UP, **zg),
    t("litellm", port=$P_LITE, path="/v1/chat/completions", auth="$LITE_AUTH", body='''$(body bench-json)''',
      pid=lite_pid, skip=lite_skip, upstream_port=$P_UP),
    t("sim-direct", kind="sim", port=$SIM_PORT, path="/v1/proxy/chat/completions", auth="$SIM_AUTH",
      body='''$(body qwen-2.5-7b-instruct)'''),
    t("zgproxy-0g-sim", kind="sim", body='''$(body "$SIM_PROVIDER")''', upstream_port=$SIM_PORT, **zg),
  ],
  "stream_targets": [
    t("direct", port=$P_SSE, path="/v1/chat/completions", body='''$(sbody bench-model)'''),
    t("nginx", port=$P_RELAY_SSE, path="/v1/chat/completions", body='''$(sbody bench-model)''', pid=$NGINX_RELAY_PID,
      upstream_port=$P_SSE),
    t("zgproxy-openai", skip=openai_skip, body='''$(sbody bench-openai-sse)''', upstream_port=$P_SSE, **zg),
    t("zgproxy-0g-fake", body='''$(sbody bench-sse)''', upstream_port=$P_SSE, **zg),
    t("litellm", port=$P_LITE, path="/v1/chat/completions", auth="$LITE_AUTH", body='''$(sbody bench-sse)''',
      pid=lite_pid, skip=lite_skip, upstream_port=$P_SSE),
    t("sim-direct", kind="sim", port=$SIM_PORT, path="/v1/proxy/chat/completions", auth="$SIM_AUTH",
      body='''$(sbody qwen-2.5-7b-instruct)'''),
    t("zgproxy-0g-sim", kind="sim", body='''$(sbody "$SIM_PROVIDER")''', upstream_port=$SIM_PORT, **zg),
  ],
  "ratio_rounds": $RATIO_ROUNDS, "ratio_targets": ["direct", "nginx", "zgproxy-openai", "zgproxy-0g-fake"],
  "fast_streams": $FAST_STREAMS,
  "chunk_targets": [
    t("direct", port=$P_SSE_FAST, path="/v1/chat/completions", body='''$(sbody bench-model)'''),
    t("zgproxy-0g-fake", body='''$(sbody bench-sse-fast)''', upstream_port=$P_SSE_FAST, **zg),
  ] + ([] if openai_skip else [
    t("zgproxy-openai", body='''$(sbody bench-openai-sse-fast)''', upstream_port=$P_SSE_FAST, **zg)]),
}
json.dump(cfg, open(sys.argv[1], "w"), indent=1)
EOF

{
    echo "{\"kind\":\"machine\",\"cpus\":$(nproc),\"mem_mb\":$(free -m | awk '/Mem:/ {print $2}'),"\
"\"cpu_model\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\",\"kernel\":\"$(uname -r)\","\
"\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"nginx\":\"$(nginx -v 2>&1 | cut -d/ -f2)\","\
"\"wrk\":\"$(wrk -v 2>&1 | head -1 | awk '{print $2}')\",\"litellm\":\"$( [ -n "$LITE_PID" ] && "$LVENV/bin/pip" show litellm 2>/dev/null | awk '/^Version/ {print $2}')\","\
"\"litellm_note\":\"$LITELLM_NOTE\",\"sources_sha256\":\"$SOURCES_SHA\",\"binary_mtime\":\"$(date -u -r "$ZGPROXY" +%Y-%m-%dT%H:%M:%SZ)\",\"swift\":\"$(swift --version 2>&1 | head -1 | sed 's/"//g')\","\
"\"duration\":$DURATION,\"repeat\":$REPEAT,\"rate\":$RATE,\"low_rate\":$LOW_RATE,\"sim_rate\":$SIM_RATE,\"streams\":$STREAMS,\"chunks\":$CHUNKS,\"gap_ms\":$GAP_MS,"\
"\"sim_streams\":$SIM_STREAMS,\"sim_tps\":$SIM_TPS,\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
} > "$OUT/results.jsonl"
[ "$(awk '{print ($1 > 1.0)}' /proc/loadavg)" = 1 ] && say "warning: load average $(cut -d' ' -f1 /proc/loadavg) before measuring: other work on this machine skews the numbers"

say "measuring (phase main: ZG_VERIFY=off)"
"$PY" "$BENCH/measure.py" --config "$WORK/config-main.json" --phase main --out "$OUT/results.jsonl"

if [ "${BENCH_PROFILE:-1}" != 0 ] && command -v perf >/dev/null && perf record -o /dev/null -q true >/dev/null 2>&1; then
    # CPU profile of zgproxy (cpu-clock sampling with call graphs) under the non-streaming load and under
    # streams; inclusive (children) and self-time tables, demangled, go to perf-NAME-{children,no-children}.txt,
    # the raw perf-NAME.data stays for `perf report -i`.
    profile() { # name seconds command...
        local name=$1 secs=$2; shift 2
        perf record -F 999 -g -p "$ZG_OFF_PID" -o "$OUT/perf-$name.data" -- sleep "$secs" > /dev/null 2>&1 &
        local perf_pid=$!
        sleep 0.3
        "$@" > /dev/null 2>&1 || true
        wait "$perf_pid" || true
        local mode
        for mode in children no-children; do
            perf report -i "$OUT/perf-$name.data" --stdio --$mode --sort dso,symbol -g none --percent-limit 0.3 2>/dev/null \
                | grep -v '^#' | grep -v '^$' | swift demangle --simplified | cut -c1-250 > "$OUT/perf-$name-$mode.txt" || true
        done
        perf report -i "$OUT/perf-$name.data" --stdio --no-children --sort dso --percent-limit 0.5 -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' > "$OUT/perf-$name-dso.txt" || true
    }
    say "profiling zgproxy (perf, cpu-clock): wrk c=32, and $FAST_STREAMS streams of fast chunks"
    profile json 9 env BENCH_BODY="$(body bench-json)" BENCH_AUTH="Bearer bench" \
        wrk -t2 -c32 -d8s -s "$BENCH/wrk_post.lua" "http://127.0.0.1:$P_ZG/v1/chat/completions"
    profile stream 4 "$PY" "$BENCH/sse_client.py" --port "$P_ZG" --body "$(sbody bench-sse-fast)" --auth "Bearer bench" \
        --streams "$FAST_STREAMS" --timeout 20
fi

say "restarting zgproxy with ZG_VERIFY=sampled :$P_ZG2"
kill -TERM "$ZG_OFF_PID" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$ZG_OFF_PID" 2>/dev/null || break; sleep 0.1; done
start_zgproxy "$P_ZG2" sampled "$WORK/zgproxy-sampled.log"
"$PY" - "$WORK/config-main.json" "$WORK/config-sampled.json" <<EOF
import json, sys
cfg = json.load(open(sys.argv[1]))
keep = lambda ts: [dict(t, name=t["name"] + "-sampled", port=$P_ZG2, pid=$ZG_PID) for t in ts if t["name"] == "zgproxy-0g-sim"]
cfg["json_targets"] = keep(cfg["json_targets"]); cfg["stream_targets"] = keep(cfg["stream_targets"]); cfg["chunk_targets"] = []
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
EOF
say "measuring (phase sampled: ZG_VERIFY=sampled, simulated provider only)"
"$PY" "$BENCH/measure.py" --config "$WORK/config-sampled.json" --phase sampled --out "$OUT/results.jsonl"
echo "{\"kind\":\"machine-end\",\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$OUT/results.jsonl"

# ------------------------------------------------------------------ 5. report
"$PY" "$BENCH/report.py" "$OUT/results.jsonl" | tee "$OUT/report.md"
say "results: $OUT (results.jsonl, report.md, logs)"
