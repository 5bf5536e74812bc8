/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon.h: virt-lanesd's logic, kept out of main.c so tests link it
 *
 * VlDaemon owns the domain table, the libvirt connection (and the event
 * registrations that follow it across reconnects) and the IPC server.
 * IPC requests are dispatched through a table keyed by request type;
 * a handler may keep its VlIpcRequest and reply later.  Everything runs
 * on the default main context.
 *
 * The library does not log: messages an admin cares about (connected,
 * lost, reconnected, reloaded) are handed to a VlDaemonLogFunc, which
 * main.c points at g_log.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "conn.h"
#include "domains.h"
#include "lanes.h"
#include "mover.h"
#include "policy.h"
#include "vl-config.h"

G_BEGIN_DECLS

typedef struct _VlDaemon VlDaemon;

/*
 * The longest the daemon holds a hook's "migrate begin" while the
 * destination's lanes come up; below the hook's own 3 s bound
 * (VL_HOOK_TIMEOUT_MS) with room for the hook's connect and send.
 * Lanes still coming up then keep coming up (each lane-up is bounded
 * by the policy's lane_up_max_s); the migration starts regardless.
 */
#define VL_LANES_HOOK_REPLY_MS 2500

/* @level is G_LOG_LEVEL_MESSAGE, _WARNING or _DEBUG. */
typedef void (*VlDaemonLogFunc)(GLogLevelFlags level,
                                const char *message,
                                gpointer user_data);

/**
 * vl_daemon_new:
 * @config: (transfer full): the effective configuration (file + command line)
 * @config_path: the file @config was read from, re-read by vl_daemon_reload()
 * @config_required: a missing @config_path is an error on reload
 * @overrides: (transfer none): the command line, laid over every reload;
 *             the struct is copied, its strings must outlive the daemon
 * @log_func: (nullable): receives admin-facing messages
 * @log_data: passed to @log_func
 *
 * Neither listens nor connects yet.
 */
VlDaemon *vl_daemon_new(VlConfig *config,
                        const char *config_path,
                        gboolean config_required,
                        const VlConfigOverrides *overrides,
                        VlDaemonLogFunc log_func,
                        gpointer log_data);
/* Stops serving, then disconnects (reverse order of start). */
void vl_daemon_free(VlDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDaemon, vl_daemon_free)

/*
 * Loads the policy directory (a missing one means the defaults; an
 * invalid one is an error), tears down the lanes a previous run left in
 * the journal (iterating the default main context until done, bounded
 * by lane_up_max_s per script), then listens on the configured socket
 * and starts connecting to libvirt.
 */
gboolean vl_daemon_start(VlDaemon *daemon, GError **error);

/* Replaces the lane back end (transfer full); only before
 * vl_daemon_start().  Tests plug in fakes here. */
void vl_daemon_set_lane_backend(VlDaemon *daemon, VlLaneBackend *backend);

typedef void (*VlDaemonStoppedFunc)(VlDaemon *daemon, gpointer user_data);

/*
 * The orderly end (SIGTERM): refuses new lane work, lets queued lane
 * operations finish, takes every lane this daemon brought up down, then
 * calls @done once (from the main loop).  Calling it again does nothing.
 * Free the daemon only after @done.
 */
void vl_daemon_stop(VlDaemon *daemon, VlDaemonStoppedFunc done, gpointer user_data);
gboolean vl_daemon_is_stopping(VlDaemon *daemon);

/**
 * vl_daemon_reload:
 * @error: (out) (optional): the configuration error, naming file and line
 *
 * Re-reads the configuration file and the policy directory, all or
 * nothing: on error in either nothing changes.  A new URI reconnects; new keepalive and backoff values apply
 * at once; a changed socket, pid file or log file needs a restart and
 * is reported (the old value stays in effect).
 */
gboolean vl_daemon_reload(VlDaemon *daemon, GError **error);

/*
 * The "status" reply: {"version", "type": "reply", "ok": true,
 *  "daemon": {"version", "pid", "started", "uptime_s", "socket", "config"},
 *  "connection": {"uri", "connected", "since", "reconnects", "last_error"},
 *  "domains": [{"name", "uuid", "state", "events": [...]}]}.
 * Caller owns the result.
 */
json_object *vl_daemon_status(VlDaemon *daemon);

/* Borrowed. */
const VlConfig *vl_daemon_get_config(VlDaemon *daemon);
VlConn *vl_daemon_get_conn(VlDaemon *daemon);
VlDomainTable *vl_daemon_get_domains(VlDaemon *daemon);
const VlPolicy *vl_daemon_get_policy(VlDaemon *daemon);      /* NULL before start */
VlLaneManager *vl_daemon_get_lanes(VlDaemon *daemon);        /* NULL before start */
/* The container moves' driver (borrowed): its requests reach this
 * daemon's handlers in process. */
VlMover *vl_daemon_get_mover(VlDaemon *daemon);

G_END_DECLS
