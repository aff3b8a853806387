/*
 * test_reqid.c: unit tests for aihub/reqid.h: format, uniqueness within
 * and across threads, fresh ids in a forked child, and which client ids
 * may be echoed.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aihub/reqid.h"
#include "tap.h"

#define PER_THREAD 2000
#define THREADS 4

static char ids[THREADS][PER_THREAD][33];

static void *worker(void *arg)
{
    char (*mine)[33] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        ah_reqid_new(mine[i]);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_new(void)
{
    char id[33];
    memset(id, 'Z', sizeof(id));
    ah_reqid_new(id);
    is_int(strlen(id), 32, "32 characters, NUL-terminated");
    is_int(strspn(id, "0123456789abcdef"), 32, "lower-case hex");

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, ids[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(ids, THREADS * PER_THREAD, 33, cmp);
    int unique = 1, wellformed = 1;
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        const char *s = (const char *)ids + (size_t)i * 33;
        wellformed = wellformed && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
        if (i > 0 && strcmp(s - 33, s) == 0)
            unique = 0;
    }
    ok(wellformed, "8000 ids from 4 threads are well formed");
    ok(unique, "8000 ids from 4 threads are all distinct");

    /* After fork the child must not repeat the parent's sequence. */
    int fd[2];
    if (pipe(fd) != 0) {
        ok(0, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char c[33];
        ah_reqid_new(c);
        ssize_t w = write(fd[1], c, 33);
        _exit(w == 33 ? 0 : 1);
    }
    char parent[33], child[33] = {0};
    ah_reqid_new(parent);
    ssize_t got = read(fd[0], child, 33);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fd[0]);
    close(fd[1]);
    ok(got == 33 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child produced an id");
    ok(strcmp(parent, child) != 0, "parent and forked child produce different ids");
}

static void test_acceptable(void)
{
    char s[70];
    is_int(ah_reqid_is_acceptable("abc-123_XYZ", 11), 1, "ordinary id");
    is_int(ah_reqid_is_acceptable("!~", 2), 1, "0x21 and 0x7e allowed");
    memset(s, 'a', sizeof(s));
    is_int(ah_reqid_is_acceptable(s, 64), 1, "64 chars");
    is_int(ah_reqid_is_acceptable(s, 65), 0, "65 chars refused");
    is_int(ah_reqid_is_acceptable(s, 0), 0, "empty refused");
    is_int(ah_reqid_is_acceptable("a b", 3), 0, "space refused");
    is_int(ah_reqid_is_acceptable("ab\n", 3), 0, "newline refused (header injection)");
    is_int(ah_reqid_is_acceptable("a\"b", 3), 1, "quote is printable (escaped by JSON writers)");
    is_int(ah_reqid_is_acceptable("a\x7f", 2), 0, "DEL refused");
    is_int(ah_reqid_is_acceptable("\xc3\xa9", 2), 0, "non-ASCII refused");
    is_int(ah_reqid_is_acceptable("a\0b", 3), 0, "NUL refused");
    is_int(ah_reqid_is_acceptable(NULL, 3), 0, "NULL refused");
}

int main(void)
{
    test_new();
    test_acceptable();
    return done_testing();
}
