/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipc.h: the daemon's UNIX-socket protocol, shared by the hook, the CLI
 * and the daemon
 *
 * Framing: newline-delimited JSON, one object per line, at most
 * VL_IPC_MAX_MESSAGE bytes including the newline.  Every message has
 * "version" (VL_IPC_PROTOCOL_VERSION) and "type" (a string).  A request
 * gets exactly one reply of type "reply" with "ok": true, or "ok": false
 * and "error": "message".  Unknown versions and malformed messages are
 * answered with an error, never trusted.  The full protocol is in
 * docs/architecture.md.
 *
 * Request types: "hook" (from virt-lanes-hook), "status", "ping", "lanes",
 * "lanes-up", "lanes-down" (from the CLI and 'virt-lanes migrate'),
 * "containers" (from the CLI).
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define VL_IPC_PROTOCOL_VERSION 1
#define VL_IPC_MAX_MESSAGE (4 * 1024 * 1024)

/* ---- messages ------------------------------------------------------ */

/* A new message {"version": 1, "type": @type}.  Caller owns the result. */
json_object *vl_ipc_message_new(const char *type);

/* A reply {"version": 1, "type": "reply", "ok": true}. */
json_object *vl_ipc_reply_new_ok(void);

/* A reply {"version": 1, "type": "reply", "ok": false, "error": ...}. */
json_object *vl_ipc_reply_new_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Serialises @msg as one line ending in '\n'; caller frees the result. */
char *vl_ipc_message_to_line(json_object *msg, gsize *len);

/**
 * vl_ipc_message_parse:
 * @line: bytes of one message, without the newline; need not be
 *        NUL-terminated and may contain anything (it comes from outside)
 * @len: number of bytes in @line
 * @error: (out) (optional): VL_ERROR_IPC with the reason
 *
 * Parses and validates the envelope: a JSON object with an integer
 * "version" equal to VL_IPC_PROTOCOL_VERSION and a string "type".
 * Returns: (transfer full): the message, or NULL
 */
json_object *vl_ipc_message_parse(const char *line, gsize len, GError **error);

/* The "type" of a parsed message (borrowed from @msg). */
const char *vl_ipc_message_get_type(json_object *msg);

/* ---- the hook event -------------------------------------------------- */

/*
 * What libvirtd told the hook.  Strings are valid UTF-8: bytes that are
 * not are replaced (U+FFFD) and @name_mangled is set, so the daemon can
 * tell the name is not exact.  @xml may be truncated at the hook's read
 * limit; @xml_size is the number of bytes libvirtd actually wrote.
 */
typedef struct {
    char *domain;
    char *op;
    char *subop;
    char *extra;
    char *xml;              /* nullable; carries secrets on "migrate": never log it */
    gsize xml_size;
    gboolean xml_truncated;
    gboolean name_mangled;
} VlHookEvent;

VlHookEvent *vl_hook_event_new(void);
void vl_hook_event_free(VlHookEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlHookEvent, vl_hook_event_free)

/* {"version":1, "type":"hook", "domain":..., "op":..., "subop":...,
 *  "extra":..., "xml":..., "xml_size":..., "xml_truncated":...,
 *  "name_mangled":...} */
json_object *vl_hook_event_to_json(const VlHookEvent *event);

/* Validates every field of a "hook" request (types, allowed op names);
 * returns NULL with VL_ERROR_IPC on anything unexpected. */
VlHookEvent *vl_hook_event_from_json(json_object *msg, GError **error);

/* ---- client: blocking and bounded (hook, CLI) ------------------------ */

/**
 * vl_ipc_call:
 * @socket_path: the daemon's socket
 * @request: (transfer none): the request
 * @timeout_ms: the bound for connect + send + receive together
 * @error: (out) (optional): VL_ERROR_IPC or VL_ERROR_TIMEOUT
 *
 * Sends @request and waits for one reply line, never longer than
 * @timeout_ms in total.  Does not use the GLib main loop.
 * Returns: (transfer full): the validated reply envelope, or NULL
 */
json_object *vl_ipc_call(const char *socket_path,
                         json_object *request,
                         guint timeout_ms,
                         GError **error);

/* ---- server: on the GLib main loop (daemon) -------------------------- */

typedef struct _VlIpcServer VlIpcServer;
typedef struct _VlIpcRequest VlIpcRequest;

/*
 * Called on the main loop for every valid request.  The handler must
 * eventually call vl_ipc_request_reply() exactly once, now or later
 * (for example after lanes are up); the request stays valid until then.
 */
typedef void (*VlIpcHandler)(VlIpcRequest *request, gpointer user_data);

/* The parsed request (borrowed). */
json_object *vl_ipc_request_get_message(VlIpcRequest *request);

/* Credentials of the peer, from SO_PEERCRED (this process for a
 * VlIpcLocal request). */
pid_t vl_ipc_request_get_peer_pid(VlIpcRequest *request);
uid_t vl_ipc_request_get_peer_uid(VlIpcRequest *request);

/* Sends @reply (transfer full) and releases @request. */
void vl_ipc_request_reply(VlIpcRequest *request, json_object *reply);

/**
 * vl_ipc_server_new:
 * @socket_path: where to listen; a stale socket is replaced, the
 *               directory is created 0700 if missing, the socket is 0600
 * @handler: called for each valid request
 * @user_data: passed to @handler
 * @error: (out) (optional)
 *
 * Only peers with the daemon's own uid (root in production) are served;
 * others are disconnected.  Malformed or oversized lines are answered
 * with an error reply and the connection is closed.
 */
VlIpcServer *vl_ipc_server_new(const char *socket_path,
                               VlIpcHandler handler,
                               gpointer user_data,
                               GError **error);
void vl_ipc_server_free(VlIpcServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlIpcServer, vl_ipc_server_free)

/* ---- in-process client: the daemon's own worker threads --------------- */

/*
 * VlIpcLocal hands requests from other threads of the daemon to its
 * handler on the main context, as if they came over the socket: the
 * request is serialised and parsed again (the same envelope checks, no
 * json_object shared between threads), the handler replies with
 * vl_ipc_request_reply() now or later, and the caller gets the reply
 * validated as vl_ipc_call() validates it.  Nothing blocks the main
 * loop: only the calling thread waits.
 */
typedef struct _VlIpcLocal VlIpcLocal;

/**
 * vl_ipc_local_new:
 * @handler: called on the thread-default main context of the caller of
 *           this function (the daemon's main loop)
 *
 * Returns: (transfer full): a reference; vl_ipc_local_close() when the
 * handler's owner goes away, vl_ipc_local_unref() to drop it.
 */
VlIpcLocal *vl_ipc_local_new(VlIpcHandler handler, gpointer user_data);
VlIpcLocal *vl_ipc_local_ref(VlIpcLocal *local);
void vl_ipc_local_unref(VlIpcLocal *local);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlIpcLocal, vl_ipc_local_unref)

/* On the main context: the handler is never called again; calls not
 * dispatched yet and later ones fail with VL_ERROR_IPC. */
void vl_ipc_local_close(VlIpcLocal *local);

/* On the main context: whether a request of this local client is
 * waiting to be handled or answered (for tests). */
guint vl_ipc_local_get_pending(VlIpcLocal *local);

/**
 * vl_ipc_local_call:
 * @request: (transfer none): the request
 * @timeout_ms: how long the calling thread waits for the reply
 * @error: (out) (optional): VL_ERROR_IPC (closed, invalid reply) or
 *         VL_ERROR_TIMEOUT
 *
 * Any thread but the one running the main context (that would wait for
 * itself).  A reply that comes after the timeout is dropped.
 * Returns: (transfer full): the validated reply envelope, or NULL
 */
json_object *vl_ipc_local_call(VlIpcLocal *local, json_object *request,
                               guint timeout_ms, GError **error);

G_END_DECLS
