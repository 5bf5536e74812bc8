/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>

#include "conn-priv.h"
#include "timestamp.h"
#include "virt-error.h"
#include "vl-error.h"

typedef enum {
    CONN_IDLE,          /* not started */
    CONN_CONNECTING,    /* an open is running in a worker thread */
    CONN_CONNECTED,
    CONN_WAITING,       /* a retry is scheduled */
} ConnState;

struct _VlConn {
    char *uri;
    VlConnOptions options;
    VlConnHandlers handlers;
    gpointer user_data;

    ConnState state;
    virConnectPtr vconn;
    GCancellable *opening;      /* the attempt in flight */
    guint retry_id;
    guint lost_id;
    char *lost_reason;

    guint attempt;              /* failures since the last success */
    gboolean ever_connected;
    guint reconnects;
    gint64 since_us;
    char *last_error;
};

guint
vl_conn_backoff_ms(const VlConnOptions *options, guint attempt)
{
    guint64 delay = MAX(options->backoff_min_ms, 1);

    while (attempt-- > 0 && delay < options->backoff_max_ms)
        delay *= 2;
    return (guint)MIN(delay, MAX(options->backoff_max_ms, 1));
}

static void attempt_now(VlConn *conn);

static void
set_last_error(VlConn *conn, const char *message)
{
    g_free(conn->last_error);
    conn->last_error = g_strdup(message);
}

static gboolean
on_retry(gpointer data)
{
    VlConn *conn = data;

    conn->retry_id = 0;
    attempt_now(conn);
    return G_SOURCE_REMOVE;
}

static guint
schedule_retry(VlConn *conn)
{
    guint delay = vl_conn_backoff_ms(&conn->options, conn->attempt);

    conn->attempt++;
    conn->state = CONN_WAITING;
    g_clear_handle_id(&conn->retry_id, g_source_remove);
    conn->retry_id = g_timeout_add(delay, on_retry, conn);
    return delay;
}

static void
close_callback(virConnectPtr vconn G_GNUC_UNUSED, int reason, void *opaque)
{
    vl_conn_handle_close(opaque, reason);
}

static void
apply_keepalive(VlConn *conn)
{
    if (!conn->vconn || conn->options.keepalive_interval == 0)
        return;
    /* Only remote connections do keepalive; local drivers such as
     * test:/// say "not supported", and that is fine. */
    if (virConnectSetKeepAlive(conn->vconn, conn->options.keepalive_interval,
                               conn->options.keepalive_count) < 0)
        g_debug("No keepalive on '%s': %s", conn->uri,
                virGetLastErrorMessage());
}

/* Tears the connection down; the caller decides what comes next. */
static void
drop(VlConn *conn, const char *reason, gboolean lost)
{
    virConnectPtr vconn = g_steal_pointer(&conn->vconn);

    g_clear_handle_id(&conn->lost_id, g_source_remove);
    g_clear_pointer(&conn->lost_reason, g_free);
    conn->state = CONN_IDLE;
    conn->since_us = g_get_real_time();
    if (!vconn)
        return;

    if (conn->handlers.disconnected)
        conn->handlers.disconnected(conn, vconn, reason, lost,
                                    conn->user_data);
    /* On a dead connection these may fail; the memory is freed anyway. */
    virConnectUnregisterCloseCallback(vconn, close_callback);
    virConnectClose(vconn);
}

static gboolean
on_lost(gpointer data)
{
    VlConn *conn = data;
    g_autofree char *reason = g_steal_pointer(&conn->lost_reason);

    conn->lost_id = 0;
    if (conn->state != CONN_CONNECTED)
        return G_SOURCE_REMOVE;

    set_last_error(conn, reason);
    drop(conn, reason, TRUE);
    conn->attempt = 0;
    schedule_retry(conn);
    return G_SOURCE_REMOVE;
}

static void
mark_lost(VlConn *conn, const char *reason)
{
    if (conn->state != CONN_CONNECTED || conn->lost_id)
        return;
    conn->lost_reason = g_strdup(reason);
    /*
     * Deferred: libvirt calls the close callback with the callback's
     * lock held, so unregistering it (or closing the connection) from
     * inside would deadlock.  An idle source runs right after.
     */
    conn->lost_id = g_idle_add(on_lost, conn);
}

static const char *
close_reason_string(int reason)
{
    switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
        return "I/O error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
        return "end of file";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
        return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
        return "closed by client";
    }
    return "unknown reason";
}

void
vl_conn_handle_close(VlConn *conn, int reason)
{
    g_autofree char *msg = NULL;

    msg = g_strdup_printf("Connection to '%s' closed: %s", conn->uri,
                          close_reason_string(reason));
    mark_lost(conn, msg);
}

static void
close_vconn(gpointer vconn)
{
    virConnectClose(vconn);
}

static void
open_thread(GTask *task,
            gpointer source G_GNUC_UNUSED,
            gpointer task_data,
            GCancellable *cancellable G_GNUC_UNUSED)
{
    const char *uri = task_data;
    virConnectPtr vconn;

    /*
     * virConnectOpen() blocks: on a local UNIX socket only for a few
     * round trips, but a hung libvirtd can hold it indefinitely, and
     * over tcp/ssh it waits for the network (the TCP connect timeout,
     * minutes) or an authentication prompt.  Hence this worker thread:
     * the main loop (events, the IPC socket, signals) never waits for
     * it.  A hung open is not abandoned, so no second attempt starts
     * until it returns; status shows the daemon as not connected.
     * Read-write, because event registration for the QEMU monitor and
     * migration control need it.
     */
    vconn = virConnectOpen(uri);
    if (!vconn) {
        GError *error = NULL;

        vl_error_set_from_virt(&error, "Cannot connect to '%s'", uri);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, vconn, close_vconn);
}

static void
on_open_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
             gpointer user_data)
{
    GTask *task = G_TASK(result);
    VlConn *conn = user_data;
    g_autoptr(GError) error = NULL;
    virConnectPtr vconn;

    /* Cancelled means the VlConn was freed or moved on: do not touch it.
     * An unclaimed connection is closed when the task is finalised. */
    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;

    g_clear_object(&conn->opening);
    vconn = g_task_propagate_pointer(task, &error);
    if (!vconn) {
        guint delay;

        set_last_error(conn, error->message);
        delay = schedule_retry(conn);
        if (conn->handlers.failed)
            conn->handlers.failed(conn, error, delay, conn->user_data);
        return;
    }

    conn->vconn = vconn;
    conn->state = CONN_CONNECTED;
    conn->since_us = g_get_real_time();
    conn->attempt = 0;
    if (conn->ever_connected)
        conn->reconnects++;
    conn->ever_connected = TRUE;

    if (virConnectRegisterCloseCallback(vconn, close_callback, conn,
                                        NULL) < 0)
        g_debug("No close callback on '%s': %s", conn->uri,
                virGetLastErrorMessage());
    apply_keepalive(conn);

    if (conn->handlers.connected)
        conn->handlers.connected(conn, vconn, conn->user_data);
}

static void
attempt_now(VlConn *conn)
{
    g_autoptr(GTask) task = NULL;

    g_clear_handle_id(&conn->retry_id, g_source_remove);
    conn->state = CONN_CONNECTING;
    conn->opening = g_cancellable_new();
    task = g_task_new(NULL, conn->opening, on_open_done, conn);
    g_task_set_source_tag(task, attempt_now);
    g_task_set_task_data(task, g_strdup(conn->uri), g_free);
    g_task_run_in_thread(task, open_thread);
}

static void
abandon_attempt(VlConn *conn)
{
    if (conn->opening) {
        g_cancellable_cancel(conn->opening);
        g_clear_object(&conn->opening);
    }
    g_clear_handle_id(&conn->retry_id, g_source_remove);
}

VlConn *
vl_conn_new(const char *uri,
            const VlConnOptions *options,
            const VlConnHandlers *handlers,
            gpointer user_data)
{
    VlConn *conn = g_new0(VlConn, 1);

    conn->uri = g_strdup(uri);
    conn->options = *options;
    if (handlers)
        conn->handlers = *handlers;
    conn->user_data = user_data;
    conn->state = CONN_IDLE;
    conn->since_us = g_get_real_time();
    return conn;
}

void
vl_conn_free(VlConn *conn)
{
    if (!conn)
        return;
    abandon_attempt(conn);
    drop(conn, "Shutting down", FALSE);
    g_free(conn->lost_reason);
    g_free(conn->last_error);
    g_free(conn->uri);
    g_free(conn);
}

void
vl_conn_start(VlConn *conn)
{
    if (conn->state == CONN_IDLE && !conn->ever_connected)
        attempt_now(conn);
}

virConnectPtr
vl_conn_get_virt(VlConn *conn)
{
    if (conn->state != CONN_CONNECTED || conn->lost_id)
        return NULL;
    /* Local check for remote drivers (no round trip). */
    if (virConnectIsAlive(conn->vconn) == 0) {
        g_autofree char *msg = g_strdup_printf("Connection to '%s' is dead",
                                               conn->uri);
        mark_lost(conn, msg);
        return NULL;
    }
    return conn->vconn;
}

gboolean
vl_conn_is_connected(VlConn *conn)
{
    return conn->state == CONN_CONNECTED && !conn->lost_id;
}

const char *
vl_conn_get_uri(VlConn *conn)
{
    return conn->uri;
}

guint
vl_conn_get_reconnects(VlConn *conn)
{
    return conn->reconnects;
}

const char *
vl_conn_get_last_error(VlConn *conn)
{
    return conn->last_error;
}

void
vl_conn_reconfigure(VlConn *conn, const char *uri, const VlConnOptions *options)
{
    gboolean keepalive_changed =
        options->keepalive_interval != conn->options.keepalive_interval ||
        options->keepalive_count != conn->options.keepalive_count;

    conn->options = *options;

    if (g_str_equal(uri, conn->uri)) {
        if (keepalive_changed && conn->state == CONN_CONNECTED)
            apply_keepalive(conn);
        return;
    }

    g_free(conn->uri);
    conn->uri = g_strdup(uri);
    conn->reconnects = 0;
    conn->ever_connected = FALSE;
    conn->attempt = 0;
    g_clear_pointer(&conn->last_error, g_free);

    if (conn->state == CONN_IDLE)
        return;
    abandon_attempt(conn);
    drop(conn, "The URI changed", FALSE);
    attempt_now(conn);
}

json_object *
vl_conn_to_json(VlConn *conn)
{
    json_object *obj = json_object_new_object();
    g_autofree char *since = vl_timestamp_format(conn->since_us);

    json_object_object_add(obj, "uri", json_object_new_string(conn->uri));
    json_object_object_add(obj, "connected",
                           json_object_new_boolean(vl_conn_is_connected(conn)));
    json_object_object_add(obj, "since", json_object_new_string(since));
    json_object_object_add(obj, "reconnects",
                           json_object_new_int64(conn->reconnects));
    json_object_object_add(obj, "last_error",
                           conn->last_error ?
                           json_object_new_string(conn->last_error) : NULL);
    return obj;
}
