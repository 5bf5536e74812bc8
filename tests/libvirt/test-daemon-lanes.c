/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's lane requests and the destination path, in process,
 * against test:///default and a fake lane back end: lanes-up, lanes-down
 * and lanes over the real socket; a hook "migrate begin" whose XML holds
 * a plan is answered only once this host's lanes are up (or after
 * VL_LANES_HOOK_REPLY_MS), and the lanes come down when the incoming
 * migration ends; recovery at start; stop; policy reload.
 */
#include <config.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "daemon.h"
#include "hook-run.h"
#include "ipc.h"
#include "metadata.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

/* The daemon answers a held "migrate begin" while the hook still waits,
 * with room for the hook's connect and send. */
G_STATIC_ASSERT(VL_LANES_HOOK_REPLY_MS + 500 <= VL_HOOK_TIMEOUT_MS);

/* ---- a fake back end: records calls, answers after a delay ------------ */

typedef struct {
    GPtrArray *calls;
    guint up_delay_ms;
    GHashTable *fail_up;        /* interface names */
} Fake;

typedef struct {
    VlLaneBackendDone done;
    gpointer user_data;
    GError *error;
} FakeCall;

static gboolean
fake_answer(gpointer data)
{
    FakeCall *call = data;

    call->done(call->error, call->user_data);
    g_free(call);
    return G_SOURCE_REMOVE;
}

static void
fake_later(guint delay_ms, GError *error, VlLaneBackendDone done, gpointer user_data)
{
    FakeCall *call = g_new0(FakeCall, 1);

    call->done = done;
    call->user_data = user_data;
    call->error = error;
    g_timeout_add(delay_ms, fake_answer, call);
}

static void
fake_up(gpointer data, const VlLaneSpec *lane, guint timeout_ms,
        VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;
    GError *error = NULL;

    g_ptr_array_add(f->calls, g_strdup_printf("up %s", lane->interface));
    if (g_hash_table_contains(f->fail_up, lane->interface))
        error = g_error_new(VL_ERROR, VL_ERROR_SCRIPT,
                            "Script 'lane-up' for '%s' failed with exit code 1: no carrier",
                            lane->interface);
    fake_later(MIN(f->up_delay_ms, timeout_ms), error, done, user_data);
}

static void
fake_down(gpointer data, const VlLaneSpec *lane, guint timeout_ms G_GNUC_UNUSED,
          VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;

    g_ptr_array_add(f->calls, g_strdup_printf("down %s", lane->interface));
    fake_later(1, NULL, done, user_data);
}

static void
fake_steer(gpointer data, const char *peer, guint base_mark G_GNUC_UNUSED,
           const VlLaneSpec *const *lanes, guint n_lanes, guint timeout_ms G_GNUC_UNUSED,
           VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;

    g_ptr_array_add(f->calls, g_strdup_printf("steer %s %u", peer, n_lanes));
    (void) lanes;
    fake_later(1, NULL, done, user_data);
}

static const VlLaneBackendOps fake_ops = {
    .up = fake_up,
    .down = fake_down,
    .steer = fake_steer,
    .free = NULL,
};

/* ---- the fixture -------------------------------------------------------- */

typedef struct {
    char *dir;
    char *policy_dir;
    char *socket_path;
    char *config_path;
    char *journal;
    VlDaemon *daemon;
    Fake fake;
    GPtrArray *log;
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
log_contains(Fixture *fx, const char *text)
{
    guint i;

    for (i = 0; i < fx->log->len; i++) {
        if (strstr(fx->log->pdata[i], text))
            return TRUE;
    }
    return FALSE;
}

/* This host is b (198.19.0.2); its peer a sends migrations over lanes 1, 2. */
static char *
policy_text(gboolean incoming, double lane_up_max_s)
{
    return g_strdup_printf(
        "{\"migration\": {\"lane_up_max_s\": %g, \"incoming_lanes\": %s, \"max_lanes\": 2,\n"
        " \"migration_address\": \"198.19.0.2\",\n"
        " \"peers\": [{\"name\": \"host-a\", \"uri\": \"qemu+tcp://198.18.0.11/system\",\n"
        "   \"migration_address\": \"198.19.0.1\", \"lanes\": [\n"
        "   {\"interface\": \"lane1\", \"address\": \"198.18.11.2/24\", \"peer_address\": \"198.18.11.1\", \"bandwidth_mbit\": 200},\n"
        "   {\"interface\": \"lane2\", \"address\": \"198.18.12.2/24\", \"peer_address\": \"198.18.12.1\", \"bandwidth_mbit\": 200}]}]}}\n",
        lane_up_max_s, incoming ? "true" : "false");
}

static void
write_policy(Fixture *fx, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(fx->policy_dir, name, NULL);

    ck_assert(g_file_set_contents(path, text, -1, NULL));
    ck_assert_int_eq(chmod(path, 0644), 0);
}

static Fixture *
fixture_new_with(gboolean incoming, double lane_up_max_s, const char *journal_text)
{
    Fixture *fx = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autofree char *config_text = NULL;
    g_autofree char *policy = policy_text(incoming, lane_up_max_s);
    VlConfigOverrides overrides = { NULL };

    vl_virt_test_init();
    fx->dir = g_dir_make_tmp("vl-dlanes-XXXXXX", NULL);
    fx->policy_dir = g_build_filename(fx->dir, "policies.d", NULL);
    fx->socket_path = g_build_filename(fx->dir, "sock", NULL);
    fx->config_path = g_build_filename(fx->dir, "virt-lanesd.conf", NULL);
    fx->journal = g_build_filename(fx->dir, "lanes.json", NULL);
    fx->log = g_ptr_array_new_with_free_func(g_free);
    fx->fake.calls = g_ptr_array_new_with_free_func(g_free);
    fx->fake.fail_up = g_hash_table_new(g_str_hash, g_str_equal);
    fx->fake.up_delay_ms = 1;
    ck_assert_int_eq(g_mkdir(fx->policy_dir, 0755), 0);
    write_policy(fx, "10-lanes.json", policy);
    if (journal_text)
        ck_assert(g_file_set_contents(fx->journal, journal_text, -1, NULL));

    config_text = g_strdup_printf("[daemon]\nuri = test:///default\npolicy_dir = %s\n"
                                  "[lanes]\njournal = %s\n", fx->policy_dir, fx->journal);
    ck_assert(g_file_set_contents(fx->config_path, config_text, -1, NULL));
    config = vl_config_load_file(fx->config_path, FALSE, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    overrides.socket_path = fx->socket_path;
    vl_config_apply_overrides(config, &overrides);

    fx->daemon = vl_daemon_new(g_steal_pointer(&config), fx->config_path, TRUE,
                               &overrides, collect_log, fx);
    vl_daemon_set_lane_backend(fx->daemon, vl_lane_backend_new(&fake_ops, &fx->fake));
    ck_assert_msg(vl_daemon_start(fx->daemon, &error), "%s", error ? error->message : "");
    return fx;
}

static Fixture *
fixture_new(void)
{
    return fixture_new_with(TRUE, 5, NULL);
}

static gboolean
lanes_idle(gpointer data)
{
    Fixture *fx = data;

    return vl_lane_manager_is_idle(vl_daemon_get_lanes(fx->daemon));
}

static void
fixture_free(Fixture *fx)
{
    ck_assert(vl_virt_test_wait(lanes_idle, fx));
    g_clear_pointer(&fx->daemon, vl_daemon_free);
    g_remove(fx->journal);
    {
        g_autofree char *tmp = g_strconcat(fx->journal, ".tmp", NULL);

        g_remove(tmp);
    }
    vl_virt_test_rmdir(fx->policy_dir);
    vl_virt_test_rmdir(fx->dir);
    g_ptr_array_unref(fx->log);
    g_ptr_array_unref(fx->fake.calls);
    g_hash_table_unref(fx->fake.fail_up);
    g_free(fx->dir);
    g_free(fx->policy_dir);
    g_free(fx->socket_path);
    g_free(fx->config_path);
    g_free(fx->journal);
    g_free(fx);
}

/* The calls so far, '|'-joined, then forgotten. */
static char *
take_calls(Fixture *fx)
{
    GString *s = g_string_new(NULL);
    guint i;

    for (i = 0; i < fx->fake.calls->len; i++)
        g_string_append_printf(s, "%s%s", i ? "|" : "", (char *) fx->fake.calls->pdata[i]);
    g_ptr_array_set_size(fx->fake.calls, 0);
    return g_string_free(s, FALSE);
}

/* ---- a client thread (vl_ipc_call blocks; the server needs this loop) -- */

typedef struct {
    char *socket_path;
    json_object *request;
    json_object *reply;
    GError *error;
    gint done;
    gint64 took_us;
} Call;

static gpointer
call_thread(gpointer data)
{
    Call *call = data;
    gint64 t0 = g_get_monotonic_time();

    call->reply = vl_ipc_call(call->socket_path, call->request, 9000, &call->error);
    call->took_us = g_get_monotonic_time() - t0;
    g_atomic_int_set(&call->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
call_done(gpointer data)
{
    return g_atomic_int_get(&((Call *) data)->done);
}

/* Sends @request (transfer full); the reply; *@took_us how long it took. */
static json_object *
call_timed(Fixture *fx, json_object *request, gint64 *took_us)
{
    Call c = { fx->socket_path, request, NULL, NULL, 0, 0 };
    GThread *thread = g_thread_new("client", call_thread, &c);

    ck_assert(vl_virt_test_wait(call_done, &c));
    g_thread_join(thread);
    json_object_put(request);
    ck_assert_msg(c.reply != NULL, "%s", c.error ? c.error->message : "");
    if (took_us)
        *took_us = c.took_us;
    return c.reply;
}

static json_object *
call(Fixture *fx, json_object *request)
{
    return call_timed(fx, request, NULL);
}

static gboolean
reply_ok(json_object *reply)
{
    json_object *ok = NULL;

    return json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok);
}

static const char *
reply_error(json_object *reply)
{
    json_object *e = NULL;

    return json_object_object_get_ex(reply, "error", &e) ? json_object_get_string(e) : "";
}

static json_object *
lanes_up_request(const char *plan, const char *peer, int count)
{
    json_object *req = vl_ipc_message_new("lanes-up");

    json_object_object_add(req, "plan_id", json_object_new_string(plan));
    json_object_object_add(req, "peer", json_object_new_string(peer));
    json_object_object_add(req, "count", json_object_new_int(count));
    return req;
}

/* How many lanes the daemon lists. */
static gsize
n_listed(Fixture *fx)
{
    g_autoptr(json_object) reply = call(fx, vl_ipc_message_new("lanes"));
    json_object *lanes = NULL;

    ck_assert(reply_ok(reply));
    ck_assert(json_object_object_get_ex(reply, "lanes", &lanes));
    return json_object_array_length(lanes);
}

/* ---- lanes-up, lanes-down, lanes ---------------------------------------- */

START_TEST(test_lanes_up_down_list)
{
    Fixture *fx = fixture_new();
    g_autoptr(json_object) up = NULL;
    g_autoptr(json_object) list = NULL;
    g_autoptr(json_object) down = NULL;
    g_autofree char *calls = NULL;
    json_object *report = NULL;
    json_object *lanes = NULL;
    json_object *lane0;

    up = call(fx, lanes_up_request("web-1.1", "host-a", 2));
    ck_assert_msg(reply_ok(up), "%s", reply_error(up));
    ck_assert(json_object_object_get_ex(up, "report", &report));
    ck_assert_str_eq(json_object_to_json_string(json_object_object_get(report, "up")),
                     "[ \"lane1\", \"lane2\" ]");
    calls = take_calls(fx);
    ck_assert_str_eq(calls, "up lane1|up lane2|steer 198.19.0.1 2");

    list = call(fx, vl_ipc_message_new("lanes"));
    ck_assert(reply_ok(list));
    ck_assert_str_eq(json_object_get_string(json_object_object_get(list, "journal")),
                     fx->journal);
    ck_assert(json_object_object_get_ex(list, "lanes", &lanes));
    ck_assert_uint_eq(json_object_array_length(lanes), 2);
    lane0 = json_object_array_get_idx(lanes, 0);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(lane0, "state")), "up");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(lane0, "peer")), "host-a");
    ck_assert_str_eq(json_object_to_json_string(json_object_object_get(lane0, "plans")),
                     "[ \"web-1.1\" ]");

    {
        json_object *req = vl_ipc_message_new("lanes-down");

        json_object_object_add(req, "plan_id", json_object_new_string("web-1.1"));
        down = call(fx, req);
    }
    ck_assert_msg(reply_ok(down), "%s", reply_error(down));
    ck_assert_int_eq(json_object_get_int(json_object_object_get(down, "down")), 2);
    ck_assert_uint_eq(n_listed(fx), 0);
    fixture_free(fx);
}
END_TEST

START_TEST(test_lanes_bad_requests)
{
    Fixture *fx = fixture_new();
    struct {
        const char *json;
        const char *expect;
    } cases[] = {
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-z\",\"count\":1}",
          "No peer 'host-z' in the policy" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"count\":1,\"lanes\":[\"lane1\"]}",
          "either 'lanes'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\"}",
          "either 'lanes'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"count\":\"2\"}",
          "either 'lanes'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"count\":0}",
          "'count' must be 1 to 64, not 0" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"lanes\":[1]}",
          "interface names" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"lanes\":[\"eth0;x\"]}",
          "Peer 'host-a' has no lane 'eth0;x'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p q\",\"peer\":\"host-a\",\"count\":1}",
          "Invalid plan id 'p q'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"count\":1,\"x\":1}",
          "Unknown field 'x' in 'lanes-up'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"peer\":\"host-a\",\"count\":1}",
          "needs the strings 'plan_id' and 'peer'" },
        { "{\"version\":1,\"type\":\"lanes-up\",\"plan_id\":\"p\",\"peer\":\"host-a\",\"count\":3}",
          "at most 2 lane(s) per migration (max_lanes)" },
        { "{\"version\":1,\"type\":\"lanes-down\",\"plan_id\":\"never\"}",
          "No lanes are held for plan 'never'" },
        { "{\"version\":1,\"type\":\"lanes-down\"}", "needs the string 'plan_id'" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) req = json_tokener_parse(cases[i].json);
        g_autoptr(json_object) reply = NULL;

        ck_assert_ptr_nonnull(req);
        reply = call(fx, json_object_get(req));
        ck_assert_msg(!reply_ok(reply), "case %u passed", i);
        ck_assert_msg(strstr(reply_error(reply), cases[i].expect) != NULL,
                      "case %u: '%s' lacks '%s'", i, reply_error(reply), cases[i].expect);
    }
    ck_assert_uint_eq(fx->fake.calls->len, 0);
    ck_assert(!g_file_test(fx->journal, G_FILE_TEST_EXISTS));
    fixture_free(fx);
}
END_TEST

/* ---- the destination path ------------------------------------------------ */

/* The incoming XML the source built (dest_xml): a plan over lanes 1, 2. */
static char *
incoming_xml(const char *plan_id, const char *source_mig)
{
    g_autoptr(VlMigrationPlan) plan = vl_migration_plan_new();
    g_autoptr(GError) error = NULL;
    const char *domain = "<domain type='qemu'><name>web 1</name>"
                         "<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid></domain>";
    char *xml;

    plan->id = g_strdup(plan_id);
    plan->source_host = g_strdup("host-a");
    plan->source_migration_address = g_strdup(source_mig);
    plan->channels = 6;
    g_ptr_array_add(plan->lanes, vl_plan_lane_new("198.18.11.1", "198.18.11.2"));
    g_ptr_array_add(plan->lanes, vl_plan_lane_new("198.18.12.1", "198.18.12.2"));
    xml = vl_migration_plan_insert_into_domain_xml(domain, strlen(domain), plan, &error);
    ck_assert_msg(xml != NULL, "%s", error ? error->message : "");
    return xml;
}

static json_object *
hook_request(const char *domain, const char *op, const char *subop, const char *xml)
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

static void
assert_continue(json_object *reply)
{
    json_object *verdict = NULL;

    ck_assert_msg(reply_ok(reply), "%s", reply_error(reply));
    ck_assert(json_object_object_get_ex(reply, "verdict", &verdict));
    ck_assert_str_eq(json_object_get_string(verdict), "continue");
}

static gboolean
no_lanes(gpointer data)
{
    Fixture *fx = data;

    return vl_lane_manager_get_n_lanes(vl_daemon_get_lanes(fx->daemon)) == 0 &&
        lanes_idle(fx);
}

START_TEST(test_migrate_begin_waits_for_lanes)
{
    Fixture *fx = fixture_new();
    g_autofree char *xml = incoming_xml("web-1.42", "198.19.0.1");
    g_autoptr(json_object) reply = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *calls2 = NULL;
    gint64 took = 0;

    fx->fake.up_delay_ms = 400;
    reply = call_timed(fx, hook_request("web 1", "migrate", "begin", xml), &took);
    assert_continue(reply);
    /* Answered only once the lanes were up: not before the 400 ms. */
    ck_assert_int_ge(took, 380 * 1000);
    ck_assert_int_lt(took, VL_LANES_HOOK_REPLY_MS * 1000);
    calls = take_calls(fx);
    ck_assert_str_eq(calls, "up lane1|up lane2|steer 198.19.0.1 2");
    ck_assert(vl_lane_manager_has_plan(vl_daemon_get_lanes(fx->daemon), "web-1.42"));
    ck_assert(log_contains(fx, "Incoming migration of 'web 1' from 'host-a' (plan 'web-1.42')"));

    /* Later hook calls of the same migration change nothing. */
    g_clear_pointer(&reply, json_object_put);
    reply = call(fx, hook_request("web 1", "prepare", "begin", xml));
    assert_continue(reply);
    ck_assert_uint_eq(fx->fake.calls->len, 0);

    /* libvirt's "resumed migrated" on the destination: success, lanes down. */
    vl_domain_table_record(vl_daemon_get_domains(fx->daemon), "web 1", NULL,
                           VL_EVENT_SOURCE_LIBVIRT, "lifecycle resumed migrated");
    ck_assert(vl_virt_test_wait(no_lanes, fx));
    calls2 = take_calls(fx);
    ck_assert_str_eq(calls2, "steer 198.19.0.1 0|down lane1|down lane2");
    ck_assert(log_contains(fx, "2 lane(s) of plan 'web-1.42' taken down"));
    fixture_free(fx);
}
END_TEST

START_TEST(test_failed_incoming_takes_lanes_down)
{
    Fixture *fx = fixture_new();
    g_autofree char *xml = incoming_xml("web-1.43", "198.19.0.1");
    g_autoptr(json_object) reply = NULL;
    g_autofree char *calls = NULL;

    g_hash_table_add(fx->fake.fail_up, (gpointer) "lane2");
    reply = call(fx, hook_request("web 1", "migrate", "begin", xml));
    assert_continue(reply);
    /* lane2 failed: lane1 stays up and the migration proceeds on it. */
    ck_assert(log_contains(fx, "up: lane1; failed: lane2 (Script 'lane-up' for 'lane2' failed"));
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(vl_daemon_get_lanes(fx->daemon)), 1);
    g_free(take_calls(fx));

    /* The hook's "release end" on the destination: the migration failed. */
    g_clear_pointer(&reply, json_object_put);
    reply = call(fx, hook_request("web 1", "release", "end", NULL));
    assert_continue(reply);
    ck_assert(vl_virt_test_wait(no_lanes, fx));
    calls = take_calls(fx);
    ck_assert_str_eq(calls, "steer 198.19.0.1 0|down lane1");
    fixture_free(fx);
}
END_TEST

START_TEST(test_migrate_begin_reply_is_bounded)
{
    /* lane-up may take 10 s; the hook may wait 3 s: reply at 2.5 s. */
    Fixture *fx = fixture_new_with(TRUE, 10, NULL);
    g_autofree char *xml = incoming_xml("slow.1", "198.19.0.1");
    g_autoptr(json_object) reply = NULL;
    gint64 took = 0;

    fx->fake.up_delay_ms = 4000;
    reply = call_timed(fx, hook_request("web 1", "migrate", "begin", xml), &took);
    assert_continue(reply);
    ck_assert_int_ge(took, (VL_LANES_HOOK_REPLY_MS - 100) * 1000);
    ck_assert_int_lt(took, 2900 * 1000);
    ck_assert(log_contains(fx, "still coming up after 2500 ms"));

    /* The lanes come up later all the same, and come down at the end. */
    ck_assert(vl_virt_test_wait(lanes_idle, fx));
    ck_assert(vl_lane_manager_has_plan(vl_daemon_get_lanes(fx->daemon), "slow.1"));
    vl_domain_table_record(vl_daemon_get_domains(fx->daemon), "web 1", NULL,
                           VL_EVENT_SOURCE_QEMU, "qemu MIGRATION completed");
    ck_assert(vl_virt_test_wait(no_lanes, fx));
    fixture_free(fx);
}
END_TEST

START_TEST(test_migrate_begin_without_lanes)
{
    Fixture *off = fixture_new_with(FALSE, 5, NULL);
    g_autofree char *xml = incoming_xml("p.1", "198.19.0.1");
    g_autofree char *stranger = incoming_xml("p.2", "198.19.0.9");
    const char *plain = "<domain><name>web 1</name></domain>";
    const char *junk_plan = "<domain><metadata><p:plan xmlns:p='" VL_METADATA_PLAN_NS
                            "' id='x'/></metadata></domain>";
    g_autoptr(json_object) r1 = NULL;
    g_autoptr(json_object) r2 = NULL;
    g_autoptr(json_object) r3 = NULL;
    g_autoptr(json_object) r4 = NULL;
    Fixture *fx;

    /* incoming_lanes false: continue at once, nothing brought up. */
    r1 = call(off, hook_request("web 1", "migrate", "begin", xml));
    assert_continue(r1);
    ck_assert_uint_eq(off->fake.calls->len, 0);
    ck_assert(log_contains(off, "incoming_lanes is false"));
    fixture_free(off);

    fx = fixture_new();
    /* A plan from a host that is no peer, no plan, a broken plan. */
    r2 = call(fx, hook_request("web 1", "migrate", "begin", stranger));
    assert_continue(r2);
    ck_assert(log_contains(fx, "which is no peer in the policy"));
    r3 = call(fx, hook_request("web 1", "migrate", "begin", plain));
    assert_continue(r3);
    r4 = call(fx, hook_request("web 1", "migrate", "begin", junk_plan));
    assert_continue(r4);
    ck_assert(log_contains(fx, "ignoring the incoming migration plan: Missing <source> in <plan>"));
    ck_assert_uint_eq(fx->fake.calls->len, 0);
    fixture_free(fx);
}
END_TEST

/* ---- start, stop, reload --------------------------------------------------- */

START_TEST(test_recovery_before_serving)
{
    const char *journal =
        "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"host-a\","
        " \"address\": \"198.18.11.2/24\", \"peer_address\": \"198.18.11.1\","
        " \"peer_migration_address\": \"198.19.0.1\", \"table\": 7601, \"mark\": 7601,"
        " \"state\": \"up\", \"plans\": [\"crashed.1\"]}]}";
    Fixture *fx = fixture_new_with(TRUE, 5, journal);
    g_autofree char *calls = take_calls(fx);

    /* Done inside vl_daemon_start(), before the socket existed. */
    ck_assert_str_eq(calls, "steer 198.19.0.1 0|down lane1");
    ck_assert(log_contains(fx, "Tearing down lane 'lane1' towards 'host-a'"));
    ck_assert(log_contains(fx, "Took down 1 lane(s) a previous run left"));
    ck_assert_uint_eq(n_listed(fx), 0);
    fixture_free(fx);
}
END_TEST

static void
on_stopped(VlDaemon *daemon G_GNUC_UNUSED, gpointer user_data)
{
    *(gboolean *) user_data = TRUE;
}

static gboolean
is_true(gpointer data)
{
    return *(gboolean *) data;
}

START_TEST(test_stop_takes_everything_down)
{
    Fixture *fx = fixture_new();
    g_autoptr(json_object) r1 = NULL;
    g_autoptr(json_object) r2 = NULL;
    g_autoptr(json_object) r3 = NULL;
    g_autofree char *calls = NULL;
    gboolean stopped = FALSE;

    r1 = call(fx, lanes_up_request("a.1", "host-a", 1));
    r2 = call(fx, lanes_up_request("b.1", "host-a", 2));
    ck_assert(reply_ok(r1) && reply_ok(r2));
    g_free(take_calls(fx));

    vl_daemon_stop(fx->daemon, on_stopped, &stopped);
    vl_daemon_stop(fx->daemon, on_stopped, &stopped);
    ck_assert(vl_virt_test_wait(is_true, &stopped));
    calls = take_calls(fx);
    ck_assert_str_eq(calls, "steer 198.19.0.1 0|down lane1|down lane2");
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(vl_daemon_get_lanes(fx->daemon)), 0);
    /* No new lanes once stopping. */
    r3 = call(fx, lanes_up_request("c.1", "host-a", 1));
    ck_assert(!reply_ok(r3));
    ck_assert_ptr_nonnull(strstr(reply_error(r3), "shutting down"));
    fixture_free(fx);
}
END_TEST

START_TEST(test_policy_reload_all_or_nothing)
{
    Fixture *fx = fixture_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) r1 = NULL;
    g_autoptr(json_object) r2 = NULL;
    const VlPolicy *before = vl_daemon_get_policy(fx->daemon);

    /* A broken second file: the reload fails and the old policy stays. */
    write_policy(fx, "20-bad.json", "{\"containers\": [ }");
    ck_assert(!vl_daemon_reload(fx->daemon, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "20-bad.json"));
    ck_assert(vl_daemon_get_policy(fx->daemon) == before);
    r1 = call(fx, lanes_up_request("p.1", "host-a", 1));
    ck_assert(reply_ok(r1));
    g_clear_error(&error);

    /* A good one: a renamed peer is what the daemon knows now. */
    {
        g_autofree char *renamed = policy_text(TRUE, 5);
        g_autofree char *path = g_build_filename(fx->policy_dir, "20-bad.json", NULL);
        char *p = strstr(renamed, "host-a");

        memcpy(p, "host-x", 6);
        g_remove(path);
        write_policy(fx, "10-lanes.json", renamed);
    }
    ck_assert_msg(vl_daemon_reload(fx->daemon, &error), "%s", error ? error->message : "");
    r2 = call(fx, lanes_up_request("p.2", "host-a", 1));
    ck_assert(!reply_ok(r2));
    ck_assert_ptr_nonnull(strstr(reply_error(r2), "No peer 'host-a'"));
    fixture_free(fx);
}
END_TEST

/* ---- the daemon's own container moves ---------------------------------- */

typedef struct {
    VlMover *mover;
    const char *dest_uri;
    gboolean ok;
    GError *error;
    gint done;
} Move;

static gpointer
move_thread(gpointer data)
{
    Move *m = data;
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(virDomain) dom = conn ? virDomainLookupByName(conn, "test") : NULL;

    if (dom)
        m->ok = vl_mover_migrate(dom, m->dest_uri, m->mover, &m->error);
    g_atomic_int_set(&m->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
move_done(gpointer data)
{
    return g_atomic_int_get(&((Move *) data)->done);
}

/* A move to the peer goes through this daemon's own handlers, with no
 * socket: the test driver's guest over 200 Mbit/s links exceeds a 10 s
 * threshold,
 * so the real lane manager brings both lanes up and steers to them
 * (the fake back end sees it), the test driver refuses to migrate, once
 * over the lanes and once over the base path, and the lanes are down
 * again before the move reports its failure. */
START_TEST(test_mover_uses_daemon_handlers)
{
    Fixture *fx = fixture_new();
    Move m = { vl_daemon_get_mover(fx->daemon), "qemu+tcp://198.18.0.11/system" };
    GThread *thread = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *policy = policy_text(TRUE, 5);
    g_autoptr(GString) strict = g_string_new(policy);
    g_autoptr(GError) error = NULL;

    /* a threshold the base path alone cannot meet, applied by a reload */
    g_string_replace(strict, "\"max_lanes\": 2,", "\"max_lanes\": 2, \"threshold_s\": 10,", 1);
    write_policy(fx, "10-lanes.json", strict->str);
    ck_assert_msg(vl_daemon_reload(fx->daemon, &error), "%s", error ? error->message : "");
    thread = g_thread_new("move", move_thread, &m);

    ck_assert(vl_virt_test_wait(move_done, &m));
    g_thread_join(thread);
    ck_assert(!m.ok);
    ck_assert_ptr_nonnull(m.error);
    ck_assert_msg(strstr(m.error->message, "Cannot migrate domain 'test'"), "%s",
                  m.error->message);
    calls = take_calls(fx);
    ck_assert_msg(g_str_has_prefix(calls, "up lane1|up lane2|steer 198.19.0.1 2|"), "%s",
                  calls);
    ck_assert_msg(strstr(calls, "down lane1") && strstr(calls, "down lane2"), "%s", calls);
    ck_assert_uint_eq(n_listed(fx), 0);
    /* what it said, on the daemon's log */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    ck_assert(log_contains(fx, "message Moving 'test' to 'host-a': "));
    ck_assert(log_contains(fx, "lanes up for plan 'test."));
    ck_assert(log_contains(fx, "retrying over the base path only"));
    g_clear_error(&m.error);
    fixture_free(fx);
}
END_TEST

static Suite *
daemon_lanes_suite(void)
{
    Suite *s = suite_create("daemon-lanes");
    TCase *tc;

    tc = tcase_create("requests");
    tcase_add_test(tc, test_lanes_up_down_list);
    tcase_add_test(tc, test_lanes_bad_requests);
    tcase_add_test(tc, test_mover_uses_daemon_handlers);
    suite_add_tcase(s, tc);

    tc = tcase_create("destination");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_migrate_begin_waits_for_lanes);
    tcase_add_test(tc, test_failed_incoming_takes_lanes_down);
    tcase_add_test(tc, test_migrate_begin_reply_is_bounded);
    tcase_add_test(tc, test_migrate_begin_without_lanes);
    suite_add_tcase(s, tc);

    tc = tcase_create("life");
    tcase_add_test(tc, test_recovery_before_serving);
    tcase_add_test(tc, test_stop_takes_everything_down);
    tcase_add_test(tc, test_policy_reload_all_or_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(daemon_lanes_suite());
}
