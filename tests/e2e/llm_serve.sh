#!/usr/bin/env bash
# End-to-end: `nemoc llm serve` (megatron_gpt_eval.py server=True) on a tiny
# GPT trained here in about a second. With curl: NeMo's PUT /generate and the
# OpenAI-style /v1/completions and /v1/chat/completions answer; greedy
# answers equal `nemoc llm generate greedy=true` token for token; streaming
# gives several `data:` chunks, [DONE], and the same text as the plain
# answer; 8 concurrent requests all succeed, are batched into shared
# generate calls and give the answers each gets alone; malformed JSON, an
# oversized body, an unknown path, a wrong method, a too-long prompt and
# NeMo's field checks give the right status and a JSON error; a client that
# drops a stream leaves the server answering; SIGTERM stops it cleanly, a
# stream in flight finishing whole.
# Usage: llm_serve.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
# ctest-skip-return-code: 77
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
command -v curl >/dev/null && [ -x "$PY" ] || { echo "SKIP: curl or $PY missing"; exit 77; }
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_serve.XXXXXX")
SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$W/srv.log" ] && tail -n 20 "$W/srv.log" >&2
    exit 1
}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

# ---- a tiny model ----
head -n 300 "$SRC/tests/data/text/sentences.txt" | awk '{ printf "{\"text\": \"%s\"}\n", $0 }' >in.jsonl
SPM="$SRC/tests/ref/spm/bpe_v1024.model"
"$NEMOC" llm preprocess --input in.jsonl --output-prefix d --tokenizer-library sentencepiece \
    --tokenizer-model "$SPM" --append-eod >prep.log 2>&1 || { cat prep.log; fail "preprocess"; }
"$NEMOC" llm pretrain --config-path "$SRC/tests/data/config" --config-name megatron_gpt_tiny \
    "model.data.data_prefix=[$W/d_text_document]" "model.tokenizer.model=$SPM" "exp_manager.exp_dir=$W/exp" \
    >train.log 2>&1 || { tail train.log; fail "pretrain"; }
M=$(find "$W/exp" -name '*.nemo' | head -n 1)
[ -n "$M" ] || fail "no .nemo written"

# start_server [key=value...]: port 0 (the system's free port), read back from the log
start_server() {
    "$NEMOC" llm serve "model=$M" port=0 "$@" >srv.log 2>&1 &
    SRV_PID=$!
    for _ in $(seq 1 300); do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' srv.log)
        [ -n "$PORT" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || fail "server exited: $(cat srv.log)"
        sleep 0.1
    done
    fail "server did not start"
}
stop_server() {
    kill -TERM "$SRV_PID"
    local rc=0
    timeout 20 tail --pid="$SRV_PID" -f /dev/null || fail "server still running 20 s after SIGTERM"
    wait "$SRV_PID" || rc=$?
    SRV_PID=
    [ "$rc" -eq 0 ] || fail "server exit code $rc after SIGTERM"
    grep -q "stopped: " srv.log || fail "no clean stop line"
}
# req METHOD PATH BODY -> body in out.json, status echoed
req() { curl -s -o out.json -w '%{http_code}' -X "$1" "http://127.0.0.1:$PORT$2" -H 'Content-Type: application/json' --data-binary "$3"; }
# jget EXPR: a Python expression over d (out.json)
jget() { "$PY" -c "import json,sys; d=json.load(open('out.json')); print($1)"; }
# expect_err STATUS METHOD PATH BODY TEXT: the status and a JSON error naming TEXT
expect_err() {
    local st
    st=$(req "$2" "$3" "$4")
    [ "$st" = "$1" ] || fail "$2 $3 '$4': status $st, want $1: $(cat out.json)"
    [ "$(jget 'd["error"]["code"]')" = "$1" ] || fail "$2 $3: no JSON error with code $1: $(cat out.json)"
    grep -qF -- "$5" out.json || fail "$2 $3: no '$5' in $(cat out.json)"
}

start_server batch_wait_ms=100 max_body=65536
P="in the beginning god"

# ---- NeMo's API, greedy, equal to `nemoc llm generate` ----
st=$(req PUT /generate "{\"sentences\": [\"$P\"], \"tokens_to_generate\": 8, \"min_tokens_to_generate\": 8, \"greedy\": true}")
[ "$st" = 200 ] || fail "/generate: $st $(cat out.json)"
for k in sentences tokens token_ids offsets logprob; do
    jget "'$k' in d" | grep -q True || fail "/generate answer has no $k"
done
jget "'full_logprob' in d" | grep -q False || fail "full_logprob without all_probs"
"$NEMOC" llm generate "model=$M" "prompt=$P" greedy=true tokens_to_generate=8 min_tokens_to_generate=8 \
    print_ids=true stream=false 2>/dev/null >cli_ids.txt || fail "llm generate"
"$NEMOC" llm generate "model=$M" "prompt=$P" greedy=true tokens_to_generate=8 min_tokens_to_generate=8 \
    stream=false 2>/dev/null >cli_text.txt || fail "llm generate (text)"
NP=$(printf '%s' "$P" | "$NEMOC" tokenizer encode --model "$SPM" | wc -w)
[ "$(jget "' '.join(map(str, d['token_ids'][0][$NP:]))")" = "$(cat cli_ids.txt)" ] ||
    fail "greedy ids differ: server $(jget "d['token_ids'][0][$NP:]") vs CLI $(cat cli_ids.txt)"
# (the CLI prints the prompt and the continuation decoded apart, which drops
# the continuation's leading space; the server decodes them together, as NeMo)
[ "$(jget "d['sentences'][0]" | tr -d ' ')" = "$(tr -d ' ' <cli_text.txt)" ] ||
    fail "greedy text differs: '$(jget "d['sentences'][0]")' vs '$(cat cli_text.txt)'"
[ "$(jget "len(d['tokens'][0]) == len(d['token_ids'][0]) == len(d['offsets'][0]) == $NP + 8")" = True ] ||
    fail "tokens / token_ids / offsets lengths"
# NeMo's offsets: 0, then the running length of every piece but the last, special tokens zero-wide
"$PY" -c "
import json, sys
d = json.load(open('out.json'))
t, o = d['tokens'][0], d['offsets'][0]
want = [0]
for i, p in enumerate(t[:-1]): want.append(want[-1] + (0 if p in ('<s>', '</s>', '<pad>', '<unk>') else len(p)))
sys.exit(0 if o == want else 'offsets %s, want %s' % (o, want))" || fail "offsets"
SENT=$(jget "d['sentences'][0]")

# ---- OpenAI-style completion (temperature 0: greedy) ----
st=$(req POST /v1/completions "{\"prompt\": \"$P\", \"max_tokens\": 8, \"min_tokens\": 8}")
[ "$st" = 200 ] || fail "/v1/completions: $st $(cat out.json)"
[ "$(jget "d['object'], d['choices'][0]['finish_reason'], d['usage']['completion_tokens']")" = "text_completion length 8" ] ||
    fail "completion fields: $(cat out.json)"
TEXT=$(jget "d['choices'][0]['text']")
[ "$P$TEXT" = "$SENT" ] || fail "completion text '$TEXT' is not the continuation in '$SENT'"

# ---- a request's own stop string: the answer ends before it, streamed or not ----
# the stop string spans the first two tokens' boundary (" and and" -> "d a"),
# so a stream must hold back the piece that may begin it
WORD=$("$PY" -c "import sys; t = sys.argv[1]; k = t.index(' ', 1); print(t[k - 1:k + 2])" "$TEXT")
WANT=$("$PY" -c "import sys; t, w = sys.argv[1], sys.argv[2]; print(t[:t.find(w)])" "$TEXT" "$WORD")
st=$(req POST /v1/completions "{\"prompt\": \"$P\", \"max_tokens\": 8, \"min_tokens\": 8, \"stop\": [\"$WORD\"]}")
[ "$st" = 200 ] && [ "$(jget "d['choices'][0]['finish_reason']")" = stop ] &&
    [ "$(jget "repr(d['choices'][0]['text'])")" = "$("$PY" -c "import sys; print(repr(sys.argv[1]))" "$WANT")" ] ||
    fail "stop '$WORD': want '$WANT' and finish stop: $(cat out.json)"
curl -sN "http://127.0.0.1:$PORT/v1/completions" -d "{\"prompt\": \"$P\", \"max_tokens\": 8, \"min_tokens\": 8, \"stop\": \"$WORD\", \"stream\": true}" >sse_stop.txt
"$PY" - "$WANT" <<'EOF' || fail "streamed stop: $(cat sse_stop.txt)"
import json, sys
t = "".join(json.loads(l[6:])["choices"][0]["text"] for l in open("sse_stop.txt") if l.startswith("data: {"))
sys.exit(0 if t == sys.argv[1] else "streamed %r, want %r" % (t, sys.argv[1]))
EOF
# NeMo keeps the end string in sentences and stops at it
st=$(req PUT /generate "{\"sentences\": [\"$P\"], \"tokens_to_generate\": 8, \"min_tokens_to_generate\": 8, \"greedy\": true, \"end_strings\": [\"$WORD\"]}")
[ "$st" = 200 ] && "$PY" -c "
import json, sys
s = json.load(open('out.json'))['sentences'][0]
sys.exit(not (s.startswith(sys.argv[1]) and sys.argv[2].startswith(s) and len(s) < len(sys.argv[2])))" "$P$WANT$WORD" "$SENT" ||
    fail "/generate end_strings [$WORD]: want a prefix of '$SENT' holding '$P$WANT$WORD': $(cat out.json)"

# ---- chat ----
st=$(req POST /v1/chat/completions '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "and god said"}], "max_tokens": 6, "min_tokens": 6}')
[ "$st" = 200 ] || fail "/v1/chat/completions: $st $(cat out.json)"
[ "$(jget "d['object'], d['choices'][0]['message']['role'], d['usage']['completion_tokens']")" = "chat.completion assistant 6" ] ||
    fail "chat fields: $(cat out.json)"

# ---- streaming: several data: chunks, [DONE], the same text ----
curl -sN "http://127.0.0.1:$PORT/v1/completions" -d "{\"prompt\": \"$P\", \"max_tokens\": 8, \"min_tokens\": 8, \"stream\": true}" >sse.txt ||
    fail "stream"
[ "$(grep -c '^data: {' sse.txt)" -ge 3 ] || fail "fewer than 3 data chunks: $(cat sse.txt)"
[ "$(grep '^data: ' sse.txt | tail -n 1)" = "data: [DONE]" ] || fail "no final [DONE]"
STREAMED=$("$PY" -c "
import json
t = ''
for l in open('sse.txt'):
    if l.startswith('data: {'): t += json.loads(l[6:])['choices'][0]['text']
print(t)")
[ "$STREAMED" = "$TEXT" ] || fail "streamed text '$STREAMED' differs from '$TEXT'"
grep -q '"finish_reason":"length"' sse.txt || fail "no finish_reason in the last chunk"
curl -sN "http://127.0.0.1:$PORT/v1/chat/completions" -d '{"messages": [{"role": "user", "content": "and"}], "max_tokens": 5, "min_tokens": 5, "stream": true}' >sse2.txt
grep -q '"object":"chat.completion.chunk"' sse2.txt && grep -q '"delta":{"role":"assistant"' sse2.txt &&
    [ "$(tail -n 2 sse2.txt | head -n 1)" = "data: [DONE]" ] || fail "chat stream: $(cat sse2.txt)"

# ---- 8 concurrent requests: all succeed, batched, each as it is alone ----
PROMPTS=("in the" "and god said" "the lord" "and he" "in the beginning" "and the earth" "let there be" "and it was")
for i in "${!PROMPTS[@]}"; do
    req POST /v1/completions "{\"prompt\": \"${PROMPTS[$i]}\", \"max_tokens\": 6, \"min_tokens\": 6}" >/dev/null
    jget "d['choices'][0]['text']" >"alone$i.txt"
done
for i in "${!PROMPTS[@]}"; do
    curl -s -o "conc$i.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/completions" \
        -d "{\"prompt\": \"${PROMPTS[$i]}\", \"max_tokens\": 6, \"min_tokens\": 6}" >"conc$i.status" &
done
# two sampled requests with their own temperatures: they cannot share the greedy call
for t in 0.7 1.3; do
    curl -s -o "samp$t.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/completions" \
        -d "{\"prompt\": \"and\", \"max_tokens\": 6, \"min_tokens\": 6, \"temperature\": $t}" >"samp$t.status" &
done
wait $(jobs -p | grep -v "^$SRV_PID$") 2>/dev/null || true
for t in 0.7 1.3; do
    [ "$(cat "samp$t.status")" = 200 ] && grep -q '"completion_tokens":6' "samp$t.json" ||
        fail "sampled request at temperature $t: $(cat "samp$t.status") $(cat "samp$t.json")"
done
for i in "${!PROMPTS[@]}"; do
    [ "$(cat "conc$i.status")" = 200 ] || fail "concurrent request $i: $(cat "conc$i.status") $(cat "conc$i.json")"
    cp "conc$i.json" out.json
    [ "$(jget "d['choices'][0]['text']")" = "$(cat "alone$i.txt")" ] ||
        fail "batched answer $i '$(jget "d['choices'][0]['text']")' differs from alone '$(cat "alone$i.txt")'"
done

# ---- errors: status and a JSON error ----
expect_err 400 POST /v1/completions '{"prompt": "x", ' "malformed JSON"
expect_err 400 PUT /generate '[1, 2]' "JSON object"
expect_err 404 POST /v1/nothing '{}' "no endpoint /v1/nothing"
expect_err 405 GET /generate '' "takes PUT"
expect_err 405 POST /generate '{}' "takes PUT"
LONG=$(head -c 400 "$SRC/tests/data/text/sentences.txt" | tr '\n"' '  ')
expect_err 400 POST /v1/completions "{\"prompt\": \"$LONG\"}" "context of 64 tokens"
expect_err 400 PUT /generate '{"sentences": ["a"], "tokens_to_generate": 0}' "tokens_to_generate must be an integer greater than 0"
expect_err 400 PUT /generate '{"sentences": ["a"], "temperature": 0}' "temperature must be a positive number less than or equal to 100.0"
expect_err 400 PUT /generate '{"sentences": ["a"], "top_p": 2}' "top_p must be a positive number less than or equal to 1.0"
expect_err 400 PUT /generate '{"sentences": ["a"], "end_strings": "x"}' "expect end_strings to be a list of strings"
expect_err 400 PUT /generate '{"sentences": ["a"], "all_probs": true}' "all_probs is not supported"
expect_err 400 PUT /generate '{"sentences": ["a"], "compute_logprob": true}' "compute_logprob is not supported"
expect_err 400 POST /v1/completions '{"prompt": "a", "n": 2}' "n must be 1"
expect_err 400 POST /v1/chat/completions '{"messages": [{"role": "robot", "content": "x"}]}' "not one of system, user, assistant"
head -c 100000 /dev/zero | tr '\0' 'a' | sed 's/^/{"prompt": "/; s/$/"}/' >big.json
st=$(curl -s -o out.json -w '%{http_code}' "http://127.0.0.1:$PORT/v1/completions" --data-binary @big.json)
[ "$st" = 413 ] && grep -q 'max_body=65536' out.json || fail "oversized body: $st $(cat out.json)"

# ---- a client that drops a stream mid-way: the server goes on answering ----
"$PY" - "$PORT" <<'EOF' || fail "dropping client"
import socket, sys
body = b'{"prompt": "in the", "max_tokens": 50, "min_tokens": 50, "stream": true}'
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
got = b""
while b"data: {" not in got:
    chunk = s.recv(256)
    if not chunk: sys.exit("stream closed before the first event")
    got += chunk
s.close()
EOF
st=$(req POST /v1/completions "{\"prompt\": \"$P\", \"max_tokens\": 8, \"min_tokens\": 8}")
[ "$st" = 200 ] && [ "$(jget "d['choices'][0]['text']")" = "$TEXT" ] || fail "after a dropped stream: $st $(cat out.json)"

# (a 50-token stream of this model may end before the server notices the
# client has gone; when it notices, the sequence is stopped and logged)
grep -h "the client went away" srv.log || echo "note: the dropped stream ended before the server noticed"

# SIGTERM with a stream in flight: a request taken before the stop is
# finished ([DONE]); one that comes after is refused (503) or not connected
curl -sN "http://127.0.0.1:$PORT/v1/completions" -d '{"prompt": "in the", "max_tokens": 60, "min_tokens": 60, "stream": true}' >sse_term.txt &
CURL_PID=$!
sleep 0.05
stop_server
rc=0
wait "$CURL_PID" || rc=$?
if [ -s sse_term.txt ] && ! grep -q '"code":503' sse_term.txt; then
    [ "$rc" -eq 0 ] && [ "$(tail -n 2 sse_term.txt | head -n 1)" = "data: [DONE]" ] ||
        fail "stream cut by SIGTERM (curl rc $rc): $(tail -c 300 sse_term.txt)"
else
    [ "$rc" -ne 0 ] || grep -q '"code":503' sse_term.txt || fail "empty answer at SIGTERM (curl rc $rc)"
fi
grep -Eq "largest batch [2-8]\)" srv.log || fail "concurrent requests were not batched: $(tail -n 1 srv.log)"
echo "OK: llm serve ($(tail -n 1 srv.log | sed 's/.*stopped: //'))"
