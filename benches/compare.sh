#!/usr/bin/env bash
# compare.sh: end-to-end throughput of blockade against what wrk reaches on the same
# imitation, with the same 100-ID body and the same connection count, interleaved
# (wrk, blockade, wrk, blockade...) so machine noise hits both alike. Prints the median
# requests/s of each and the ratio blockade / wrk (target: at least 0.5).
#
# Usage: benches/compare.sh            (from the crate root; builds the release binary if missing)
# Environment: ROUNDS (3), IDS (1000000), CONCURRENCY ("8 64"), WRK_SECONDS (5),
#              WRK_THREADS (2: this machine has 2 cores), BLOCKADE (path of the binary).
# Needs wrk: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
rounds="${ROUNDS:-3}"
ids="${IDS:-1000000}"
concurrencies="${CONCURRENCY:-8 64}"
wrk_seconds="${WRK_SECONDS:-5}"
wrk_threads="${WRK_THREADS:-2}"
key="bench-key"
batch=100
first_id=1000001

if ! command -v wrk >/dev/null 2>&1; then
  echo "compare.sh: wrk is not installed; install it with: apt-get install -y wrk (or brew install wrk)" >&2
  exit 2
fi
bin="${BLOCKADE:-$root/target/release/blockade}"
if [[ ! -x "$bin" ]]; then
  echo "compare.sh: building $bin" >&2
  (cd "$root" && cargo build --release --quiet)
fi

work="$(mktemp -d -t blockade-compare-XXXXXX)"
mock_pid=""
cleanup() {
  if [[ -n "$mock_pid" ]] && kill -0 "$mock_pid" 2>/dev/null; then
    kill -INT "$mock_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$mock_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The input: IDS ascending contact IDs under a header, the IDs post.lua also sends.
{ echo id; seq "$first_id" $((first_id + ids - 1)); } > "$work/ids.csv"
requests=$(( (ids + batch - 1) / batch ))

# One imitation for everything, on the fast path (no --record-ids).
"$bin" mock --port 0 --key "$key" > "$work/mock.out" 2> "$work/mock.err" &
mock_pid=$!
url=""
for _ in $(seq 100); do
  url="$(head -n1 "$work/mock.out" 2>/dev/null | awk '{print $NF}')"
  [[ "$url" == http://* ]] && break
  sleep 0.05
done
[[ "$url" == http://* ]] || { echo "compare.sh: the imitation did not start: $(cat "$work/mock.err")" >&2; exit 1; }

now_ns() { date +%s%N; }

# wrk at concurrency $1: prints requests/s; fails on any non-200 answer or socket error.
run_wrk() {
  local out
  out="$(WRK_KEY="$key" BATCH="$batch" FIRST_ID="$first_id" \
    wrk -t"$wrk_threads" -c"$1" -d"${wrk_seconds}s" -s "$here/post.lua" "$url" 2>&1)"
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
    echo "compare.sh: wrk saw errors:" >&2; echo "$out" >&2; return 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

# blockade at concurrency $1 over the whole input: prints requests/s; fails unless exit 0.
run_blockade() {
  local start end
  rm -f "$work/results.jsonl"
  start="$(now_ns)"
  if ! ACQUIRE_API_KEY="$key" "$bin" block --base-url "$url" --block-for 1d \
      --rate 1000000/s --burst 1000 --concurrency "$1" --results "$work/results.jsonl" -q \
      "$work/ids.csv" > /dev/null 2> "$work/client.err"; then
    echo "compare.sh: blockade failed: $(tail -n5 "$work/client.err")" >&2; return 1
  fi
  end="$(now_ns)"
  awk -v r="$requests" -v ns=$((end - start)) 'BEGIN { printf "%.1f\n", r / (ns / 1e9) }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf "%-6s %-5s %-14s %-14s %s\n" conc round "wrk req/s" "blockade req/s" ratio
declare -A wrk_all blockade_all ratio_all
for round in $(seq "$rounds"); do
  for c in $concurrencies; do
    w="$(run_wrk "$c")"
    b="$(run_blockade "$c")"
    r="$(awk -v b="$b" -v w="$w" 'BEGIN { printf "%.3f", b / w }')"
    printf "%-6s %-5s %-14s %-14s %s\n" "$c" "$round" "$w" "$b" "$r"
    wrk_all[$c]+="$w "
    blockade_all[$c]+="$b "
    ratio_all[$c]+="$r "
  done
done

stats="$(curl -fsS "$url/_mock/stats" 2>/dev/null | head -c 200 || true)"
echo
echo "median of $rounds rounds ($ids IDs, batch $batch, wrk -t$wrk_threads ${wrk_seconds}s):"
# The verdict uses the ratio of the medians. The median of the per-round ratios (each
# blockade run against the wrk run just before it) is printed beside it: on a noisy
# machine the two can differ by several hundredths.
printf "%-6s %-12s %-15s %-8s %-13s %s\n" conc "wrk req/s" "blockade req/s" ratio "paired ratio" "target >= 0.5"
status=0
for c in $concurrencies; do
  w="$(tr ' ' '\n' <<<"${wrk_all[$c]}" | grep . | median)"
  b="$(tr ' ' '\n' <<<"${blockade_all[$c]}" | grep . | median)"
  ratio="$(awk -v b="$b" -v w="$w" 'BEGIN { printf "%.3f", b / w }')"
  paired="$(tr ' ' '\n' <<<"${ratio_all[$c]}" | grep . | median)"
  verdict="$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "ok" : "MISSED" }')"
  [[ "$verdict" == ok ]] || status=1
  printf "%-6s %-12s %-15s %-8s %-13s %s\n" "$c" "$w" "$b" "$ratio" "$paired" "$verdict"
done
[[ -n "$stats" ]] && echo "imitation stats (head): $stats"
exit "$status"
