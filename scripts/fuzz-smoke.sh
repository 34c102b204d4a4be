#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for a bounded time (default 30 s) from its
# checked-in seeds; any crash, leak or assertion failure fails the script. Called by .ci/run.
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them, so no nightly toolchain is needed.
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_SANITIZER (address | none, default
# address), FUZZ_TARGETS (space-separated subset, default all).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

cargo fuzz build --sanitizer "$sanitizer"

dict_for() {
    case "$1" in
        frame_decode | connection) echo dict/frame.dict ;;
        handshake_request | handshake_response) echo dict/http.dict ;;
        utf8) echo dict/utf8.dict ;;
        chat_input) echo dict/chat.dict ;;
    esac
}

targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in $targets; do
    mkdir -p "$work/$target"
    args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
    dict=$(dict_for "$target")
    [ -n "$dict" ] && args+=(-dict="$dict")
    echo "== fuzz $target for ${seconds}s" >&2
    if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "$work/$target" "seeds/$target" \
        -- "${args[@]}" >"$work/$target.log" 2>&1; then
        tail -n 60 "$work/$target.log" >&2
        echo "fuzz target $target failed; the input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$work/$target.log" >&2 || true
done
echo "fuzz smoke: every target ran ${seconds}s without a finding" >&2
