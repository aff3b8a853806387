/*
 * reqid.c: request ids (see aihub/reqid.h).
 *
 * Ids need to be unique, not secret, and cheap: each thread runs
 * xoshiro256** seeded with 256 bits from RAND_bytes, which costs two
 * 64-bit steps per id and no lock. A fork() would leave parent and child
 * with the same state, so a pthread_atfork child handler bumps a counter
 * and a thread whose state predates it reseeds.
 */
#define _POSIX_C_SOURCE 200809L

#include "aihub/reqid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "aihub/base64.h"

typedef struct {
    uint64_t s[4];
    unsigned fork_gen;
    int seeded;
} rng_t;

static _Thread_local rng_t t_rng;
static atomic_uint g_fork_gen;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&g_fork_gen, 1);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void seed(rng_t *r)
{
    pthread_once(&g_atfork_once, register_atfork);
    r->fork_gen = atomic_load(&g_fork_gen);
    if (RAND_bytes((unsigned char *)r->s, sizeof(r->s)) != 1) {
        /* Uniqueness is all that matters here, so fall back to clock, pid and address. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)r;
        for (int i = 0; i < 4; i++)
            r->s[i] = splitmix64(&x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1; /* the one state xoshiro cannot leave */
    r->seeded = 1;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static uint64_t next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void ah_reqid_new(char out[33])
{
    rng_t *r = &t_rng;
    if (!r->seeded || r->fork_gen != atomic_load(&g_fork_gen))
        seed(r);
    uint8_t bytes[16];
    uint64_t a = next(r), b = next(r);
    for (int i = 0; i < 8; i++) {
        bytes[i] = (uint8_t)(a >> (8 * i));
        bytes[8 + i] = (uint8_t)(b >> (8 * i));
    }
    ah_hex_encode(bytes, sizeof(bytes), out);
}

int ah_reqid_is_acceptable(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > AH_REQID_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}
