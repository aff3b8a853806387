/*
 * curl multi <-> h2o evloop glue (see curl_loop.h).
 *
 * Sockets: on first sight curl's descriptor is wrapped in an h2o socket with
 * DONT_READ; read interest follows CURL_POLL_IN exactly (epoll is level
 * triggered, so a paused transfer must stop read polling or the loop spins),
 * and write interest is evloop's one-shot notify_write, re-armed while curl
 * still wants POLL_OUT. On CURL_POLL_REMOVE (a transfer ended; curl keeps the
 * connection for the next one) the h2o socket stays registered, watched by
 * on_idle, and is found again by its descriptor (byfd) when curl reuses the
 * connection: no epoll_ctl and no allocation per request. Only descriptors
 * curl opened through on_open_socket are kept so: those curl also closes
 * through on_close_socket (its resolver's own descriptors are not). Anything happening
 * on an idle connection (the peer closed it) takes it off epoll (exported:
 * level-triggered EPOLLHUP would otherwise spin), and curl, which checks a
 * connection before reusing it, closes it. Curl closes descriptors through
 * on_close_socket, which drops our record first, so a descriptor number
 * reused for a new connection never meets a stale record. Records are freed
 * only after curl returns, since that may happen inside their own callbacks.
 * Everything that re-enters curl goes through enter()/leave(), which also run
 * finished transfers' callbacks and deferred aborts once curl has returned.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "aihub/log.h"
#include "upstream/curl_loop.h"

typedef struct st_sockinfo_t {
    ah_curl_loop_t *cl;
    h2o_socket_t *sock; /* NULL once exported (an idle connection that saw an event) */
    curl_socket_t fd;
    int what;
    int idle;    /* no transfer on it: curl keeps the connection for later */
    int owned;   /* a connection socket opened through on_open_socket (so closed through on_close_socket) */
    int removed; /* closed by curl: freed with the garbage */
    struct st_sockinfo_t *next_garbage;
} sockinfo_t;

typedef struct st_xfer_t {
    CURL *easy;
    ah_curl_done_cb cb;
    void *ud;
    int added;
    int abort_pending;
    struct st_xfer_t *next; /* free list or abort list */
} xfer_t;

struct st_ah_curl_loop_t {
    h2o_loop_t *loop;
    ah_timers_t *timers;
    CURLM *multi;
    ah_timer_t timer;
    int depth;
    size_t running;
    sockinfo_t *garbage;
    sockinfo_t **byfd; /* records by descriptor, while curl has the descriptor open */
    size_t nbyfd;
    xfer_t *free_list;
    size_t nfree; /* handles on free_list */
    xfer_t *aborts;
};

/*
 * Idle easy handles kept for reuse. Each is about 6 KiB (curl's receive buffer
 * is per transfer and already freed when it ends); without a cap, a burst of
 * 10,000 streams would leave 10,000 handles behind for good.
 */
#define IDLE_HANDLES_MAX 64

static void finish_xfer(ah_curl_loop_t *cl, xfer_t *x, CURLcode result)
{
    curl_multi_remove_handle(cl->multi, x->easy);
    x->added = 0;
    x->abort_pending = 0;
    --cl->running;
    x->cb(x->ud, x->easy, result);
}

static void leave(ah_curl_loop_t *cl)
{
    if (--cl->depth != 0)
        return;
    ++cl->depth; /* callbacks below may call back into us */
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        xfer_t *x;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x->added)
            finish_xfer(cl, x, msg->data.result);
    }
    while (cl->aborts != NULL) {
        xfer_t *x = cl->aborts;
        cl->aborts = x->next;
        if (x->added && x->abort_pending)
            finish_xfer(cl, x, CURLE_ABORTED_BY_CALLBACK);
    }
    while (cl->garbage != NULL) {
        sockinfo_t *si = cl->garbage;
        cl->garbage = si->next_garbage;
        free(si);
    }
    --cl->depth;
}

static void socket_action(ah_curl_loop_t *cl, curl_socket_t fd, int ev)
{
    int running;
    ++cl->depth;
    curl_multi_socket_action(cl->multi, fd, ev, &running);
    leave(cl);
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    sockinfo_t *si = sock->data;
    socket_action(si->cl, si->fd, CURL_CSELECT_IN);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    sockinfo_t *si = sock->data;
    ah_curl_loop_t *cl = si->cl;
    int running;
    ++cl->depth;
    curl_multi_socket_action(cl->multi, si->fd, CURL_CSELECT_OUT, &running);
    /* curl does not repeat POLL_OUT when its wish did not change: re-arm the one-shot notification */
    if (!si->removed && !si->idle && si->sock != NULL && (si->what & CURL_POLL_OUT) && !h2o_socket_is_writing(si->sock))
        h2o_socket_notify_write(si->sock, on_writable);
    leave(cl);
}

/* takes si's h2o socket off epoll (curl keeps the descriptor) */
static void detach(sockinfo_t *si)
{
    if (si->sock == NULL)
        return;
    if (h2o_socket_is_reading(si->sock))
        h2o_socket_read_stop(si->sock);
    si->sock->_cb.write = NULL; /* export asserts the socket is not writing; 2.2.5 has no cancel */
    h2o_socket_export_t info;
    if (h2o_socket_export(si->sock, &info) == 0)
        h2o_buffer_dispose(&info.input);
    si->sock = NULL;
}

/* an idle connection became readable: the peer closed it (or sent what nobody asked for); curl finds out on reuse */
static void on_idle(h2o_socket_t *sock, const char *err)
{
    (void)err;
    detach(sock->data);
}

static sockinfo_t *find_by_fd(ah_curl_loop_t *cl, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < cl->nbyfd ? cl->byfd[fd] : NULL;
}

static void set_by_fd(ah_curl_loop_t *cl, curl_socket_t fd, sockinfo_t *si)
{
    if ((size_t)fd >= cl->nbyfd) {
        size_t n = cl->nbyfd != 0 ? cl->nbyfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        cl->byfd = h2o_mem_realloc(cl->byfd, n * sizeof(*cl->byfd));
        memset(cl->byfd + cl->nbyfd, 0, (n - cl->nbyfd) * sizeof(*cl->byfd));
        cl->nbyfd = n;
    }
    cl->byfd[fd] = si;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    ah_curl_loop_t *cl = userp;
    sockinfo_t *si = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (si != NULL) {
            curl_multi_assign(cl->multi, fd, NULL);
            if (si->owned) {
                /* the transfer ended: keep the socket registered, watched for the peer closing it */
                si->idle = 1;
                if (si->sock != NULL) {
                    si->sock->_cb.write = NULL;
                    h2o_socket_read_start(si->sock, on_idle);
                }
            } else {
                /* a descriptor curl closes without telling us: forget it now */
                detach(si);
                si->removed = 1;
                si->next_garbage = cl->garbage;
                cl->garbage = si;
            }
        }
        return 0;
    }
    if (si == NULL && (si = find_by_fd(cl, fd)) == NULL) {
        si = h2o_mem_alloc(sizeof(*si));
        *si = (sockinfo_t){.cl = cl, .fd = fd};
    }
    if (si->sock == NULL) {
        si->sock = h2o_evloop_socket_create(cl->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        si->sock->data = si;
    }
    if (si->idle) {
        si->idle = 0;
        if (h2o_socket_is_reading(si->sock))
            h2o_socket_read_stop(si->sock); /* back to what curl asks for, below */
    }
    curl_multi_assign(cl->multi, fd, si);
    si->what = what;
    if (what & CURL_POLL_IN) {
        if (!h2o_socket_is_reading(si->sock))
            h2o_socket_read_start(si->sock, on_readable);
    } else if (h2o_socket_is_reading(si->sock)) {
        h2o_socket_read_stop(si->sock);
    }
    if ((what & CURL_POLL_OUT) && !h2o_socket_is_writing(si->sock))
        h2o_socket_notify_write(si->sock, on_writable);
    return 0;
}

/* curl opens a connection's socket: its record is made now, so that it is known as ours */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    ah_curl_loop_t *cl = clientp;
    (void)purpose;
    curl_socket_t fd = socket(address->family, address->socktype, address->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    sockinfo_t *si = h2o_mem_alloc(sizeof(*si));
    *si = (sockinfo_t){.cl = cl, .fd = fd, .owned = 1};
    set_by_fd(cl, fd, si);
    return fd;
}

/* curl closes a descriptor (a connection it will not reuse): our record goes first */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    ah_curl_loop_t *cl = clientp;
    sockinfo_t *si = find_by_fd(cl, fd);
    if (si != NULL) {
        detach(si);
        si->removed = 1;
        cl->byfd[fd] = NULL;
        si->next_garbage = cl->garbage;
        cl->garbage = si;
    }
    return close(fd);
}

static void on_timer_fired(ah_timer_t *t)
{
    ah_curl_loop_t *cl = H2O_STRUCT_FROM_MEMBER(ah_curl_loop_t, timer, t);
    socket_action(cl, CURL_SOCKET_TIMEOUT, 0);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ah_curl_loop_t *cl = userp;
    if (timeout_ms < 0)
        ah_timer_stop(cl->timers, &cl->timer);
    else
        ah_timer_start(cl->timers, &cl->timer, (uint64_t)timeout_ms, on_timer_fired);
    return 0;
}

ah_curl_loop_t *ah_curl_loop_create(h2o_loop_t *loop, ah_timers_t *timers)
{
    ah_curl_loop_t *cl = h2o_mem_alloc(sizeof(*cl));
    *cl = (ah_curl_loop_t){.loop = loop, .timers = timers};
    cl->multi = curl_multi_init();
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, 1024L);
    return cl;
}

void ah_curl_loop_destroy(ah_curl_loop_t **pcl)
{
    ah_curl_loop_t *cl = *pcl;
    if (cl == NULL)
        return;
    ah_timer_stop(cl->timers, &cl->timer);
    while (cl->free_list != NULL) {
        xfer_t *x = cl->free_list;
        cl->free_list = x->next;
        curl_easy_cleanup(x->easy);
        free(x);
    }
    curl_multi_cleanup(cl->multi); /* closes the cached connections: their records move to the garbage */
    for (size_t fd = 0; fd != cl->nbyfd; ++fd) {
        sockinfo_t *si = cl->byfd[fd];
        if (si != NULL) { /* not closed through us (cannot happen with the callback set): leave curl's descriptor alone */
            detach(si);
            free(si);
        }
    }
    free(cl->byfd);
    while (cl->garbage != NULL) {
        sockinfo_t *si = cl->garbage;
        cl->garbage = si->next_garbage;
        free(si);
    }
    free(cl);
    *pcl = NULL;
}

CURL *ah_curl_loop_easy(ah_curl_loop_t *cl)
{
    xfer_t *x = cl->free_list;
    if (x != NULL) {
        cl->free_list = x->next;
        --cl->nfree;
        return x->easy;
    }
    x = h2o_mem_alloc(sizeof(*x));
    *x = (xfer_t){.easy = curl_easy_init()};
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    return x->easy;
}

void ah_curl_loop_release(ah_curl_loop_t *cl, CURL *easy)
{
    xfer_t *x;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (cl->nfree >= IDLE_HANDLES_MAX) {
        curl_easy_cleanup(easy);
        free(x);
        return;
    }
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    x->cb = NULL, x->ud = NULL;
    x->next = cl->free_list;
    cl->free_list = x;
    ++cl->nfree;
}

int ah_curl_loop_add(ah_curl_loop_t *cl, CURL *easy, ah_curl_done_cb cb, void *ud)
{
    xfer_t *x;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    x->cb = cb, x->ud = ud;
    /* descriptors are closed through us (see on_close_socket); set per transfer, curl_easy_reset clears it */
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, cl);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cl);
    if (curl_multi_add_handle(cl->multi, easy) != CURLM_OK)
        return -1;
    x->added = 1;
    ++cl->running;
    return 0;
}

void ah_curl_loop_abort(ah_curl_loop_t *cl, CURL *easy)
{
    xfer_t *x;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x->added || x->abort_pending)
        return;
    if (cl->depth != 0) {
        x->abort_pending = 1;
        x->next = cl->aborts;
        cl->aborts = x;
        return;
    }
    ++cl->depth;
    finish_xfer(cl, x, CURLE_ABORTED_BY_CALLBACK);
    leave(cl);
}

void ah_curl_loop_unpause(ah_curl_loop_t *cl, CURL *easy)
{
    ++cl->depth;
    curl_easy_pause(easy, CURLPAUSE_CONT);
    leave(cl);
}

size_t ah_curl_loop_running(const ah_curl_loop_t *cl)
{
    return cl->running;
}
