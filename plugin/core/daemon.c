/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "daemon.h"
#include "estimator.h"
#include "events.h"
#include "ipc.h"
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
    VlEstimator *estimator;
};

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
}

static void
on_disconnected(VlConn *conn, virConnectPtr vconn G_GNUC_UNUSED,
                const char *reason, gboolean lost, gpointer user_data)
{
    VlDaemon *daemon = user_data;

    vl_estimator_detach(daemon->estimator);
    vl_events_detach(daemon->events);
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

    /*
     * For now every hook call may continue at once.  The request stays
     * ours until replied to, so "migrate begin" can later reply only
     * once lanes are up.
     */
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
handle_estimate(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    vl_estimator_handle_estimate(daemon->estimator, request, msg);
}

static void
handle_measure(VlDaemon *daemon, VlIpcRequest *request, json_object *msg)
{
    vl_estimator_handle_measure(daemon->estimator, request, msg);
}

/* Adding a request type is one line here. */
static const struct {
    const char *type;
    RequestHandler handler;
} request_handlers[] = {
    { "estimate", handle_estimate },
    { "hook", handle_hook },
    { "measure", handle_measure },
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

/* All or nothing, like the configuration: a bad policy keeps the old one
 * (or the defaults). */
static void
load_policy(VlDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    VlPolicy *policy = vl_policy_load_dir(daemon->config->policy_dir, &error);

    if (!policy) {
        daemon_log(daemon, G_LOG_LEVEL_WARNING, "Keeping the %s policy: %s",
                   daemon->policy ? "old" : "default", error->message);
        if (!daemon->policy)
            daemon->policy = vl_policy_new();
    } else {
        g_clear_pointer(&daemon->policy, vl_policy_free);
        daemon->policy = policy;
    }
    vl_estimator_set_policy(daemon->estimator, daemon->policy);
}

VlDaemon *
vl_daemon_new(VlConfig *config,
              const char *config_path,
              gboolean config_required,
              const VlConfigOverrides *overrides,
              VlDaemonLogFunc log_func,
              gpointer log_data)
{
    VlDaemon *daemon = g_new0(VlDaemon, 1);
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
    daemon->events = vl_events_new(daemon->domains);
    conn_options_from_config(config, &options);
    daemon->conn = vl_conn_new(config->uri, &options, &handlers, daemon);
    daemon->estimator = vl_estimator_new(config, daemon->conn, daemon->domains,
                                         NULL, NULL, NULL, NULL);
    load_policy(daemon);
    return daemon;
}

void
vl_daemon_free(VlDaemon *daemon)
{
    if (!daemon)
        return;
    /* Reverse order of start: stop serving (removes the socket), then
     * drop the connection (which detaches the events), then the state. */
    g_clear_pointer(&daemon->server, vl_ipc_server_free);
    g_clear_pointer(&daemon->conn, vl_conn_free);
    g_clear_pointer(&daemon->estimator, vl_estimator_free);
    g_clear_pointer(&daemon->events, vl_events_free);
    g_clear_pointer(&daemon->domains, vl_domain_table_free);
    g_clear_pointer(&daemon->policy, vl_policy_free);
    g_clear_pointer(&daemon->config, vl_config_free);
    g_free(daemon->config_path);
    g_free(daemon);
}

gboolean
vl_daemon_start(VlDaemon *daemon, GError **error)
{
    g_return_val_if_fail(daemon->server == NULL, FALSE);

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
    VlConnOptions options;

    next = vl_config_load_file(daemon->config_path, !daemon->config_required,
                               error);
    if (!next)
        return FALSE;
    vl_config_apply_overrides(next, &daemon->overrides);

    keep_restart_only(daemon, "socket", &next->socket_path,
                      daemon->config->socket_path);
    keep_restart_only(daemon, "pid_file", &next->pid_file,
                      daemon->config->pid_file);
    keep_restart_only(daemon, "log_file", &next->log_file,
                      daemon->config->log_file);

    if (next->verbose != daemon->config->verbose)
        g_log_set_debug_enabled(next->verbose);

    conn_options_from_config(next, &options);
    vl_conn_reconfigure(daemon->conn, next->uri, &options);

    if (!vl_estimator_configure(daemon->estimator, next, error))
        return FALSE;
    vl_config_free(daemon->config);
    daemon->config = g_steal_pointer(&next);
    load_policy(daemon);
    daemon_log(daemon, G_LOG_LEVEL_MESSAGE, "Reloaded the configuration from '%s'",
               daemon->config_path);
    return TRUE;
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
