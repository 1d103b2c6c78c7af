# shellcheck shell=bash
# What the bench scripts share (sourced by run.sh, sign.sh, sign_profile.sh
# and blob.sh). The script defines die() and, before measure/note, sets W
# (its work directory), SAMPLES and NOTES.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, not '$2'"; }
avail_mib() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
note() { printf '%s\t%s\n' "$1" "$2" >>"$NOTES"; }
now_us() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }

# measure ID ROUND BYTES CMD...: wall clock (the shell's), CPU (user + sys)
# and peak RSS of CMD with its children (GNU time), one line in SAMPLES. A
# failed CMD is reported through $MEASURE_ON_FAIL (default log) and
# returns 1.
measure() {
    local id=$1 round=$2 bytes=$3 t0 t1 u s m
    shift 3
    t0=$(now_us)
    if ! /usr/bin/time -f '%U %S %M' -o "$W/time.out" "$@" >"$W/cmd.out" 2>"$W/cmd.err"; then
        "${MEASURE_ON_FAIL:-log}" "$id failed: $(tail -3 "$W/cmd.err" | tr '\n' ' ')"
        return 1
    fi
    t1=$(now_us)
    read -r u s m < <(tail -1 "$W/time.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$round" "$bytes" $((t1 - t0)) "$u" "$s" "$m" >>"$SAMPLES"
}

# Free page reporting (docs/PERFORMANCE.md, --hold-freed-memory): on this VM
# freed memory goes back to the host at once, so a fresh output written into
# just-freed memory may fault into the host. hold_freed_memory makes freed
# pages wait 5 minutes (the most allowed; up to 64 GiB) before the guest
# reports them; restore_freed_memory (call it from the EXIT trap) puts the
# settings back.
PR=/sys/module/page_reporting/parameters
PR_SAVED=()
hold_freed_memory() {
    [[ -w $PR/min_free_ms && -w $PR/max_waiting_mib ]] ||
        die "--hold-freed-memory: no writable $PR/{min_free_ms,max_waiting_mib} (not root, or no such VM)"
    PR_SAVED=("$(cat "$PR/min_free_ms")" "$(cat "$PR/max_waiting_mib")")
    { echo 300000 >"$PR/min_free_ms" && echo 65536 >"$PR/max_waiting_mib"; } || die "cannot set $PR"
}
restore_freed_memory() {
    if [[ ${#PR_SAVED[@]} -eq 2 ]]; then
        echo "${PR_SAVED[0]}" >"$PR/min_free_ms" && echo "${PR_SAVED[1]}" >"$PR/max_waiting_mib"
    fi
}
# note_freed_memory: how freed memory was treated, in the results.
note_freed_memory() {
    if [[ ${#PR_SAVED[@]} -eq 2 ]]; then
        note freed_memory "held in the guest for the run (page_reporting min_free_ms 300000, max_waiting_mib 65536; were ${PR_SAVED[0]} and ${PR_SAVED[1]})"
    elif [[ -r $PR/min_free_ms && $(cat "$PR/min_free_ms") == 0 ]]; then
        note freed_memory "reported to the host at once (page_reporting min_free_ms 0): writes into just-freed memory may fault into the host; see --hold-freed-memory"
    fi
}
