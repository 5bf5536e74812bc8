/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lane manager against a fake back end (an ops table that records
 * every call and succeeds, fails or hangs per interface): the journal is
 * written before a lane is touched, recovery of a crashed journal,
 * reference counting by plan, a failing or hanging lane, a corrupt
 * journal.
 */
#include <config.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "lanes.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

#define PEER_MIG "198.19.0.2"
#define BASE 7600

/* ---- the fake back end ------------------------------------------------ */

typedef enum {
    FAKE_OK,
    FAKE_FAIL,
    FAKE_HANG,      /* answers only when the timeout passes, as a killed script */
} FakeMode;

typedef struct {
    GHashTable *up_mode;     /* interface → FakeMode */
    GHashTable *down_mode;
    FakeMode steer_mode;
    GPtrArray *calls;        /* "up lane1 7601", "down lane1", "steer PEER lane1:7601" */
    char *journal_path;
    GPtrArray *journal_at_up; /* per up call: did the journal name it? */
} Fake;

typedef struct {
    VlLaneBackendDone done;
    gpointer user_data;
    GError *error;
} FakeCall;

static Fake *fake;           /* the one of the running test */

static gboolean
fake_answer(gpointer data)
{
    FakeCall *call = data;

    call->done(call->error, call->user_data);
    g_free(call);
    return G_SOURCE_REMOVE;
}

static void
fake_schedule(FakeMode mode, const char *what, guint timeout_ms,
              VlLaneBackendDone done, gpointer user_data)
{
    FakeCall *call = g_new0(FakeCall, 1);

    call->done = done;
    call->user_data = user_data;
    if (mode == FAKE_FAIL) {
        call->error = g_error_new(VL_ERROR, VL_ERROR_SCRIPT,
                                  "Script '%s' failed with exit code 1: boom", what);
        g_idle_add(fake_answer, call);
    } else if (mode == FAKE_HANG) {
        call->error = g_error_new(VL_ERROR, VL_ERROR_TIMEOUT,
                                  "Script '%s' did not finish within %u ms and was killed",
                                  what, timeout_ms);
        g_timeout_add(timeout_ms, fake_answer, call);
    } else {
        g_idle_add(fake_answer, call);
    }
}

static FakeMode
mode_of(GHashTable *modes, const char *interface)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(modes, interface));
}

static void
fake_up(gpointer data, const VlLaneSpec *lane, guint timeout_ms,
        VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;
    g_autofree char *journal = NULL;
    g_autofree char *needle = g_strdup_printf("\"interface\": \"%s\"", lane->interface);

    g_ptr_array_add(f->calls, g_strdup_printf("up %s %u %s %s %s", lane->interface,
                                              lane->table, lane->address,
                                              lane->peer_address,
                                              lane->peer_migration_address));
    g_file_get_contents(f->journal_path, &journal, NULL, NULL);
    g_ptr_array_add(f->journal_at_up,
                    GINT_TO_POINTER(journal && strstr(journal, needle) != NULL));
    fake_schedule(mode_of(f->up_mode, lane->interface), "lane-up", timeout_ms,
                  done, user_data);
}

static void
fake_down(gpointer data, const VlLaneSpec *lane, guint timeout_ms,
          VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;

    g_ptr_array_add(f->calls, g_strdup_printf("down %s %u", lane->interface, lane->table));
    fake_schedule(mode_of(f->down_mode, lane->interface), "lane-down", timeout_ms,
                  done, user_data);
}

static void
fake_steer(gpointer data, const char *peer, guint base_mark,
           const VlLaneSpec *const *lanes, guint n_lanes, guint timeout_ms,
           VlLaneBackendDone done, gpointer user_data)
{
    Fake *f = data;
    GString *s = g_string_new(NULL);
    guint i;

    ck_assert_uint_eq(base_mark, BASE);
    g_string_printf(s, "steer %s", peer);
    for (i = 0; i < n_lanes; i++)
        g_string_append_printf(s, " %s:%u", lanes[i]->interface, lanes[i]->mark);
    g_ptr_array_add(f->calls, g_string_free(s, FALSE));
    fake_schedule(f->steer_mode, "lane-steer", timeout_ms, done, user_data);
}

static const VlLaneBackendOps fake_ops = {
    .up = fake_up,
    .down = fake_down,
    .steer = fake_steer,
    .free = NULL,           /* the test owns the Fake */
};

/* ---- fixtures ------------------------------------------------------------ */

static char *tmpdir;
static char *journal;
static VlLaneManager *manager;
static GPtrArray *messages;  /* what the manager logged */

static void
on_log(GLogLevelFlags level G_GNUC_UNUSED, const char *message,
       gpointer user_data G_GNUC_UNUSED)
{
    g_ptr_array_add(messages, g_strdup(message));
}

static VlLaneManager *
new_manager(void)
{
    return vl_lane_manager_new(journal, BASE, vl_lane_backend_new(&fake_ops, fake),
                               on_log, NULL);
}

static void
setup(void)
{
    tmpdir = g_dir_make_tmp("vl-lanes-XXXXXX", NULL);
    ck_assert_ptr_nonnull(tmpdir);
    journal = g_build_filename(tmpdir, "state", "lanes.json", NULL);
    fake = g_new0(Fake, 1);
    fake->up_mode = g_hash_table_new(g_str_hash, g_str_equal);
    fake->down_mode = g_hash_table_new(g_str_hash, g_str_equal);
    fake->calls = g_ptr_array_new_with_free_func(g_free);
    fake->journal_path = g_strdup(journal);
    fake->journal_at_up = g_ptr_array_new();
    messages = g_ptr_array_new_with_free_func(g_free);
    manager = new_manager();
}

static void
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            remove_tree(child);
        }
    }
    g_remove(path);
}

static void
teardown(void)
{
    if (manager)
        ck_assert(vl_lane_manager_is_idle(manager));
    g_clear_pointer(&manager, vl_lane_manager_free);
    g_hash_table_unref(fake->up_mode);
    g_hash_table_unref(fake->down_mode);
    g_ptr_array_unref(fake->calls);
    g_ptr_array_unref(fake->journal_at_up);
    g_free(fake->journal_path);
    g_clear_pointer(&fake, g_free);
    g_clear_pointer(&messages, g_ptr_array_unref);
    remove_tree(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    g_clear_pointer(&journal, g_free);
}

static VlPeerConfig *
make_peer(const char *name, const char *mig, guint n_lanes)
{
    VlPeerConfig *peer = vl_peer_config_new();
    guint i;

    peer->name = g_strdup(name);
    peer->uri = g_strdup("qemu+tcp://198.18.0.12/system");
    peer->migration_address = g_strdup(mig);
    for (i = 1; i <= n_lanes; i++) {
        VlLaneConfig *lane = vl_lane_config_new();

        lane->interface = g_strdup_printf("lane%u", i);
        lane->address = g_strdup_printf("198.18.%u.1/24", 10 + i);
        lane->peer_address = g_strdup_printf("198.18.%u.2", 10 + i);
        lane->bandwidth_mbit = 200;
        g_ptr_array_add(peer->lanes, lane);
    }
    return peer;
}

/* ---- running operations ---------------------------------------------------- */

typedef struct {
    gboolean done;
    GAsyncResult *result;
} Wait;

static void
on_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    Wait *w = user_data;

    w->result = g_object_ref(result);
    w->done = TRUE;
}

static gboolean
wait_done(gpointer data)
{
    return ((Wait *) data)->done;
}

static VlLaneReport *
acquire(const char *plan_id, const VlPeerConfig *peer, const char *const *interfaces,
        guint count, GError **error)
{
    Wait w = { FALSE, NULL };
    VlLaneReport *report;

    vl_lane_manager_acquire_async(manager, plan_id, peer, interfaces, count, 100,
                                  on_done, &w);
    /* Never synchronously: the caller may still be setting up. */
    ck_assert(!w.done);
    ck_assert(vl_test_loop_run_until(wait_done, &w, 5000));
    report = vl_lane_manager_acquire_finish(manager, w.result, error);
    g_object_unref(w.result);
    return report;
}

static gboolean
release(const char *plan_id, guint *n_down, GError **error)
{
    Wait w = { FALSE, NULL };
    gboolean ok;

    vl_lane_manager_release_async(manager, plan_id, 100, on_done, &w);
    ck_assert(vl_test_loop_run_until(wait_done, &w, 5000));
    ok = vl_lane_manager_release_finish(manager, w.result, n_down, error);
    g_object_unref(w.result);
    return ok;
}

static gboolean
recover(guint *n_down, GError **error)
{
    Wait w = { FALSE, NULL };
    gboolean ok;

    vl_lane_manager_recover_async(manager, 100, on_done, &w);
    ck_assert(vl_test_loop_run_until(wait_done, &w, 5000));
    ok = vl_lane_manager_recover_finish(manager, w.result, n_down, error);
    g_object_unref(w.result);
    return ok;
}

/* The calls so far joined by '|', then forgotten. */
static char *
take_calls(void)
{
    g_autoptr(GString) s = g_string_new(NULL);
    guint i;

    for (i = 0; i < fake->calls->len; i++)
        g_string_append_printf(s, "%s%s", i ? "|" : "", (char *) g_ptr_array_index(fake->calls, i));
    g_ptr_array_set_size(fake->calls, 0);
    return g_strdup(s->str);
}

static json_object *
read_journal(void)
{
    json_object *root = json_object_from_file(journal);

    ck_assert_msg(root != NULL, "journal '%s' is not readable JSON", journal);
    return root;
}

/* "lane1=up[p1,p2] lane2=failed[]" from the journal file. */
static char *
journal_summary(void)
{
    g_autoptr(json_object) root = read_journal();
    g_autoptr(GString) s = g_string_new(NULL);
    json_object *lanes = json_object_object_get(root, "lanes");
    gsize i;
    gsize j;

    ck_assert_int_eq(json_object_get_int(json_object_object_get(root, "version")), 1);
    for (i = 0; i < json_object_array_length(lanes); i++) {
        json_object *l = json_object_array_get_idx(lanes, i);
        json_object *plans = json_object_object_get(l, "plans");

        g_string_append_printf(s, "%s%s=%s[", i ? " " : "",
                               json_object_get_string(json_object_object_get(l, "interface")),
                               json_object_get_string(json_object_object_get(l, "state")));
        for (j = 0; j < json_object_array_length(plans); j++)
            g_string_append_printf(s, "%s%s", j ? "," : "",
                                   json_object_get_string(json_object_array_get_idx(plans, j)));
        g_string_append_c(s, ']');
    }
    return g_strdup(s->str);
}

static const VlLaneResult *
result_of(const VlLaneReport *report, guint i)
{
    ck_assert_uint_lt(i, report->lanes->len);
    return g_ptr_array_index(report->lanes, i);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_journal_written_before_up)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 3);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *summary = NULL;
    struct stat st;

    report = acquire("web-1.1", peer, NULL, 2, &error);
    ck_assert_msg(report != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(report->n_up, 2);
    ck_assert_ptr_null(report->steer_error);
    ck_assert_str_eq(report->plan_id, "web-1.1");
    ck_assert_uint_eq(report->base_mark, BASE);
    ck_assert(result_of(report, 0)->up && !result_of(report, 0)->reused);
    ck_assert_uint_eq(result_of(report, 0)->table, 7601);
    ck_assert_uint_eq(result_of(report, 1)->table, 7602);

    calls = take_calls();
    ck_assert_str_eq(calls,
                     "up lane1 7601 198.18.11.1/24 198.18.11.2 198.19.0.2|"
                     "up lane2 7602 198.18.12.1/24 198.18.12.2 198.19.0.2|"
                     "steer 198.19.0.2 lane1:7601 lane2:7602");
    /* At the moment each lane-up ran, the journal already named the lane. */
    ck_assert_uint_eq(fake->journal_at_up->len, 2);
    ck_assert(GPOINTER_TO_INT(g_ptr_array_index(fake->journal_at_up, 0)));
    ck_assert(GPOINTER_TO_INT(g_ptr_array_index(fake->journal_at_up, 1)));

    summary = journal_summary();
    ck_assert_str_eq(summary, "lane1=up[web-1.1] lane2=up[web-1.1]");
    ck_assert_int_eq(stat(journal, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert(vl_lane_manager_has_plan(manager, "web-1.1"));
    ck_assert(!vl_lane_manager_has_plan(manager, "web-2.1"));
}
END_TEST

START_TEST(test_release_unsteers_then_downs)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *summary = NULL;
    guint n_down = 99;

    report = acquire("p1", peer, NULL, 2, &error);
    ck_assert_ptr_nonnull(report);
    g_free(take_calls());

    ck_assert(release("p1", &n_down, &error));
    ck_assert_uint_eq(n_down, 2);
    calls = take_calls();
    /* No new connection may pick a lane that is going down. */
    ck_assert_str_eq(calls, "steer 198.19.0.2|down lane1 7601|down lane2 7602");
    summary = journal_summary();
    ck_assert_str_eq(summary, "");
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(manager), 0);
    ck_assert(vl_lane_manager_is_idle(manager));
}
END_TEST

START_TEST(test_refcount_by_plan)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 3);
    g_autoptr(VlLaneReport) r1 = NULL;
    g_autoptr(VlLaneReport) r2 = NULL;
    g_autoptr(VlLaneReport) r3 = NULL;
    g_autoptr(GError) error = NULL;
    const char *const only_two[] = { "lane2", NULL };
    g_autofree char *c1 = NULL;
    g_autofree char *c2 = NULL;
    g_autofree char *c3 = NULL;
    g_autofree char *c4 = NULL;
    g_autofree char *s1 = NULL;
    g_autofree char *s2 = NULL;
    guint n_down = 0;

    r1 = acquire("a", peer, NULL, 2, &error);
    ck_assert_ptr_nonnull(r1);
    g_free(take_calls());

    /* Plan b uses lane2, already up for a: no second lane-up. */
    r2 = acquire("b", peer, only_two, 0, &error);
    ck_assert_ptr_nonnull(r2);
    ck_assert_uint_eq(r2->n_up, 1);
    ck_assert(result_of(r2, 0)->up && result_of(r2, 0)->reused);
    c1 = take_calls();
    ck_assert_str_eq(c1, "");
    s1 = journal_summary();
    ck_assert_str_eq(s1, "lane1=up[a] lane2=up[a,b]");

    /* Asking again for a lane the plan holds changes nothing. */
    r3 = acquire("b", peer, only_two, 0, &error);
    ck_assert_ptr_nonnull(r3);
    ck_assert(result_of(r3, 0)->up);
    c2 = take_calls();
    ck_assert_str_eq(c2, "");

    /* a goes: lane1 comes down, lane2 stays for b. */
    ck_assert(release("a", &n_down, &error));
    ck_assert_uint_eq(n_down, 1);
    c3 = take_calls();
    ck_assert_str_eq(c3, "steer 198.19.0.2 lane2:7602|down lane1 7601");
    s2 = journal_summary();
    ck_assert_str_eq(s2, "lane2=up[b]");

    /* b goes: the last lane comes down after the last plan. */
    ck_assert(release("b", &n_down, &error));
    ck_assert_uint_eq(n_down, 1);
    c4 = take_calls();
    ck_assert_str_eq(c4, "steer 198.19.0.2|down lane2 7602");

    /* Released twice: an error, nothing called. */
    ck_assert(!release("b", NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "'b'"));
    ck_assert_uint_eq(fake->calls->len, 0);
}
END_TEST

START_TEST(test_failing_lane)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 3);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *summary = NULL;
    g_autoptr(json_object) json = NULL;
    const VlLaneResult *bad;

    g_hash_table_insert(fake->up_mode, (gpointer) "lane2", GINT_TO_POINTER(FAKE_FAIL));
    report = acquire("p", peer, NULL, 3, &error);
    ck_assert_msg(report != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(report->n_up, 2);
    bad = result_of(report, 1);
    ck_assert(!bad->up);
    ck_assert(g_error_matches(bad->error, VL_ERROR, VL_ERROR_SCRIPT));
    ck_assert_ptr_nonnull(strstr(bad->error->message, "boom"));
    ck_assert(result_of(report, 0)->up && result_of(report, 2)->up);

    /* The half-up lane is taken down again; the others are steered to. */
    calls = take_calls();
    ck_assert_str_eq(calls,
                     "up lane1 7601 198.18.11.1/24 198.18.11.2 198.19.0.2|"
                     "up lane2 7602 198.18.12.1/24 198.18.12.2 198.19.0.2|"
                     "up lane3 7603 198.18.13.1/24 198.18.13.2 198.19.0.2|"
                     "steer 198.19.0.2 lane1:7601 lane3:7603|"
                     "down lane2 7602");
    summary = journal_summary();
    ck_assert_str_eq(summary, "lane1=up[p] lane3=up[p]");

    json = vl_lane_report_to_json(report);
    ck_assert_str_eq(json_object_to_json_string(json_object_object_get(json, "up")),
                     "[ \"lane1\", \"lane3\" ]");
    ck_assert_str_eq(json_object_to_json_string(json_object_object_get(json, "failed")),
                     "[ \"lane2\" ]");
}
END_TEST

START_TEST(test_hanging_lane)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    gint64 t0 = g_get_monotonic_time();

    g_hash_table_insert(fake->up_mode, (gpointer) "lane1", GINT_TO_POINTER(FAKE_HANG));
    report = acquire("p", peer, NULL, 2, &error);
    ck_assert_ptr_nonnull(report);
    /* Bounded by the timeout handed to the back end (100 ms here). */
    ck_assert_int_ge(g_get_monotonic_time() - t0, 90 * 1000);
    ck_assert_uint_eq(report->n_up, 1);
    ck_assert(g_error_matches(result_of(report, 0)->error, VL_ERROR, VL_ERROR_TIMEOUT));
    ck_assert(result_of(report, 1)->up);
    calls = take_calls();
    ck_assert_ptr_nonnull(strstr(calls, "steer 198.19.0.2 lane2:7602|down lane1 7601"));
}
END_TEST

START_TEST(test_steer_failure_reported)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 1);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;

    fake->steer_mode = FAKE_FAIL;
    report = acquire("p", peer, NULL, 1, &error);
    ck_assert_ptr_nonnull(report);
    ck_assert_uint_eq(report->n_up, 1);
    ck_assert(g_error_matches(report->steer_error, VL_ERROR, VL_ERROR_SCRIPT));
    fake->steer_mode = FAKE_OK;
    ck_assert(release("p", NULL, &error));
}
END_TEST

START_TEST(test_down_failure_kept_then_recovered)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) list = NULL;
    g_autofree char *summary = NULL;
    g_autofree char *calls = NULL;
    guint n_down = 0;

    report = acquire("p", peer, NULL, 2, &error);
    ck_assert_ptr_nonnull(report);
    g_hash_table_insert(fake->down_mode, (gpointer) "lane2", GINT_TO_POINTER(FAKE_FAIL));
    ck_assert(!release("p", NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_SCRIPT));
    ck_assert_ptr_nonnull(strstr(error->message, "lane-down"));
    g_clear_error(&error);

    /* lane2 stays in the journal (failed) and in the list, with why. */
    summary = journal_summary();
    ck_assert_str_eq(summary, "lane2=failed[]");
    list = vl_lane_manager_to_json(manager);
    ck_assert_uint_eq(json_object_array_length(list), 1);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(
                         json_object_array_get_idx(list, 0), "state")), "failed");
    ck_assert_ptr_nonnull(strstr(json_object_get_string(json_object_object_get(
                                     json_object_array_get_idx(list, 0), "error")), "boom"));

    /* The next start (a new manager on the same journal) tears it down. */
    g_clear_pointer(&manager, vl_lane_manager_free);
    g_hash_table_remove_all(fake->down_mode);
    g_free(take_calls());
    manager = new_manager();
    ck_assert(recover(&n_down, &error));
    ck_assert_uint_eq(n_down, 1);
    calls = take_calls();
    ck_assert_str_eq(calls, "steer 198.19.0.2|down lane2 7602");
}
END_TEST

static const char crashed_journal[] =
    "{\"version\": 1, \"lanes\": [\n"
    " {\"interface\": \"lane1\", \"peer\": \"host-b\", \"address\": \"198.18.11.1/24\",\n"
    "  \"peer_address\": \"198.18.11.2\", \"peer_migration_address\": \"198.19.0.2\",\n"
    "  \"table\": 7601, \"mark\": 7601, \"state\": \"up\", \"plans\": [\"old.1\"]},\n"
    " {\"interface\": \"lane2\", \"peer\": \"host-b\", \"address\": \"198.18.12.1/24\",\n"
    "  \"peer_address\": \"198.18.12.2\", \"peer_migration_address\": \"198.19.0.2\",\n"
    "  \"table\": 7605, \"mark\": 7605, \"state\": \"coming-up\", \"plans\": [\"old.1\"]},\n"
    " {\"interface\": \"eth9\", \"peer\": \"host-c\", \"address\": \"198.18.20.1/24\",\n"
    "  \"peer_address\": \"198.18.20.3\", \"peer_migration_address\": \"198.19.0.3\",\n"
    "  \"table\": 7602, \"mark\": 7602, \"state\": \"going-down\", \"plans\": []}\n"
    "]}\n";

static void
write_journal(const char *text)
{
    g_autofree char *dir = g_path_get_dirname(journal);

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
    ck_assert(g_file_set_contents(journal, text, -1, NULL));
}

START_TEST(test_recover_crashed_journal)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    g_autofree char *summary = NULL;
    guint n_down = 0;
    guint i;
    gboolean logged_lane2 = FALSE;

    write_journal(crashed_journal);
    ck_assert(recover(&n_down, &error));
    ck_assert_uint_eq(n_down, 3);
    calls = take_calls();
    /* Each peer unsteered, then every lane down with its recorded table. */
    ck_assert_str_eq(calls,
                     "steer 198.19.0.2|steer 198.19.0.3|"
                     "down lane1 7601|down lane2 7605|down eth9 7602");
    summary = journal_summary();
    ck_assert_str_eq(summary, "");
    for (i = 0; i < messages->len; i++) {
        const char *m = g_ptr_array_index(messages, i);

        if (strstr(m, "Tearing down lane 'lane2'") && strstr(m, "previous run"))
            logged_lane2 = TRUE;
    }
    ck_assert(logged_lane2);
}
END_TEST

START_TEST(test_recover_keeps_tables_of_failed)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 3);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;

    /* lane2 (table 7605) will not come down: its table stays taken. */
    write_journal(crashed_journal);
    g_hash_table_insert(fake->down_mode, (gpointer) "lane2", GINT_TO_POINTER(FAKE_FAIL));
    ck_assert(!recover(NULL, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "1 lane(s) did not come down"));
    g_hash_table_remove_all(fake->down_mode);
    g_free(take_calls());

    /* lane2 is failed: bringing it up again keeps its table. */
    report = acquire("p", peer, NULL, 3, &error);
    ck_assert_ptr_nonnull(report);
    ck_assert_uint_eq(report->n_up, 3);
    ck_assert_uint_eq(result_of(report, 0)->table, 7601);
    ck_assert_uint_eq(result_of(report, 1)->table, 7605);
    ck_assert_uint_eq(result_of(report, 2)->table, 7602);
    ck_assert(release("p", NULL, &error));
}
END_TEST

START_TEST(test_recover_missing_journal)
{
    g_autoptr(GError) error = NULL;
    guint n_down = 99;

    ck_assert(recover(&n_down, &error));
    ck_assert_uint_eq(n_down, 0);
    ck_assert_uint_eq(fake->calls->len, 0);
    /* Nothing to record: no file is made. */
    ck_assert(!g_file_test(journal, G_FILE_TEST_EXISTS));
}
END_TEST

static const struct {
    const char *name;
    const char *text;
    const char *expect;
} corrupt[] = {
    { "empty", "", "empty file" },
    { "not-json", "lanes: lane1\n", "not JSON" },
    { "truncated", "{\"version\": 1, \"lanes\": [{\"interface\": \"la", "not JSON" },
    { "trailing", "{\"version\": 1, \"lanes\": []} x", "not JSON" },
    { "no-version", "{\"lanes\": []}", "no \"version\"" },
    { "version-2", "{\"version\": 2, \"lanes\": []}", "unknown version 2" },
    { "lanes-object", "{\"version\": 1, \"lanes\": {}}", "no \"lanes\" array" },
    { "bad-interface",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1 x\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7601, \"mark\": 7601,"
      " \"state\": \"up\", \"plans\": []}]}", ".lanes[0].interface" },
    { "bad-address",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7601, \"mark\": 7601,"
      " \"state\": \"up\", \"plans\": []}]}", "invalid address" },
    { "main-table",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 254, \"mark\": 7601,"
      " \"state\": \"up\", \"plans\": []}]}", "invalid table" },
    { "bad-state",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7601, \"mark\": 7601,"
      " \"state\": \"sideways\", \"plans\": []}]}", ".lanes[0].state" },
    { "bad-plan",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7601, \"mark\": 7601,"
      " \"state\": \"up\", \"plans\": [\"a b\"]}]}", ".lanes[0].plans[0]" },
    /* One good record and one bad: still nothing is torn down. */
    { "duplicate",
      "{\"version\": 1, \"lanes\": [{\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7601, \"mark\": 7601,"
      " \"state\": \"up\", \"plans\": []},"
      " {\"interface\": \"lane1\", \"peer\": \"b\","
      " \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\","
      " \"peer_migration_address\": \"198.19.0.2\", \"table\": 7602, \"mark\": 7602,"
      " \"state\": \"up\", \"plans\": []}]}", "used twice" },
};

START_TEST(test_corrupt_journal)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *aside = g_strconcat(journal, ".corrupt", NULL);
    g_autofree char *kept = NULL;

    write_journal(corrupt[_i].text);
    ck_assert(!recover(NULL, &error));
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID), "%s: %s",
                  corrupt[_i].name, error->message);
    ck_assert_msg(strstr(error->message, corrupt[_i].expect) != NULL,
                  "%s: '%s' lacks '%s'", corrupt[_i].name, error->message,
                  corrupt[_i].expect);
    ck_assert_ptr_nonnull(strstr(error->message, journal));
    ck_assert_ptr_nonnull(strstr(error->message, "Tearing down nothing"));
    /* Nothing torn down blindly; the file is kept aside for the admin. */
    ck_assert_uint_eq(fake->calls->len, 0);
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(manager), 0);
    ck_assert(!g_file_test(journal, G_FILE_TEST_EXISTS));
    ck_assert(g_file_get_contents(aside, &kept, NULL, NULL));
    ck_assert_str_eq(kept, corrupt[_i].text);
}
END_TEST

START_TEST(test_bad_requests)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    g_autoptr(VlPeerConfig) nomig = make_peer("host-x", NULL, 2);
    const char *const unknown[] = { "lane1", "eth0", NULL };
    const char *const twice[] = { "lane1", "lane1", NULL };
    const char *const none[] = { NULL };
    struct {
        const char *plan;
        const VlPeerConfig *peer;
        const char *const *interfaces;
        guint count;
        const char *expect;
    } cases[] = {
        { "", peer, NULL, 1, "Invalid plan id" },
        { "a b", peer, NULL, 1, "Invalid plan id" },
        { "a\nb", peer, NULL, 1, "Invalid plan id 'a\\nb'" },
        { "p", nomig, NULL, 1, "no migration address" },
        { "p", peer, NULL, 3, "has 2 lane(s), cannot bring up 3" },
        { "p", peer, NULL, 0, "cannot bring up 0" },
        { "p", peer, unknown, 0, "has no lane 'eth0'" },
        { "p", peer, twice, 0, "asked for twice" },
        { "p", peer, none, 0, "No lanes asked for" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VlLaneReport) report = acquire(cases[i].plan, cases[i].peer,
                                                 cases[i].interfaces, cases[i].count,
                                                 &error);

        ck_assert_ptr_null(report);
        ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID) &&
                      strstr(error->message, cases[i].expect),
                      "case %u: '%s' lacks '%s'", i, error->message, cases[i].expect);
    }
    ck_assert_uint_eq(fake->calls->len, 0);
    ck_assert(!g_file_test(journal, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_unwritable_journal)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *blocker = g_build_filename(tmpdir, "state", NULL);

    /* The journal's directory is a file: nothing can be recorded. */
    ck_assert(g_file_set_contents(blocker, "x", -1, NULL));
    report = acquire("p", peer, NULL, 2, &error);
    ck_assert_ptr_null(report);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "journal"));
    /* So nothing was brought up, and nothing is held. */
    ck_assert_uint_eq(fake->calls->len, 0);
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(manager), 0);
}
END_TEST

START_TEST(test_lane_held_for_other_peer)
{
    g_autoptr(VlPeerConfig) b = make_peer("host-b", PEER_MIG, 1);
    g_autoptr(VlPeerConfig) c = make_peer("host-c", "198.19.0.3", 1);
    g_autoptr(VlLaneReport) r1 = NULL;
    g_autoptr(VlLaneReport) r2 = NULL;
    g_autoptr(GError) error = NULL;

    r1 = acquire("p1", b, NULL, 1, &error);
    ck_assert_ptr_nonnull(r1);
    g_free(take_calls());
    r2 = acquire("p2", c, NULL, 1, &error);
    ck_assert_ptr_nonnull(r2);
    ck_assert_uint_eq(r2->n_up, 0);
    ck_assert_ptr_nonnull(strstr(result_of(r2, 0)->error->message,
                                 "Lane 'lane1' is in use towards '198.19.0.2'"));
    ck_assert_uint_eq(fake->calls->len, 0);
    ck_assert(release("p1", NULL, &error));
}
END_TEST

START_TEST(test_tables_reused_and_release_all)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 3);
    const char *const l1[] = { "lane1", NULL };
    const char *const l2[] = { "lane2", NULL };
    const char *const l3[] = { "lane3", NULL };
    g_autoptr(VlLaneReport) r1 = NULL;
    g_autoptr(VlLaneReport) r2 = NULL;
    g_autoptr(VlLaneReport) r3 = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *calls = NULL;
    Wait w = { FALSE, NULL };
    guint n_down = 0;

    r1 = acquire("p1", peer, l1, 0, &error);
    r2 = acquire("p2", peer, l2, 0, &error);
    ck_assert(release("p1", NULL, &error));
    /* lane1's table is free again and is the lowest. */
    r3 = acquire("p3", peer, l3, 0, &error);
    ck_assert_uint_eq(result_of(r3, 0)->table, 7601);
    g_free(take_calls());

    vl_lane_manager_release_all_async(manager, 100, on_done, &w);
    ck_assert(vl_test_loop_run_until(wait_done, &w, 5000));
    ck_assert(vl_lane_manager_release_all_finish(manager, w.result, &n_down, &error));
    g_object_unref(w.result);
    ck_assert_uint_eq(n_down, 2);
    calls = take_calls();
    ck_assert_str_eq(calls, "steer 198.19.0.2|down lane2 7602|down lane3 7601");
    ck_assert_uint_eq(vl_lane_manager_get_n_lanes(manager), 0);
}
END_TEST

START_TEST(test_queued_operations)
{
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 2);
    Wait w1 = { FALSE, NULL };
    Wait w2 = { FALSE, NULL };
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    guint n_down = 0;

    /* A release queued behind the acquire sees its lanes. */
    vl_lane_manager_acquire_async(manager, "p", peer, NULL, 2, 100, on_done, &w1);
    vl_lane_manager_release_async(manager, "p", 100, on_done, &w2);
    ck_assert(!vl_lane_manager_is_idle(manager));
    ck_assert(vl_test_loop_run_until(wait_done, &w2, 5000));
    ck_assert(w1.done);
    report = vl_lane_manager_acquire_finish(manager, w1.result, &error);
    ck_assert_ptr_nonnull(report);
    ck_assert_uint_eq(report->n_up, 2);
    ck_assert(vl_lane_manager_release_finish(manager, w2.result, &n_down, &error));
    ck_assert_uint_eq(n_down, 2);
    g_object_unref(w1.result);
    g_object_unref(w2.result);
}
END_TEST

/* ---- the script back end, with fixture scripts that record argv ------------- */

START_TEST(test_scripts_backend_argv)
{
    g_autofree char *dir = g_build_filename(tmpdir, "scripts", NULL);
    g_autofree char *argv_log = g_build_filename(tmpdir, "argv.log", NULL);
    g_autofree char *logged = NULL;
    g_autofree char *body = NULL;
    g_autoptr(VlPeerConfig) peer = make_peer("host-b", PEER_MIG, 1);
    g_autoptr(VlLaneReport) report = NULL;
    g_autoptr(GError) error = NULL;
    const char *names[] = { "lane-up", "lane-down", "lane-steer" };
    guint i;

    ck_assert_int_eq(g_mkdir(dir, 0755), 0);
    /* Each records its name, its argv one per line and its environment. */
    body = g_strdup_printf("#!/bin/sh\n"
                           "{ echo \"== $(basename \"$0\")\"; for a in \"$@\"; do echo \"$a\"; done;"
                           " echo \"-- env\"; env | sort; } >>'%s'\n", argv_log);
    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);

        ck_assert(g_file_set_contents(p, body, -1, NULL));
        ck_assert_int_eq(chmod(p, 0755), 0);
    }
    g_clear_pointer(&manager, vl_lane_manager_free);
    manager = vl_lane_manager_new(journal, BASE,
                                  vl_lane_backend_new_scripts(dir, "/run/vl-test-state"),
                                  on_log, NULL);
    report = acquire("p", peer, NULL, 1, &error);
    ck_assert_msg(report != NULL && report->n_up == 1, "%s",
                  report && result_of(report, 0)->error ?
                  result_of(report, 0)->error->message : "");
    ck_assert_ptr_null(report->steer_error);
    ck_assert(release("p", NULL, &error));

    ck_assert(g_file_get_contents(argv_log, &logged, NULL, NULL));
    ck_assert_ptr_nonnull(strstr(logged,
                                 "== lane-up\n--interface\nlane1\n--address\n198.18.11.1/24\n"
                                 "--peer\n198.18.11.2\n--peer-migration-address\n198.19.0.2\n"
                                 "--table\n7601\n--mark\n7601\n--state-dir\n/run/vl-test-state\n"
                                 "-- env\n"));
    ck_assert_ptr_nonnull(strstr(logged,
                                 "== lane-steer\n--peer-migration-address\n198.19.0.2\n"
                                 "--base-mark\n7600\n--lane\nlane1:7601\n-- env\n"));
    ck_assert_ptr_nonnull(strstr(logged, "== lane-steer\n--peer-migration-address\n198.19.0.2\n"
                                         "--base-mark\n7600\n-- env\n"));
    ck_assert_ptr_nonnull(strstr(logged, "== lane-down\n--interface\nlane1\n"));
    /* The environment is cleared but for the allow-list. */
    ck_assert_ptr_null(strstr(logged, "HOME="));
    ck_assert_ptr_null(strstr(logged, "abs_srcdir="));
    ck_assert_ptr_nonnull(strstr(logged, "LC_ALL=C\n"));
    ck_assert_ptr_nonnull(strstr(logged, "PATH="));
}
END_TEST

static Suite *
lanes_suite(void)
{
    Suite *s = suite_create("lanes");
    TCase *tc;

    tc = tcase_create("bring-up");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_journal_written_before_up);
    tcase_add_test(tc, test_release_unsteers_then_downs);
    tcase_add_test(tc, test_refcount_by_plan);
    tcase_add_test(tc, test_tables_reused_and_release_all);
    tcase_add_test(tc, test_queued_operations);
    tcase_add_test(tc, test_lane_held_for_other_peer);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_failing_lane);
    tcase_add_test(tc, test_hanging_lane);
    tcase_add_test(tc, test_steer_failure_reported);
    tcase_add_test(tc, test_down_failure_kept_then_recovered);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_unwritable_journal);
    suite_add_tcase(s, tc);

    tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_recover_crashed_journal);
    tcase_add_test(tc, test_recover_keeps_tables_of_failed);
    tcase_add_test(tc, test_recover_missing_journal);
    tcase_add_loop_test(tc, test_corrupt_journal, 0, G_N_ELEMENTS(corrupt));
    suite_add_tcase(s, tc);

    tc = tcase_create("scripts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_scripts_backend_argv);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(lanes_suite());
}
