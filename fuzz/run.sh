#!/bin/sh
# fuzz/run.sh - runs every libFuzzer target for a bounded time.
#
#   ./fuzz/run.sh                 every build/fuzz/fuzz_* for FUZZ_SECONDS (default 20) each
#   ./fuzz/run.sh fuzz_money ...  only those targets
#
# Build the targets first (`make fuzz`). Each target starts from its seed
# corpus fuzz/corpus/<target>/, copied into a scratch directory so the
# checked-in seeds never change (to grow the seeds, copy interesting files
# back by hand). A crash, leak, sanitizer report or timeout makes the
# target fail: its reproducer is kept in build/fuzz/crashes/<target>/
# (replay with `build/fuzz/<target> <file>`) and the script exits 1 after
# running the remaining targets.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_BIN (default build/fuzz),
# FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=4 -workers=4").
set -u

cd "$(dirname "$0")/.." || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-20}
BIN=${FUZZ_BIN:-build/fuzz}
ARGS=${FUZZ_ARGS:-}

if [ "$#" -gt 0 ]; then
    targets="$*"
else
    targets=$(cd "$BIN" 2>/dev/null && ls fuzz_* 2>/dev/null | grep -v '\.' || true)
fi
if [ -z "$targets" ]; then
    echo "fuzz: no targets in $BIN (run 'make fuzz' first)" >&2
    exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/souk-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT INT TERM

failed=""
for t in $targets; do
    bin="$BIN/$t"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin missing" >&2
        failed="$failed $t"
        continue
    fi
    corpus="$scratch/$t"
    crashes="$BIN/crashes/$t"
    mkdir -p "$corpus" "$crashes"
    [ -d "fuzz/corpus/$t" ] && cp -R "fuzz/corpus/$t/." "$corpus/"
    dict=""
    [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
    # shellcheck disable=SC2086
    if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" $dict $ARGS "$corpus" \
        >"$scratch/$t.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log")
        cov=$(grep -o 'cov: [0-9]*' "$scratch/$t.log" | tail -1)
        echo "fuzz: $t ok (${runs:-?} runs, $cov, ${SECONDS_EACH}s)"
    else
        echo "fuzz: $t FAILED; log tail and reproducer in $crashes/:" >&2
        tail -n 40 "$scratch/$t.log" >&2
        cp "$scratch/$t.log" "$crashes/last.log"
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
echo "fuzz: all targets passed"
