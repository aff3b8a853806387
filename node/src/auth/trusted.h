/*
 * Trusted proxies (AIHUB_TRUSTED_PROXIES): a list of CIDRs, the test of a
 * peer address against it, and the client address behind such proxies
 * (X-Forwarded-For, walked from the right past trusted hops). The same list
 * decides whether identity headers set by an auth proxy are believed
 * (trusted-header mode). Pure apart from reading the socket addresses.
 */
#ifndef AH_AUTH_TRUSTED_H
#define AH_AUTH_TRUSTED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** one network: an IPv4 or IPv6 prefix */
typedef struct st_ah_cidr_t {
    int family; /**< AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
} ah_cidr_t;

typedef struct st_ah_cidr_list_t {
    size_t n;
    ah_cidr_t *v; /**< owned */
} ah_cidr_list_t;

/** parses "10.0.0.0/8, 192.168.1.7, ::1, fd00::/8" (a bare address is a /32 or /128); 0, or -1 with a message */
int ah_cidr_list_parse(const char *spec, ah_cidr_list_t *out, char *err, size_t errcap);
void ah_cidr_list_free(ah_cidr_list_t *list);
/** 1 when the address (IPv4-mapped IPv6 counts as IPv4) is in one of the networks */
int ah_cidr_list_match(const ah_cidr_list_t *list, const struct sockaddr *sa);
/** the same for a textual address s[0..len) (surrounding spaces ignored); 0 when it is not an address */
int ah_cidr_list_match_text(const ah_cidr_list_t *list, const char *s, size_t len);
/**
 * The client's address given the peer's and its X-Forwarded-For value
 * (xff may be NULL): when the peer is trusted, the rightmost XFF entry that
 * is not a trusted proxy (or the leftmost when all are), else the peer.
 * Writes the address into out (cap bytes); returns out.
 */
const char *ah_client_addr(const ah_cidr_list_t *list, const struct sockaddr *peer, const char *xff, size_t xfflen, char *out,
                           size_t cap);

#endif
