/*
 * tap.h: a tiny TAP (Test Anything Protocol) harness for the shared/ unit
 * tests. Each check prints "ok N - name" or "not ok N - name" with the
 * failing file and line; done_testing() prints the plan and returns the
 * process exit status (0 only if every check passed).
 */
#ifndef AIHUB_TAP_H
#define AIHUB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failures;

/** Records one check; returns cond. */
static inline int tap_ok(int cond, const char *name, const char *file, int line)
{
    tap_count++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
    if (!cond) {
        tap_failures++;
        printf("#   failed at %s:%d\n", file, line);
    }
    return cond;
}

/** Prints a diagnostic line ("# ..."). */
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static inline int tap_is_int(long long got, long long want, const char *name, const char *file, int line)
{
    int r = tap_ok(got == want, name, file, line);
    if (!r)
        diag("  got: %lld, expected: %lld", got, want);
    return r;
}

static inline int tap_is_str(const char *got, const char *want, const char *name, const char *file, int line)
{
    int eq = (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;
    int r = tap_ok(eq, name, file, line);
    if (!r)
        diag("  got: %s%s%s, expected: %s%s%s", got ? "\"" : "", got ? got : "NULL", got ? "\"" : "", want ? "\"" : "",
             want ? want : "NULL", want ? "\"" : "");
    return r;
}

/** Passes if cond is true. */
#define ok(cond, name) tap_ok(!!(cond), (name), __FILE__, __LINE__)
/** Passes if two integers are equal. */
#define is_int(got, want, name) tap_is_int((long long)(got), (long long)(want), (name), __FILE__, __LINE__)
/** Passes if two strings are equal (both NULL counts as equal). */
#define is_str(got, want, name) tap_is_str((got), (want), (name), __FILE__, __LINE__)

/** Prints the plan; returns 0 if all checks passed, else 1 (use as main's return value). */
static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failures != 0)
        printf("# %d of %d checks failed\n", tap_failures, tap_count);
    return tap_failures != 0 || tap_count == 0;
}

#endif
