#!/usr/bin/env bash
# flaky_unblock.sh: issue 18 §4, a place in flight is for a request on the wire. Each
# binary unblocks RECORDS contact IDs (each one block record, made by the imitation's
# seed) at --rate 500/s, default retries, against an imitation failing half its answers
# (500/503, --fail-rate 0.5, dice seeded by the round), and the wall time of each run is
# printed with what its ledger says. Rounds alternate the binaries, so the machine's noise
# hits each alike.
#
# Every run is checked: each ID has one final line, `unblocked` or `failed` (a delete
# failing every attempt), and the imitation still holds exactly the records of the failed
# ones (`/_mock/records`). A run whose ledger and account disagree stops the script.
#
# Usage: benches/flaky_unblock.sh NAME=PATH [NAME=PATH ...]
# Environment: ROUNDS (3), RECORDS (200), MOCK (binary serving the imitation; default: the
#              last one given, which must know `mock --seed-range`).
set -euo pipefail

rounds="${ROUNDS:-3}"
records="${RECORDS:-200}"
key="bench-key"
if [[ $# -lt 1 ]]; then
  echo "usage: $0 NAME=PATH [NAME=PATH ...]" >&2
  exit 2
fi
names=()
declare -A bins
for arg in "$@"; do
  names+=("${arg%%=*}")
  bins[${arg%%=*}]="${arg#*=}"
  [[ -x "${arg#*=}" ]] || { echo "flaky_unblock.sh: ${arg#*=} is not an executable" >&2; exit 2; }
done
mock_bin="${MOCK:-${bins[${names[-1]}]}}"
work="$(mktemp -d)"
trap 'kill "${mock_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
seq 1 "$records" > "$work/ids.txt"

echo "| round | client | wall s | unblocked | failed | exit |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do
    # A fresh imitation per run: RECORDS records, one per ID, and half of all answers fail.
    "$mock_bin" mock --port 0 --key "$key" --block-list --seed-range "contact:1-$records" \
      --fail-rate 0.5 --seed "$round" > "$work/mock.out" 2> "$work/mock.err" &
    mock_pid=$!
    for _ in $(seq 100); do
      url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/mock.out" "$work/mock.err" 2>/dev/null | head -1 | cut -d: -f2-)" || true
      [[ -n "$url" ]] && break
      sleep 0.05
    done
    [[ -n "$url" ]] || { echo "the imitation did not start" >&2; exit 1; }
    ledger="$work/$name-$round.jsonl"
    start=$(date +%s.%N)
    code=0
    ACQUIRE_API_KEY="$key" "${bins[$name]}" unblock "$work/ids.txt" --base-url "$url" \
      --rate 500/s --results "$ledger" -q > "$work/out" 2>&1 || code=$?
    end=$(date +%s.%N)
    left="$(curl -s -H "Authorization: Bearer $key" "$url/_mock/records" | grep -o '"count":[0-9]*' | head -1 | cut -d: -f2 || true)"
    kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true
    unblocked=$(grep -c '"status":"unblocked"' "$ledger" || true)
    failed=$(grep -c '"status":"failed"' "$ledger" || true)
    printf '| %s | %s | %.2f | %s | %s | %s |\n' "$round" "$name" "$(echo "$end - $start" | bc)" "$unblocked" "$failed" "$code"
    if [[ "$code" -gt 1 || $((unblocked + failed)) != "$records" || "$left" != "$failed" ]]; then
      echo "flaky_unblock.sh: $name: exit $code, $unblocked unblocked + $failed failed of $records, $left records left at the imitation" >&2
      cat "$work/out" >&2
      exit 1
    fi
  done
done
