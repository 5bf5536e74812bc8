/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt side of evacuate against the test driver: domain addresses
 * for traffic attribution (traffic.c), and the mover built on the
 * migration driver (VlEvacuateMigrator) inside a run: with libvirt's own
 * job (the test driver refuses to migrate), and with a fake daemon and a
 * fake job to see the lanes asked for and given back, the channels, the
 * plan in the destination XML, the retry over the base path and the
 * cancels.
 */
#include <config.h>

#include <string.h>

#include <glib/gstdio.h>

#include "evacuate.h"
#include "fake-migrate.h"
#include "ipc.h"
#include "traffic.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

/* ---- addresses ---------------------------------------------------------- */

START_TEST(test_addresses_of_domain)
{
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(VlTrafficAddresses) a = vl_traffic_addresses_new();
    g_autoptr(GError) error = NULL;
    guint n = 99;

    ck_assert_ptr_nonnull(conn);
    dom = virDomainLookupByName(conn, "test");
    ck_assert_ptr_nonnull(dom);
    /* the test driver answers both sources with 192.168.122.3 */
    ck_assert_msg(vl_traffic_addresses_add_domain(a, dom, &n, &error), "%s",
                  error ? error->message : "");
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(vl_traffic_addresses_get_size(a), 1);
    ck_assert_str_eq(vl_traffic_addresses_lookup(a, "192.168.122.3"), "test");
    ck_assert_uint_eq(vl_traffic_addresses_get_n_ambiguous(a), 0);
}
END_TEST

static char *
node_uri(void)
{
    g_autofree char *node = vl_test_data_path("evacuate/node.xml");

    return g_strdup_printf("test://%s", node);
}

START_TEST(test_addresses_without_interface)
{
    g_autofree char *uri = node_uri();
    g_autoptr(virConnect) conn = virConnectOpen(uri);
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(VlTrafficAddresses) a = vl_traffic_addresses_new();
    guint n = 99;

    ck_assert_ptr_nonnull(conn);
    dom = virDomainLookupByName(conn, "web \"2\"");
    ck_assert_ptr_nonnull(dom);
    ck_assert(vl_traffic_addresses_add_domain(a, dom, &n, NULL));
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(vl_traffic_addresses_get_size(a), 0);
}
END_TEST

/* ---- a run ------------------------------------------------------------- */

typedef struct {
    gboolean done;
    GPtrArray *notes;           /* "domain: note" */
} Watch;

static void
on_event(VlEvacuateRun *run G_GNUC_UNUSED, const VlEvacuateEvent *e, gpointer user_data)
{
    Watch *w = user_data;

    if (e->type == VL_EVACUATE_EVENT_NOTE)
        g_ptr_array_add(w->notes, g_strdup_printf("%s: %s", e->domain, e->note));
}

static void
on_done(VlEvacuateRun *run G_GNUC_UNUSED, gpointer user_data)
{
    ((Watch *)user_data)->done = TRUE;
}

static gboolean
watch_done(gpointer data)
{
    return ((Watch *)data)->done;
}

static gboolean
has_note(const Watch *w, const char *needle)
{
    guint i;

    for (i = 0; i < w->notes->len; i++) {
        if (strstr(g_ptr_array_index(w->notes, i), needle))
            return TRUE;
    }
    return FALSE;
}

static VlEvacuatePlan *
plan_of(const char *const *names, guint concurrency)
{
    g_autoptr(VlGraph) graph = vl_evacuate_graph_build(names, NULL, NULL, NULL, NULL);
    g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
    VlEvacuatePlanConfig config;
    guint i;

    for (i = 0; names[i]; i++)
        g_ptr_array_add(domains, vl_evacuate_domain_new(names[i]));
    vl_evacuate_plan_config_init(&config);
    config.concurrency = concurrency;
    return vl_evacuate_plan_compute(graph, domains, &config, NULL);
}

/* Runs @plan through @migrator until done; @cancel_after_ms > 0 cancels
 * the run that long after the start. */
static VlEvacuateRun *
run_plan(const VlEvacuatePlan *plan, VlEvacuateMigrator *migrator, Watch *w,
         guint cancel_after_ms)
{
    VlEvacuateRun *run = vl_evacuate_run_new(plan, vl_evacuate_migrator_ops(), migrator);

    w->done = FALSE;
    vl_evacuate_run_start(run, on_event, on_done, w);
    if (cancel_after_ms) {
        ck_assert(!vl_test_loop_run_until(watch_done, w, cancel_after_ms));
        vl_evacuate_run_cancel(run);
    }
    ck_assert(vl_virt_test_wait(watch_done, w));
    return run;
}

/* libvirt's own job: the test driver cannot migrate.  The failure comes
 * back with libvirt's reason and nothing more starts. */
START_TEST(test_migrator_libvirt_failure)
{
    const char *const names[] = { "web 1", "web;3", NULL };
    g_autofree char *uri = node_uri();
    g_autoptr(virConnect) conn = virConnectOpen(uri);
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateMigrator) migrator = NULL;
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    VlEvacuateMigratorConfig config;
    Watch w = { .notes = notes };
    const GError *err = NULL;

    ck_assert_ptr_nonnull(conn);
    vl_evacuate_migrator_config_init(&config);
    config.conn = conn;
    config.dest_uri = "test:///default";
    config.poll_ms = 20;
    migrator = vl_evacuate_migrator_new(&config);
    run = run_plan(plan, migrator, &w, 0);

    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_FAILED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_PENDING);
    err = vl_evacuate_run_get_error(run, 0);
    ck_assert_msg(strstr(err->message, "not supported") != NULL, "%s", err->message);
    /* no lanes were asked for: one link, a note says so */
    ck_assert(has_note(&w, "1 link (the base path)"));
    g_clear_pointer(&run, vl_evacuate_run_free);

    /* a domain that is not there fails at start, named */
    {
        const char *const ghost[] = { "no such domain", NULL };
        g_autoptr(VlEvacuatePlan) p2 = plan_of(ghost, 1);

        run = run_plan(p2, migrator, &w, 0);
        ck_assert_ptr_nonnull(strstr(vl_evacuate_run_get_error(run, 0)->message,
                                     "'no such domain'"));
    }
}
END_TEST

/* ---- the fakes: fake-migrate.h ------------------------------------------------ */

static const char policy_json[] =
    "{ \"migration\": { \"max_lanes\": 2, \"channels_per_lane\": 2, \"lane_up_max_s\": 1,\n"
    "  \"migration_address\": \"198.19.0.1\",\n"
    "  \"peers\": [ { \"name\": \"b\", \"uri\": \"test:///default\",\n"
    "    \"migration_address\": \"198.19.0.2\", \"lanes\": [\n"
    "    { \"interface\": \"lane1\", \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\", \"bandwidth_mbit\": 200 },\n"
    "    { \"interface\": \"lane2\", \"address\": \"198.18.12.1/24\", \"peer_address\": \"198.18.12.2\", \"bandwidth_mbit\": 200 } ] } ] } }";

typedef struct {
    virConnectPtr conn;
    VlPolicy *policy;
    VlFakeDaemon fake;
    VlEvacuateMigrator *migrator;
    GPtrArray *notes;
    char *dir;
    char *history_path;
} Fixture;

static void
fixture_init(Fixture *fx, guint lanes)
{
    g_autofree char *uri = node_uri();
    VlEvacuateMigratorConfig config;

    memset(fx, 0, sizeof(*fx));
    fx->conn = virConnectOpen(uri);
    ck_assert_ptr_nonnull(fx->conn);
    fx->policy = vl_policy_load_data("p.json", policy_json, strlen(policy_json), NULL);
    ck_assert_ptr_nonnull(fx->policy);
    vl_fake_daemon_init(&fx->fake);
    fx->notes = g_ptr_array_new_with_free_func(g_free);

    vl_evacuate_migrator_config_init(&config);
    config.conn = fx->conn;
    config.dest_uri = "test:///default";
    config.migration = fx->policy->migration;
    config.peer = g_ptr_array_index(fx->policy->migration->peers, 0);
    config.lanes = lanes;
    VL_FAKE_MIGRATE_CONFIGURE(config, &fx->fake);
    fx->dir = g_dir_make_tmp("vl-evacuate-XXXXXX", NULL);
    ck_assert_ptr_nonnull(fx->dir);
    fx->history_path = g_build_filename(fx->dir, "history.jsonl", NULL);
    config.history_path = fx->history_path;
    fx->migrator = vl_evacuate_migrator_new(&config);
}

static void
fixture_clear(Fixture *fx)
{
    g_clear_pointer(&fx->migrator, vl_evacuate_migrator_free);
    g_clear_pointer(&fx->policy, vl_policy_free);
    g_clear_pointer(&fx->conn, virConnectClose);
    vl_fake_daemon_clear(&fx->fake);
    g_clear_pointer(&fx->notes, g_ptr_array_unref);
    g_unlink(fx->history_path);
    g_rmdir(fx->dir);
    g_clear_pointer(&fx->history_path, g_free);
    g_clear_pointer(&fx->dir, g_free);
}

/* The plan id of the only request of @type ("lanes-up", "lanes-down"):
 * requests are matched by plan id, never by position, since moves may
 * end in any order. */
static char *
only_request_id(GPtrArray *requests, const char *type)
{
    g_autofree char *prefix = g_strdup_printf("%s ", type);
    char *id = NULL;
    guint i;

    for (i = 0; i < requests->len; i++) {
        const char *r = g_ptr_array_index(requests, i);
        g_auto(GStrv) words = NULL;

        if (!g_str_has_prefix(r, prefix))
            continue;
        ck_assert_msg(!id, "a second '%s': %s", type, r);
        words = g_strsplit(r, " ", 3);
        id = g_strdup(words[1]);
    }
    ck_assert_msg(id, "no '%s'", type);
    return id;
}

/* After a run of @jobs moves over the lanes that all succeeded: one
 * "lanes-up" for both lanes before any job ended, one "lanes-down" with
 * the same plan id after the last, every job with 3 links' channels to
 * the peer's migration address and a plan in its destination XML.
 * Returns the run's plan id. */
static char *
assert_lanes_once(const Fixture *fx, guint jobs)
{
    g_autofree char *up = NULL;
    g_autofree char *down = NULL;
    guint i;

    ck_assert_uint_eq(fx->fake.jobs, jobs);
    ck_assert_uint_eq(fx->fake.requests->len, 2);
    up = only_request_id(fx->fake.requests, "lanes-up");
    down = only_request_id(fx->fake.requests, "lanes-down");
    ck_assert_str_eq(up, down);
    for (i = 0; i < fx->fake.requests->len; i++) {
        const char *r = g_ptr_array_index(fx->fake.requests, i);

        if (g_str_has_prefix(r, "lanes-up "))
            ck_assert_msg(g_str_has_suffix(r, " lane1,lane2"), "%s", r);
    }
    ck_assert_uint_eq(fx->fake.lanes_up_jobs, 0);
    ck_assert_uint_eq(fx->fake.lanes_down_jobs, jobs);
    for (i = 0; i < fx->fake.job_log->len; i++)
        ck_assert_str_eq(g_ptr_array_index(fx->fake.job_log, i),
                         "channels=6 parallel=yes plan=yes uri=tcp://198.19.0.2");
    return g_steal_pointer(&up);
}

/* Two moves at once over the lanes: the lanes come up once for the run
 * (both lanes, one plan id of the run's own) and go down once, with that
 * id, after both jobs; each move migrates with 3 links' channels to the
 * peer's migration address, its destination XML carrying a plan of its
 * own. */
START_TEST(test_migrator_lanes)
{
    const char *const names[] = { "web 1", "db'x", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 2);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autofree char *up = NULL;
    Fixture fx;
    Watch w;
    guint i;

    fixture_init(&fx, 2);
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 0);
    ck_assert(vl_evacuate_run_succeeded(run));
    up = assert_lanes_once(&fx, 2);
    /* the destination's plans: one per move, none the run's */
    ck_assert_uint_eq(fx.fake.dest_plans->len, 2);
    ck_assert_str_ne(g_ptr_array_index(fx.fake.dest_plans, 0),
                     g_ptr_array_index(fx.fake.dest_plans, 1));
    for (i = 0; i < fx.fake.dest_plans->len; i++)
        ck_assert_str_ne(g_ptr_array_index(fx.fake.dest_plans, i), up);
    ck_assert(has_note(&w, ": 3 links (the base path and lane1, lane2), 6 multifd channels"));
    ck_assert(has_note(&w, "lanes up for the whole evacuation"));
    ck_assert(has_note(&w, "lanes down: 2"));
    g_clear_pointer(&run, vl_evacuate_run_free);
    fixture_clear(&fx);
}
END_TEST

/* Three moves one after the other: the lanes come up before the first
 * and go down after the last, once each, not per move. */
START_TEST(test_migrator_lanes_held)
{
    const char *const names[] = { "web 1", "db'x", "web;3", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autofree char *up = NULL;
    Fixture fx;
    Watch w;
    guint i;

    fixture_init(&fx, 2);
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 0);
    ck_assert(vl_evacuate_run_succeeded(run));
    up = assert_lanes_once(&fx, 3);
    /* each move told the daemon how it is carried */
    ck_assert_uint_eq(fx.fake.announced->len, 3);
    for (i = 0; names[i]; i++) {
        g_autofree char *want = g_strdup_printf("%s links=3 channels=6", names[i]);

        ck_assert_msg(g_ptr_array_find_with_equal_func(fx.fake.announced, want,
                                                       g_str_equal, NULL), "%s", want);
    }
    /* each move's history line: 3 links (2 lanes besides the base path),
     * 6 channels, the job's 0.1 s and
     * a fixed cost (whatever the fakes took, a few ms) */
    {
        g_autoptr(VlHistory) h = vl_history_load(fx.history_path, NULL);

        ck_assert_ptr_nonnull(h);
        ck_assert_uint_eq(h->records->len, 3);
        for (i = 0; i < 3; i++) {
            const VlHistoryRecord *r = g_ptr_array_index(h->records, i);

            ck_assert(g_strv_contains(names, r->domain));
            ck_assert_uint_eq(r->lanes, 2);
            ck_assert_uint_eq(r->channels, 6);
            ck_assert(r->total_time_s == 0.1);
            ck_assert(r->move_overhead_s >= 0 && r->move_overhead_s < 10);
        }
    }
    g_clear_pointer(&run, vl_evacuate_run_free);
    /* the run gave them back: freeing the migrator asks nothing more */
    g_clear_pointer(&fx.migrator, vl_evacuate_migrator_free);
    ck_assert_uint_eq(fx.fake.requests->len, 2);
    fixture_clear(&fx);
}
END_TEST

/* Ctrl-C during the first of two moves: the job is aborted, the second
 * never starts, and the run's lanes go down once, after the abort. */
START_TEST(test_migrator_cancel_gives_lanes_back)
{
    const char *const names[] = { "web 1", "db'x", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    Fixture fx;
    Watch w = { 0 };

    fixture_init(&fx, 2);
    w.notes = fx.notes;
    fx.fake.hold_jobs = TRUE;
    run = vl_evacuate_run_new(plan, vl_evacuate_migrator_ops(), fx.migrator);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    /* the first job runs: the lanes are up */
    ck_assert(vl_virt_test_wait(vl_fake_job_running, &fx.fake));
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-up "), 1);
    vl_evacuate_run_cancel(run);
    ck_assert(vl_virt_test_wait(watch_done, &w));
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_CANCELLED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_PENDING);
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    ck_assert_uint_eq(fx.fake.lanes_down_jobs, 1);
    g_clear_pointer(&run, vl_evacuate_run_free);
    g_clear_pointer(&fx.migrator, vl_evacuate_migrator_free);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    fixture_clear(&fx);
}
END_TEST

/* A move that fails for good (over the lanes, then over the base path)
 * stops the run: the lanes went down at the first failure and are not
 * asked for again. */
START_TEST(test_migrator_failure_gives_lanes_back)
{
    const char *const names[] = { "web 1", "db'x", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autofree char *up = NULL;
    g_autofree char *down = NULL;
    Fixture fx;
    Watch w;

    fixture_init(&fx, 2);
    fx.fake.fail_domain = g_strdup("web 1");
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 0);
    ck_assert(!vl_evacuate_run_succeeded(run));
    up = only_request_id(fx.fake.requests, "lanes-up");
    down = only_request_id(fx.fake.requests, "lanes-down");
    ck_assert_str_eq(up, down);
    ck_assert(has_note(&w, "lanes down for the rest of the evacuation: 2"));
    g_clear_pointer(&run, vl_evacuate_run_free);
    g_clear_pointer(&fx.migrator, vl_evacuate_migrator_free);
    ck_assert_uint_eq(fx.fake.requests->len, 2);
    fixture_clear(&fx);
}
END_TEST

/* A migration over lanes fails: the lanes go back, then one retry over
 * the base path alone succeeds. */
START_TEST(test_migrator_retry_without_lanes)
{
    const char *const names[] = { "web;3", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    Fixture fx;
    Watch w;

    fixture_init(&fx, 2);
    fx.fake.fail_with_lanes = TRUE;
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 0);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_MOVED);
    ck_assert_uint_eq(fx.fake.jobs, 2);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=6 parallel=yes plan=yes uri=tcp://198.19.0.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 1),
                     "channels=2 parallel=yes plan=no uri=tcp://198.19.0.2");
    /* up, down before the retry, nothing more */
    ck_assert_uint_eq(fx.fake.requests->len, 2);
    ck_assert(g_str_has_prefix(g_ptr_array_index(fx.fake.requests, 1), "lanes-down "));
    ck_assert(has_note(&w, "retrying over the base path only"));
    g_clear_pointer(&run, vl_evacuate_run_free);
    fixture_clear(&fx);
}
END_TEST

/* Without lanes asked for, a failure is final. */
START_TEST(test_migrator_no_lanes_no_retry)
{
    const char *const names[] = { "web;3", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    Fixture fx;
    Watch w;

    fixture_init(&fx, 0);
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 0);
    ck_assert(vl_evacuate_run_succeeded(run));
    ck_assert_uint_eq(fx.fake.requests->len, 0);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=2 parallel=yes plan=no uri=tcp://198.19.0.2");
    g_clear_pointer(&run, vl_evacuate_run_free);
    fixture_clear(&fx);
}
END_TEST

/* Ctrl-C while the lanes come up: no job starts, the lanes go back, the
 * move is cancelled and the next one never starts. */
START_TEST(test_migrator_cancel_while_preparing)
{
    const char *const names[] = { "web 1", "web;3", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    Fixture fx;
    Watch w;

    fixture_init(&fx, 2);
    fx.fake.hold_lanes_up = TRUE;
    w.notes = fx.notes;
    /* the daemon answers 300 ms after the cancel */
    g_timeout_add(400, vl_fake_daemon_release_lanes, &fx.fake);
    run = run_plan(plan, fx.migrator, &w, 100);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_CANCELLED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_PENDING);
    ck_assert_uint_eq(fx.fake.jobs, 0);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fixture_clear(&fx);
}
END_TEST

/* Ctrl-C during the job: the job is aborted, the lanes go back. */
START_TEST(test_migrator_cancel_job)
{
    const char *const names[] = { "web 1", "web;3", NULL };
    g_autoptr(VlEvacuatePlan) plan = plan_of(names, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    Fixture fx;
    Watch w;

    fixture_init(&fx, 2);
    fx.fake.hold_jobs = TRUE;
    w.notes = fx.notes;
    run = run_plan(plan, fx.migrator, &w, 300);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_CANCELLED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_PENDING);
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_uint_ge(fx.fake.aborts, 1);
    /* cancelled, not retried over the base path */
    ck_assert(!has_note(&w, "retrying"));
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fixture_clear(&fx);
}
END_TEST

static Suite *
evacuate_libvirt_suite(void)
{
    Suite *s = suite_create("evacuate-libvirt");
    TCase *tc = tcase_create("addresses");

    tcase_add_test(tc, test_addresses_of_domain);
    tcase_add_test(tc, test_addresses_without_interface);
    suite_add_tcase(s, tc);

    tc = tcase_create("migrator");
    tcase_add_test(tc, test_migrator_libvirt_failure);
    tcase_add_test(tc, test_migrator_lanes);
    tcase_add_test(tc, test_migrator_lanes_held);
    tcase_add_test(tc, test_migrator_cancel_gives_lanes_back);
    tcase_add_test(tc, test_migrator_failure_gives_lanes_back);
    tcase_add_test(tc, test_migrator_retry_without_lanes);
    tcase_add_test(tc, test_migrator_no_lanes_no_retry);
    tcase_add_test(tc, test_migrator_cancel_while_preparing);
    tcase_add_test(tc, test_migrator_cancel_job);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(evacuate_libvirt_suite());
}
