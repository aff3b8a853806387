/*
 * h2o setup and listeners (see server.h).
 *
 * h2o's own body cap is set to twice the product's limit so that bodies over
 * the limit reach the handler and get the contract's JSON 413; bodies over
 * h2o's cap are refused by h2o itself. HTTP/2 is capped per connection
 * because Debian's h2o 2.2.5 has no fix for the Rapid Reset attack.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "aihub/log.h"
#include "handler/routes.h"
#include "http/server.h"

static int bind_one(const char *host, int port, int *bound_port, char *err, size_t errcap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errcap, "cannot resolve listen address %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, 4096) != 0) {
        snprintf(err, errcap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (void *)&ss, &len);
    *bound_port = h2o_socket_getport((void *)&ss);
    return fd;
}

static int add_listener(ah_node_t *node, const char *addr, int is_client, int is_admin, int tls, char *err, size_t errcap)
{
    ah_listener_conf_t *l = &node->listeners[node->nlisteners];
    if (ah_parse_hostport(addr, l->host, sizeof(l->host), &l->port) != 0) {
        snprintf(err, errcap, "malformed listen address '%s' (want host:port)", addr);
        return -1;
    }
    l->is_client = is_client, l->is_admin = is_admin, l->tls = tls;
    l->fds = h2o_mem_alloc(sizeof(int) * node->nworkers);
    for (int i = 0; i != node->nworkers; ++i) {
        int port;
        if ((l->fds[i] = bind_one(l->host, l->port, &port, err, errcap)) < 0)
            return -1;
        l->port = port; /* when 0 was asked, the others join the port the first one got */
    }
    ++node->nlisteners;
    ah_log(AH_LOG_INFO, "http", "listening on %s://%s:%d (%s)", tls ? "https" : "http", l->host, l->port,
           is_client && is_admin ? "client and admin" : is_admin ? "admin" : "client");
    return 0;
}

static int setup_tls(ah_node_t *node, char *err, size_t errcap)
{
    node->ssl_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(node->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(node->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(node->ssl_ctx, node->opts.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(node->ssl_ctx, node->opts.tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(node->ssl_ctx) != 1) {
        snprintf(err, errcap, "cannot load TLS certificate/key: %s", ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    h2o_ssl_register_alpn_protocols(node->ssl_ctx, h2o_http2_alpn_protocols);
    return 0;
}

int ah_server_setup(ah_node_t *node, char *err, size_t errcap)
{
    h2o_globalconf_t *g = &node->globalconf;
    h2o_config_init(g);
    g->server_name = h2o_iovec_init(H2O_STRLIT("aihub"));
    g->max_request_entity_size = (size_t)node->opts.max_body * 2;
    g->http1.req_timeout = node->opts.header_timeout_ms;
    g->http2.idle_timeout = node->opts.idle_timeout_ms;
    g->http2.max_concurrent_requests_per_connection = node->opts.h2_max_streams;
    g->http2.graceful_shutdown_timeout = node->opts.drain_timeout_s * 1000;
    h2o_hostconf_t *host = h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    ah_routes_register(host);

    int separate_admin = node->opts.admin_listen[0] != '\0';
    if (add_listener(node, node->opts.listen, 1, !separate_admin, 0, err, errcap) != 0)
        return -1;
    if (separate_admin && add_listener(node, node->opts.admin_listen, 0, 1, 0, err, errcap) != 0)
        return -1;
    if (node->opts.tls_listen[0] != '\0') {
        if (setup_tls(node, err, errcap) != 0 || add_listener(node, node->opts.tls_listen, 1, !separate_admin, 1, err, errcap) != 0)
            return -1;
    }
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_accept_ctx_t *actx = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i != 16; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(actx, sock);
    }
}

void ah_server_listen(ah_worker_t *w)
{
    ah_node_t *node = w->node;
    for (int i = 0; i != node->nlisteners; ++i) {
        ah_listener_conf_t *l = &node->listeners[i];
        w->accept_ctx[i] = (h2o_accept_ctx_t){.ctx = &w->ctx, .hosts = node->globalconf.hosts, .ssl_ctx = l->tls ? node->ssl_ctx : NULL};
        w->listeners[i] = h2o_evloop_socket_create(w->loop, l->fds[w->index], H2O_SOCKET_FLAG_DONT_READ);
        w->listeners[i]->data = &w->accept_ctx[i];
        h2o_socket_read_start(w->listeners[i], on_accept);
    }
}

void ah_server_unlisten(ah_worker_t *w)
{
    for (int i = 0; i != w->node->nlisteners; ++i) {
        if (w->listeners[i] != NULL) {
            h2o_socket_read_stop(w->listeners[i]);
            h2o_socket_close(w->listeners[i]);
            w->listeners[i] = NULL;
        }
    }
}
