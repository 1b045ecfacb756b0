#!/usr/bin/env bash
# ab.sh: A/B of several blockade binaries in ONE interleaved run against one imitation on
# 127.0.0.1. Each round runs every binary once over the same input (the order rotates from
# round to round, so drift on the machine hits each binary alike); the client's own
# user+sys CPU and peak RSS come from GNU time (wait4 on that one process). Then, unless
# CALLGRIND_IDS=0, each binary runs once under `valgrind --tool=callgrind` on a smaller
# input: instruction counts do not move with the machine's load, so they break ties.
#
# Every run is checked: exit 0, and the imitation received exactly IDS IDs in IDS/100
# requests, all answered 200. A wrong run stops the script: a fast run that lost IDs is
# not a result.
#
# Usage: benches/ab.sh NAME=PATH [NAME=PATH ...]     (e.g. base=/work/ab/base lib-csv=/work/ab/lib-csv)
# Environment: ROUNDS (5), IDS (1000000), CONCURRENCY (8), CALLGRIND_IDS (100000; 0 skips),
#              MOCK (binary serving the imitation; default: the first one), OUT (raw figures,
#              default: a temp file, printed at the end).
# Needs: GNU time (/usr/bin/time), valgrind for the instruction counts.
set -euo pipefail

rounds="${ROUNDS:-5}"
ids="${IDS:-1000000}"
concurrency="${CONCURRENCY:-8}"
callgrind_ids="${CALLGRIND_IDS:-100000}"
key="bench-key"
batch=100
first_id=1000001

if [[ $# -lt 1 ]]; then
  echo "usage: $0 NAME=PATH [NAME=PATH ...]" >&2
  exit 2
fi
names=()
declare -A bins
for arg in "$@"; do
  name="${arg%%=*}"
  path="${arg#*=}"
  [[ -x "$path" ]] || { echo "ab.sh: $path is not an executable" >&2; exit 2; }
  names+=("$name")
  bins[$name]="$path"
done
[[ -x /usr/bin/time ]] || { echo "ab.sh: needs GNU time: apt-get install -y time" >&2; exit 2; }
mock_bin="${MOCK:-${bins[${names[0]}]}}"

work="$(mktemp -d -t blockade-ab-XXXXXX)"
out="${OUT:-$work/figures.tsv}"
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

{ echo id; seq "$first_id" $((first_id + ids - 1)); } > "$work/ids.csv"
{ echo id; seq "$first_id" $((first_id + callgrind_ids - 1)); } > "$work/small.csv"

"$mock_bin" mock --port 0 --key "$key" > "$work/mock.out" 2> "$work/mock.err" &
mock_pid=$!
url=""
for _ in $(seq 100); do
  url="$(head -n1 "$work/mock.out" 2>/dev/null | awk '{print $NF}')"
  [[ "$url" == http://127.0.0.1:* ]] && break
  sleep 0.05
done
[[ "$url" == http://127.0.0.1:* ]] || { echo "ab.sh: the imitation did not start: $(cat "$work/mock.err")" >&2; exit 1; }

# requests, 200s and IDs blocked so far, as "r s i".
counters() {
  curl -fsS "$url/_mock/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["requests"], s["by_status"].get("200", 0), s["ids_blocked"])'
}

# check BEFORE AFTER N: the imitation saw exactly N IDs in N/100 requests, all 200.
check() {
  local -a b a
  read -r -a b <<<"$1"
  read -r -a a <<<"$2"
  local n="$3" requests=$(( ($3 + batch - 1) / batch ))
  local r=$((a[0] - b[0])) ok=$((a[1] - b[1])) blocked=$((a[2] - b[2]))
  if [[ $r -ne $requests || $ok -ne $requests || $blocked -ne $n ]]; then
    echo "ab.sh: WRONG run: $r requests ($ok answered 200), $blocked IDs; expected $requests, $n" >&2
    return 1
  fi
}

# run NAME INPUT PREFIX...: runs the client (under PREFIX), checks it; stderr kept.
run_client() {
  local name="$1" input="$2"
  shift 2
  rm -f "$work/results.jsonl"
  if ! ACQUIRE_API_KEY="$key" "$@" "${bins[$name]}" block --base-url "$url" --block-for 1d \
      --rate 1000000/s --burst 1000 --concurrency "$concurrency" \
      --results "$work/results.jsonl" -q "$input" > /dev/null 2> "$work/client.err"; then
    echo "ab.sh: $name failed: $(tail -n5 "$work/client.err")" >&2
    return 1
  fi
}

printf "name\tround\twall_s\tuser_s\tsys_s\tmax_rss_kb\n" > "$out"
echo "ab.sh: $rounds rounds of ${#names[@]} binaries, $ids IDs, concurrency $concurrency, imitation at $url" >&2
count=${#names[@]}
for round in $(seq "$rounds"); do
  for i in $(seq 0 $((count - 1))); do
    name="${names[$(( (i + round - 1) % count ))]}"
    before="$(counters)"
    run_client "$name" "$work/ids.csv" /usr/bin/time -o "$work/time" -f "%e %U %S %M"
    check "$before" "$(counters)" "$ids"
    read -r wall user sys rss < "$work/time"
    printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$round" "$wall" "$user" "$sys" "$rss" >> "$out"
    printf "round %s %-16s wall %6.2fs cpu %6.2fs rss %6.1f MB\n" "$round" "$name" "$wall" \
      "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" >&2
  done
done

declare -A instructions
if [[ "$callgrind_ids" != 0 ]]; then
  command -v valgrind >/dev/null || { echo "ab.sh: valgrind missing (apt-get install -y valgrind)" >&2; exit 2; }
  for name in "${names[@]}"; do
    before="$(counters)"
    run_client "$name" "$work/small.csv" valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name" -q
    check "$before" "$(counters)" "$callgrind_ids"
    instructions[$name]="$(awk '/^(summary|totals):/ { print $2; exit }' "$work/cg.$name")"
    echo "callgrind $name: ${instructions[$name]} instructions for $callgrind_ids IDs" >&2
  done
fi

echo
echo "median of $rounds interleaved rounds, $ids IDs, batch $batch, concurrency $concurrency (client only):"
printf "%-16s %-16s %-12s %-12s %-18s %s\n" name "cpu s / 1M IDs" "vs ${names[0]}" "wall s" "peak RSS MB" "instructions (${callgrind_ids} IDs)"
base_cpu=""
for name in "${names[@]}"; do
  read -r cpu wall rss < <(awk -F'\t' -v n="$name" -v ids="$ids" '
    $1 == n { c[++k] = ($4 + $5) * 1e6 / ids; w[k] = $3; r[k] = $6 }
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { printf "%.3f %.2f %.1f\n", median(c, k), median(w, k), median(r, k) / 1024 }' "$out")
  [[ -z "$base_cpu" ]] && base_cpu="$cpu"
  delta="$(awk -v c="$cpu" -v b="$base_cpu" 'BEGIN { printf "%+.1f%%", (c - b) * 100 / b }')"
  printf "%-16s %-16s %-12s %-12s %-18s %s\n" "$name" "$cpu" "$delta" "$wall" "$rss" "${instructions[$name]:--}"
done
if [[ -z "${OUT:-}" ]]; then
  echo
  echo "raw figures:"
  cat "$out"
fi
