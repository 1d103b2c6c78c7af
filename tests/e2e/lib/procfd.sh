# shellcheck shell=bash
# Sourced by e2e scripts that interrupt kvseal while it writes: find the file
# a running process writes into a directory through /proc/PID/fd, which works
# for a named temp file and for an unnamed one (O_TMPFILE: its link reads
# "DIR/#INODE (deleted)", and nothing appears in the directory listing).

# fd_writable FDLINK: /proc/PID/fd/N is open for writing (O_WRONLY or O_RDWR).
# (Builtins only: this runs in tight polling loops.)
fd_writable() {
    local key val
    while read -r key val; do
        [[ $key == flags: ]] && { [[ $((8#$val & 3)) -ne 0 ]]; return; }
    done <"${1/\/fd\//\/fdinfo\/}"
    return 1
} 2>/dev/null

# output_fd DIR PID [MIN_BYTES]: wait (up to 30 s) until PID has a file in DIR
# open for writing that holds more than MIN_BYTES (default 0), and print that
# fd's /proc path; 1 if PID ended first.
output_fd() {
    local dir=$1 pid=$2 min=${3:-0} i l
    for ((i = 0; i < 6000; i++)); do
        for l in $(find /proc/"$pid"/fd -mindepth 1 -lname "$dir/*" 2>/dev/null); do
            if fd_writable "$l" && [[ $(stat -L -c %s "$l" 2>/dev/null || echo 0) -gt $min ]]; then
                echo "$l"
                return 0
            fi
        done
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.002
    done
    return 1
}

# fd_unnamed FDLINK: the fd's file has no name (O_TMPFILE).
fd_unnamed() {
    local link
    link=$(readlink "$1" 2>/dev/null) || return 1
    [[ $link == */#*" (deleted)" ]]
}
