/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "container-manager.h"
#include "daemon.h"
#include "estimator.h"
#include "events.h"
#include "ipc.h"
#include "levers.h"
#include "metadata.h"
#include "timestamp.h"
#include "vl-autoptr.h"
#include "vl-error.h"

struct _VlDaemon {
    VlConfig *config;
    char *config_path;
    gboolean config_required;
    VlConfigOverrides overrides;
    VlDaemonLogFunc log_func;
    gpointer log_data;

    gint64 started_real_us;
    gint64 started_mono_us;

    VlDomainTable *domains;
    VlEvents *events;
    VlConn *conn;
    VlIpcServer *server;

    VlPolicy *policy;
    VlLaneBackend *lane_backend;    /* until the manager takes it */
    VlLaneManager *lanes;
    GHashTable *incoming;           /* domain name -> Incoming* (owned) */
    gboolean stopping;
    VlDaemonStoppedFunc stopped_func;
    gpointer stopped_data;
    VlContainerManager *containers;
    VlEstimator *estimator;
    VlLevers *levers;
    VlIpcLocal *local;              /* the daemon's own threads' requests */
    VlMover *mover;                 /* container moves, over lanes */
};

/*
 * An incoming migration whose plan brought lanes up here (the
 * destination path, docs/lanes.md).  The hook's "migrate begin" request
 * is held until the lanes are up or VL_LANES_HOOK_REPLY_MS passed.
 */
typedef struct {
    VlDaemon *daemon;
    char *domain;
    char *plan_id;
    char *peer_name;
    gint64 since_us;
    VlIpcRequest *request;  /* the hook call still waiting, or NULL */
    guint reply_timer;
    gboolean acquiring;     /* lanes still coming up */
    gboolean ended;         /* the migration ended meanwhile */
} Incoming;

typedef void (*RequestHandler)(VlDaemon *daemon,
                               VlIpcRequest *request,
                               json_object *msg);

static void G_GNUC_PRINTF(3, 4)
daemon_log(VlDaemon *daemon, GLogLevelFlags level, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start(args, fmt);
    message = g_strdup_vprintf(fmt, args);
    va_end(args);

    if (daemon->log_func)
        daemon->log_func(level, message, daemon->log_data);
    else
        g_debug("%s", message);
}

/* The bound for each lane script, from the policy (lane_up_max_s). */
static guint
lane_timeout_ms(VlDaemon *daemon)
{
    double s = daemon->policy ? daemon->policy->migration->lane_up_max_s : 5.0;
    double ms = s * 1000.0 + 0.5;

    return ms < 1 ? 1 : (guint) ms;
}

static void
on_lanes_log(GLogLevelFlags level, const char *message, gpointer user_data)
{
    VlDaemon *daemon = user_data;

    daemon_log(daemon, level, "%s", message);
}

/* ---- libvirt connection ---------------------------------------------- */

static void
conn_options_from_config(const VlConfig *config, VlConnOptions *options)
{
    options->keepalive_interval = config->keepalive_interval;
    options->keepalive_count = config->keepalive_count;
    options->backoff_min_ms = config->reconnect_min_s * 1000;
    options->backoff_max_ms = config->reconnect_max_s * 1000;
}

static void
on_connected(VlConn *conn, virConnectPtr vconn, gpointer user_data)
{
    VlDaemon *daemon = user_data;
    g_autoptr(GError) error = NULL;
    guint reconnects = vl_conn_get_reconnects(conn);

    if (reconnects > 0)
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "Reconnected to '%s' (reconnect %u)",
                   vl_conn_get_uri(conn), reconnects);
    else
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Connected to '%s'",
                   vl_conn_get_uri(conn));

    /* Every new connection needs its own registrations. */
    vl_estimator_attach(daemon->estimator, vconn);
    if (!vl_events_attach(daemon->events, vconn, &error))
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "Domain events from '%s' are incomplete: %s",
                   vl_conn_get_uri(conn), error->message);
    else if (!vl_events_has_qemu_monitor(daemon->events))
        daemon_log(daemon, G_LOG_LEVEL_DEBUG,
                   "No QEMU monitor events from '%s'", vl_conn_get_uri(conn));
    vl_container_manager_attach(daemon->containers, vconn);
}

static void
on_disconnected(VlConn *conn, virConnectPtr vconn G_GNUC_UNUSED,
                const char *reason, gboolean lost, gpointer user_data)
{
    VlDaemon *daemon = user_data;

    vl_estimator_detach(daemon->estimator);
    vl_events_detach(daemon->events);
    vl_container_manager_detach(daemon->containers);
    daemon_log(daemon, lost ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
               "Disconnected from '%s': %s", vl_conn_get_uri(conn), reason);
}

static void
on_connect_failed(VlConn *conn G_GNUC_UNUSED, const GError *error,
                  guint retry_ms, gpointer user_data)
{
    VlDaemon *daemon = user_data;

    daemon_log(daemon, G_LOG_LEVEL_WARNING, "%s; retrying in %u.%03u s",
               error->message, retry_ms / 1000, retry_ms % 1000);
}

/* ---- IPC requests -------------------------------------------------- */

static json_object *
daemon_version_json(void)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "version", json_object_new_string(PACKAGE_VERSION));
    return obj;
}

static gboolean
is_uuid(const char *s)
{
    gsize i;

    if (strlen(s) != 36)
        return FALSE;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return FALSE;
        } else if (!g_ascii_isxdigit(s[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * The UUID from the domain XML the hook forwarded, or NULL.  The XML
 * may carry secrets (migrate): it is parsed, never logged.
 */
static char *
uuid_from_xml(const VlHookEvent *event)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctx = NULL;
    g_autoptr(xmlXPathObject) obj = NULL;
    g_autofree char *uuid = NULL;
    gsize len;

    if (!event->xml || event->xml_truncated)
        return NULL;
    len = strlen(event->xml);
    if (len > G_MAXINT)
        return NULL;
    doc = xmlReadMemory(event->xml, (int)len, "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING);
    if (!doc)
        return NULL;
    ctx = xmlXPathNewContext(doc);
    if (!ctx)
        return NULL;
    obj = xmlXPathEvalExpression((const xmlChar *)"string(/domain/uuid)", ctx);
    if (!obj || obj->type != XPATH_STRING || !obj->stringval)
        return NULL;
    uuid = g_strstrip(g_strdup((const char *)obj->stringval));
    if (!is_uuid(uuid))
        return NULL;
    return g_steal_pointer(&uuid);
}

/* ---- the destination path: lanes for an incoming migration --------- */

static void
reply_continue(VlIpcRequest *request)
{
    json_object *reply = vl_ipc_reply_new_ok();

    json_object_object_add(reply, "verdict", json_object_new_string("continue"));
    vl_ipc_request_reply(request, reply);
}

static void
incoming_free(Incoming *in)
{
    if (!in)
        return;
    g_clear_handle_id(&in->reply_timer, g_source_remove);
    /* Never leave libvirtd's hook hanging. */
    if (in->request)
        reply_continue(g_steal_pointer(&in->request));
    g_free(in->domain);
    g_free(in->plan_id);
    g_free(in->peer_name);
    g_free(in);
}

static void
incoming_reply(Incoming *in)
{
    g_clear_handle_id(&in->reply_timer, g_source_remove);
    if (in->request)
        reply_continue(g_steal_pointer(&in->request));
}

static gboolean
on_incoming_reply_timeout(gpointer user_data)
{
    Incoming *in = user_data;

    in->reply_timer = 0;
    daemon_log(in->daemon, G_LOG_LEVEL_WARNING,
               "Domain '%s': lanes for plan '%s' are still coming up after %u ms; letting the migration start",
               in->domain, in->plan_id, VL_LANES_HOOK_REPLY_MS);
    if (in->request)
        reply_continue(g_steal_pointer(&in->request));
    return G_SOURCE_REMOVE;
}

/* Names of the lanes in @report that are (not) up, for a log line. */
static char *
report_names(const VlLaneReport *report, gboolean up)
{
    GString *s = g_string_new(NULL);
    guint i;

    for (i = 0; i < report->lanes->len; i++) {
        VlLaneResult *r = g_ptr_array_index(report->lanes, i);

        if (r->up != up)
            continue;
        if (s->len)
            g_string_append(s, ", ");
        if (up)
            g_string_append(s, r->interface);
        else
            g_string_append_printf(s, "%s (%s)", r->interface,
                                   r->error ? r->error->message : "not up");
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

static void
log_report(VlDaemon *daemon, const char *what, const VlLaneReport *report)
{
    g_autofree char *up = report_names(report, TRUE);
    g_autofree char *failed = report_names(report, FALSE);

    if (report->n_up < report->lanes->len)
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "%s: lanes towards '%s' for plan '%s': up: %s; failed: %s",
                   what, report->peer_name, report->plan_id, up, failed);
    else
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "%s: lanes towards '%s' for plan '%s' are up: %s",
                   what, report->peer_name, report->plan_id, up);
    if (report->steer_error)
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "%s: connections are not steered over the lanes: %s",
                   what, report->steer_error->message);
}

static void incoming_release(Incoming *in);

static void
on_incoming_acquired(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                     gpointer user_data)
{
    Incoming *in = user_data;
    VlDaemon *daemon = in->daemon;
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *what = g_strdup_printf("Incoming migration of '%s'", in->domain);

    in->acquiring = FALSE;
    report = vl_lane_manager_acquire_finish(daemon->lanes, result, &error);
    if (!report)
        daemon_log(daemon, G_LOG_LEVEL_WARNING, "%s: no lanes: %s", what, error->message);
    else
        log_report(daemon, what, report);
    incoming_reply(in);
    if (in->ended || daemon->stopping)
        incoming_release(in);
}

static void
on_incoming_released(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
                     gpointer user_data)
{
    Incoming *in = user_data;
    VlDaemon *daemon = in->daemon;
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    if (!vl_lane_manager_release_finish(daemon->lanes, result, &n_down, &error)) {
        /* Nothing held (no lane came up, or an admin's lanes-down) is fine. */
        if (g_error_matches(error, VL_ERROR, VL_ERROR_INVALID))
            daemon_log(daemon, G_LOG_LEVEL_DEBUG, "Incoming migration of '%s': %s",
                       in->domain, error->message);
        else
            daemon_log(daemon, G_LOG_LEVEL_WARNING,
                       "Incoming migration of '%s' ended; %s", in->domain, error->message);
    } else {
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "Incoming migration of '%s' ended; %u lane(s) of plan '%s' taken down",
                   in->domain, n_down, in->plan_id);
    }
    incoming_free(in);
}

/* Takes @in out of the table and its lanes down (unless still coming up:
 * then once they are). */
static void
incoming_release(Incoming *in)
{
    VlDaemon *daemon = in->daemon;

    if (g_hash_table_lookup(daemon->incoming, in->domain) == in)
        g_hash_table_steal(daemon->incoming, in->domain);
    if (in->acquiring) {
        in->ended = TRUE;
        return;
    }
    vl_lane_manager_release_async(daemon->lanes, in->plan_id, lane_timeout_ms(daemon),
                                  on_incoming_released, in);
}

/* Whether @a and @b are the same IP address (any spelling). */
static gboolean
same_address(const char *a, const char *b)
{
    g_autoptr(GInetAddress) x = a ? g_inet_address_new_from_string(a) : NULL;
    g_autoptr(GInetAddress) y = b ? g_inet_address_new_from_string(b) : NULL;

    return x && y && g_inet_address_equal(x, y);
}

/* The address part of "ADDR/PLEN". */
static char *
address_part(const char *with_prefix)
{
    const char *slash = strchr(with_prefix, '/');

    return slash ? g_strndup(with_prefix, slash - with_prefix) : g_strdup(with_prefix);
}

/*
 * The policy's peer that is the plan's source, by migration address
 * (the plan's host name is the source's own label for itself and only
 * appears in messages).
 */
static const VlPeerConfig *
find_source_peer(VlDaemon *daemon, const VlMigrationPlan *plan)
{
    GPtrArray *peers = daemon->policy->migration->peers;
    guint i;

    for (i = 0; i < peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(peers, i);

        if (same_address(peer->migration_address, plan->source_migration_address))
            return peer;
    }
    return NULL;
}

/*
 * This host's lanes for the plan: each plan lane names this end's
 * address (dest-address); the policy lane with that address is ours,
 * if its peer address is the plan's source-address.
 */
static GPtrArray *
match_plan_lanes(VlDaemon *daemon, const char *domain, const VlPeerConfig *peer,
                 const VlMigrationPlan *plan)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    guint i;
    guint j;

    for (i = 0; i < plan->lanes->len; i++) {
        VlPlanLane *pl = g_ptr_array_index(plan->lanes, i);
        gboolean found = FALSE;

        for (j = 0; j < peer->lanes->len && !found; j++) {
            VlLaneConfig *lane = g_ptr_array_index(peer->lanes, j);
            g_autofree char *ours = address_part(lane->address);

            if (!same_address(ours, pl->dest_address))
                continue;
            found = TRUE;
            if (!same_address(lane->peer_address, pl->source_address)) {
                daemon_log(daemon, G_LOG_LEVEL_WARNING,
                           "Domain '%s': plan '%s' pairs '%s' with '%s', but lane '%s' has peer address '%s'; skipping it",
                           domain, plan->id, pl->dest_address, pl->source_address,
                           lane->interface, lane->peer_address);
                continue;
            }
            g_ptr_array_add(names, g_strdup(lane->interface));
        }
        if (!found)
            daemon_log(daemon, G_LOG_LEVEL_WARNING,
                       "Domain '%s': plan '%s' wants a lane with local address '%s', which peer '%s' has not in the policy",
                       domain, plan->id, pl->dest_address, peer->name);
    }
    return names;
}

/*
 * The hook's "migrate begin": if the incoming XML carries our plan and
 * the policy lets this host bring lanes up, start bringing them up and
 * keep @request until they are (TRUE).  FALSE: reply at once.
 */
static gboolean
incoming_begin(VlDaemon *daemon, const VlHookEvent *event, VlIpcRequest *request)
{
    g_autoptr(VlMigrationPlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) names = NULL;
    const VlPeerConfig *peer;
    Incoming *old;
    Incoming *in;
    guint timeout;

    if (!event->xml || !daemon->lanes || !daemon->policy || daemon->stopping)
        return FALSE;
    if (event->xml_truncated) {
        daemon_log(daemon, G_LOG_LEVEL_DEBUG,
                   "Domain '%s': incoming XML truncated by the hook; no lanes", event->domain);
        return FALSE;
    }
    if (!vl_migration_plan_from_domain_xml(event->xml, strlen(event->xml), &plan, &error)) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "Domain '%s': ignoring the incoming migration plan: %s",
                   event->domain, error->message);
        return FALSE;
    }
    if (!plan || plan->lanes->len == 0)
        return FALSE;
    if (!daemon->policy->migration->incoming_lanes) {
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "Domain '%s': plan '%s' asks for lanes, but incoming_lanes is false in the policy",
                   event->domain, plan->id);
        return FALSE;
    }
    if (!(peer = find_source_peer(daemon, plan))) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "Domain '%s': plan '%s' comes from '%s' ('%s'), which is no peer in the policy; no lanes",
                   event->domain, plan->id, plan->source_host, plan->source_migration_address);
        return FALSE;
    }
    names = match_plan_lanes(daemon, event->domain, peer, plan);
    if (names->len == 0)
        return FALSE;
    if (names->len > daemon->policy->migration->max_lanes) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "Domain '%s': plan '%s' asks for %u lanes; the policy allows %u (max_lanes)",
                   event->domain, plan->id, names->len, daemon->policy->migration->max_lanes);
        g_ptr_array_set_size(names, daemon->policy->migration->max_lanes);
    }
    g_ptr_array_add(names, NULL);

    /* A new incoming migration of the same domain replaces an old one. */
    if ((old = g_hash_table_lookup(daemon->incoming, event->domain)))
        incoming_release(old);

    in = g_new0(Incoming, 1);
    in->daemon = daemon;
    in->domain = g_strdup(event->domain);
    in->plan_id = g_strdup(plan->id);
    in->peer_name = g_strdup(peer->name);
    in->since_us = g_get_real_time();
    in->request = request;
    in->acquiring = TRUE;
    g_hash_table_insert(daemon->incoming, in->domain, in);

    timeout = lane_timeout_ms(daemon);
    in->reply_timer = g_timeout_add(MIN(timeout, VL_LANES_HOOK_REPLY_MS),
                                    on_incoming_reply_timeout, in);
    daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
               "Incoming migration of '%s' from '%s' (plan '%s'): bringing up %u lane(s)",
               event->domain, peer->name, plan->id, names->len - 1);
    vl_lane_manager_acquire_async(daemon->lanes, plan->id, peer,
                                  (const char *const *) names->pdata, 0, timeout,
                                  on_incoming_acquired, in);
    return TRUE;
}

/*
 * Every recorded event: an incoming migration ends with success
 * (libvirt "resumed migrated", QEMU "MIGRATION completed") or failure
 * ("stopped ...", QEMU "MIGRATION failed", the hook's "stopped end" or
 * "release end"); then its lanes come down.
 */
static void
on_domain_event(const char *name, VlEventSource source G_GNUC_UNUSED,
                const char *event, gpointer user_data)
{
    VlDaemon *daemon = user_data;
    Incoming *in = g_hash_table_lookup(daemon->incoming, name);

    if (!in)
        return;
    if (!g_str_equal(event, "lifecycle resumed migrated") &&
        !g_str_has_prefix(event, "lifecycle stopped ") &&
        !g_str_equal(event, "qemu MIGRATION completed") &&
        !g_str_equal(event, "qemu MIGRATION failed") &&
        !g_str_equal(event, "qemu MIGRATION cancelled") &&
        !g_str_equal(event, "stopped end") &&
        !g_str_equal(event, "release end"))
        return;
    daemon_log(daemon, G_LOG_LEVEL_DEBUG, "Incoming migration of '%s' ends ('%s')",
               name, event);
    incoming_release(in);
}

static json_object *
incoming_to_json(VlDaemon *daemon)
{
    json_object *array = json_object_new_array();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, daemon->incoming);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        Incoming *in = value;
        json_object *obj = json_object_new_object();
        g_autofree char *since = vl_timestamp_format(in->since_us);

        json_object_object_add(obj, "domain", json_object_new_string(in->domain));
        json_object_object_add(obj, "plan_id", json_object_new_string(in->plan_id));
        json_object_object_add(obj, "peer", json_object_new_string(in->peer_name));
        json_object_object_add(obj, "since", json_object_new_string(since));
        json_object_array_add(array, obj);
    }
    return array;
}

/* ---- lanes-up, lanes-down, lanes ------------------------------------- */

typedef struct {
    VlDaemon *daemon;
    VlIpcRequest *request;
} LaneRequest;

static gboolean
only_keys(json_object *msg, const char *const *allowed, char **unknown)
{
    json_object_object_foreach(msg, key, value) {
        guint i;
        gboolean ok = FALSE;

        (void) value;
        for (i = 0; allowed[i] && !ok; i++)
            ok = g_str_equal(key, allowed[i]);
        if (!ok) {
            *unknown = g_strescape(key, NULL);
            return FALSE;
        }
    }
    return TRUE;
}

static const char *
string_member(json_object *msg, const char *key)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(msg, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static const VlPeerConfig *
find_peer(VlDaemon *daemon, const char *name)
{
    GPtrArray *peers = daemon->policy->migration->peers;
    guint i;

    for (i = 0; i < peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(peers, i);

        if (g_str_equal(peer->name, name))
            return peer;
    }
    return NULL;
}

static void
on_lanes_acquired(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    g_autofree LaneRequest *lr = user_data;
    VlDaemon *daemon = lr->daemon;
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    json_object *reply;

    report = vl_lane_manager_acquire_finish(daemon->lanes, result, &error);
    if (!report) {
        vl_ipc_request_reply(lr->request, vl_ipc_reply_new_error("%s", error->message));
        return;
    }
    log_report(daemon, "lanes-up", report);
    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "report", vl_lane_report_to_json(report));
    vl_ipc_request_reply(lr->request, reply);
}

static void
handle_lanes_up(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    static const char *const keys[] = { "version", "type", "plan_id", "peer", "lanes", "count", NULL };
    g_autofree char *unknown = NULL;
    g_autoptr(GPtrArray) names = NULL;
    const char *plan_id = string_member(msg, "plan_id");
    const char *peer_name = string_member(msg, "peer");
    json_object *lanes = NULL;
    json_object *count = NULL;
    const VlPeerConfig *peer;
    LaneRequest *lr;
    gint64 n = 0;
    gsize i;

    if (!only_keys(msg, keys, &unknown)) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error("Unknown field '%s' in 'lanes-up'",
                                                             unknown));
        return;
    }
    if (daemon->stopping || !daemon->lanes) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error("The daemon is shutting down"));
        return;
    }
    if (!plan_id || !peer_name) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("'lanes-up' needs the strings 'plan_id' and 'peer'"));
        return;
    }
    json_object_object_get_ex(msg, "lanes", &lanes);
    json_object_object_get_ex(msg, "count", &count);
    if ((lanes != NULL) == (count != NULL) ||
        (lanes && !json_object_is_type(lanes, json_type_array)) ||
        (count && !json_object_is_type(count, json_type_int))) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("'lanes-up' needs either 'lanes' (an array of interface names) or 'count' (an integer)"));
        return;
    }
    if (!(peer = find_peer(daemon, peer_name))) {
        g_autofree char *shown = g_strescape(peer_name, NULL);

        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("No peer '%s' in the policy", shown));
        return;
    }
    if (lanes) {
        if (json_object_array_length(lanes) > VL_LANES_MAX) {
            vl_ipc_request_reply(request, vl_ipc_reply_new_error("Too many lanes asked for"));
            return;
        }
        names = g_ptr_array_new();
        for (i = 0; i < json_object_array_length(lanes); i++) {
            json_object *name = json_object_array_get_idx(lanes, i);

            if (!json_object_is_type(name, json_type_string)) {
                vl_ipc_request_reply(request,
                                     vl_ipc_reply_new_error("'lanes' must hold interface names"));
                return;
            }
            g_ptr_array_add(names, (gpointer) json_object_get_string(name));
        }
        g_ptr_array_add(names, NULL);
    } else {
        n = json_object_get_int64(count);
        if (n < 1 || n > VL_LANES_MAX) {
            vl_ipc_request_reply(request,
                                 vl_ipc_reply_new_error("'count' must be 1 to %d, not %" G_GINT64_FORMAT,
                                                        VL_LANES_MAX, n));
            return;
        }
    }

    if ((names ? names->len - 1 : (guint) n) > daemon->policy->migration->max_lanes) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("The policy allows at most %u lane(s) per migration (max_lanes)",
                                                    daemon->policy->migration->max_lanes));
        return;
    }

    lr = g_new0(LaneRequest, 1);
    lr->daemon = daemon;
    lr->request = request;
    vl_lane_manager_acquire_async(daemon->lanes, plan_id, peer,
                                  names ? (const char *const *) names->pdata : NULL,
                                  (guint) n, lane_timeout_ms(daemon), on_lanes_acquired, lr);
}

static void
on_lanes_released(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    g_autofree LaneRequest *lr = user_data;
    g_autoptr(GError) error = NULL;
    json_object *reply;
    guint n_down = 0;

    if (!vl_lane_manager_release_finish(lr->daemon->lanes, result, &n_down, &error)) {
        vl_ipc_request_reply(lr->request, vl_ipc_reply_new_error("%s", error->message));
        return;
    }
    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "down", json_object_new_int64(n_down));
    vl_ipc_request_reply(lr->request, reply);
}

static void
handle_lanes_down(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    static const char *const keys[] = { "version", "type", "plan_id", NULL };
    g_autofree char *unknown = NULL;
    const char *plan_id = string_member(msg, "plan_id");
    LaneRequest *lr;

    if (!only_keys(msg, keys, &unknown)) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error("Unknown field '%s' in 'lanes-down'",
                                                             unknown));
        return;
    }
    if (!plan_id) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("'lanes-down' needs the string 'plan_id'"));
        return;
    }
    if (!daemon->lanes) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error("The daemon is shutting down"));
        return;
    }
    lr = g_new0(LaneRequest, 1);
    lr->daemon = daemon;
    lr->request = request;
    vl_lane_manager_release_async(daemon->lanes, plan_id, lane_timeout_ms(daemon),
                                  on_lanes_released, lr);
}

static void
handle_lanes(VlDaemon *daemon, VlIpcRequest *request, json_object *msg G_GNUC_UNUSED)
{
    json_object *reply = vl_ipc_reply_new_ok();

    json_object_object_add(reply, "journal",
                           json_object_new_string(daemon->config->lane_journal));
    json_object_object_add(reply, "base_mark",
                           json_object_new_int64(daemon->lanes ?
                                                 vl_lane_manager_get_base_mark(daemon->lanes) :
                                                 daemon->config->lane_table_base));
    json_object_object_add(reply, "lanes",
                           daemon->lanes ? vl_lane_manager_to_json(daemon->lanes) :
                           json_object_new_array());
    json_object_object_add(reply, "incoming", incoming_to_json(daemon));
    vl_ipc_request_reply(request, reply);
}

static void
handle_hook(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    g_autoptr(VlHookEvent) event = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *what = NULL;
    g_autofree char *uuid = NULL;
    json_object *reply;

    event = vl_hook_event_from_json(msg, &error);
    if (!event) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("%s", error->message));
        return;
    }

    what = g_strdup_printf("%s %s", event->op, event->subop);
    uuid = uuid_from_xml(event);
    vl_domain_table_record(daemon->domains, event->domain, uuid,
                           VL_EVENT_SOURCE_HOOK, what);
    daemon_log(daemon, G_LOG_LEVEL_DEBUG, "Hook for domain '%s': %s",
               event->domain, what);

    /* "migrate begin" may wait for the destination's lanes. */
    if (g_str_equal(event->op, "migrate") && g_str_equal(event->subop, "begin") &&
        incoming_begin(daemon, event, request))
        return;

    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "verdict", json_object_new_string("continue"));
    vl_ipc_request_reply(request, reply);
}

static void
handle_ping(VlDaemon *daemon G_GNUC_UNUSED, VlIpcRequest *request,
            json_object *msg G_GNUC_UNUSED)
{
    json_object *reply = vl_ipc_reply_new_ok();

    json_object_object_add(reply, "daemon", daemon_version_json());
    vl_ipc_request_reply(request, reply);
}

static void
handle_status(VlDaemon *daemon, VlIpcRequest *request,
              json_object *msg G_GNUC_UNUSED)
{
    vl_ipc_request_reply(request, vl_daemon_status(daemon));
}

static void
handle_containers(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    vl_ipc_request_reply(request,
                         vl_container_manager_reply(daemon->containers, msg));
}

static void
handle_estimate(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    vl_estimator_handle_estimate(daemon->estimator, request, msg);
}

static void
handle_measure(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    vl_estimator_handle_measure(daemon->estimator, request, msg);
}

/* The driver of an outgoing migration says how it carries it (links,
 * channels, its prediction), so that the monitor's ETA and the history
 * line describe the migration that really runs. */
static void
handle_migration_plan(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    static const char *const keys[] = {
        "version", "type", "domain", "links", "channels", "predicted_s", NULL
    };
    g_autofree char *unknown = NULL;
    const char *domain = string_member(msg, "domain");
    json_object *links = NULL;
    json_object *channels = NULL;
    json_object *predicted = NULL;
    double predicted_s = NAN;
    gint64 n_links;
    gint64 n_channels;

    if (!only_keys(msg, keys, &unknown)) {
        vl_ipc_request_reply(request, vl_ipc_reply_new_error("Unknown field '%s' in 'migration-plan'",
                                                             unknown));
        return;
    }
    json_object_object_get_ex(msg, "links", &links);
    json_object_object_get_ex(msg, "channels", &channels);
    json_object_object_get_ex(msg, "predicted_s", &predicted);
    if (!domain || !*domain ||
        !links || !json_object_is_type(links, json_type_int) ||
        !channels || !json_object_is_type(channels, json_type_int)) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("'migration-plan' needs the string 'domain' and the integers 'links' and 'channels'"));
        return;
    }
    n_links = json_object_get_int64(links);
    n_channels = json_object_get_int64(channels);
    if (n_links < 1 || n_links > VL_LANES_MAX + 1 || n_channels < 0 || n_channels > 255) {
        vl_ipc_request_reply(request,
                             vl_ipc_reply_new_error("'migration-plan' needs 1 to %d links and 0 to 255 channels",
                                                    VL_LANES_MAX + 1));
        return;
    }
    if (predicted && !json_object_is_type(predicted, json_type_null)) {
        if (!json_object_is_type(predicted, json_type_double) &&
            !json_object_is_type(predicted, json_type_int)) {
            vl_ipc_request_reply(request,
                                 vl_ipc_reply_new_error("'predicted_s' in 'migration-plan' must be a number"));
            return;
        }
        predicted_s = json_object_get_double(predicted);
        if (!(predicted_s >= 0 && predicted_s < 1e9)) {
            vl_ipc_request_reply(request,
                                 vl_ipc_reply_new_error("'predicted_s' in 'migration-plan' must be 0 to 1e9 seconds"));
            return;
        }
    }
    vl_monitor_expect(vl_estimator_get_monitor(daemon->estimator), domain,
                      (guint)n_links, (guint)n_channels, predicted_s);
    vl_ipc_request_reply(request, vl_ipc_reply_new_ok());
}

/* Adding a request type is one line here. */
static const struct {
    const char *type;
    RequestHandler handler;
} request_handlers[] = {
    { "containers", handle_containers },
    { "estimate", handle_estimate },
    { "hook", handle_hook },
    { "lanes", handle_lanes },
    { "lanes-down", handle_lanes_down },
    { "lanes-up", handle_lanes_up },
    { "measure", handle_measure },
    { "migration-plan", handle_migration_plan },
    { "ping", handle_ping },
    { "status", handle_status },
};

static void
on_request(VlIpcRequest *request, gpointer user_data)
{
    VlDaemon *daemon = user_data;
    json_object *msg = vl_ipc_request_get_message(request);
    const char *type = vl_ipc_message_get_type(msg);
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(request_handlers); i++) {
        if (g_str_equal(request_handlers[i].type, type)) {
            request_handlers[i].handler(daemon, request, msg);
            return;
        }
    }
    vl_ipc_request_reply(request,
                         vl_ipc_reply_new_error("Unknown request type '%s'",
                                                type));
}

/* ---- the daemon ------------------------------------------------------ */

VlDaemon *
vl_daemon_new(VlConfig *config,
              const char *config_path,
              gboolean config_required,
              const VlConfigOverrides *overrides,
              VlDaemonLogFunc log_func,
              gpointer log_data)
{
    VlDaemon *daemon = g_new0(VlDaemon, 1);
    VlMoverConfig mover_config;
    VlConnOptions options;
    VlConnHandlers handlers = {
        .connected = on_connected,
        .disconnected = on_disconnected,
        .failed = on_connect_failed,
    };

    daemon->config = config;
    daemon->config_path = g_strdup(config_path);
    daemon->config_required = config_required;
    daemon->overrides = *overrides;
    daemon->log_func = log_func;
    daemon->log_data = log_data;
    daemon->started_real_us = g_get_real_time();
    daemon->started_mono_us = g_get_monotonic_time();

    daemon->domains = vl_domain_table_new();
    vl_domain_table_set_observer(daemon->domains, on_domain_event, daemon);
    daemon->events = vl_events_new(daemon->domains);
    daemon->incoming = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) incoming_free);
    conn_options_from_config(config, &options);
    daemon->conn = vl_conn_new(config->uri, &options, &handlers, daemon);
    daemon->containers = vl_container_manager_new(daemon->conn, log_func,
                                                  log_data);
    daemon->estimator = vl_estimator_new(config, daemon->conn, daemon->domains,
                                         NULL, NULL, NULL, NULL);
    /* Every outgoing migration, whoever started it (docs/lanes.md). */
    daemon->levers = vl_levers_new(NULL, NULL, daemon->conn, log_func, log_data);
    vl_levers_attach(daemon->levers,
                     vl_estimator_get_monitor(daemon->estimator));

    /* Container moves go through the lanes capability, asking this
     * daemon's own handlers from the executor's threads. */
    daemon->local = vl_ipc_local_new(on_request, daemon);
    vl_mover_config_init(&mover_config);
    mover_config.call = vl_migrate_daemon_call_local;
    mover_config.call_data = vl_ipc_local_ref(daemon->local);
    mover_config.call_data_free = (GDestroyNotify) vl_ipc_local_unref;
    mover_config.log_func = log_func;
    mover_config.log_data = log_data;
    daemon->mover = vl_mover_new(&mover_config);
    vl_executor_set_migrate_func_full(vl_container_manager_get_executor(daemon->containers),
                                      vl_mover_migrate, vl_mover_ref(daemon->mover),
                                      (GBoxedCopyFunc) vl_mover_ref,
                                      (GDestroyNotify) vl_mover_unref);
    return daemon;
}

void
vl_daemon_free(VlDaemon *daemon)
{
    if (!daemon)
        return;
    /* Reverse order of start: stop serving (removes the socket), then
     * drop the connection (which detaches the events), then the state.
     * A container move still running in an abandoned thread is aborted
     * and finds the daemon gone. */
    g_clear_pointer(&daemon->server, vl_ipc_server_free);
    vl_ipc_local_close(daemon->local);
    vl_mover_cancel(daemon->mover);
    g_clear_pointer(&daemon->containers, vl_container_manager_free);
    g_clear_pointer(&daemon->mover, vl_mover_unref);
    g_clear_pointer(&daemon->local, vl_ipc_local_unref);
    g_clear_pointer(&daemon->levers, vl_levers_free);
    g_clear_pointer(&daemon->conn, vl_conn_free);
    g_clear_pointer(&daemon->estimator, vl_estimator_free);
    g_clear_pointer(&daemon->events, vl_events_free);
    /* Lanes still up stay in the journal for the next start. */
    g_clear_pointer(&daemon->incoming, g_hash_table_unref);
    g_clear_pointer(&daemon->lanes, vl_lane_manager_free);
    g_clear_pointer(&daemon->lane_backend, vl_lane_backend_free);
    g_clear_pointer(&daemon->policy, vl_policy_free);
    g_clear_pointer(&daemon->domains, vl_domain_table_free);
    g_clear_pointer(&daemon->config, vl_config_free);
    g_free(daemon->config_path);
    g_free(daemon);
}

/*
 * The policy directory, all or nothing.  A directory that does not exist
 * means the defaults (a host without policies), anything else wrong is
 * an error.
 */
static VlPolicy *
load_policy(const char *dir, gboolean *missing, GError **error)
{
    struct stat st;

    *missing = FALSE;
    if (stat(dir, &st) < 0 && errno == ENOENT) {
        *missing = TRUE;
        return vl_policy_new();
    }
    return vl_policy_load_dir(dir, error);
}

typedef struct {
    gboolean done;
    gboolean ok;
    guint n_down;
    GError *error;
} RecoverWait;

static void
on_recovered(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    RecoverWait *w = user_data;

    w->done = TRUE;
    w->ok = vl_lane_manager_recover_finish(NULL, result, &w->n_down, &w->error);
}

void
vl_daemon_set_lane_backend(VlDaemon *daemon, VlLaneBackend *backend)
{
    g_return_if_fail(daemon->lanes == NULL);

    vl_lane_backend_free(daemon->lane_backend);
    daemon->lane_backend = backend;
}

gboolean
vl_daemon_start(VlDaemon *daemon, GError **error)
{
    const VlConfig *config = daemon->config;
    RecoverWait w = { FALSE, FALSE, 0, NULL };
    gboolean missing = FALSE;
    VlLaneBackend *backend;

    g_return_val_if_fail(daemon->server == NULL, FALSE);

    daemon->policy = load_policy(config->policy_dir, &missing, error);
    if (!daemon->policy)
        return FALSE;
    if (missing)
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "No policy directory '%s'; using the default policy", config->policy_dir);
    else
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Loaded the policy from '%s' (%u file(s))",
                   config->policy_dir, g_strv_length(daemon->policy->files));
    if (!vl_container_manager_configure(daemon->containers, config,
                                        daemon->policy, error))
        return FALSE;
    vl_estimator_set_policy(daemon->estimator, daemon->policy);
    vl_levers_set_policy(daemon->levers, daemon->policy->migration);
    vl_mover_configure(daemon->mover, daemon->policy->migration, config->home_uri,
                       config->history_file);

    /* Lanes a crash left behind come down before anything is served. */
    backend = daemon->lane_backend ? g_steal_pointer(&daemon->lane_backend) :
        vl_lane_backend_new_scripts(config->script_dir, config->lane_state_dir);
    daemon->lanes = vl_lane_manager_new(config->lane_journal, config->lane_table_base,
                                        backend, on_lanes_log, daemon);
    vl_lane_manager_recover_async(daemon->lanes, lane_timeout_ms(daemon), on_recovered, &w);
    while (!w.done)
        g_main_context_iteration(NULL, TRUE);
    if (!w.ok) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING, "Lane recovery: %s", w.error->message);
        g_clear_error(&w.error);
    } else if (w.n_down > 0) {
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE,
                   "Took down %u lane(s) a previous run left in '%s'", w.n_down,
                   config->lane_journal);
    }

    daemon->server = vl_ipc_server_new(daemon->config->socket_path,
                                       on_request, daemon, error);
    if (!daemon->server)
        return FALSE;
    vl_conn_start(daemon->conn);
    return TRUE;
}

static void
keep_restart_only(VlDaemon *daemon, const char *key, char **next,
                  const char *current)
{
    if (g_strcmp0(*next, current) == 0)
        return;
    daemon_log(daemon, G_LOG_LEVEL_WARNING,
               "Changing '%s' in '%s' needs a restart; keeping '%s'",
               key, daemon->config_path, current ? current : "(none)");
    g_free(*next);
    *next = g_strdup(current);
}

gboolean
vl_daemon_reload(VlDaemon *daemon, GError **error)
{
    g_autoptr(VlConfig) next = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    gboolean missing = FALSE;
    VlConnOptions options;

    next = vl_config_load_file(daemon->config_path, !daemon->config_required,
                               error);
    if (!next)
        return FALSE;
    vl_config_apply_overrides(next, &daemon->overrides);
    /* Both or neither: a bad policy keeps the old configuration too. */
    if (!(policy = load_policy(next->policy_dir, &missing, error)))
        return FALSE;

    keep_restart_only(daemon, "socket", &next->socket_path,
                      daemon->config->socket_path);
    keep_restart_only(daemon, "pid_file", &next->pid_file,
                      daemon->config->pid_file);
    keep_restart_only(daemon, "log_file", &next->log_file,
                      daemon->config->log_file);
    /* The lane manager keeps its journal, tables and scripts for life. */
    keep_restart_only(daemon, "journal", &next->lane_journal,
                      daemon->config->lane_journal);
    keep_restart_only(daemon, "script_dir", &next->script_dir,
                      daemon->config->script_dir);
    keep_restart_only(daemon, "state_dir", &next->lane_state_dir,
                      daemon->config->lane_state_dir);
    if (next->lane_table_base != daemon->config->lane_table_base) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING,
                   "Changing 'table_base' in '%s' needs a restart; keeping %u",
                   daemon->config_path, daemon->config->lane_table_base);
        next->lane_table_base = daemon->config->lane_table_base;
    }

    if (!vl_estimator_configure(daemon->estimator, next, error))
        return FALSE;
    /* The last step that can fail: everything after it only applies. */
    if (!vl_container_manager_configure(daemon->containers, next, policy,
                                        error))
        return FALSE;

    if (next->verbose != daemon->config->verbose)
        g_log_set_debug_enabled(next->verbose);

    conn_options_from_config(next, &options);
    vl_conn_reconfigure(daemon->conn, next->uri, &options);

    vl_config_free(daemon->config);
    daemon->config = g_steal_pointer(&next);
    vl_policy_free(daemon->policy);
    daemon->policy = g_steal_pointer(&policy);
    vl_estimator_set_policy(daemon->estimator, daemon->policy);
    vl_levers_set_policy(daemon->levers, daemon->policy->migration);
    vl_mover_configure(daemon->mover, daemon->policy->migration,
                       daemon->config->home_uri, daemon->config->history_file);
    daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Reloaded the configuration from '%s'",
               daemon->config_path);
    daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Reloaded the policy from '%s'%s",
               daemon->config->policy_dir, missing ? " (missing: the defaults)" : "");
    return TRUE;
}

static gboolean
stopped_idle(gpointer user_data)
{
    VlDaemon *daemon = user_data;

    if (daemon->stopped_func)
        daemon->stopped_func(daemon, daemon->stopped_data);
    return G_SOURCE_REMOVE;
}

static void
on_stop_released(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    VlDaemon *daemon = user_data;
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    if (!vl_lane_manager_release_all_finish(daemon->lanes, result, &n_down, &error))
        daemon_log(daemon, G_LOG_LEVEL_WARNING, "Stopping: %s", error->message);
    else if (n_down > 0)
        daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Stopping: took %u lane(s) down", n_down);
    /* An incoming migration still running goes on without our lanes. */
    g_hash_table_remove_all(daemon->incoming);
    if (vl_lane_manager_is_idle(daemon->lanes))
        stopped_idle(daemon);
    else
        /* A release queued by an incoming migration meanwhile: wait for it. */
        vl_lane_manager_release_all_async(daemon->lanes, lane_timeout_ms(daemon),
                                          on_stop_released, daemon);
}

void
vl_daemon_stop(VlDaemon *daemon, VlDaemonStoppedFunc done, gpointer user_data)
{
    if (daemon->stopping)
        return;
    daemon->stopping = TRUE;
    daemon->stopped_func = done;
    daemon->stopped_data = user_data;
    /* A container move in flight is aborted before its lanes go: its
     * guest keeps running here. */
    vl_mover_cancel(daemon->mover);
    if (!daemon->lanes) {
        g_idle_add(stopped_idle, daemon);
        return;
    }
    vl_lane_manager_release_all_async(daemon->lanes, lane_timeout_ms(daemon),
                                      on_stop_released, daemon);
}

gboolean
vl_daemon_is_stopping(VlDaemon *daemon)
{
    return daemon->stopping;
}

json_object *
vl_daemon_status(VlDaemon *daemon)
{
    json_object *reply = vl_ipc_reply_new_ok();
    json_object *info = json_object_new_object();
    g_autofree char *started = vl_timestamp_format(daemon->started_real_us);
    gint64 uptime = (g_get_monotonic_time() - daemon->started_mono_us) /
        G_USEC_PER_SEC;

    json_object_object_add(info, "version", json_object_new_string(PACKAGE_VERSION));
    json_object_object_add(info, "pid", json_object_new_int64(getpid()));
    json_object_object_add(info, "started", json_object_new_string(started));
    json_object_object_add(info, "uptime_s", json_object_new_int64(uptime));
    json_object_object_add(info, "socket",
                           json_object_new_string(daemon->config->socket_path));
    json_object_object_add(info, "config",
                           json_object_new_string(daemon->config_path));

    json_object_object_add(reply, "daemon", info);
    json_object_object_add(reply, "connection", vl_conn_to_json(daemon->conn));
    json_object_object_add(reply, "domains",
                           vl_domain_table_to_json(daemon->domains));
    vl_estimator_add_status(daemon->estimator,
                            json_object_object_get(reply, "domains"));
    vl_levers_add_status(daemon->levers,
                         json_object_object_get(reply, "domains"));
    return reply;
}

const VlConfig *
vl_daemon_get_config(VlDaemon *daemon)
{
    return daemon->config;
}

VlConn *
vl_daemon_get_conn(VlDaemon *daemon)
{
    return daemon->conn;
}

VlDomainTable *
vl_daemon_get_domains(VlDaemon *daemon)
{
    return daemon->domains;
}

const VlPolicy *
vl_daemon_get_policy(VlDaemon *daemon)
{
    return daemon->policy;
}

VlLaneManager *
vl_daemon_get_lanes(VlDaemon *daemon)
{
    return daemon->lanes;
}

VlMover *
vl_daemon_get_mover(VlDaemon *daemon)
{
    return daemon->mover;
}
