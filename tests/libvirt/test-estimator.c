/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-estimator.c: the daemon's "estimate" and "measure" requests over
 * the real socket, against test:///default (whose running domain "test"
 * has a size but no dirty-rate support) with a policy of one peer: every
 * malformed request gets a clear error and changes nothing, a good one a
 * table whose inputs say where they came from (declared lanes, the
 * history, the idle assumption).
 */
#include <config.h>

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "daemon.h"
#include "history.h"
#include "ipc.h"
#include "virt-test.h"
#include "vl-autoptr.h"

typedef struct {
    char *dir;
    char *socket_path;
    char *history;
    VlDaemon *daemon;
} Fixture;

static const char policy[] =
    "{ \"migration\": { \"max_lanes\": 3, \"channels_per_lane\": 2,\n"
    "  \"peers\": [ { \"name\": \"b\", \"uri\": \"qemu+tcp://198.18.0.12/system\",\n"
    "    \"base_bandwidth_mbit\": 100,\n"
    "    \"lanes\": [\n"
    "      { \"interface\": \"vltest0\", \"address\": \"198.18.10.1/24\",\n"
    "        \"peer_address\": \"198.18.10.2\", \"bandwidth_mbit\": 200 },\n"
    "      { \"interface\": \"vltest1\", \"address\": \"198.18.11.1/24\",\n"
    "        \"peer_address\": \"198.18.11.2\", \"bandwidth_mbit\": 200 } ] } ] } }\n";

static gboolean
daemon_connected(gpointer data)
{
    Fixture *fx = data;

    return vl_conn_is_connected(vl_daemon_get_conn(fx->daemon));
}

static Fixture *
fixture_new(void)
{
    Fixture *fx = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autofree char *pol = NULL;
    g_autofree char *pol_file = NULL;
    g_autofree char *conf_path = NULL;
    g_autofree char *conf = NULL;
    VlConfigOverrides overrides = { NULL };

    vl_virt_test_init();
    fx->dir = g_dir_make_tmp("vl-estimator-XXXXXX", NULL);
    fx->socket_path = g_build_filename(fx->dir, "sock", NULL);
    fx->history = g_build_filename(fx->dir, "history.jsonl", NULL);
    pol = g_build_filename(fx->dir, "policies.d", NULL);
    pol_file = g_build_filename(pol, "lanes.json", NULL);
    conf_path = g_build_filename(fx->dir, "virt-lanesd.conf", NULL);
    ck_assert_int_eq(g_mkdir(pol, 0755), 0);
    ck_assert_int_eq(chmod(fx->dir, 0755), 0);
    ck_assert(g_file_set_contents(pol_file, policy, -1, NULL));
    ck_assert_int_eq(chmod(pol_file, 0644), 0);
    conf = g_strdup_printf("[daemon]\nuri = test:///default\npolicy_dir = %s\n"
                           "[estimator]\nsample_period_s = 0\n"
                           "sample_periods = 2,4\nhistory_file = %s\n",
                           pol, fx->history);
    ck_assert(g_file_set_contents(conf_path, conf, -1, NULL));

    config = vl_config_load_file(conf_path, FALSE, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    overrides.socket_path = fx->socket_path;
    vl_config_apply_overrides(config, &overrides);
    fx->daemon = vl_daemon_new(g_steal_pointer(&config), conf_path, TRUE,
                               &overrides, NULL, NULL);
    ck_assert_msg(vl_daemon_start(fx->daemon, &error), "%s",
                  error ? error->message : "");
    ck_assert(vl_virt_test_wait(daemon_connected, fx));
    g_unlink(conf_path);
    g_unlink(pol_file);
    g_rmdir(pol);
    return fx;
}

static void
fixture_free(Fixture *fx)
{
    g_clear_pointer(&fx->daemon, vl_daemon_free);
    g_unlink(fx->history);
    g_rmdir(fx->dir);
    g_free(fx->dir);
    g_free(fx->socket_path);
    g_free(fx->history);
    g_free(fx);
}

/* ---- a client on another thread (the server needs this one) -------- */

typedef struct {
    const char *socket_path;
    json_object *request;
    json_object *reply;
    GError *error;
    gint done;
} Call;

static gpointer
call_thread(gpointer data)
{
    Call *c = data;

    c->reply = vl_ipc_call(c->socket_path, c->request, 8000, &c->error);
    g_atomic_int_set(&c->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
call_done(gpointer data)
{
    return g_atomic_int_get(&((Call *)data)->done);
}

/* Sends @request (transfer full); returns the reply. */
static json_object *
call(Fixture *fx, json_object *request)
{
    Call c = { fx->socket_path, request, NULL, NULL, 0 };
    GThread *thread = g_thread_new("client", call_thread, &c);

    ck_assert(vl_virt_test_wait(call_done, &c));
    g_thread_join(thread);
    json_object_put(request);
    ck_assert_msg(c.reply != NULL, "%s", c.error ? c.error->message : "");
    return c.reply;
}

static json_object *
request_from(const char *type, const char *fields)
{
    g_autofree char *text = g_strdup_printf("{\"version\": 1, \"type\": \"%s\"%s%s}",
                                            type, *fields ? ", " : "", fields);
    json_object *req = json_tokener_parse(text);

    ck_assert_msg(req != NULL, "bad test JSON: %s", text);
    return req;
}

static gboolean
reply_ok(json_object *reply)
{
    json_object *ok = NULL;

    return json_object_object_get_ex(reply, "ok", &ok) &&
        json_object_get_boolean(ok);
}

static const char *
str_at(json_object *obj, const char *path)
{
    g_auto(GStrv) keys = g_strsplit(path, ".", -1);
    json_object *cur = obj;
    guint i;

    for (i = 0; keys[i]; i++) {
        if (g_ascii_isdigit(keys[i][0]))
            cur = json_object_array_get_idx(cur, atoi(keys[i]));
        else if (!json_object_object_get_ex(cur, keys[i], &cur))
            return NULL;
    }
    return cur ? json_object_get_string(cur) : NULL;
}

static const struct {
    const char *type;
    const char *fields;
    const char *error;
} bad_requests[] = {
    { "estimate", "", "Request lacks 'domain'" },
    { "estimate", "\"domain\": 5", "'domain' must be a string" },
    { "estimate", "\"domain\": \"\"", "'domain' must be 1 to 1024 bytes" },
    { "estimate", "\"domain\": \"a\\u0000b\"", "'domain' must be 1 to 1024 bytes" },
    { "estimate", "\"domain\": \"no such; \\\"dom\\\" 'x'\"",
      "Domain 'no such; \\\"dom\\\" 'x'' is not running on this host" },
    { "estimate", "\"domain\": \"test\", \"to\": \"nowhere\"",
      "Unknown peer 'nowhere' (the policy's peers: 'b')" },
    { "estimate", "\"domain\": \"test\", \"lanes\": -1", "'lanes' must be an integer from 0 to 16" },
    { "estimate", "\"domain\": \"test\", \"lanes\": 17", "'lanes' must be an integer from 0 to 16" },
    { "estimate", "\"domain\": \"test\", \"lanes\": \"3\"", "'lanes' must be an integer" },
    { "estimate", "\"domain\": \"test\", \"lanes\": 2.5", "'lanes' must be an integer" },
    { "estimate", "\"domain\": \"test\", \"time_cap_s\": -1", "'time_cap_s' must be a number" },
    { "estimate", "\"domain\": \"test\", \"bogus\": 1", "Unknown request field 'bogus'" },
    { "measure", "\"domain\": \"test\"", "'period_s' must be an integer from 1 to 60" },
    { "measure", "\"domain\": \"test\", \"period_s\": 61", "'period_s' must be an integer from 1 to 60" },
    { "measure", "\"domain\": \"gone\", \"period_s\": 5", "Domain 'gone' is not running" },
    { "measure", "\"domain\": [], \"period_s\": 5", "'domain' must be a string" },
};

START_TEST(test_bad_requests)
{
    Fixture *fx = fixture_new();
    g_autoptr(json_object) reply = NULL;
    g_autoptr(json_object) again = NULL;
    const char *err;

    reply = call(fx, request_from(bad_requests[_i].type, bad_requests[_i].fields));
    ck_assert(!reply_ok(reply));
    err = str_at(reply, "error");
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, bad_requests[_i].error), "'%s' lacks '%s'", err,
                  bad_requests[_i].error);
    /* The daemon still answers and nothing was written. */
    again = call(fx, request_from("ping", ""));
    ck_assert(reply_ok(again));
    ck_assert(!g_file_test(fx->history, G_FILE_TEST_EXISTS));
    fixture_free(fx);
}
END_TEST

START_TEST(test_estimate_declared_then_history)
{
    Fixture *fx = fixture_new();
    g_autoptr(json_object) reply = NULL;
    g_autoptr(VlHistoryRecord) rec = vl_history_record_new();
    g_autoptr(GError) error = NULL;
    json_object *rows = NULL;
    json_object *notes = NULL;
    json_object *v = NULL;

    reply = call(fx, request_from("estimate", "\"domain\": \"test\", \"to\": \"b\""));
    ck_assert_msg(reply_ok(reply), "%s", str_at(reply, "error"));
    ck_assert_str_eq(str_at(reply, "peer"), "b");
    /* Nothing measured (test:/// has no dirty rate): the idle assumption,
     * said so in the inputs and the notes. */
    ck_assert_str_eq(str_at(reply, "inputs.dirty_source"), "idle assumed");
    ck_assert_str_eq(str_at(reply, "inputs.dirty_fresh"), "false");
    ck_assert_str_eq(str_at(reply, "inputs.zero_source"), "assumed none");
    ck_assert_str_eq(str_at(reply, "inputs.overhead_source"), "default");
    ck_assert_str_eq(str_at(reply, "inputs.measure_periods.1"), "4");
    ck_assert(json_object_object_get_ex(reply, "notes", &notes));
    ck_assert_ptr_nonnull(strstr(json_object_to_json_string(notes), "assumed idle"));
    ck_assert(json_object_object_get_ex(json_object_object_get(reply, "inputs"),
                                        "memory_bytes", &v));
    ck_assert_double_gt(json_object_get_double(v), 0);

    /* max_lanes 3, but the peer lists 2 lanes: rows for 0, 1 and 2 lanes
     * besides the base path (1 to 3 links), as 'virt-lanes migrate'
     * counts them; the base path at its declared 100 Mbit/s, each lane at
     * 200, times the efficiency 0.95. */
    ck_assert(json_object_object_get_ex(reply, "rows", &rows));
    ck_assert_uint_eq(json_object_array_length(rows), 3);
    ck_assert_str_eq(str_at(reply, "rows.0.bandwidth_source"), "declared");
    ck_assert_str_eq(str_at(reply, "rows.0.lanes"), "0");
    ck_assert_str_eq(str_at(reply, "rows.0.links"), "1");
    ck_assert_str_eq(str_at(reply, "rows.2.lanes"), "2");
    ck_assert_str_eq(str_at(reply, "rows.2.links"), "3");
    ck_assert_str_eq(str_at(reply, "rows.0.channels"), "2");
    ck_assert_str_eq(str_at(reply, "rows.1.channels"), "4");
    ck_assert_str_eq(str_at(reply, "rows.2.channels"), "6");
    ck_assert_str_eq(str_at(reply, "rows.0.verdict"), "converges");
    ck_assert_str_eq(str_at(reply, "rows.0.bandwidth_per_link_bps"), "11875000.0");
    ck_assert_str_eq(str_at(reply, "rows.1.bandwidth_per_link_bps"), "17812500.0");
    ck_assert_str_eq(str_at(reply, "rows.2.bandwidth_bps"), "59375000.0");
    g_clear_pointer(&reply, json_object_put);

    /* A completed migration over 1 lane in the history is used for 1 lane. */
    rec->time = 1700000000;
    rec->domain = g_strdup("other");
    rec->memory_bytes = 1073741824;
    rec->processed_bytes = 900000000;
    rec->total_time_s = 22.0;
    rec->memory_bps = 45000000;
    rec->lanes = 1;
    ck_assert_msg(vl_history_append(fx->history, rec, 0, &error), "%s",
                  error ? error->message : "");
    reply = call(fx, request_from("estimate", "\"domain\": \"test\", \"lanes\": 1"));
    ck_assert(reply_ok(reply));
    ck_assert_str_eq(str_at(reply, "rows.1.bandwidth_source"), "history");
    ck_assert_str_eq(str_at(reply, "rows.0.bandwidth_source"), "declared");
    ck_assert_str_eq(str_at(reply, "inputs.overhead_source"), "history");
    ck_assert_str_eq(str_at(reply, "inputs.history_records"), "1");
    ck_assert_ptr_null(json_object_array_get_idx(json_object_object_get(reply, "rows"), 2));
    fixture_free(fx);
}
END_TEST

START_TEST(test_measure_refused_by_the_driver)
{
    Fixture *fx = fixture_new();
    g_autoptr(json_object) reply = NULL;

    /* test:/// cannot measure: an error reply, and the daemon goes on. */
    reply = call(fx, request_from("measure", "\"domain\": \"test\", \"period_s\": 1"));
    ck_assert(!reply_ok(reply));
    ck_assert_ptr_nonnull(strstr(str_at(reply, "error"), "'test'"));
    g_clear_pointer(&reply, json_object_put);
    reply = call(fx, request_from("estimate", "\"domain\": \"test\""));
    ck_assert(reply_ok(reply));
    fixture_free(fx);
}
END_TEST

static Suite *
estimator_suite(void)
{
    Suite *s = suite_create("estimator");
    TCase *tc = tcase_create("requests");

    tcase_add_loop_test(tc, test_bad_requests, 0, G_N_ELEMENTS(bad_requests));
    tcase_add_test(tc, test_estimate_declared_then_history);
    tcase_add_test(tc, test_measure_refused_by_the_driver);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(estimator_suite());
}
