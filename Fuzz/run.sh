#!/usr/bin/env bash
# Builds and runs the libFuzzer harnesses (Fuzz/README.md).
#
#   Fuzz/run.sh build                      the sanitized harness binary, in .build-fuzz/
#   Fuzz/run.sh smoke                      every harness over its seeds and regressions, then a few
#                                          seconds of mutation (CI: part of `make test`)
#   Fuzz/run.sh campaign SECONDS [NAME...] each harness (or the named ones) for SECONDS, one at a
#                                          time; new inputs kept in .build-fuzz/corpus/NAME
#   Fuzz/run.sh replay NAME FILE...        runs the harness once on each file (a crash, a regression)
#
# Environment: SWIFT (swift), FUZZ_SMOKE_SECONDS (3 per harness), FUZZ_ARGS (extra libFuzzer options).
set -euo pipefail
# The whole script is one block, read before it runs: editing it during a campaign is safe.
{
cd "$(dirname "$0")/.."

swift=${SWIFT:-swift}
scratch=.build-fuzz
binary=$scratch/release/ota-fuzz
# libFuzzer reports crashes itself; Swift's backtracer would only slow that down.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
# Options every run gets: a hang is a finding after 10 s, and so is more than 2 GiB of memory.
common=(-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
# The smoke run is reproducible (a fixed seed); campaigns draw a new one each time.
mode=()

build() {
    OTA_FUZZ=1 "$swift" build -c release --scratch-path "$scratch" --product ota-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -g \
        -Xcc -fsanitize=fuzzer-no-link,address
}

# The libFuzzer dictionary a harness's inputs are made of (Fuzz/dictionaries/).
dictionary() {
    case "$1" in
    manifest | approval | envelope | recipients | json | tuf | trust-update) echo Fuzz/dictionaries/json.dict ;;
    vehicle-config | manifest-source) echo Fuzz/dictionaries/yaml.dict ;;
    records) echo Fuzz/dictionaries/records.dict ;;
    esac
}

names() {
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; else "$binary" --list | cut -f1; fi
}

# Final stats of a run's log: executions, coverage (edges), features, corpus size.
summary() {
    local log=$1
    local execs cov ft
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -oE '(#[0-9]+|DONE|INITED).*cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || echo '?')
    ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo '?')
    printf 'executions %s  coverage %s  features %s' "$execs" "$cov" "$ft"
}

run_one() {  # name seconds workdir [extra corpus dirs]
    local name=$1 seconds=$2 work=$3
    shift 3
    local artifacts=$scratch/artifacts/$name
    mkdir -p "$work" "$artifacts" "$scratch/logs"
    local log=$scratch/logs/$name.log
    local dirs=("$work")
    for dir in Fuzz/corpus/"$name" Fuzz/regressions/"$name" "$@"; do [ -d "$dir" ] && dirs+=("$dir"); done
    local dict
    dict=$(dictionary "$name")
    local options=("${common[@]}")
    [ -n "$dict" ] && options+=(-dict="$dict")
    local status=0
    # shellcheck disable=SC2086
    "$binary" "$name" "${options[@]}" ${mode[@]+"${mode[@]}"} -max_total_time="$seconds" -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
        "${dirs[@]}" >"$log" 2>&1 || status=$?
    rm -rf /dev/shm/ota-fuzz-*-"$name" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
        echo "FAIL $name (exit $status): log $log, failing input in $artifacts/"
        tail -40 "$log" | sed 's/^/    /'
        return 1
    fi
    printf 'ok   %-16s %4ss  %s\n' "$name" "$seconds" "$(summary "$log")"
}

command=${1:-}
shift || true
case "$command" in
build)
    build
    ;;
smoke)
    [ -x "$binary" ] || build
    mode=(-seed=1)
    failed=0
    started=$(date +%s)
    for name in $(names); do
        work=$(mktemp -d "${TMPDIR:-/tmp}/ota-fuzz-smoke-XXXXXX")
        run_one "$name" "${FUZZ_SMOKE_SECONDS:-3}" "$work" || failed=1
        rm -rf "$work"
    done
    echo "fuzz smoke: $(( $(date +%s) - started )) s"
    exit $failed
    ;;
campaign)
    seconds=${1:?usage: Fuzz/run.sh campaign SECONDS [NAME...]}
    shift
    [ -x "$binary" ] || build
    # Campaigns also follow comparisons of integer operands (value profile).
    mode=(-use_value_profile=1)
    failed=0
    for name in $(names "$@"); do
        run_one "$name" "$seconds" "$scratch/corpus/$name" || failed=1
    done
    exit $failed
    ;;
replay)
    name=${1:?usage: Fuzz/run.sh replay NAME FILE...}
    shift
    [ -x "$binary" ] || build
    exec "$binary" "$name" "${common[@]}" "$@"
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 1
    ;;
esac
exit
}
