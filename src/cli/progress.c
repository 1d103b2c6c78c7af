/* --progress: one self-overwriting stderr line with bytes done, rate and time
 * left, fed by the library's progress callback (kvs_*_options.progress).
 *
 * On by default only when stderr is a terminal (and the output is not), so
 * pipes and logs stay clean unless --progress is given explicitly. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define REDRAW_SECONDS 0.25 /* a few updates a second: cheap, still lively */

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_progress_option(int c, cli_progress_mode *mode)
{
    if (c == CLI_OPT_PROGRESS)
        *mode = CLI_PROGRESS_ON;
    else if (c == CLI_OPT_NO_PROGRESS)
        *mode = CLI_PROGRESS_OFF;
    else
        return 0;
    return 1;
}

/* Bytes still to read from fd, or 0 when unknown (pipes, devices). */
static uint64_t remaining_input(int in_fd)
{
    struct stat st;
    if (fstat(in_fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    off_t pos = lseek(in_fd, 0, SEEK_CUR);
    if (pos < 0 || pos >= st.st_size)
        return 0;
    return (uint64_t)(st.st_size - pos);
}

static int wanted(cli_progress_mode mode, int out_fd)
{
    switch (mode) {
    case CLI_PROGRESS_ON:
        return 1;
    case CLI_PROGRESS_OFF:
        return 0;
    case CLI_PROGRESS_AUTO:
        break;
    }
    /* A terminal output (decrypt --force) would get the meter mixed into it. */
    return !g_cli.quiet && isatty(STDERR_FILENO) && !(out_fd >= 0 && isatty(out_fd));
}

void cli_progress_start(cli_progress *p, const char *cmd, cli_progress_mode mode, int in_fd,
                        int out_fd)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->on = wanted(mode, out_fd);
    p->forced = mode == CLI_PROGRESS_ON;
    p->total = remaining_input(in_fd);
    p->start = monotonic_now();
    p->next_draw = p->start + REDRAW_SECONDS;
}

/* "1.5 GiB"-style sizes, binary units as elsewhere in kvseal. */
static void format_bytes(char *buf, size_t cap, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
}

/* m:ss or h:mm:ss; below a minute, with tenths ("2.4 s") if precise. */
static void format_duration(char *buf, size_t cap, double seconds, int precise)
{
    if (precise && seconds < 60) {
        snprintf(buf, cap, "%.1f s", seconds > 0 ? seconds : 0);
        return;
    }
    unsigned long s = seconds > 0 ? (unsigned long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", s / 60, s % 60);
}

/* Write the whole line; a failing stderr must not fail the job. */
static void emit(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

/* Replace the current line with text (padding over a longer previous one). */
static void draw(cli_progress *p, const char *text, int newline)
{
    char line[256];
    size_t len = strlen(text);
    size_t pad = p->width > len ? p->width - len : 0;
    int n = snprintf(line, sizeof line, "\r%s%*s%s", text, (int)pad, "", newline ? "\n" : "");
    if (n > 0)
        emit(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    p->width = len;
    p->drawn = 1;
}

/* "kvseal: encrypt: 1.20 GiB / 2.00 GiB (60%), 950.12 MiB/s, 0:01 left" */
static void draw_running(cli_progress *p, double now)
{
    char done[32], total[32], rate[32], left[32], text[200];
    double elapsed = now - p->start;
    double bps = elapsed > 0 ? (double)p->done / elapsed : 0;
    format_bytes(done, sizeof done, (double)p->done);
    format_bytes(rate, sizeof rate, bps);
    if (p->total > 0 && p->done <= p->total) {
        format_bytes(total, sizeof total, (double)p->total);
        format_duration(left, sizeof left,
                        bps > 0 ? (double)(p->total - p->done) / bps : 0, 0);
        snprintf(text, sizeof text, "kvseal: %s: %s / %s (%.0f%%), %s/s, %s left", p->cmd,
                 done, total, 100.0 * (double)p->done / (double)p->total, rate, left);
    } else {
        snprintf(text, sizeof text, "kvseal: %s: %s, %s/s", p->cmd, done, rate);
    }
    draw(p, text, 0);
}

void cli_progress_update(uint64_t bytes_done, void *arg)
{
    cli_progress *p = arg;
    p->done = bytes_done;
    double now = monotonic_now();
    if (!p->on || now < p->next_draw)
        return;
    p->next_draw = now + REDRAW_SECONDS;
    draw_running(p, now);
}

void cli_progress_finish(cli_progress *p, int ok)
{
    char done[32], rate[32], took[32], text[200];
    if (!p->on || (!p->drawn && !(ok && p->forced)))
        return; /* auto mode stays silent for jobs shorter than one redraw */
    if (!ok) {
        emit("\n", 1); /* keep the last figures; the error goes below */
        return;
    }
    /* The header is not counted by the callback: on success all was read. */
    if (p->total > p->done)
        p->done = p->total;
    double elapsed = monotonic_now() - p->start;
    format_bytes(done, sizeof done, (double)p->done);
    format_bytes(rate, sizeof rate, elapsed > 0 ? (double)p->done / elapsed : 0);
    format_duration(took, sizeof took, elapsed, 1);
    snprintf(text, sizeof text, "kvseal: %s: %s in %s, %s/s", p->cmd, done, took, rate);
    draw(p, text, 1);
}
