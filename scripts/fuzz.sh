#!/usr/bin/env bash
# Fuzzes Tacit's decoders and rules with cargo-fuzz (libFuzzer): scripts/fuzz.sh [TARGET|all] [EXECUTIONS]
#
# Targets (crates/tacit-fuzz, docs/fuzzing.md): frame wire recon ticket ops doc_load sync_msg session
# blob_stream.
# Each runs for EXECUTIONS inputs (default 10,000,000), one process at a time, below normal
# priority. The working corpus grows in fuzz/corpus/<target>/ (not committed), starting from the
# committed seeds in fuzz/seeds/<target>/. A crash (panic, timeout or memory past the limit) is
# minimised (libFuzzer's -minimize_crash) and copied to fuzz/crashers/<target>/, which is committed and replayed by
# `cargo test -p tacit-fuzz` for ever; fuzzing then goes on with what is left of the executions.
#
# Stable Rust is enough: `--sanitizer none` builds with only stable flags (-Cpasses=sancov-module
# and -Cllvm-args for the coverage counters); cargo-fuzz's default AddressSanitizer needs
# `-Zsanitizer`, which a stable toolchain refuses. Tacit's crates have no unsafe code, so the
# sanitizer would watch only dependencies; for that, set TACIT_FUZZ_SANITIZER=address, which
# also sets RUSTC_BOOTSTRAP=1 (nightly flags on a stable compiler). `--debug-assertions` turns
# integer overflow into a panic, as in a debug build.
#
# Environment: TACIT_FUZZ_TIMEOUT (s per input, 10), TACIT_FUZZ_RSS_MB (2048),
# TACIT_FUZZ_SECONDS (stop each target after this long too; unset: no limit),
# TACIT_FUZZ_STRICT=1 (every panic is a crash, also one inside tacit-core's catch_unwind guards
# around Automerge, which the node survives), TACIT_FUZZ_NICE (19), TACIT_FUZZ_NO_BUILD=1 (run
# the binaries already in fuzz/target, e.g. while sources are being edited).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(frame wire recon ticket ops doc_load sync_msg session blob_stream)
which="${1:-all}"
runs="${2:-10000000}"
timeout="${TACIT_FUZZ_TIMEOUT:-10}"
rss="${TACIT_FUZZ_RSS_MB:-2048}"
nice_level="${TACIT_FUZZ_NICE:-19}"
sanitizer="${TACIT_FUZZ_SANITIZER:-none}"
# A target that crashes is restarted at most this often per run (a crash a run keeps hitting is
# better fixed than counted).
max_restarts=3

if [[ "$which" == all ]]; then
    targets=("${ALL[@]}")
elif [[ " ${ALL[*]} " == *" $which "* ]]; then
    targets=("$which")
else
    echo "unknown target '$which'; one of: ${ALL[*]} (or all)" >&2
    exit 2
fi
if ! [[ "$runs" =~ ^[0-9]+$ ]]; then
    echo "EXECUTIONS must be a number, not '$runs'" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)…"
    cargo install cargo-fuzz --locked
fi
if [[ "$sanitizer" != none ]]; then
    export RUSTC_BOOTSTRAP=1
fi
flags=(--sanitizer "$sanitizer" --debug-assertions)

if [[ "${TACIT_FUZZ_NO_BUILD:-}" != 1 ]]; then
    echo "building the fuzz targets (fuzz/target)…"
    nice -n "$nice_level" cargo fuzz build "${flags[@]}"
fi
# The binaries are run directly, not through `cargo fuzz run`, so that a source edited while
# fuzzing does not rebuild them part-way (and the figures are libFuzzer's own).
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/crashers/$t" "fuzz/artifacts/$t"
    left="$runs"
    executed=0
    seconds=0
    crashes=0
    restarts=0
    while (( left > 0 )); do
        log="fuzz/artifacts/$t/run-$(date +%s).log"
        # Artifacts already there are from earlier runs: only new ones are this run's crashes.
        before=$(ls "fuzz/artifacts/$t" | grep -E '^(crash|timeout|oom|leak)-' | sort || true)
        extra=(-runs="$left" -timeout="$timeout" -rss_limit_mb="$rss" -print_final_stats=1)
        if [[ -n "${TACIT_FUZZ_SECONDS:-}" ]]; then
            extra+=(-max_total_time="$TACIT_FUZZ_SECONDS")
        fi
        echo "fuzzing $t: $left executions (log: $log)"
        start=$(date +%s)
        set +e
        nice -n "$nice_level" "$bin_dir/$t" -artifact_prefix="fuzz/artifacts/$t/" "${extra[@]}" \
            "fuzz/corpus/$t" "fuzz/seeds/$t" >"$log" 2>&1
        status=$?
        set -e
        took=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' || true)
        seconds=$(( seconds + ${took:-$(( $(date +%s) - start ))} ))
        done_now=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
        if [[ -z "$done_now" ]]; then
            # No final stats (a crash): the last status line says how far it got.
            done_now=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
        fi
        done_now="${done_now:-0}"
        executed=$(( executed + done_now ))
        left=$(( left - done_now ))
        after=$(ls "fuzz/artifacts/$t" | grep -E '^(crash|timeout|oom|leak)-' | sort || true)
        new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
        if [[ -z "$new" ]] && grep -q 'Test unit written to' "$log"; then
            # A crash whose input is already among the artifacts: found before, so not new.
            echo "  $t hit a crash found before: $(grep -o 'Test unit written to .*' "$log" | tail -1)"
            crashes=$(( crashes + 1 ))
            break
        fi
        if [[ -z "$new" ]]; then
            if (( status != 0 )); then
                echo "cargo fuzz failed on $t without a crash artifact (exit $status); see $log" >&2
                tail -20 "$log" >&2
                summary+=("$t: FAILED (exit $status, see $log)")
                continue 2
            fi
            break
        fi
        for artifact in $new; do
            crashes=$(( crashes + 1 ))
            path="fuzz/artifacts/$t/$artifact"
            echo "  $t found $artifact; minimising…"
            grep -m1 -E 'tacit-fuzz: the target panicked|panicked at|ERROR: libFuzzer' "$log" | sed 's/^/    /' || true
            min_log="fuzz/artifacts/$t/minimize-$artifact.log"
            set +e
            kind="${artifact%%-*}"
            minimised="fuzz/artifacts/$t/minimized-$artifact"
            if [[ "$kind" == crash ]]; then
                nice -n "$nice_level" "$bin_dir/$t" -minimize_crash=1 -runs=2000 \
                    -timeout="$timeout" -rss_limit_mb="$rss" -exact_artifact_path="$minimised" \
                    "$path" >"$min_log" 2>&1
            fi
            set -e
            # A strict run's crash may be a panic that a guard catches in the node: named apart,
            # and replayed as such (the guard must keep catching it).
            name="$artifact"
            if [[ "${TACIT_FUZZ_STRICT:-}" == 1 ]]; then
                name="strict-$artifact"
            fi
            if [[ -s "$minimised" ]]; then
                cp "$minimised" "fuzz/crashers/$t/$name"
            else
                cp "$path" "fuzz/crashers/$t/$name"
            fi
        done
        restarts=$(( restarts + 1 ))
        if (( restarts > max_restarts )); then
            echo "  $t crashed $restarts times; stopping it" >&2
            break
        fi
    done
    rate=0
    if (( seconds > 0 )); then
        rate=$(( executed / seconds ))
    fi
    summary+=("$t: $executed executions in ${seconds}s (${rate} exec/s), $crashes crashes")
done

echo
echo "fuzzing done (crashers in fuzz/crashers/, replayed by cargo test -p tacit-fuzz):"
printf '  %s\n' "${summary[@]}"
