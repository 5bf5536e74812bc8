/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "containers" request end to end: VlDaemon in process against
 * test:///default, configured from a file ([daemon] policy_dir and the
 * [containers] keys, statistics replayed from a recording), asked over
 * its socket from a client thread and by the real 'virt-lanes
 * containers' binary; and a reload that changes the policy.
 */
#include <config.h>

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "daemon.h"
#include "ipc.h"
#include "virt-test.h"
#include "vl-autoptr.h"

typedef struct {
    char *dir;
    char *socket_path;
    char *config_path;
    char *policy_path;
    VlDaemon *daemon;
} Fixture;

static const char policy_json[] =
    "{\"containers\": [{\"name\": \"web\", \"description\": \"the \\\"front\\\"\","
    " \"members\": {\"name_globs\": [\"te*\"]}, \"min_active\": 1,"
    " \"max_active\": 1,"
    " \"indicators\": {\"cpu\": {\"substantially_under_loaded\": 1,"
    "   \"under_loaded\": 2, \"overloaded\": 90, \"substantially_overloaded\": 95,"
    "   \"hold_s\": 600}}}]}";

/* "test" at 40 % of one vCPU, for ever. */
static const char recording[] =
    "@sample 0\nDomain: 'test'\n  state.state=1\n  cpu.time=0\n  vcpu.current=1\n"
    "@sample 10\nDomain: 'test'\n  state.state=1\n  cpu.time=4000000000\n"
    "  vcpu.current=1\n";

static gboolean
connected(gpointer data)
{
    return vl_conn_is_connected(vl_daemon_get_conn(((Fixture *)data)->daemon));
}

static Fixture *
fixture_new(void)
{
    Fixture *fx = g_new0(Fixture, 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autofree char *policy_dir = NULL;
    g_autofree char *replay = NULL;
    g_autofree char *text = NULL;
    VlConfigOverrides overrides = { NULL };

    vl_virt_test_init();
    fx->dir = g_dir_make_tmp("vl-containers-ipc-XXXXXX", NULL);
    fx->socket_path = g_build_filename(fx->dir, "sock", NULL);
    fx->config_path = g_build_filename(fx->dir, "virt-lanesd.conf", NULL);
    policy_dir = g_build_filename(fx->dir, "policies.d", NULL);
    ck_assert_int_eq(g_mkdir(policy_dir, 0700), 0);
    fx->policy_path = g_build_filename(policy_dir, "web.json", NULL);
    ck_assert(g_file_set_contents(fx->policy_path, policy_json, -1, NULL));
    ck_assert_int_eq(g_chmod(fx->policy_path, 0600), 0);
    replay = g_build_filename(fx->dir, "stats.rec", NULL);
    ck_assert(g_file_set_contents(replay, recording, -1, NULL));
    text = g_strdup_printf("[daemon]\nuri = test:///default\npolicy_dir = %s\n"
                           "[containers]\ntick_s = 1\naudit_log = %s/audit.jsonl\n"
                           "stats_replay = %s\nstate_file = %s/state.json\n",
                           policy_dir, fx->dir, replay, fx->dir);
    ck_assert(g_file_set_contents(fx->config_path, text, -1, NULL));

    config = vl_config_load_file(fx->config_path, FALSE, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    overrides.socket_path = fx->socket_path;
    vl_config_apply_overrides(config, &overrides);
    fx->daemon = vl_daemon_new(g_steal_pointer(&config), fx->config_path, TRUE,
                               &overrides, NULL, NULL);
    ck_assert_msg(vl_daemon_start(fx->daemon, &error), "%s",
                  error ? error->message : "");
    ck_assert(vl_virt_test_wait(connected, fx));
    return fx;
}

static void
fixture_free(Fixture *fx)
{
    g_autofree char *dir = g_path_get_dirname(fx->policy_path);

    g_clear_pointer(&fx->daemon, vl_daemon_free);
    g_unlink(fx->policy_path);
    g_rmdir(dir);
    vl_virt_test_rmdir(fx->dir);
    g_free(fx->dir);
    g_free(fx->socket_path);
    g_free(fx->config_path);
    g_free(fx->policy_path);
    g_free(fx);
}

/* ---- a client on another thread (vl_ipc_call() blocks) -------------- */

typedef struct {
    const char *socket_path;
    json_object *request;
    json_object *reply;
    gint done;
} Call;

static gpointer
call_thread(gpointer data)
{
    Call *c = data;

    c->reply = vl_ipc_call(c->socket_path, c->request, 5000, NULL);
    g_atomic_int_set(&c->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
call_done(gpointer data)
{
    return g_atomic_int_get(&((Call *)data)->done);
}

static json_object *
call(Fixture *fx, const char *name)
{
    g_autoptr(json_object) request = vl_ipc_message_new("containers");
    Call c = { fx->socket_path, request, NULL, 0 };
    GThread *thread;

    if (name)
        json_object_object_add(request, "name", json_object_new_string(name));
    thread = g_thread_new("client", call_thread, &c);
    ck_assert(vl_virt_test_wait(call_done, &c));
    g_thread_join(thread);
    ck_assert_ptr_nonnull(c.reply);
    return c.reply;
}

static json_object *
get(json_object *obj, const char *key, json_type type)
{
    json_object *value = NULL;

    ck_assert_msg(json_object_object_get_ex(obj, key, &value), "no '%s' in %s",
                  key, json_object_to_json_string(obj));
    ck_assert_msg(json_object_is_type(value, type), "'%s' is a %s", key,
                  json_type_to_name(json_object_get_type(value)));
    return value;
}

typedef struct {
    Fixture *fx;
    gint64 cycles;
    const char *value_of;       /* wait for a known cpu value of this */
} ReplyWait;

static gboolean
cycles_done(gpointer data)
{
    ReplyWait *w = data;
    g_autoptr(json_object) reply = call(w->fx, NULL);
    json_object *array;
    json_object *value = NULL;

    if (json_object_get_int64(get(reply, "cycles", json_type_int)) < w->cycles)
        return FALSE;
    if (!w->value_of)
        return TRUE;
    array = get(reply, "containers", json_type_array);
    if (json_object_array_length(array) == 0)
        return FALSE;
    array = get(json_object_array_get_idx(array, 0), "members", json_type_array);
    if (json_object_array_length(array) == 0)
        return FALSE;
    json_object_object_get_ex(get(json_object_array_get_idx(array, 0), "values",
                                  json_type_object), "cpu", &value);
    return value && json_object_is_type(value, json_type_double);
}

START_TEST(test_request_shape)
{
    Fixture *fx = fixture_new();
    ReplyWait w = { fx, 2, "test" };
    g_autoptr(json_object) reply = NULL;
    g_autoptr(json_object) bad = NULL;
    json_object *c;
    json_object *m;

    /* tick_s = 1: the daemon's own timer runs the cycles. */
    ck_assert(vl_test_loop_run_until(cycles_done, &w, 15000));
    reply = call(fx, "web");
    ck_assert(json_object_get_boolean(get(reply, "ok", json_type_boolean)));
    ck_assert_str_eq(json_object_get_string(get(reply, "type", json_type_string)), "reply");
    ck_assert_int_eq(json_object_get_int(get(reply, "tick_s", json_type_int)), 1);
    ck_assert(g_str_has_prefix(json_object_get_string(get(reply, "stats_source",
                                                          json_type_string)),
                               "replay of '"));
    get(reply, "last_cycle", json_type_object);
    c = json_object_array_get_idx(get(reply, "containers", json_type_array), 0);
    ck_assert_str_eq(json_object_get_string(get(c, "name", json_type_string)), "web");
    ck_assert_str_eq(json_object_get_string(get(c, "description", json_type_string)),
                     "the \"front\"");
    m = json_object_array_get_idx(get(c, "members", json_type_array), 0);
    ck_assert_str_eq(json_object_get_string(get(m, "name", json_type_string)), "test");
    ck_assert_str_eq(json_object_get_string(get(m, "state", json_type_string)), "running");
    ck_assert_double_eq_tol(json_object_get_double(get(get(m, "values", json_type_object),
                                                       "cpu", json_type_double)),
                            40, 1e-6);
    ck_assert_str_eq(json_object_get_string(get(get(c, "last_tick", json_type_object),
                                                "reason", json_type_string)),
                     "in_band");

    bad = call(fx, "web\n'; x");
    ck_assert(!json_object_get_boolean(get(bad, "ok", json_type_boolean)));
    ck_assert_str_eq(json_object_get_string(get(bad, "error", json_type_string)),
                     "No container 'web\\n'; x' in the policy");
    fixture_free(fx);
}
END_TEST

START_TEST(test_reload_policy)
{
    Fixture *fx = fixture_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *c;

    /* A broken policy: the reload fails, the old one stays. */
    ck_assert(g_file_set_contents(fx->policy_path, "{\"containers\": [", -1, NULL));
    ck_assert(!vl_daemon_reload(fx->daemon, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "web.json"));
    reply = call(fx, "web");
    ck_assert(json_object_get_boolean(get(reply, "ok", json_type_boolean)));
    g_clear_pointer(&reply, json_object_put);

    ck_assert(g_file_set_contents(fx->policy_path,
                                  "{\"containers\": [{\"name\": \"db\", \"mode\": \"advise\"}]}",
                                  -1, NULL));
    ck_assert(vl_daemon_reload(fx->daemon, NULL));
    reply = call(fx, NULL);
    ck_assert_uint_eq(json_object_array_length(get(reply, "containers", json_type_array)), 1);
    c = json_object_array_get_idx(get(reply, "containers", json_type_array), 0);
    ck_assert_str_eq(json_object_get_string(get(c, "name", json_type_string)), "db");
    ck_assert_str_eq(json_object_get_string(get(c, "mode", json_type_string)), "advise");
    fixture_free(fx);
}
END_TEST

/* ---- the CLI binary ---------------------------------------------------- */

typedef struct {
    gboolean done;
    char *out;
    char *err;
} Output;

static void
on_communicated(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Output *o = user_data;

    g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), result, &o->out,
                                         &o->err, NULL);
    o->done = TRUE;
}

static gboolean
output_done(gpointer data)
{
    return ((Output *)data)->done;
}

/* Runs the CLI with @args while the daemon's loop keeps turning. */
static int
cli(Fixture *fx, const char *const *args, char **out, char **err)
{
    g_autofree char *binary = g_build_filename(g_getenv("VL_BUILDDIR"), "plugin",
                                               "cli", "virt-lanes", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;
    Output o = { FALSE, NULL, NULL };

    g_ptr_array_add(argv, binary);
    g_ptr_array_add(argv, (gpointer)"--socket");
    g_ptr_array_add(argv, fx->socket_path);
    for (; *args; args++)
        g_ptr_array_add(argv, (gpointer)*args);
    g_ptr_array_add(argv, NULL);
    proc = g_subprocess_newv((const char *const *)argv->pdata,
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    ck_assert_msg(proc != NULL, "%s", error ? error->message : "");
    g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_communicated, &o);
    ck_assert(vl_virt_test_wait(output_done, &o));
    *out = o.out;
    *err = o.err;
    ck_assert(g_subprocess_get_if_exited(proc));
    return g_subprocess_get_exit_status(proc);
}

START_TEST(test_cli)
{
    Fixture *fx = fixture_new();
    ReplyWait w = { fx, 2, "test" };
    const char *text_args[] = { "containers", NULL };
    const char *json_args[] = { "containers", "web", "--json", NULL };
    const char *unknown_args[] = { "containers", "nope", NULL };
    const char *usage_args[] = { "containers", "a", "b", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(json_object) parsed = NULL;

    ck_assert(vl_test_loop_run_until(cycles_done, &w, 15000));
    ck_assert_int_eq(cli(fx, text_args, &out, &err), 0);
    ck_assert_msg(strstr(out, "\nweb  enforce  1 active (min 1, max 1)"), "%s", out);
    ck_assert_msg(strstr(out, "    test                 running   cpu=40.0"), "%s", out);
    ck_assert_msg(strstr(out, "  cpu            40.0      1.0      2.0     90.0     95.0"),
                  "%s", out);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(cli(fx, json_args, &out, &err), 0);
    parsed = json_tokener_parse(out);
    ck_assert_ptr_nonnull(parsed);
    ck_assert(json_object_get_boolean(get(parsed, "ok", json_type_boolean)));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(cli(fx, unknown_args, &out, &err), 1);
    ck_assert_str_eq(err, "virt-lanes: virt-lanesd refused the containers request: "
                          "No container 'nope' in the policy\n");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(cli(fx, usage_args, &out, &err), 2);
    ck_assert_str_eq(err, "virt-lanes containers: Unexpected argument 'b'\n");
    fixture_free(fx);
}
END_TEST

static Suite *
containers_ipc_suite(void)
{
    Suite *s = suite_create("containers-ipc");
    TCase *tc = tcase_create("request");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_request_shape);
    tcase_add_test(tc, test_reload_policy);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(containers_ipc_suite());
}
