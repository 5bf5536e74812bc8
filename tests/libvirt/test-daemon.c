/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlDaemon in process: the status reply's shape, the request table over
 * the real socket (a client thread, because vl_ipc_call() blocks while
 * the server needs this thread's main loop) and the config reload.
 */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "daemon.h"
#include "ipc.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-error.h"

typedef struct {
    char *dir;
    char *socket_path;
    char *config_path;
    VlDaemon *daemon;
    GPtrArray *log;             /* "LEVEL message" strings */
} Fixture;

static void
collect_log(GLogLevelFlags level, const char *message, gpointer user_data)
{
    Fixture *fx = user_data;

    g_ptr_array_add(fx->log, g_strdup_printf("%s %s",
                                             level == G_LOG_LEVEL_WARNING ? "warning" :
                                             level == G_LOG_LEVEL_MESSAGE ? "message" :
                                             "debug", message));
}

static gboolean
daemon_connected(gpointer data)
{
    Fixture *fx = data;

    return vl_conn_is_connected(vl_daemon_get_conn(fx->daemon));
}

static Fixture *
fixture_new(const char *config_text)
{
    Fixture *fx = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    VlConfigOverrides overrides = { NULL };

    vl_virt_test_init();
    fx->dir = g_dir_make_tmp("vl-daemon-XXXXXX", NULL);
    fx->socket_path = g_build_filename(fx->dir, "sock", NULL);
    fx->config_path = g_build_filename(fx->dir, "virt-lanesd.conf", NULL);
    fx->log = g_ptr_array_new_with_free_func(g_free);
    ck_assert(g_file_set_contents(fx->config_path, config_text, -1, NULL));

    config = vl_config_load_file(fx->config_path, FALSE, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    /* As if given on the command line. */
    overrides.socket_path = fx->socket_path;
    vl_config_apply_overrides(config, &overrides);

    fx->daemon = vl_daemon_new(g_steal_pointer(&config), fx->config_path, TRUE,
                               &overrides, collect_log, fx);
    ck_assert_msg(vl_daemon_start(fx->daemon, &error), "%s",
                  error ? error->message : "");
    ck_assert(vl_virt_test_wait(daemon_connected, fx));
    return fx;
}

static void
fixture_free(Fixture *fx)
{
    g_clear_pointer(&fx->daemon, vl_daemon_free);
    /* Stopping removed the socket. */
    ck_assert(!g_file_test(fx->socket_path, G_FILE_TEST_EXISTS));
    vl_virt_test_rmdir(fx->dir);
    g_ptr_array_unref(fx->log);
    g_free(fx->dir);
    g_free(fx->socket_path);
    g_free(fx->config_path);
    g_free(fx);
}

static gboolean
log_contains(Fixture *fx, const char *text)
{
    guint i;

    for (i = 0; i < fx->log->len; i++) {
        if (strstr(fx->log->pdata[i], text))
            return TRUE;
    }
    return FALSE;
}

/* ---- a client on another thread ------------------------------------- */

typedef struct {
    char *socket_path;
    json_object *request;
    json_object *reply;
    GError *error;
    gint done;
} Call;

static gpointer
call_thread(gpointer data)
{
    Call *call = data;

    call->reply = vl_ipc_call(call->socket_path, call->request, 5000,
                              &call->error);
    g_atomic_int_set(&call->done, 1);
    /* Wake the main context so the waiting loop sees it. */
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
call_done(gpointer data)
{
    Call *call = data;

    return g_atomic_int_get(&call->done);
}

/* Sends @request (transfer full) and returns the reply. */
static json_object *
call(Fixture *fx, json_object *request)
{
    Call c = { fx->socket_path, request, NULL, NULL, 0 };
    GThread *thread = g_thread_new("client", call_thread, &c);
    json_object *reply;

    ck_assert(vl_virt_test_wait(call_done, &c));
    g_thread_join(thread);
    json_object_put(request);
    ck_assert_msg(c.reply != NULL, "%s", c.error ? c.error->message : "");
    reply = c.reply;
    return reply;
}

static gboolean
reply_ok(json_object *reply)
{
    json_object *ok = NULL;

    return json_object_object_get_ex(reply, "ok", &ok) &&
        json_object_is_type(ok, json_type_boolean) &&
        json_object_get_boolean(ok);
}

static const char *
reply_string(json_object *obj, const char *key)
{
    json_object *field = NULL;

    if (!json_object_object_get_ex(obj, key, &field) ||
        !json_object_is_type(field, json_type_string))
        return NULL;
    return json_object_get_string(field);
}

static const char good_config[] =
    "[daemon]\n"
    "uri = test:///default\n"
    "[libvirt]\n"
    "reconnect_min = 1\n";

/* ---- tests -------------------------------------------------------- */

/* Asserts @key of @obj exists and has @type (json_type_null: null). */
static json_object *
field_of(json_object *obj, const char *key, json_type type)
{
    json_object *field = NULL;

    ck_assert_msg(json_object_object_get_ex(obj, key, &field),
                  "missing '%s'", key);
    ck_assert_msg(json_object_is_type(field, type), "'%s' has type %s", key,
                  json_type_to_name(json_object_get_type(field)));
    return field;
}

START_TEST(test_status_shape)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(json_object) status = NULL;
    json_object *daemon;
    json_object *conn;
    json_object *domains;
    json_object *dom = NULL;
    json_object *events;
    json_object *ev;
    size_t i;

    vl_domain_table_record(vl_daemon_get_domains(fx->daemon), "test", NULL,
                           VL_EVENT_SOURCE_HOOK, "prepare begin");
    status = vl_daemon_status(fx->daemon);

    ck_assert_int_eq(json_object_get_int(field_of(status, "version", json_type_int)),
                     VL_IPC_PROTOCOL_VERSION);
    ck_assert_str_eq(json_object_get_string(field_of(status, "type", json_type_string)),
                     "reply");
    ck_assert(json_object_get_boolean(field_of(status, "ok", json_type_boolean)));

    daemon = field_of(status, "daemon", json_type_object);
    ck_assert_uint_eq(json_object_object_length(daemon), 6);
    ck_assert_str_eq(json_object_get_string(field_of(daemon, "version", json_type_string)),
                     PACKAGE_VERSION);
    ck_assert_int_eq(json_object_get_int64(field_of(daemon, "pid", json_type_int)),
                     getpid());
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(field_of(daemon, "started",
                                                                        json_type_string))));
    ck_assert_int_ge(json_object_get_int64(field_of(daemon, "uptime_s", json_type_int)), 0);
    ck_assert_str_eq(json_object_get_string(field_of(daemon, "socket", json_type_string)),
                     fx->socket_path);
    ck_assert_str_eq(json_object_get_string(field_of(daemon, "config", json_type_string)),
                     fx->config_path);

    conn = field_of(status, "connection", json_type_object);
    ck_assert_uint_eq(json_object_object_length(conn), 5);
    ck_assert_str_eq(json_object_get_string(field_of(conn, "uri", json_type_string)),
                     "test:///default");
    ck_assert(json_object_get_boolean(field_of(conn, "connected", json_type_boolean)));
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(field_of(conn, "since",
                                                                        json_type_string))));
    ck_assert_int_eq(json_object_get_int(field_of(conn, "reconnects", json_type_int)), 0);
    field_of(conn, "last_error", json_type_null);

    domains = field_of(status, "domains", json_type_array);
    for (i = 0; i < json_object_array_length(domains); i++) {
        json_object *d = json_object_array_get_idx(domains, i);

        /* name, uuid, state, events, migration */
        ck_assert_uint_eq(json_object_object_length(d), 5);
        if (g_str_equal(json_object_get_string(field_of(d, "name", json_type_string)),
                        "test"))
            dom = d;
    }
    ck_assert_ptr_nonnull(dom);
    ck_assert_str_eq(json_object_get_string(field_of(dom, "uuid", json_type_string)),
                     "6695eb01-f6a4-8304-79aa-97f2502e193f");
    ck_assert_str_eq(json_object_get_string(field_of(dom, "state", json_type_string)),
                     "running");
    /* No migration seen: null, not a missing key. */
    field_of(dom, "migration", json_type_null);
    events = field_of(dom, "events", json_type_array);
    ck_assert_uint_eq(json_object_array_length(events), 1);
    ev = json_object_array_get_idx(events, 0);
    ck_assert_uint_eq(json_object_object_length(ev), 3);
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(field_of(ev, "time",
                                                                        json_type_string))));
    ck_assert_str_eq(json_object_get_string(field_of(ev, "source", json_type_string)),
                     "hook");
    ck_assert_str_eq(json_object_get_string(field_of(ev, "event", json_type_string)),
                     "prepare begin");

    ck_assert(log_contains(fx, "message Connected to 'test:///default'"));
    fixture_free(fx);
}
END_TEST

static json_object *
hook_request(const char *domain, const char *op, const char *subop,
             const char *xml)
{
    g_autoptr(VlHookEvent) event = vl_hook_event_new();

    event->domain = g_strdup(domain);
    event->op = g_strdup(op);
    event->subop = g_strdup(subop);
    event->extra = g_strdup("-");
    event->xml = g_strdup(xml);
    event->xml_size = xml ? strlen(xml) : 0;
    return vl_hook_event_to_json(event);
}

START_TEST(test_hook_request_recorded)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(json_object) reply = NULL;
    VlDomainInfo *info;
    const char *xml =
        "<domain type='kvm'><name>web 1</name>"
        "<uuid>0a1b2c3d-0000-4000-8000-123456789abc</uuid></domain>";

    reply = call(fx, hook_request("web 1", "prepare", "begin", xml));
    ck_assert(reply_ok(reply));
    ck_assert_str_eq(reply_string(reply, "verdict"), "continue");
    g_clear_pointer(&reply, json_object_put);

    reply = call(fx, hook_request("web 1", "stopped", "end", NULL));
    ck_assert(reply_ok(reply));

    info = vl_domain_table_lookup(vl_daemon_get_domains(fx->daemon), "web 1");
    ck_assert_ptr_nonnull(info);
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), 2);
    ck_assert_str_eq(vl_domain_info_get_event(info, 0)->event, "prepare begin");
    ck_assert_int_eq(vl_domain_info_get_event(info, 0)->source, VL_EVENT_SOURCE_HOOK);
    ck_assert_str_eq(vl_domain_info_get_event(info, 1)->event, "stopped end");
    /* The UUID came from the forwarded XML. */
    ck_assert_str_eq(vl_domain_info_get_uuid(info),
                     "0a1b2c3d-0000-4000-8000-123456789abc");
    fixture_free(fx);
}
END_TEST

START_TEST(test_hook_xml_junk_is_harmless)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(json_object) reply = NULL;
    VlDomainInfo *info;

    /* Not XML, and XML with a bogus uuid: the event counts, no uuid. */
    reply = call(fx, hook_request("a", "prepare", "begin", "<domain><uuid>"));
    ck_assert(reply_ok(reply));
    g_clear_pointer(&reply, json_object_put);
    reply = call(fx, hook_request("a", "start", "begin",
                                  "<domain><uuid>'; rm -rf /</uuid></domain>"));
    ck_assert(reply_ok(reply));

    info = vl_domain_table_lookup(vl_daemon_get_domains(fx->daemon), "a");
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), 2);
    ck_assert_ptr_null(vl_domain_info_get_uuid(info));
    fixture_free(fx);
}
END_TEST

START_TEST(test_bad_requests_change_nothing)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(json_object) reply = NULL;
    json_object *request;
    guint before = vl_domain_table_size(vl_daemon_get_domains(fx->daemon));

    reply = call(fx, vl_ipc_message_new("bogus"));
    ck_assert(!reply_ok(reply));
    ck_assert_str_eq(reply_string(reply, "error"), "Unknown request type 'bogus'");
    g_clear_pointer(&reply, json_object_put);

    /* A hook request with an op libvirt never sends. */
    reply = call(fx, hook_request("x", "explode", "begin", NULL));
    ck_assert(!reply_ok(reply));
    ck_assert_ptr_nonnull(reply_string(reply, "error"));
    g_clear_pointer(&reply, json_object_put);

    /* A hook request without its fields. */
    request = vl_ipc_message_new("hook");
    reply = call(fx, request);
    ck_assert(!reply_ok(reply));

    ck_assert_uint_eq(vl_domain_table_size(vl_daemon_get_domains(fx->daemon)), before);
    ck_assert_ptr_null(vl_domain_table_lookup(vl_daemon_get_domains(fx->daemon), "x"));
    fixture_free(fx);
}
END_TEST

static json_object *
migration_plan(const char *domain, json_object *links, json_object *channels,
               json_object *predicted)
{
    json_object *request = vl_ipc_message_new("migration-plan");

    if (domain)
        json_object_object_add(request, "domain", json_object_new_string(domain));
    if (links)
        json_object_object_add(request, "links", links);
    if (channels)
        json_object_object_add(request, "channels", channels);
    if (predicted)
        json_object_object_add(request, "predicted_s", predicted);
    return request;
}

/* A driver's announcement is taken when it is sound and refused, with the
 * reason, when a field is missing, of the wrong type or out of range. */
START_TEST(test_migration_plan_checked)
{
    Fixture *fx = fixture_new(good_config);
    static const char *const refusals[] = {
        "'migration-plan' needs the string 'domain' and the integers 'links' and 'channels'",
        "'migration-plan' needs the string 'domain' and the integers 'links' and 'channels'",
        "'migration-plan' needs 1 to 65 links and 0 to 255 channels",
        "'migration-plan' needs 1 to 65 links and 0 to 255 channels",
        "'predicted_s' in 'migration-plan' must be a number",
        "'predicted_s' in 'migration-plan' must be 0 to 1e9 seconds",
        "Unknown field 'extra' in 'migration-plan'",
    };
    json_object *bad[G_N_ELEMENTS(refusals)];
    guint i;

    bad[0] = migration_plan(NULL, json_object_new_int(1), json_object_new_int(2), NULL);
    bad[1] = migration_plan("web \"1\"; x", json_object_new_string("3"),
                            json_object_new_int(2), NULL);
    bad[2] = migration_plan("web", json_object_new_int(0), json_object_new_int(2), NULL);
    bad[3] = migration_plan("web", json_object_new_int(3), json_object_new_int(256), NULL);
    bad[4] = migration_plan("web", json_object_new_int(3), json_object_new_int(6),
                            json_object_new_string("fast"));
    bad[5] = migration_plan("web", json_object_new_int(3), json_object_new_int(6),
                            json_object_new_double(-1));
    bad[6] = migration_plan("web", json_object_new_int(3), json_object_new_int(6), NULL);
    json_object_object_add(bad[6], "extra", json_object_new_int(1));
    for (i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autoptr(json_object) reply = call(fx, bad[i]);

        ck_assert_msg(!reply_ok(reply), "request %u was taken", i);
        ck_assert_str_eq(reply_string(reply, "error"), refusals[i]);
    }
    {
        g_autoptr(json_object) reply =
            call(fx, migration_plan("web \"1\"; x", json_object_new_int(3),
                                    json_object_new_int(6),
                                    json_object_new_double(17.5)));

        ck_assert(reply_ok(reply));
    }
    fixture_free(fx);
}
END_TEST

START_TEST(test_ping_and_status_over_ipc)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(json_object) reply = NULL;
    json_object *daemon = NULL;
    json_object *conn = NULL;

    reply = call(fx, vl_ipc_message_new("ping"));
    ck_assert(reply_ok(reply));
    ck_assert(json_object_object_get_ex(reply, "daemon", &daemon));
    ck_assert_str_eq(reply_string(daemon, "version"), PACKAGE_VERSION);
    g_clear_pointer(&reply, json_object_put);

    reply = call(fx, vl_ipc_message_new("status"));
    ck_assert(reply_ok(reply));
    ck_assert(json_object_object_get_ex(reply, "connection", &conn));
    ck_assert(json_object_get_boolean(json_object_object_get(conn, "connected")));
    fixture_free(fx);
}
END_TEST

START_TEST(test_reload_bad_keeps_old)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = NULL;

    ck_assert(g_file_set_contents(fx->config_path,
                                  "[daemon]\nuri = test:///default\n"
                                  "[libvirt]\nreconnect_max = 0\n", -1, NULL));
    ck_assert(!vl_daemon_reload(fx->daemon, &error));
    expected = g_strdup_printf("%s:4: Value '0' of key 'reconnect_max' in group "
                               "'libvirt' must be an integer from 1 to 3600",
                               fx->config_path);
    ck_assert_str_eq(error->message, expected);
    /* Nothing changed. */
    ck_assert_uint_eq(vl_daemon_get_config(fx->daemon)->reconnect_max_s, 30);
    ck_assert(vl_conn_is_connected(vl_daemon_get_conn(fx->daemon)));
    g_clear_error(&error);

    /* A deleted file is an error too when it was named explicitly. */
    ck_assert_int_eq(g_unlink(fx->config_path), 0);
    ck_assert(!vl_daemon_reload(fx->daemon, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_str_eq(vl_daemon_get_config(fx->daemon)->uri, "test:///default");
    fixture_free(fx);
}
END_TEST

START_TEST(test_reload_good_applies)
{
    Fixture *fx = fixture_new(good_config);
    g_autoptr(GError) error = NULL;
    g_autofree char *node = vl_virt_test_write_node(fx->dir);
    g_autofree char *text = NULL;
    const VlConfig *config;

    text = g_strdup_printf("[daemon]\nuri = %s\nsocket = /elsewhere/sock\n"
                           "[libvirt]\nreconnect_max = 60\n", node);
    ck_assert(g_file_set_contents(fx->config_path, text, -1, NULL));
    ck_assert_msg(vl_daemon_reload(fx->daemon, &error), "%s",
                  error ? error->message : "");

    config = vl_daemon_get_config(fx->daemon);
    ck_assert_str_eq(config->uri, node);
    ck_assert_uint_eq(config->reconnect_max_s, 60);
    /* The command line's socket wins over the file's. */
    ck_assert_str_eq(config->socket_path, fx->socket_path);
    ck_assert(log_contains(fx, "message Reloaded the configuration"));

    ck_assert(vl_virt_test_wait(daemon_connected, fx));
    ck_assert_str_eq(vl_conn_get_uri(vl_daemon_get_conn(fx->daemon)), node);
    ck_assert_ptr_nonnull(vl_domain_table_lookup(vl_daemon_get_domains(fx->daemon),
                                                 "vl-node-1"));
    fixture_free(fx);
}
END_TEST

START_TEST(test_reload_restart_only_keys)
{
    Fixture *fx = fixture_new("[daemon]\nuri = test:///default\n"
                              "log_file = /tmp/vl-test-a.log\n");
    g_autoptr(GError) error = NULL;

    ck_assert(g_file_set_contents(fx->config_path,
                                  "[daemon]\nuri = test:///default\n"
                                  "log_file = /tmp/vl-test-b.log\n", -1, NULL));
    ck_assert(vl_daemon_reload(fx->daemon, &error));
    /* Still the old log file, and the admin is told why. */
    ck_assert_str_eq(vl_daemon_get_config(fx->daemon)->log_file, "/tmp/vl-test-a.log");
    ck_assert(log_contains(fx, "warning Changing 'log_file'"));
    fixture_free(fx);
}
END_TEST

static Suite *
daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc;

    tc = tcase_create("status");
    tcase_add_test(tc, test_status_shape);
    tcase_add_test(tc, test_ping_and_status_over_ipc);
    tcase_add_test(tc, test_migration_plan_checked);
    suite_add_tcase(s, tc);

    tc = tcase_create("requests");
    tcase_add_test(tc, test_hook_request_recorded);
    tcase_add_test(tc, test_hook_xml_junk_is_harmless);
    tcase_add_test(tc, test_bad_requests_change_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("reload");
    tcase_add_test(tc, test_reload_bad_keeps_old);
    tcase_add_test(tc, test_reload_good_applies);
    tcase_add_test(tc, test_reload_restart_only_keys);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    vl_virt_test_init();
    return vl_test_run_suite(daemon_suite());
}
