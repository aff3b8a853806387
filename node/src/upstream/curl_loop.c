/*
 * curl multi <-> h2o evloop glue (see curl_loop.h).
 *
 * Sockets: on first sight curl's descriptor is wrapped in an h2o socket with
 * DONT_READ; read interest follows CURL_POLL_IN exactly (epoll is level
 * triggered, so a paused transfer must stop read polling or the loop spins),
 * and write interest is evloop's one-shot notify_write, re-armed while curl
 * still wants POLL_OUT. On CURL_POLL_REMOVE the h2o socket is exported (taken
 * off epoll without closing: curl owns the fd) and its record freed only after
 * curl returns, since that may happen inside the record's own callback.
 * Everything that re-enters curl goes through enter()/leave(), which also run
 * finished transfers' callbacks and deferred aborts once curl has returned.
 */
#include <stdlib.h>
#include "aihub/log.h"
#include "upstream/curl_loop.h"

typedef struct st_sockinfo_t {
    ah_curl_loop_t *cl;
    h2o_socket_t *sock;
    curl_socket_t fd;
    int what;
    int removed;
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
    if (!si->removed && (si->what & CURL_POLL_OUT) && !h2o_socket_is_writing(si->sock))
        h2o_socket_notify_write(si->sock, on_writable);
    leave(cl);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    ah_curl_loop_t *cl = userp;
    sockinfo_t *si = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (si != NULL) {
            if (h2o_socket_is_reading(si->sock))
                h2o_socket_read_stop(si->sock);
            si->sock->_cb.write = NULL; /* export asserts the socket is not writing; 2.2.5 has no cancel */
            h2o_socket_export_t info;
            if (h2o_socket_export(si->sock, &info) == 0)
                h2o_buffer_dispose(&info.input);
            si->removed = 1;
            si->next_garbage = cl->garbage;
            cl->garbage = si;
            curl_multi_assign(cl->multi, fd, NULL);
        }
        return 0;
    }
    if (si == NULL) {
        si = h2o_mem_alloc(sizeof(*si));
        *si = (sockinfo_t){.cl = cl, .fd = fd};
        si->sock = h2o_evloop_socket_create(cl->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        si->sock->data = si;
        curl_multi_assign(cl->multi, fd, si);
    }
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
    curl_multi_cleanup(cl->multi);
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
