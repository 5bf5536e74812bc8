/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's container moves over lanes (mover.c) against the test
 * driver, with the fake daemon and the fake job of fake-migrate.h: the
 * estimate decides (no lane within the threshold, lanes over it, a
 * sampled or measured dirty rate), "lanes-up" names the peer's lanes,
 * the destination XML carries the plan, the parameters carry PARALLEL
 * and the channels for the links that came up, "lanes-down" follows
 * success, failure and cancel, a refused or partial "lanes-up" still
 * migrates, and a destination that is no peer gets the plain migration.
 * Each move runs in a thread of its own, as in the executor, while this
 * thread turns the main context the mover logs to.
 */
#include <config.h>

#include <string.h>

#include "fake-migrate.h"
#include "mover.h"
#include "virt-test.h"
#include "vl-virt-autoptr.h"

#define MIB 1048576.0

static const char policy_json[] =
    "{ \"migration\": { \"max_lanes\": 2, \"channels_per_lane\": 2, \"lane_up_max_s\": 1,\n"
    "  \"threshold_s\": %g, \"migration_address\": \"198.19.0.1\",\n"
    "  \"peers\": [ { \"name\": \"b\", \"uri\": \"test:///default\",\n"
    "    \"migration_address\": \"198.19.0.2\", \"base_bandwidth_mbit\": 200, \"lanes\": [\n"
    "    { \"interface\": \"lane1\", \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\", \"bandwidth_mbit\": 200 },\n"
    "    { \"interface\": \"lane2\", \"address\": \"198.18.12.1/24\", \"peer_address\": \"198.18.12.2\", \"bandwidth_mbit\": 200 } ] } ] } }";

typedef struct {
    virConnectPtr conn;
    VlPolicy *policy;
    VlFakeDaemon fake;
    VlMover *mover;
    GPtrArray *log;             /* "LEVEL message" */

    /* the move */
    const char *domain;
    const char *dest_uri;
    gboolean done;
    gboolean ok;
    GError *error;
} Fixture;

static void
on_log(GLogLevelFlags level, const char *message, gpointer user_data)
{
    Fixture *fx = user_data;

    g_ptr_array_add(fx->log, g_strdup_printf("%s %s",
                                             level == G_LOG_LEVEL_WARNING ? "W" : "M",
                                             message));
}

/* The 256 MiB guest takes about 12.8 s over the 200 Mbit/s base path
 * alone and about 6 s over three links (one lane_up_max_s included). */
static void
fixture_init(Fixture *fx, double threshold_s)
{
    g_autofree char *node = vl_test_data_path("evacuate/node.xml");
    g_autofree char *uri = g_strdup_printf("test://%s", node);
    g_autofree char *json = g_strdup_printf(policy_json, threshold_s);
    VlMoverConfig config;

    memset(fx, 0, sizeof(*fx));
    fx->conn = virConnectOpen(uri);
    ck_assert_ptr_nonnull(fx->conn);
    fx->policy = vl_policy_load_data("p.json", json, strlen(json), NULL);
    ck_assert_ptr_nonnull(fx->policy);
    vl_fake_daemon_init(&fx->fake);
    fx->log = g_ptr_array_new_with_free_func(g_free);

    vl_mover_config_init(&config);
    VL_FAKE_MIGRATE_CONFIGURE(config, &fx->fake);
    config.log_func = on_log;
    config.log_data = fx;
    fx->mover = vl_mover_new(&config);
    vl_mover_configure(fx->mover, fx->policy->migration, "test:///home", NULL);
    fx->domain = "web 1";
    fx->dest_uri = "test:///default";
}

static void
fixture_clear(Fixture *fx)
{
    g_clear_pointer(&fx->mover, vl_mover_unref);
    g_clear_pointer(&fx->policy, vl_policy_free);
    g_clear_pointer(&fx->conn, virConnectClose);
    vl_fake_daemon_clear(&fx->fake);
    g_clear_pointer(&fx->log, g_ptr_array_unref);
    g_clear_error(&fx->error);
}

static gpointer
move_thread(gpointer data)
{
    Fixture *fx = data;
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->conn, fx->domain);
    gboolean ok;
    GError *error = NULL;

    ck_assert_ptr_nonnull(dom);
    ok = vl_mover_migrate(dom, fx->dest_uri, fx->mover, &error);
    g_atomic_pointer_set(&fx->error, error);
    g_atomic_int_set(&fx->ok, ok);
    g_atomic_int_set(&fx->done, TRUE);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
move_done(gpointer data)
{
    return g_atomic_int_get(&((Fixture *)data)->done);
}

static gboolean
log_has(const Fixture *fx, const char *needle)
{
    guint i;

    for (i = 0; i < fx->log->len; i++) {
        if (strstr(g_ptr_array_index(fx->log, i), needle))
            return TRUE;
    }
    return FALSE;
}

/* Starts the move in a thread; with @cancel_after_ms > 0 cancels it that
 * long after the first job started; waits for the end and the log. */
static void
run_move(Fixture *fx, guint cancel_after_ms)
{
    GThread *thread = g_thread_new("move", move_thread, fx);

    if (cancel_after_ms) {
        ck_assert(vl_virt_test_wait(vl_fake_job_running, &fx->fake));
        ck_assert(!vl_test_loop_run_until(move_done, fx, cancel_after_ms));
        vl_mover_cancel(fx->mover);
    }
    ck_assert(vl_virt_test_wait(move_done, fx));
    g_thread_join(thread);
    /* the log lines queued last */
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* The plan id of "lanes-up PLAN ..." / "lanes-down PLAN" at @index. */
static char *
request_plan(const Fixture *fx, guint index)
{
    g_auto(GStrv) words = g_strsplit(g_ptr_array_index(fx->fake.requests, index), " ", 3);

    return g_strdup(words[1]);
}

/* Within the threshold: no lane asked for, the base path with the
 * policy's 2 channels (PARALLEL, as "virt-lanes migrate" does with a
 * plan of one link), to the peer's migration address, no plan in the
 * XML; the dirty rate measured by the daemon since nothing was sampled. */
START_TEST(test_within_threshold_no_lanes)
{
    Fixture fx;

    fixture_init(&fx, 60);
    run_move(&fx, 0);
    ck_assert_msg(fx.ok, "%s", fx.error ? fx.error->message : "");
    ck_assert_uint_eq(fx.fake.requests->len, 0);
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=2 parallel=yes plan=no uri=tcp://198.19.0.2");
    ck_assert_uint_eq(fx.fake.dest_plans->len, 0);
    ck_assert_uint_eq(fx.fake.announced->len, 1);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.announced, 0), "web 1 links=1 channels=2");
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.queries, "estimate web 1"), 1);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.queries, "measure web 1 3"), 1);
    ck_assert(log_has(&fx, "plan 1 link(s), 2 channels"));
    ck_assert(log_has(&fx, "Moved 'web 1' to 'b' over 1 link(s) with 2 channels"));
    fixture_clear(&fx);
}
END_TEST

/* Over the threshold: both lanes come up for a plan of the move, the
 * job runs with 6 channels (2 per link) and the plan in the destination
 * XML naming both destination addresses, the move is announced with 3
 * links, and the same plan's lanes go down after the job. */
START_TEST(test_over_threshold_lanes)
{
    Fixture fx;
    g_autofree char *up = NULL;
    g_autofree char *down = NULL;

    fixture_init(&fx, 5);
    run_move(&fx, 0);
    ck_assert_msg(fx.ok, "%s", fx.error ? fx.error->message : "");
    ck_assert_uint_eq(fx.fake.requests->len, 2);
    ck_assert(g_str_has_prefix(g_ptr_array_index(fx.fake.requests, 0), "lanes-up "));
    ck_assert(g_str_has_suffix(g_ptr_array_index(fx.fake.requests, 0), " lane1,lane2"));
    ck_assert(g_str_has_prefix(g_ptr_array_index(fx.fake.requests, 1), "lanes-down "));
    up = request_plan(&fx, 0);
    down = request_plan(&fx, 1);
    ck_assert_str_eq(up, down);
    ck_assert(g_str_has_prefix(up, "web_1."));
    ck_assert_uint_eq(fx.fake.lanes_up_jobs, 0);
    ck_assert_uint_eq(fx.fake.lanes_down_jobs, 1);
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=6 parallel=yes plan=yes uri=tcp://198.19.0.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.dest_plans, 0), up);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.dest_lanes, 0), "198.18.11.2,198.18.12.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.announced, 0), "web 1 links=3 channels=6");
    ck_assert(log_has(&fx, "plan 3 link(s), 6 channels"));
    ck_assert(log_has(&fx, "lanes up for plan"));
    ck_assert(log_has(&fx, "M Moving 'web 1': lanes down: 2"));
    fixture_clear(&fx);
}
END_TEST

/* A fresh sampled rate is the estimate's: no measurement; at 20 MiB/s
 * the base path alone no longer does within 60 s, so a lane comes up. */
START_TEST(test_sampled_rate_decides)
{
    Fixture fx;

    fixture_init(&fx, 60);
    fx.fake.sampled_bps = 0;
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.queries, "measure "), 0);
    ck_assert_uint_eq(fx.fake.requests->len, 0);
    fixture_clear(&fx);

    fixture_init(&fx, 60);
    fx.fake.sampled_bps = 20 * MIB;
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.queries, "measure "), 0);
    ck_assert(log_has(&fx, "dirty rate 20.0 MiB/s"));
    /* two links already end within the threshold */
    ck_assert(log_has(&fx, "plan 2 link(s), 4 channels"));
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-up "), 1);
    ck_assert(g_str_has_suffix(g_ptr_array_index(fx.fake.requests, 0), " lane1"));
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=4 parallel=yes plan=yes uri=tcp://198.19.0.2");
    fixture_clear(&fx);
}
END_TEST

/* The migration over lanes fails and so does the retry over the base
 * path: the lanes went down once, before the retry, and the move fails
 * naming the domain and libvirt's reason. */
START_TEST(test_lanes_down_after_failure)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.fake.fail_domain = g_strdup("web 1");
    run_move(&fx, 0);
    ck_assert(!fx.ok);
    ck_assert_ptr_nonnull(fx.error);
    ck_assert_msg(strstr(fx.error->message, "'web 1'") &&
                  strstr(fx.error->message, "a lane is down on the destination"),
                  "%s", fx.error->message);
    ck_assert_uint_eq(fx.fake.jobs, 2);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=6 parallel=yes plan=yes uri=tcp://198.19.0.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 1),
                     "channels=2 parallel=yes plan=no uri=tcp://198.19.0.2");
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-up "), 1);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    ck_assert_uint_eq(fx.fake.lanes_down_jobs, 1);
    ck_assert(log_has(&fx, "W Moving 'web 1': the migration over 3 links failed"));
    fixture_clear(&fx);
}
END_TEST

/* Only the migration over lanes fails: the retry over the base path
 * moves the guest, the lanes having gone down before it. */
START_TEST(test_retry_over_base_path)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.fake.fail_with_lanes = TRUE;
    run_move(&fx, 0);
    ck_assert_msg(fx.ok, "%s", fx.error ? fx.error->message : "");
    ck_assert_uint_eq(fx.fake.jobs, 2);
    ck_assert_uint_eq(fx.fake.requests->len, 2);
    ck_assert_uint_eq(fx.fake.lanes_down_jobs, 1);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.announced, 1), "web 1 links=1 channels=2");
    fixture_clear(&fx);
}
END_TEST

/* The daemon refuses "lanes-up": the move still runs, over the base
 * path (fail open), and the plan id is released all the same. */
START_TEST(test_lanes_up_refused)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.fake.refuse_lanes_up = TRUE;
    run_move(&fx, 0);
    ck_assert_msg(fx.ok, "%s", fx.error ? fx.error->message : "");
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=2 parallel=yes plan=no uri=tcp://198.19.0.2");
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    ck_assert(log_has(&fx, "W Moving 'web 1': lanes did not come up ("));
    ck_assert(log_has(&fx, "The journal '/var/lib/x' is not writable"));
    fixture_clear(&fx);
}
END_TEST

/* One lane of two fails: the move goes over the base path and lane1,
 * with 4 channels and only lane1 in the destination's plan. */
START_TEST(test_one_lane_fails)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.fake.fail_lane = g_strdup("lane2");
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=4 parallel=yes plan=yes uri=tcp://198.19.0.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.dest_lanes, 0), "198.18.11.2");
    ck_assert_str_eq(g_ptr_array_index(fx.fake.announced, 0), "web 1 links=2 channels=4");
    ck_assert(log_has(&fx, "lane(s) did not come up: 'lane2' (Script 'lane-up' failed)"));
    fixture_clear(&fx);
}
END_TEST

/* A cancel during the job (the daemon stopping) aborts it, tries no
 * retry and gives the lanes back. */
START_TEST(test_cancel_gives_lanes_back)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.fake.hold_jobs = TRUE;
    run_move(&fx, 100);
    ck_assert(!fx.ok);
    ck_assert_msg(strstr(fx.error->message, "(cancelled)"), "%s", fx.error->message);
    ck_assert_uint_eq(fx.fake.jobs, 1);
    ck_assert_uint_ge(fx.fake.aborts, 1);
    ck_assert_uint_eq(vl_fake_count_prefix(fx.fake.requests, "lanes-down "), 1);
    ck_assert(!log_has(&fx, "retrying"));
    fixture_clear(&fx);

    /* a mover cancelled before a move starts it afresh */
    fixture_init(&fx, 5);
    vl_mover_cancel(fx.mover);
    run_move(&fx, 0);
    ck_assert(fx.ok);
    fixture_clear(&fx);
}
END_TEST

/* No peer has the destination's uri: the plain migration the executor
 * always made (no daemon asked, one stream, not PARALLEL); home gets this
 * host's migration address, anything else none. */
START_TEST(test_plain_without_peer)
{
    Fixture fx;

    fixture_init(&fx, 5);
    fx.dest_uri = "test:///home";
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=0 parallel=no plan=no uri=tcp://198.19.0.1");
    ck_assert_uint_eq(fx.fake.queries->len, 0);
    ck_assert_uint_eq(fx.fake.requests->len, 0);
    ck_assert_uint_eq(fx.fake.announced->len, 0);
    fixture_clear(&fx);

    fixture_init(&fx, 5);
    fx.dest_uri = "test:///elsewhere";
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=0 parallel=no plan=no uri=-");
    fixture_clear(&fx);
}
END_TEST

/* Not configured yet: every move is plain. */
START_TEST(test_unconfigured_is_plain)
{
    Fixture fx;

    fixture_init(&fx, 5);
    vl_mover_configure(fx.mover, NULL, NULL, NULL);
    run_move(&fx, 0);
    ck_assert(fx.ok);
    ck_assert_str_eq(g_ptr_array_index(fx.fake.job_log, 0),
                     "channels=0 parallel=no plan=no uri=-");
    fixture_clear(&fx);
}
END_TEST

static Suite *
mover_suite(void)
{
    Suite *s = suite_create("mover");
    TCase *tc = tcase_create("decision");

    tcase_add_test(tc, test_within_threshold_no_lanes);
    tcase_add_test(tc, test_over_threshold_lanes);
    tcase_add_test(tc, test_sampled_rate_decides);
    tcase_add_test(tc, test_plain_without_peer);
    tcase_add_test(tc, test_unconfigured_is_plain);
    suite_add_tcase(s, tc);

    tc = tcase_create("lanes");
    tcase_add_test(tc, test_lanes_down_after_failure);
    tcase_add_test(tc, test_retry_over_base_path);
    tcase_add_test(tc, test_lanes_up_refused);
    tcase_add_test(tc, test_one_lane_fails);
    tcase_add_test(tc, test_cancel_gives_lanes_back);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(mover_suite());
}
