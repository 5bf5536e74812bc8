/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn.h: the daemon's one libvirt connection, kept up by itself
 *
 * VlConn connects lazily (on vl_conn_start(), from a worker thread),
 * watches the connection with libvirt's close callback and keepalive,
 * and when libvirtd goes away reconnects with exponential backoff
 * (reconnect_min doubling up to reconnect_max).  It tells its owner
 * through VlConnHandlers, so that the owner can re-register its event
 * callbacks on every new connection.  Runs on the default main context
 * with libvirt-glib's event loop (gvir_event_register()); the library
 * does not log: the owner logs from the handlers.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

typedef struct _VlConn VlConn;

typedef struct {
    guint keepalive_interval;   /* seconds between probes; 0 = off */
    guint keepalive_count;      /* unanswered probes before closing */
    guint backoff_min_ms;       /* first retry delay */
    guint backoff_max_ms;       /* retry delay cap */
} VlConnOptions;

typedef struct {
    /* A connection is up; @vconn is borrowed and valid until
     * @disconnected is called.  Register event callbacks here. */
    void (*connected)(VlConn *conn, virConnectPtr vconn, gpointer user_data);
    /* The connection is going away (@reason says why; @lost: it broke,
     * rather than being dropped on purpose): deregister from @vconn
     * now; it is closed right after this returns. */
    void (*disconnected)(VlConn *conn, virConnectPtr vconn,
                         const char *reason, gboolean lost,
                         gpointer user_data);
    /* An attempt failed with @error; the next one starts in @retry_ms. */
    void (*failed)(VlConn *conn, const GError *error, guint retry_ms,
                   gpointer user_data);
} VlConnHandlers;

/**
 * vl_conn_new:
 * @uri: libvirt URI (copied)
 * @options: (transfer none): timing
 * @handlers: (transfer none) (nullable): copied; any member may be NULL
 * @user_data: passed to the handlers
 *
 * Does not connect yet.
 */
VlConn *vl_conn_new(const char *uri,
                    const VlConnOptions *options,
                    const VlConnHandlers *handlers,
                    gpointer user_data);
void vl_conn_free(VlConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlConn, vl_conn_free)

/* Starts the first attempt (no-op when already started). */
void vl_conn_start(VlConn *conn);

/*
 * The live connection (borrowed), or NULL while disconnected.  A
 * connection found dead here is handled as lost (reconnect scheduled).
 */
virConnectPtr vl_conn_get_virt(VlConn *conn);

gboolean vl_conn_is_connected(VlConn *conn);
const char *vl_conn_get_uri(VlConn *conn);
guint vl_conn_get_reconnects(VlConn *conn);
const char *vl_conn_get_last_error(VlConn *conn);   /* nullable */

/*
 * Applies new settings.  A different @uri drops the current connection
 * (or attempt) and connects to the new one at once, starting the
 * reconnect count afresh; new keepalive values apply to the current
 * connection too.
 */
void vl_conn_reconfigure(VlConn *conn,
                         const char *uri,
                         const VlConnOptions *options);

/* {"uri", "connected", "since", "reconnects", "last_error"}: "since" is
 * when the connection last went up or down, "last_error" a string or
 * null.  Caller owns the result. */
json_object *vl_conn_to_json(VlConn *conn);

/*
 * Delay before retry number @attempt (0 = the first after a failure or
 * a loss): backoff_min_ms * 2^attempt, capped at backoff_max_ms.
 */
guint vl_conn_backoff_ms(const VlConnOptions *options, guint attempt);

G_END_DECLS
