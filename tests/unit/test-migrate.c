/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration driver without libvirt or a daemon: peer lookup, the
 * channel arithmetic, the lane plan against the threshold, lane_up_max_s
 * and max_lanes, the daemon's lane replies (good, partial, hostile), the
 * destination XML, the migration parameters, job statistics, and the
 * job itself against fake ops (completion, failure, Ctrl-C before and
 * after the libvirt job exists).
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libvirt/virterror.h>

#include "migrate.h"
#include "policy.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

#define MIB (1048576.0)
/* 200 Mbit/s, the lab's lanes */
#define LANE_BPS (200e6 / 8)
#define GIB (1073741824.0)

/* ---- a policy ------------------------------------------------------------ */

static const char policy_json[] =
    "{ \"migration\": { \"threshold_s\": 30, \"lane_up_max_s\": 2.5,\n"
    "  \"migration_address\": \"198.19.0.1\", \"max_lanes\": 3,\n"
    "  \"peers\": [\n"
    "   { \"name\": \"host-b\", \"uri\": \"qemu+tcp://198.18.0.12/system\",\n"
    "     \"migration_address\": \"198.19.0.2\", \"base_bandwidth_mbit\": 200,\n"
    "     \"lanes\": [\n"
    "      { \"interface\": \"lane1\", \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\", \"bandwidth_mbit\": 200 },\n"
    "      { \"interface\": \"lane2\", \"address\": \"198.18.12.1/24\", \"peer_address\": \"198.18.12.2\", \"bandwidth_mbit\": 200 },\n"
    "      { \"interface\": \"lane3\", \"address\": \"198.18.13.1/24\", \"peer_address\": \"198.18.13.2\", \"bandwidth_mbit\": 200 } ] },\n"
    "   { \"name\": \"host-c\", \"uri\": \"qemu+ssh://root@[fd00::3]:2222/system?keyfile=/k\" } ] } }\n";

static VlPolicy *
load_policy(void)
{
    g_autoptr(GError) error = NULL;
    VlPolicy *policy = vl_policy_load_data("test.json", policy_json,
                                           strlen(policy_json), &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "?");
    return policy;
}

static VlPeerConfig *
peer_b(VlPolicy *policy)
{
    return g_ptr_array_index(policy->migration->peers, 0);
}

/* ---- the peer ------------------------------------------------------------ */

static const struct {
    const char *a;
    const char *b;
    gboolean equal;
} uri_cases[] = {
    { "qemu+tcp://198.18.0.12/system", "qemu+tcp://198.18.0.12/system", TRUE },
    { "qemu+tcp://198.18.0.12/system", "qemu+tcp://198.18.0.12/system/", TRUE },
    { "qemu+tcp://Host-B/system", "QEMU+TCP://host-b/system", TRUE },
    { "qemu+tcp://host-b/system", "qemu+tcp://host-b:16509/system", FALSE },
    { "qemu+tcp://host-b/system", "qemu+tcp://host-c/system", FALSE },
    { "qemu+tcp://host-b/system", "qemu+tcp://host-b/session", FALSE },
    { "qemu+ssh://root@host-b/system", "qemu+ssh://admin@host-b/system", FALSE },
    { "qemu+ssh://h/system?keyfile=/a", "qemu+ssh://h/system?keyfile=/b", FALSE },
    { "qemu+tcp://[fd00::2]/system", "qemu+tcp://[FD00::2]/system", TRUE },
    { "not a uri", "not a uri", TRUE },
    { "not a uri", "not  a uri", FALSE },
    { "qemu:///system", "qemu:///system/", TRUE },
};

START_TEST(test_uri_equal)
{
    ck_assert_msg(vl_migrate_uri_equal(uri_cases[_i].a, uri_cases[_i].b) ==
                  uri_cases[_i].equal, "'%s' vs '%s'", uri_cases[_i].a,
                  uri_cases[_i].b);
    ck_assert(vl_migrate_uri_equal(uri_cases[_i].b, uri_cases[_i].a) ==
              uri_cases[_i].equal);
}
END_TEST

START_TEST(test_find_peer)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(GError) error = NULL;
    VlMigrationPolicy *m = policy->migration;
    VlPeerConfig *peer;

    peer = vl_migrate_find_peer(m, "qemu+tcp://198.18.0.12/system", NULL, &error);
    ck_assert_ptr_nonnull(peer);
    ck_assert_str_eq(peer->name, "host-b");
    peer = vl_migrate_find_peer(m, "qemu+tcp://198.18.0.12/system/", NULL, &error);
    ck_assert_ptr_nonnull(peer);
    ck_assert_str_eq(peer->name, "host-b");
    peer = vl_migrate_find_peer(m, "qemu+ssh://root@[fd00::3]:2222/system?keyfile=/k",
                                NULL, &error);
    ck_assert_ptr_nonnull(peer);
    ck_assert_str_eq(peer->name, "host-c");
    /* By name, whatever URI reaches that host. */
    peer = vl_migrate_find_peer(m, "qemu+tcp://alias-of-b/system", "host-b", &error);
    ck_assert_ptr_nonnull(peer);
    ck_assert_str_eq(peer->name, "host-b");
    ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_find_peer_unknown)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(VlPolicy) empty = vl_policy_new();
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_migrate_find_peer(policy->migration, "x", "host-z", &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "'host-z'"));
    ck_assert_ptr_nonnull(strstr(error->message, "'host-b'"));
    g_clear_error(&error);

    /* Names and URIs from argv are quoted escaped, whatever they hold. */
    ck_assert_ptr_null(vl_migrate_find_peer(policy->migration,
                                            "qemu+tcp://evil\n'x/system", NULL,
                                            &error));
    ck_assert_ptr_nonnull(strstr(error->message, "evil\\n"));
    ck_assert_ptr_null(strchr(error->message, '\n'));
    g_clear_error(&error);

    ck_assert_ptr_null(vl_migrate_find_peer(empty->migration, "qemu:///system",
                                            NULL, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "peers: none"));
}
END_TEST

/* ---- channels -------------------------------------------------------------- */

static const struct {
    guint links;
    guint per_link;
    guint requested;
    guint channels;
} channel_cases[] = {
    { 1, 2, 0, 2 },
    { 3, 2, 0, 6 },
    { 2, 3, 0, 6 },
    { 3, 2, 3, 3 },
    { 3, 2, 4, 6 },     /* rounded up to a multiple of 3 */
    { 3, 2, 6, 6 },
    { 3, 2, 7, 9 },
    { 1, 2, 5, 5 },
    { 3, 0, 0, 3 },     /* at least one per link */
    { 3, 2, 255, 255 },
    { 4, 2, 255, 252 }, /* 256 would exceed libvirt's bound */
    { 17, 16, 0, 255 },
    { 16, 16, 0, 240 },
    { 0, 2, 0, 0 },
    { 256, 1, 0, 0 },
};

START_TEST(test_channels)
{
    guint got = vl_migrate_channels_for(channel_cases[_i].links,
                                        channel_cases[_i].per_link,
                                        channel_cases[_i].requested);

    ck_assert_uint_eq(got, channel_cases[_i].channels);
    if (got > 0) {
        /* Every path gets the same number of channels. */
        ck_assert_uint_eq(got % channel_cases[_i].links, 0);
        ck_assert_uint_le(got, VL_MIGRATE_CHANNELS_MAX);
    }
}
END_TEST

/* ---- planning ------------------------------------------------------------------ */

static const char *const lane_names[] = { "lane1", "lane2", "lane3" };
static const double lane_rates[] = { LANE_BPS, LANE_BPS, LANE_BPS };

/* The lab's guest: 1 GiB, 851 MiB non-zero. */
static void
lab_input(VlMigratePlanInput *in, double dirty_mib, double threshold_s)
{
    vl_migrate_plan_input_init(in);
    in->memory_bytes = GIB;
    in->zero_bytes = GIB - 851 * MIB;
    in->dirty_rate_bps = dirty_mib * MIB;
    in->base_bps = LANE_BPS;
    in->lane_names = lane_names;
    in->lane_bps = lane_rates;
    in->n_lanes = 2;
    in->max_links = 3;
    in->channels_per_link = 2;
    in->threshold_s = threshold_s;
    in->lane_up_s = 2.5;
}

static const VlMigrateLaneStep *
step(const VlMigrateLanePlan *plan, guint i)
{
    ck_assert_uint_lt(i, plan->steps->len);
    return g_ptr_array_index(plan->steps, i);
}

START_TEST(test_plan_under_threshold)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    /* 851 MiB at 22.6 MiB/s is ~39 s: within 60 s on the base path. */
    lab_input(&in, 0, 60);
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_msg(plan != NULL, "%s", error ? error->message : "?");
    ck_assert_uint_eq(plan->steps->len, 1);
    ck_assert_uint_eq(plan->chosen, 0);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_WITHIN_THRESHOLD);
    ck_assert_uint_eq(step(plan, 0)->links, 1);
    ck_assert_ptr_null(step(plan, 0)->added_lane);
    ck_assert(step(plan, 0)->within_threshold);
    /* No lane: no lane_up_s in the prediction. */
    ck_assert_double_eq(step(plan, 0)->predicted_s,
                        step(plan, 0)->estimate.total_time_s);
    ck_assert_double_eq_tol(step(plan, 0)->predicted_s, 40, 3);
    ck_assert_double_eq_tol(step(plan, 0)->bandwidth_bps, LANE_BPS * 0.95, 1);
}
END_TEST

/* A learned overhead replaces the fixed setup, one for one. */
START_TEST(test_plan_learned_overhead)
{
    g_autoptr(VlMigrateLanePlan) fixed = NULL;
    g_autoptr(VlMigrateLanePlan) learned = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    lab_input(&in, 0, 60);
    ck_assert(isnan(in.overhead_s));
    fixed = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_msg(fixed != NULL, "%s", error ? error->message : "?");
    ck_assert_double_eq(step(fixed, 0)->setup_s, VL_MIGRATE_SETUP_S);

    in.overhead_s = 4.6;        /* setup 4.5 + the fixed resume 0.1 */
    learned = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_msg(learned != NULL, "%s", error ? error->message : "?");
    ck_assert_double_eq_tol(step(learned, 0)->setup_s, 4.5, 1e-9);
    ck_assert_double_eq_tol(step(learned, 0)->estimate.total_time_s -
                            step(fixed, 0)->estimate.total_time_s,
                            4.5 - VL_MIGRATE_SETUP_S, 1e-6);
}
END_TEST

START_TEST(test_plan_over_threshold)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    /* ~40 s alone; two links ~21 s + 2.5 s of lanes coming up. */
    lab_input(&in, 0, 30);
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_msg(plan != NULL, "%s", error ? error->message : "?");
    ck_assert_uint_eq(plan->steps->len, 2);
    ck_assert_uint_eq(plan->chosen, 1);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_WITHIN_THRESHOLD);
    ck_assert(!step(plan, 0)->within_threshold);
    ck_assert_str_eq(step(plan, 1)->added_lane, "lane1");
    ck_assert_uint_eq(step(plan, 1)->links, 2);
    ck_assert_uint_eq(step(plan, 1)->channels, 4);
    ck_assert_double_eq_tol(step(plan, 1)->predicted_s,
                            step(plan, 1)->estimate.total_time_s + 2.5, 1e-9);
    ck_assert_double_eq_tol(step(plan, 1)->bandwidth_bps, 2 * LANE_BPS * 0.95, 1);
    ck_assert_ptr_eq(vl_migrate_lane_plan_get_chosen(plan), step(plan, 1));

    /* A tighter threshold takes every lane there is. */
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);
    lab_input(&in, 0, 10);
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 3);
    ck_assert_uint_eq(plan->chosen, 2);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_MAX_LINKS);
    ck_assert_str_eq(step(plan, 2)->added_lane, "lane2");
    ck_assert_uint_eq(step(plan, 2)->channels, 6);
}
END_TEST

START_TEST(test_plan_limits)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    /* max_lanes (links) 2 of 3 lanes */
    lab_input(&in, 0, 10);
    in.n_lanes = 3;
    in.max_links = 2;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 2);
    ck_assert_uint_eq(plan->chosen, 1);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_MAX_LINKS);
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);

    /* max_links 4 but only one candidate lane (others unavailable) */
    lab_input(&in, 0, 10);
    in.n_lanes = 1;
    in.max_links = 4;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 2);
    ck_assert_uint_eq(plan->chosen, 1);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_NO_MORE_LANES);
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);

    /* max_links 1: never a lane */
    lab_input(&in, 0, 10);
    in.max_links = 1;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 1);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_MAX_LINKS);
}
END_TEST

START_TEST(test_plan_lane_up_cost)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    /* Lanes that may take 30 s to come up cannot beat ~40 s alone. */
    lab_input(&in, 0, 30);
    in.lane_up_s = 30;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 2);
    ck_assert_uint_eq(plan->chosen, 0);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_NO_GAIN);
    ck_assert_double_gt(step(plan, 1)->predicted_s, step(plan, 0)->predicted_s);
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);

    /* ... while 10 s still pays off (~21 + 10 < ~40). */
    in.lane_up_s = 10;
    in.threshold_s = 20;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_ge(plan->chosen, 1);
}
END_TEST

START_TEST(test_plan_not_converging)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    /* 30 MiB/s over a 768 MiB working set: one 22.6 MiB/s link never
     * converges; planning must go on past it. */
    lab_input(&in, 30, 30);
    in.memory_bytes = GIB;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_msg(plan != NULL, "%s", error ? error->message : "?");
    ck_assert(!step(plan, 0)->estimate.converges);
    ck_assert(isinf(step(plan, 0)->predicted_s));
    ck_assert_uint_ge(plan->chosen, 1);
    ck_assert(vl_migrate_lane_plan_get_chosen(plan)->estimate.converges);

    /* With no lane at all, the base path is still the plan. */
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);
    in.n_lanes = 0;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->chosen, 0);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_NO_MORE_LANES);

    /* 200 MiB/s converges nowhere: the most bandwidth is chosen. */
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);
    lab_input(&in, 200, 30);
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(plan->steps->len, 3);
    ck_assert_uint_eq(plan->chosen, 2);
    ck_assert(!vl_migrate_lane_plan_get_chosen(plan)->estimate.converges);
}
END_TEST

START_TEST(test_plan_learned_and_cap)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;
    double learned[3] = { NAN, 40 * MIB, NAN };

    lab_input(&in, 0, 10);
    in.learned_bps = learned;
    in.n_learned = 3;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert(!step(plan, 0)->learned);
    ck_assert(step(plan, 1)->learned);
    ck_assert_double_eq_tol(step(plan, 1)->bandwidth_bps, 40 * MIB, 1);
    ck_assert(!step(plan, 2)->learned);
    g_clear_pointer(&plan, vl_migrate_lane_plan_free);

    /* --bandwidth caps every step. */
    lab_input(&in, 0, 10);
    in.bandwidth_cap_bps = 30 * MIB;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_double_eq_tol(step(plan, 0)->bandwidth_bps, LANE_BPS * 0.95, 1);
    ck_assert_double_eq_tol(step(plan, 1)->bandwidth_bps, 30 * MIB, 1);
    /* the third link adds nothing under the cap */
    ck_assert_uint_eq(plan->chosen, 1);
    ck_assert_int_eq(plan->stop_reason, VL_MIGRATE_STOP_NO_GAIN);
}
END_TEST

START_TEST(test_plan_requested_channels)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    lab_input(&in, 0, 10);
    in.requested_channels = 8;
    plan = vl_migrate_lane_plan_compute(&in, &error);
    ck_assert_uint_eq(step(plan, 0)->channels, 8);
    ck_assert_uint_eq(step(plan, 1)->channels, 8);
    ck_assert_uint_eq(step(plan, 2)->channels, 9);
}
END_TEST

START_TEST(test_plan_bad_input)
{
    g_autoptr(GError) error = NULL;
    VlMigratePlanInput in;

    lab_input(&in, 0, 30);
    in.base_bps = 0;
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'base_bps'"));
    g_clear_error(&error);

    lab_input(&in, 0, NAN);
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'threshold_s'"));
    g_clear_error(&error);

    lab_input(&in, -1, 30);
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    g_clear_error(&error);

    lab_input(&in, 0, 30);
    in.lane_names = NULL;
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    g_clear_error(&error);

    lab_input(&in, 0, 30);
    in.memory_bytes = 0;
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_ESTIMATE));
    g_clear_error(&error);

    lab_input(&in, 0, 30);
    in.max_links = 0;
    ck_assert_ptr_null(vl_migrate_lane_plan_compute(&in, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'max_links'"));
}
END_TEST

START_TEST(test_plan_json)
{
    g_autoptr(VlMigrateLanePlan) plan = NULL;
    g_autoptr(json_object) obj = NULL;
    VlMigratePlanInput in;
    json_object *steps = NULL;
    json_object *chosen = NULL;
    json_object *v = NULL;

    lab_input(&in, 0, 30);
    plan = vl_migrate_lane_plan_compute(&in, NULL);
    obj = vl_migrate_lane_plan_to_json(plan);
    ck_assert(json_object_object_get_ex(obj, "steps", &steps));
    ck_assert_uint_eq(json_object_array_length(steps), 2);
    ck_assert(json_object_object_get_ex(obj, "chosen", &chosen));
    ck_assert(json_object_object_get_ex(chosen, "links", &v));
    ck_assert_int_eq(json_object_get_int(v), 2);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(steps, 1),
                                        "added_lane", &v));
    ck_assert_str_eq(json_object_get_string(v), "lane1");
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(steps, 0),
                                        "chosen", &v));
    ck_assert(!json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(obj, "stop_reason", &v));
    ck_assert_str_eq(json_object_get_string(v), "within the threshold");
}
END_TEST

/* ---- the daemon's lanes --------------------------------------------------------- */

static json_object *
parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);

    ck_assert_msg(obj != NULL, "bad test JSON: %s", text);
    return obj;
}

START_TEST(test_estimate_inputs)
{
    static const struct {
        const char *reply;
        guint got;
        double dirty;
        double zero;
    } cases[] = {
        { "{\"ok\": true, \"inputs\": {\"dirty_rate_bps\": 10485760.0, \"dirty_source\": \"sampled\","
          " \"dirty_fresh\": true, \"zero_bytes\": 400000000, \"zero_source\": \"measured\"}}",
          VL_MIGRATE_INPUT_DIRTY | VL_MIGRATE_INPUT_ZERO, 10485760, 400000000 },
        /* stale, or assumed: measure ourselves */
        { "{\"ok\": true, \"inputs\": {\"dirty_rate_bps\": 5, \"dirty_source\": \"sampled\","
          " \"dirty_fresh\": false, \"zero_bytes\": 0, \"zero_source\": \"assumed none\"}}",
          0, -1, -1 },
        { "{\"ok\": true, \"inputs\": {\"dirty_rate_bps\": 0, \"dirty_source\": \"idle assumed\","
          " \"dirty_fresh\": true}}", 0, -1, -1 },
        /* hostile numbers */
        { "{\"ok\": true, \"inputs\": {\"dirty_rate_bps\": -1, \"dirty_source\": \"sampled\","
          " \"dirty_fresh\": true, \"zero_bytes\": \"many\", \"zero_source\": \"measured\"}}",
          0, -1, -1 },
        { "{\"ok\": true, \"inputs\": {\"dirty_rate_bps\": 1e300, \"dirty_source\": \"sampled\","
          " \"dirty_fresh\": true}}", 0, -1, -1 },
        /* a daemon without the request */
        { "{\"ok\": false, \"error\": \"Unknown request type 'estimate'\"}", 0, -1, -1 },
        { "{\"ok\": true, \"inputs\": []}", 0, -1, -1 },
        { "7", 0, -1, -1 },
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) reply = parse(cases[i].reply);
        double dirty = -1;
        double zero = -1;

        ck_assert_uint_eq(vl_migrate_estimate_inputs(reply, &dirty, &zero), cases[i].got);
        ck_assert_double_eq(dirty, cases[i].dirty);
        ck_assert_double_eq(zero, cases[i].zero);
    }
}
END_TEST

START_TEST(test_unavailable_lanes)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(json_object) reply = parse(
        "{\"ok\": true, \"lanes\": ["
        " {\"interface\": \"lane1\", \"peer\": \"host-b\", \"state\": \"up\"},"
        " {\"interface\": \"lane2\", \"peer\": \"host-x\", \"state\": \"up\"},"
        " {\"interface\": \"lane3\", \"peer\": \"host-b\", \"state\": \"failed\","
        "  \"error\": \"Script 'lane-down' failed\"},"
        " {\"interface\": \"eth9\", \"peer\": \"host-b\", \"state\": \"failed\"},"
        " 42, {\"interface\": 7}]}");
    g_autoptr(GHashTable) out = vl_migrate_unavailable_lanes(reply, peer_b(policy));
    static const char *const garbage[] = {
        "[]", "{\"ok\": false, \"lanes\": []}", "{\"ok\": true, \"lanes\": {}}",
        "{\"ok\": true}", "\"x\"", "{\"ok\": true, \"lanes\": [null, [], \"lane1\"]}",
    };
    gsize i;

    ck_assert_uint_eq(g_hash_table_size(out), 2);
    ck_assert(!g_hash_table_contains(out, "lane1"));    /* reusable */
    ck_assert_str_eq(g_hash_table_lookup(out, "lane2"), "held for peer 'host-x'");
    ck_assert_ptr_nonnull(strstr(g_hash_table_lookup(out, "lane3"), "lane-down"));

    for (i = 0; i < G_N_ELEMENTS(garbage); i++) {
        g_autoptr(json_object) bad = parse(garbage[i]);
        g_autoptr(GHashTable) none = vl_migrate_unavailable_lanes(bad, peer_b(policy));

        ck_assert_uint_eq(g_hash_table_size(none), 0);
    }
    {
        g_autoptr(GHashTable) none = vl_migrate_unavailable_lanes(NULL, peer_b(policy));

        ck_assert_uint_eq(g_hash_table_size(none), 0);
    }
}
END_TEST

static const char *const asked[] = { "lane1", "lane2", NULL };

START_TEST(test_lanes_reply)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) all_up = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"steering_error\": null,"
        " \"lanes\": [{\"interface\": \"lane2\", \"up\": true, \"error\": null},"
        "            {\"interface\": \"lane1\", \"up\": true, \"error\": null}]}}");
    g_autoptr(json_object) partial = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\","
        " \"lanes\": [{\"interface\": \"lane1\", \"up\": true},"
        "            {\"interface\": \"lane2\", \"up\": false,"
        "             \"error\": \"Script 'lane-up' for 'lane2' failed\\nwith exit code 1\"}]}}");
    g_autoptr(json_object) missing = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\","
        " \"lanes\": [{\"interface\": \"lane2\", \"up\": true}]}}");
    g_autoptr(json_object) steer = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"steering_error\": \"nft failed\","
        " \"lanes\": [{\"interface\": \"lane1\", \"up\": true}]}}");
    g_autoptr(VlMigrateLanes) lanes = NULL;
    VlMigrateLaneOutcome *o;

    lanes = vl_migrate_lanes_parse_reply(all_up, "p.1.2", peer_b(policy), asked, &error);
    ck_assert_msg(lanes != NULL, "%s", error ? error->message : "?");
    ck_assert_uint_eq(lanes->up->len, 2);
    /* in the peer's order, whatever order the report used */
    ck_assert_str_eq(((VlLaneConfig *)g_ptr_array_index(lanes->up, 0))->interface, "lane1");
    ck_assert_uint_eq(vl_migrate_lanes_get_links(lanes), 3);
    g_clear_pointer(&lanes, vl_migrate_lanes_free);

    lanes = vl_migrate_lanes_parse_reply(partial, "p.1.2", peer_b(policy), asked, &error);
    ck_assert_uint_eq(lanes->up->len, 1);
    ck_assert_uint_eq(vl_migrate_lanes_get_links(lanes), 2);
    ck_assert_uint_eq(lanes->outcomes->len, 2);
    o = g_ptr_array_index(lanes->outcomes, 1);
    ck_assert_str_eq(o->interface, "lane2");
    ck_assert_ptr_nonnull(strstr(o->error, "'lane2' failed"));
    ck_assert_ptr_null(strchr(o->error, '\n'));
    ck_assert_ptr_null(((VlMigrateLaneOutcome *)g_ptr_array_index(lanes->outcomes, 0))->error);
    g_clear_pointer(&lanes, vl_migrate_lanes_free);

    lanes = vl_migrate_lanes_parse_reply(missing, "p.1.2", peer_b(policy), asked, &error);
    ck_assert_uint_eq(lanes->up->len, 1);
    o = g_ptr_array_index(lanes->outcomes, 0);
    ck_assert_str_eq(o->interface, "lane1");
    ck_assert_ptr_nonnull(o->error);
    g_clear_pointer(&lanes, vl_migrate_lanes_free);

    lanes = vl_migrate_lanes_parse_reply(steer, "p.1.2", peer_b(policy), asked, &error);
    ck_assert_str_eq(lanes->steering_error, "nft failed");
    ck_assert_uint_eq(vl_migrate_lanes_get_links(lanes), 1);
    ck_assert_uint_eq(vl_migrate_lanes_get_links(NULL), 1);
}
END_TEST

static const char *const bad_replies[] = {
    "{\"ok\": false, \"error\": \"Unknown peer 'host-b'\"}",
    "{\"ok\": true}",
    "{\"report\": {}}",
    "{\"ok\": true, \"report\": {\"plan_id\": \"other\", \"lanes\": []}}",
    "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"lanes\": {}}}",
    "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"lanes\": [{\"interface\": \"eth0\", \"up\": true}]}}",
    "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"lanes\": [17]}}",
    "{\"ok\": true, \"report\": {\"plan_id\": 5, \"lanes\": []}}",
    "[1, 2]",
};

START_TEST(test_lanes_reply_bad)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = parse(bad_replies[_i]);

    ck_assert_ptr_null(vl_migrate_lanes_parse_reply(reply, "p.1.2", peer_b(policy),
                                                    asked, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    if (_i == 0)
        ck_assert_str_eq(error->message,
                         "The daemon refused 'lanes-up': Unknown peer 'host-b'");
}
END_TEST

/* A fake daemon: records the request, answers with a canned reply or
 * fails as an absent daemon does. */
typedef struct {
    json_object *request;
    const char *reply;
    guint timeout_ms;
} FakeDaemon;

static json_object *
fake_daemon_call(gpointer data, json_object *request, guint timeout_ms,
                 GError **error)
{
    FakeDaemon *d = data;

    g_clear_pointer(&d->request, json_object_put);
    d->request = json_object_get(request);
    d->timeout_ms = timeout_ms;
    if (!d->reply) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Cannot connect to '/run/virt-lanes/virt-lanesd.sock': No such file or directory");
        return NULL;
    }
    return parse(d->reply);
}

static const char *
request_string(json_object *request, const char *key)
{
    json_object *v = NULL;

    ck_assert(json_object_object_get_ex(request, key, &v));
    return json_object_get_string(v);
}

START_TEST(test_lanes_up_request)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) unavailable = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(VlMigrateLanes) lanes = NULL;
    FakeDaemon d = {
        .reply = "{\"ok\": true, \"report\": {\"plan_id\": \"web.1.2\", \"lanes\": ["
                 "{\"interface\": \"lane1\", \"up\": true},"
                 "{\"interface\": \"lane3\", \"up\": false, \"error\": \"boom\"}]}}",
    };
    json_object *array = NULL;

    /* lane2 is held elsewhere: asked are the first two others. */
    g_hash_table_add(unavailable, (gpointer)"lane2");
    lanes = vl_migrate_lanes_up(fake_daemon_call, &d, "web.1.2", peer_b(policy), 2,
                                unavailable, 12500, &error);
    ck_assert_msg(lanes != NULL, "%s", error ? error->message : "?");
    ck_assert_str_eq(request_string(d.request, "type"), "lanes-up");
    ck_assert_str_eq(request_string(d.request, "plan_id"), "web.1.2");
    ck_assert_str_eq(request_string(d.request, "peer"), "host-b");
    ck_assert(json_object_object_get_ex(d.request, "lanes", &array));
    ck_assert_uint_eq(json_object_array_length(array), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(array, 0)), "lane1");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(array, 1)), "lane3");
    ck_assert_uint_eq(d.timeout_ms, 12500);
    ck_assert_uint_eq(lanes->up->len, 1);
    ck_assert_str_eq(((VlMigrateLaneOutcome *)g_ptr_array_index(lanes->outcomes, 1))->error,
                     "boom");
    g_clear_pointer(&lanes, vl_migrate_lanes_free);

    /* The daemon is down: an IPC error the caller turns into a plain
     * migration or a refusal. */
    d.reply = NULL;
    ck_assert_ptr_null(vl_migrate_lanes_up(fake_daemon_call, &d, "web.1.2",
                                           peer_b(policy), 1, NULL, 1000, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    g_clear_error(&error);

    /* Nothing left to ask for. */
    g_hash_table_add(unavailable, (gpointer)"lane1");
    g_hash_table_add(unavailable, (gpointer)"lane3");
    ck_assert_ptr_null(vl_migrate_lanes_up(fake_daemon_call, &d, "web.1.2",
                                           peer_b(policy), 1, unavailable, 1000, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_pointer(&d.request, json_object_put);
}
END_TEST

START_TEST(test_lanes_check)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(json_object) up = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"p.1.2\", \"lanes\": ["
        "{\"interface\": \"lane1\", \"up\": true}, {\"interface\": \"lane2\", \"up\": true}]}}");
    g_autoptr(VlMigrateLanes) lanes =
        vl_migrate_lanes_parse_reply(up, "p.1.2", peer_b(policy), asked, NULL);
    static const struct {
        const char *reply;
        VlMigrateLanesCheck check;
    } cases[] = {
        { "{\"ok\": true, \"lanes\": ["
          "{\"interface\": \"lane2\", \"state\": \"up\", \"plans\": [\"x\", \"p.1.2\"]},"
          "{\"interface\": \"lane1\", \"state\": \"up\", \"plans\": [\"p.1.2\"]}]}",
          VL_MIGRATE_LANES_HELD },
        /* a restarted daemon: empty journal */
        { "{\"ok\": true, \"lanes\": [], \"incoming\": []}", VL_MIGRATE_LANES_LOST },
        { "{\"ok\": true, \"lanes\": ["
          "{\"interface\": \"lane1\", \"state\": \"up\", \"plans\": [\"p.1.2\"]}]}",
          VL_MIGRATE_LANES_LOST },
        { "{\"ok\": true, \"lanes\": ["
          "{\"interface\": \"lane1\", \"state\": \"going-down\", \"plans\": [\"p.1.2\"]},"
          "{\"interface\": \"lane2\", \"state\": \"up\", \"plans\": [\"p.1.2\"]}]}",
          VL_MIGRATE_LANES_LOST },
        { "{\"ok\": true, \"lanes\": ["
          "{\"interface\": \"lane1\", \"state\": \"up\", \"plans\": [\"other\"]},"
          "{\"interface\": \"lane2\", \"state\": \"up\", \"plans\": [7]}]}",
          VL_MIGRATE_LANES_LOST },
        { "{\"ok\": false, \"error\": \"busy\"}", VL_MIGRATE_LANES_UNKNOWN },
        { "{\"ok\": true, \"lanes\": {}}", VL_MIGRATE_LANES_UNKNOWN },
        { "[]", VL_MIGRATE_LANES_UNKNOWN },
    };
    gsize i;

    ck_assert_ptr_nonnull(lanes);
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) reply = parse(cases[i].reply);

        ck_assert_msg(vl_migrate_lanes_check(reply, lanes) == cases[i].check,
                      "case %zu", i);
    }
    ck_assert_int_eq(vl_migrate_lanes_check(NULL, lanes), VL_MIGRATE_LANES_UNKNOWN);
}
END_TEST

START_TEST(test_lanes_down_request)
{
    g_autoptr(GError) error = NULL;
    FakeDaemon d = { .reply = "{\"ok\": true, \"down\": 2}" };
    guint n = 0;

    ck_assert(vl_migrate_lanes_down(fake_daemon_call, &d, "web.1.2", 5000, &n, &error));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(request_string(d.request, "type"), "lanes-down");
    ck_assert_str_eq(request_string(d.request, "plan_id"), "web.1.2");

    d.reply = "{\"ok\": false, \"error\": \"Lane 'lane2' did not come down\"}";
    ck_assert(!vl_migrate_lanes_down(fake_daemon_call, &d, "web.1.2", 5000, &n, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'lane2' did not come down"));
    g_clear_error(&error);

    d.reply = NULL;
    ck_assert(!vl_migrate_lanes_down(fake_daemon_call, &d, "web.1.2", 5000, NULL, &error));
    g_clear_pointer(&d.request, json_object_put);

    ck_assert_uint_eq(vl_migrate_lanes_timeout_ms(2.5), 12500);
    ck_assert_uint_eq(vl_migrate_lanes_timeout_ms(NAN), 5000);
}
END_TEST

/* ---- the plan for the destination ----------------------------------------------- */

static const char *const odd_names[] = {
    "web-3", "with space", "quote'and\"double", "semi;colon", "new\nline",
    "\xff\xfe not utf-8", "", "ünïcödé",
    "a-very-long-domain-name-that-goes-on-and-on-well-past-the-limit-of-ids",
};

START_TEST(test_plan_id)
{
    g_autofree char *id = vl_migrate_plan_id_new(odd_names[_i], 1738412345, 4194304);
    g_autofree char *other = vl_migrate_plan_id_new(odd_names[_i], 1738412345, 4194303);
    g_autofree char *huge = vl_migrate_plan_id_new(odd_names[_i], G_MAXINT64, G_MAXUINT);

    ck_assert_msg(vl_metadata_plan_id_is_valid(id), "'%s'", id);
    ck_assert_msg(vl_metadata_plan_id_is_valid(huge), "'%s'", huge);
    ck_assert(g_str_has_suffix(id, ".1738412345.4194304"));
    ck_assert_str_ne(id, other);
}
END_TEST

START_TEST(test_host_label)
{
    g_autofree char *a = vl_migrate_host_label("host-a.example");
    g_autofree char *b = vl_migrate_host_label("bad host;name");
    g_autofree char *c = vl_migrate_host_label("");
    g_autofree char *d = vl_migrate_host_label(NULL);

    ck_assert_str_eq(a, "host-a.example");
    ck_assert_str_eq(b, "bad-host-name");
    ck_assert_str_eq(c, "localhost");
    ck_assert_str_eq(d, "localhost");
}
END_TEST

static const char domain_xml[] =
    "<domain type='qemu'>\n"
    "  <name>web 'one'</name>\n"
    "  <uuid>5e0d5ab0-8a35-4c4c-9f1c-0a6a7c3e2f11</uuid>\n"
    "  <metadata>\n"
    "    <lanes:container xmlns:lanes='https://virt-lanes.org/xmlns/lanes/1.0' name='web'/>\n"
    "  </metadata>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
    "</domain>\n";

START_TEST(test_dest_xml)
{
    g_autoptr(VlPolicy) policy = load_policy();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = parse(
        "{\"ok\": true, \"report\": {\"plan_id\": \"web.1.2\", \"lanes\": ["
        "{\"interface\": \"lane1\", \"up\": true}, {\"interface\": \"lane2\", \"up\": true}]}}");
    g_autoptr(VlMigrateLanes) lanes = NULL;
    g_autoptr(VlMigrationPlan) plan = NULL;
    g_autoptr(VlMigrationPlan) back = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *tag = NULL;
    VlPlanLane *lane;

    lanes = vl_migrate_lanes_parse_reply(reply, "web.1.2", peer_b(policy), asked, &error);
    ck_assert_ptr_nonnull(lanes);
    plan = vl_migrate_build_plan("web.1.2", "host-a", "198.19.0.1", lanes, 6);
    xml = vl_migrate_build_dest_xml(domain_xml, plan, &error);
    ck_assert_msg(xml != NULL, "%s", error ? error->message : "?");

    ck_assert(vl_migration_plan_from_domain_xml(xml, strlen(xml), &back, &error));
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->id, "web.1.2");
    ck_assert_str_eq(back->source_host, "host-a");
    ck_assert_str_eq(back->source_migration_address, "198.19.0.1");
    ck_assert_uint_eq(back->channels, 6);
    ck_assert_uint_eq(back->lanes->len, 2);
    lane = g_ptr_array_index(back->lanes, 0);
    ck_assert_str_eq(lane->source_address, "198.18.11.1");
    ck_assert_str_eq(lane->dest_address, "198.18.11.2");
    lane = g_ptr_array_index(back->lanes, 1);
    ck_assert_str_eq(lane->source_address, "198.18.12.1");
    ck_assert_str_eq(lane->dest_address, "198.18.12.2");
    /* the rest of the domain is untouched */
    ck_assert_ptr_nonnull(strstr(xml, "web 'one'"));
    ck_assert(vl_container_tag_from_domain_xml(xml, strlen(xml), &tag, &error));
    ck_assert_str_eq(tag, "web");

    /* Steering failed: the plan carries no lanes. */
    g_clear_pointer(&plan, vl_migration_plan_free);
    lanes->steering_error = g_strdup("nft failed");
    plan = vl_migrate_build_plan("web.1.2", "host-a", "198.19.0.1", lanes, 2);
    ck_assert_uint_eq(plan->lanes->len, 0);

    /* A plan the destination could not use is refused, not sent. */
    g_clear_pointer(&plan, vl_migration_plan_free);
    g_clear_pointer(&xml, g_free);
    plan = vl_migrate_build_plan("web.1.2", "host-a", "not-an-address", NULL, 2);
    ck_assert_ptr_null(vl_migrate_build_dest_xml(domain_xml, plan, &error));
    ck_assert_ptr_nonnull(error);
    g_clear_error(&error);
    g_clear_pointer(&plan, vl_migration_plan_free);
    plan = vl_migrate_build_plan("web.1.2", "host-a", "198.19.0.1", NULL, 2);
    ck_assert_ptr_null(vl_migrate_build_dest_xml("<domain><name>x</nam", plan, &error));
    ck_assert_ptr_nonnull(error);
}
END_TEST

/* ---- migration parameters ------------------------------------------------------- */

START_TEST(test_params)
{
    g_autoptr(GError) error = NULL;
    VlMigrateSettings settings;
    virTypedParameterPtr params = NULL;
    int n = 0;
    unsigned int flags = 0;
    const char *s = NULL;
    int channels = 0;
    unsigned long long bw = 0;

    vl_migrate_settings_init(&settings);
    ck_assert(settings.live);
    ck_assert(vl_migrate_build_params(&settings, "tcp://198.19.0.2", "<dest/>", "<persist/>",
                                      6, &params, &n, &flags, &error));
    ck_assert_uint_eq(flags, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PARALLEL);
    ck_assert_int_eq(virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_URI, &s), 1);
    ck_assert_str_eq(s, "tcp://198.19.0.2");
    ck_assert_int_eq(virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_DEST_XML, &s), 1);
    ck_assert_str_eq(s, "<dest/>");
    /* not persistent: no persistent XML */
    ck_assert_int_eq(virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_PERSIST_XML, &s), 0);
    ck_assert_int_eq(virTypedParamsGetInt(params, n, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                          &channels), 1);
    ck_assert_int_eq(channels, 6);
    ck_assert_int_eq(virTypedParamsGetULLong(params, n, VIR_MIGRATE_PARAM_BANDWIDTH, &bw), 0);
    virTypedParamsFree(params, n);

    settings.persistent = TRUE;
    settings.auto_converge = TRUE;
    settings.postcopy = TRUE;
    settings.bandwidth_mib = 50;
    ck_assert(vl_migrate_build_params(&settings, NULL, NULL, "<persist/>", 0,
                                      &params, &n, &flags, &error));
    ck_assert_uint_eq(flags, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
                      VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_AUTO_CONVERGE |
                      VIR_MIGRATE_POSTCOPY);
    ck_assert_int_eq(virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_URI, &s), 0);
    ck_assert_int_eq(virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_PERSIST_XML, &s), 1);
    ck_assert_int_eq(virTypedParamsGetInt(params, n, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                          &channels), 0);
    ck_assert_int_eq(virTypedParamsGetULLong(params, n, VIR_MIGRATE_PARAM_BANDWIDTH, &bw), 1);
    ck_assert_uint_eq(bw, 50);
    virTypedParamsFree(params, n);

    params = NULL;
    n = -1;
    ck_assert(!vl_migrate_build_params(&settings, NULL, NULL, NULL, 256, &params, &n,
                                       &flags, &error));
    ck_assert_ptr_null(params);
    ck_assert_int_eq(n, -1);
}
END_TEST

START_TEST(test_uri_for_address)
{
    g_autofree char *v4 = vl_migrate_uri_for_address("198.19.0.2");
    g_autofree char *v6 = vl_migrate_uri_for_address("fd00::2");
    g_autofree char *bad = vl_migrate_uri_for_address("198.19.0.2:80");

    ck_assert_str_eq(v4, "tcp://198.19.0.2");
    ck_assert_str_eq(v6, "tcp://[fd00::2]");
    ck_assert_ptr_null(bad);
    ck_assert_ptr_null(vl_migrate_uri_for_address(NULL));
}
END_TEST

/* ---- job statistics -------------------------------------------------------------- */

START_TEST(test_job_stats)
{
    g_autoptr(GError) error = NULL;
    virTypedParameterPtr p = NULL;
    int n = 0;
    int max = 0;
    VlMigrateJobStats stats;

    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_TIME_ELAPSED, 12500);
    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_TOTAL, 1073741824);
    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_PROCESSED, 500000000);
    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_REMAINING, 400000000);
    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_BPS, 60000000);
    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_ITERATION, 2);
    virTypedParamsAddString(&p, &n, &max, "unknown_field", "ignored");
    ck_assert(vl_migrate_job_stats_parse(VIR_DOMAIN_JOB_UNBOUNDED, p, n, &stats, &error));
    ck_assert_int_eq(stats.type, VIR_DOMAIN_JOB_UNBOUNDED);
    ck_assert(stats.has_memory);
    ck_assert_int_eq(stats.sample.time_elapsed_ms, 12500);
    ck_assert_uint_eq(stats.sample.memory_processed, 500000000);
    ck_assert_uint_eq(stats.sample.memory_iteration, 2);
    ck_assert_uint_eq(stats.sample.page_size, 4096);
    ck_assert(isnan(stats.downtime_ms));

    virTypedParamsAddULLong(&p, &n, &max, VIR_DOMAIN_JOB_DOWNTIME, 312);
    ck_assert(vl_migrate_job_stats_parse(VIR_DOMAIN_JOB_COMPLETED, p, n, &stats, &error));
    ck_assert_double_eq(stats.downtime_ms, 312);
    virTypedParamsFree(p, n);

    p = NULL;
    n = max = 0;
    virTypedParamsAddInt(&p, &n, &max, VIR_DOMAIN_JOB_MEMORY_TOTAL, 5);
    stats.type = 99;
    ck_assert(!vl_migrate_job_stats_parse(VIR_DOMAIN_JOB_UNBOUNDED, p, n, &stats, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'memory_total'"));
    ck_assert_int_eq(stats.type, 99);   /* untouched on failure */
    virTypedParamsFree(p, n);

    g_clear_error(&error);
    ck_assert(vl_migrate_job_stats_parse(VIR_DOMAIN_JOB_NONE, NULL, 0, &stats, &error));
    ck_assert(!stats.has_memory);
}
END_TEST

/* ---- the job against fake ops --------------------------------------------------------- */

typedef enum {
    FAKE_COMPLETE,      /* ends by itself after a few samples */
    FAKE_FAIL,          /* fails after a few samples */
    FAKE_WAIT_ABORT,    /* runs until aborted */
} FakeJobMode;

typedef struct {
    FakeJobMode mode;
    GMutex lock;
    GCond cond;
    gboolean hold_start;    /* migrate waits before its job exists */
    gboolean job_exists;    /* the libvirt job has started */
    gboolean aborted;
    gboolean finish;        /* let migrate return */
    guint polls;
    guint aborts_tried;
    guint downtime_calls;
    guint downtime_ms;
    guint progress_calls;
    gboolean done;
    VlMigrateResult result;
    char *error_message;
    gboolean postcopy_started;
} FakeJob;

static gboolean
fake_migrate(gpointer data, GError **error)
{
    FakeJob *f = data;
    gboolean ok = TRUE;

    g_mutex_lock(&f->lock);
    while (f->hold_start)
        g_cond_wait(&f->cond, &f->lock);
    f->job_exists = TRUE;
    while (!f->finish && !f->aborted)
        g_cond_wait(&f->cond, &f->lock);
    if (f->aborted) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Failed to migrate 'x': operation aborted: migration out job: canceled by client");
        ok = FALSE;
    } else if (f->mode == FAKE_FAIL) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Failed to migrate 'x': internal error: qemu unexpectedly closed the monitor");
        ok = FALSE;
    }
    f->job_exists = FALSE;
    g_mutex_unlock(&f->lock);
    return ok;
}

static gboolean
fake_job_stats(gpointer data, gboolean completed, VlMigrateJobStats *stats,
               GError **error)
{
    FakeJob *f = data;
    VlMigrateJobStats s = { 0 };

    g_mutex_lock(&f->lock);
    s.downtime_ms = NAN;
    s.sample.page_size = 4096;
    s.sample.memory_total = 1000 * 4096;
    s.has_memory = TRUE;
    if (completed) {
        s.type = f->aborted || f->mode == FAKE_FAIL ? VIR_DOMAIN_JOB_FAILED
                                                     : VIR_DOMAIN_JOB_COMPLETED;
        s.sample.time_elapsed_ms = 4000;
        s.sample.memory_processed = 1000 * 4096;
        s.sample.memory_iteration = 3;
        s.downtime_ms = 250;
    } else if (!f->job_exists) {
        g_mutex_unlock(&f->lock);
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "no job");
        return FALSE;
    } else {
        f->polls++;
        s.type = VIR_DOMAIN_JOB_UNBOUNDED;
        s.sample.time_elapsed_ms = 1000 * f->polls;
        s.sample.memory_processed = MIN(f->polls * 200, 1000) * 4096;
        s.sample.memory_remaining = 1000 * 4096 - s.sample.memory_processed;
        s.sample.memory_iteration = 1 + f->polls / 3;
        if (f->mode != FAKE_WAIT_ABORT && f->polls >= 4) {
            f->finish = TRUE;
            g_cond_broadcast(&f->cond);
        }
    }
    g_mutex_unlock(&f->lock);
    *stats = s;
    return TRUE;
}

static gboolean
fake_abort(gpointer data, GError **error)
{
    FakeJob *f = data;
    gboolean ok;

    g_mutex_lock(&f->lock);
    f->aborts_tried++;
    ok = f->job_exists;
    /* the job appears only after a first, failed, try */
    f->hold_start = FALSE;
    g_cond_broadcast(&f->cond);
    if (ok) {
        f->aborted = TRUE;
        g_cond_broadcast(&f->cond);
    }
    g_mutex_unlock(&f->lock);
    if (!ok)
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Requested operation is not valid: no job is active on the domain");
    return ok;
}

static gboolean
fake_set_downtime(gpointer data, guint ms, GError **error G_GNUC_UNUSED)
{
    FakeJob *f = data;

    g_mutex_lock(&f->lock);
    f->downtime_calls++;
    f->downtime_ms = ms;
    g_mutex_unlock(&f->lock);
    return TRUE;
}

static gboolean
fake_postcopy(gpointer data, GError **error G_GNUC_UNUSED)
{
    FakeJob *f = data;

    f->postcopy_started = TRUE;
    return TRUE;
}

static const VlMigrateJobOps fake_ops = {
    .migrate = fake_migrate,
    .job_stats = fake_job_stats,
    .abort_job = fake_abort,
    .set_max_downtime = fake_set_downtime,
    .start_postcopy = fake_postcopy,
};

static void
fake_progress(VlMigrateJob *job G_GNUC_UNUSED, const VlMigrateProgress *p,
              gpointer user_data)
{
    FakeJob *f = user_data;

    ck_assert(p->percent >= 0 && p->percent <= 100);
    f->progress_calls++;
}

static void
fake_done(VlMigrateJob *job, const VlMigrateResult *result, gpointer user_data)
{
    FakeJob *f = user_data;

    ck_assert(!vl_migrate_job_is_running(job));
    f->result = *result;
    f->error_message = result->error ? g_strdup(result->error->message) : NULL;
    f->result.error = NULL;
    f->done = TRUE;
}

static gboolean
fake_is_done(gpointer data)
{
    return ((FakeJob *)data)->done;
}

static gboolean
fake_has_polled(gpointer data)
{
    FakeJob *f = data;
    gboolean polled;

    g_mutex_lock(&f->lock);
    polled = f->polls >= 2;
    g_mutex_unlock(&f->lock);
    return polled;
}

static VlMigrateJob *
fake_job_new(FakeJob *f, FakeJobMode mode)
{
    VlMigrateJobConfig config;

    memset(f, 0, sizeof(*f));
    f->mode = mode;
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    vl_migrate_job_config_init(&config);
    config.poll_ms = 5;
    config.max_downtime_ms = 150;
    return vl_migrate_job_new(&fake_ops, f, &config);
}

static void
fake_job_clear(FakeJob *f)
{
    g_free(f->error_message);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
}

START_TEST(test_job_completes)
{
    FakeJob f;
    g_autoptr(VlMigrateJob) job = fake_job_new(&f, FAKE_COMPLETE);

    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_migrate_job_is_running(job));
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_COMPLETED);
    ck_assert_ptr_null(f.error_message);
    ck_assert(f.result.has_completed);
    ck_assert_double_eq(f.result.completed.downtime_ms, 250);
    ck_assert(f.result.has_last);
    ck_assert_uint_ge(f.progress_calls, 1);
    /* the downtime limit is set once, when the job exists */
    ck_assert_uint_eq(f.downtime_calls, 1);
    ck_assert_uint_eq(f.downtime_ms, 150);
    ck_assert_uint_eq(f.aborts_tried, 0);
    ck_assert(!f.result.cancel_requested);
    ck_assert(!f.postcopy_started);
    ck_assert_double_ge(f.result.wall_s, 0);
    fake_job_clear(&f);
}
END_TEST

START_TEST(test_job_fails)
{
    FakeJob f;
    g_autoptr(VlMigrateJob) job = fake_job_new(&f, FAKE_FAIL);

    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_FAILED);
    ck_assert_ptr_nonnull(strstr(f.error_message, "unexpectedly closed"));
    ck_assert(!f.result.has_completed);     /* FAILED stats are not "completed" */
    fake_job_clear(&f);
}
END_TEST

START_TEST(test_job_cancel)
{
    FakeJob f;
    g_autoptr(VlMigrateJob) job = fake_job_new(&f, FAKE_WAIT_ABORT);
    g_autoptr(GError) error = NULL;

    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_test_loop_run_until(fake_has_polled, &f, 10000));
    ck_assert(vl_migrate_job_cancel(job, &error));
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_CANCELLED);
    ck_assert(f.result.cancel_requested);
    ck_assert_ptr_nonnull(strstr(f.error_message, "canceled by client"));
    ck_assert_uint_eq(f.aborts_tried, 1);
    fake_job_clear(&f);
}
END_TEST

START_TEST(test_job_cancel_early)
{
    FakeJob f;
    g_autoptr(VlMigrateJob) job = fake_job_new(&f, FAKE_WAIT_ABORT);

    /* Ctrl-C before the libvirt job exists: the abort is tried again at
     * every poll until it takes. */
    f.hold_start = TRUE;
    ck_assert(vl_migrate_job_cancel(job, NULL));    /* not running yet */
    ck_assert_uint_eq(f.aborts_tried, 0);
    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_CANCELLED);
    ck_assert_uint_eq(f.aborts_tried, 2);
    fake_job_clear(&f);
}
END_TEST

START_TEST(test_job_stall)
{
    FakeJob f;
    VlMigrateJobConfig config;
    g_autoptr(VlMigrateJob) job = NULL;

    /* Sent bytes stop growing after five polls: the job is aborted and
     * fails, saying why; it is not a cancel. */
    memset(&f, 0, sizeof(f));
    f.mode = FAKE_WAIT_ABORT;
    g_mutex_init(&f.lock);
    g_cond_init(&f.cond);
    vl_migrate_job_config_init(&config);
    config.poll_ms = 5;
    config.stall_abort_s = 0.1;
    job = vl_migrate_job_new(&fake_ops, &f, &config);
    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_FAILED);
    ck_assert(f.result.stalled);
    ck_assert(!f.result.cancel_requested);
    ck_assert_ptr_nonnull(strstr(f.error_message, "No memory was sent for 0.1 s"));
    ck_assert_uint_eq(f.aborts_tried, 1);
    /* not before the bytes stopped */
    ck_assert_uint_ge(f.polls, 6);
    fake_job_clear(&f);
}
END_TEST

START_TEST(test_job_postcopy)
{
    FakeJob f;
    VlMigrateJobConfig config;
    g_autoptr(VlMigrateJob) job = NULL;

    memset(&f, 0, sizeof(f));
    f.mode = FAKE_COMPLETE;
    g_mutex_init(&f.lock);
    g_cond_init(&f.cond);
    vl_migrate_job_config_init(&config);
    config.poll_ms = 5;
    /* Any ETA beyond a microsecond is "too slow": switch once allowed. */
    config.postcopy_after_s = 1e-6;
    job = vl_migrate_job_new(&fake_ops, &f, &config);
    vl_migrate_job_start(job, fake_progress, fake_done, &f);
    ck_assert(vl_test_loop_run_until(fake_is_done, &f, 10000));
    ck_assert(f.postcopy_started);
    ck_assert(f.result.progress.postcopy);
    ck_assert_uint_ge(f.result.progress.iteration, 2);
    /* no downtime limit configured: none set */
    ck_assert_uint_eq(f.downtime_calls, 0);
    fake_job_clear(&f);
}
END_TEST

/* ---- history ---------------------------------------------------------------------------- */

START_TEST(test_history)
{
    g_autoptr(VlHistoryRecord) record = NULL;
    g_autoptr(VlHistory) history = vl_history_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("vl-migrate-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "history.jsonl", NULL);
    g_autoptr(VlHistory) loaded = NULL;
    VlMigrateJobStats stats = { 0 };
    VlHistoryRecord *r;

    stats.type = VIR_DOMAIN_JOB_COMPLETED;
    stats.sample.time_elapsed_ms = 15600;
    stats.sample.memory_total = 1073741824;
    stats.sample.memory_processed = 897581056;
    stats.sample.memory_bps = 63500000;
    stats.sample.memory_iteration = 3;
    stats.downtime_ms = NAN;
    record = vl_migrate_history_record_new("web 'one'", 1700000000, &stats, -1, 3, 6, NAN);
    ck_assert_str_eq(record->domain, "web 'one'");
    ck_assert_double_eq(record->total_time_s, 15.6);
    /* 3 links: the base path and 2 lanes, as the history counts them */
    ck_assert_uint_eq(record->lanes, 2);
    ck_assert_uint_eq(record->channels, 6);
    ck_assert(isnan(record->load1) || record->load1 >= 0);
    ck_assert_double_eq(record->downtime_ms, 0);
    ck_assert_double_eq(record->dirty_rate_bps, 0);
    ck_assert(isnan(record->predicted_time_s));
    /* the history module accepts it */
    ck_assert_msg(vl_history_append(path, record, 0, &error), "%s",
                  error ? error->message : "?");
    loaded = vl_history_load(path, &error);
    ck_assert_uint_eq(loaded->records->len, 1);
    ck_assert(vl_migrate_history_has_record(loaded, "web 'one'", 1700000000));
    ck_assert(!vl_migrate_history_has_record(loaded, "web 'one'", 1700000001));
    ck_assert(!vl_migrate_history_has_record(loaded, "web", 0));
    ck_assert(!vl_migrate_history_has_record(history, "web 'one'", 0));
    r = g_ptr_array_index(loaded->records, 0);
    ck_assert_uint_eq(r->processed_bytes, 897581056);

    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

/* ---- planning inputs from the policy ----------------------------------------- */

START_TEST(test_max_links)
{
    g_autoptr(VlPolicy) policy = load_policy();
    VlMigrationPolicy *m = policy->migration;
    VlPeerConfig *b = peer_b(policy);
    VlPeerConfig *c = g_ptr_array_index(m->peers, 1);
    g_autofree char *why = NULL;
    g_autofree char *address = NULL;

    /* max_lanes 3 of 3 lanes: the base path and three lanes */
    ck_assert_uint_eq(vl_migrate_max_links(m, b, -1, &why), 4);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(vl_migrate_max_links(m, b, 1, NULL), 2);
    ck_assert_uint_eq(vl_migrate_max_links(m, b, 0, NULL), 1);
    ck_assert_uint_eq(vl_migrate_max_links(m, b, 16, NULL), 4);
    /* a peer without lanes: the base path, nothing to warn about */
    ck_assert_uint_eq(vl_migrate_max_links(m, c, -1, &why), 1);
    ck_assert_ptr_null(why);

    /* no migration address for the peer, then for this host */
    address = g_steal_pointer(&b->migration_address);
    ck_assert_uint_eq(vl_migrate_max_links(m, b, -1, &why), 1);
    ck_assert_str_eq(why, "Peer 'host-b' has no migration_address in the policy: no lanes, libvirt picks the migration address");
    g_clear_pointer(&why, g_free);
    b->migration_address = g_steal_pointer(&address);
    address = g_steal_pointer(&m->migration_address);
    ck_assert_uint_eq(vl_migrate_max_links(m, b, -1, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "no migration_address for this host"));
    m->migration_address = g_steal_pointer(&address);
}
END_TEST

START_TEST(test_peer_links)
{
    g_autoptr(VlPolicy) policy = load_policy();
    VlPeerConfig *b = peer_b(policy);
    VlPeerConfig *c = g_ptr_array_index(policy->migration->peers, 1);
    g_autoptr(GHashTable) unavailable = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(VlMigratePeerLinks) links = NULL;
    VlMigratePlanInput in;

    /* lane2 cannot come up: lane1 and lane3 remain, in order */
    g_hash_table_add(unavailable, (gpointer)"lane2");
    links = vl_migrate_peer_links_new(b, unavailable, NULL);
    ck_assert_uint_eq(links->names->len, 2);
    ck_assert_str_eq(g_ptr_array_index(links->names, 0), "lane1");
    ck_assert_str_eq(g_ptr_array_index(links->names, 1), "lane3");
    ck_assert_double_eq(g_array_index(links->bps, double, 1), LANE_BPS);
    ck_assert_int_eq(links->base_source, VL_MIGRATE_BASE_DECLARED);
    ck_assert_double_eq(links->base_bps, LANE_BPS);
    ck_assert(isnan(links->learned[0]) && isnan(links->learned[VL_PLAN_LANES_MAX]));
    ck_assert(isnan(links->overhead_s));

    vl_migrate_plan_input_from_policy(&in, policy->migration, links, 3);
    ck_assert_double_eq(in.threshold_s, 30);
    ck_assert_double_eq(in.lane_up_s, 2.5);
    ck_assert_uint_eq(in.max_links, 3);
    ck_assert_uint_eq(in.channels_per_link, policy->migration->channels_per_lane);
    ck_assert_double_eq(in.max_downtime_s, policy->migration->max_downtime_ms / 1000.0);
    ck_assert_uint_eq(in.n_lanes, 2);
    ck_assert_str_eq(in.lane_names[1], "lane3");
    ck_assert_double_eq(in.base_bps, LANE_BPS);
    ck_assert_ptr_eq(in.learned_bps, links->learned);
    ck_assert(isnan(in.overhead_s));
    g_clear_pointer(&links, vl_migrate_peer_links_free);

    /* no base_bandwidth_mbit: as fast as the first lane */
    b->base_bandwidth_mbit = 0;
    links = vl_migrate_peer_links_new(b, NULL, NULL);
    ck_assert_int_eq(links->base_source, VL_MIGRATE_BASE_FIRST_LANE);
    ck_assert_double_eq(links->base_bps, LANE_BPS);
    ck_assert_uint_eq(links->names->len, 3);
    g_clear_pointer(&links, vl_migrate_peer_links_free);

    /* nothing at all: unknown */
    links = vl_migrate_peer_links_new(c, NULL, NULL);
    ck_assert_int_eq(links->base_source, VL_MIGRATE_BASE_UNKNOWN);
    ck_assert_double_eq(links->base_bps, 0);
    ck_assert_uint_eq(links->names->len, 0);
}
END_TEST

/* One attempt's parameters: with lanes and more than one link the plan
 * goes into the destination XML; otherwise none, whatever the lanes. */
START_TEST(test_build_attempt)
{
    g_autoptr(VlPolicy) policy = load_policy();
    VlPeerConfig *b = peer_b(policy);
    g_autoptr(VlMigrateLanes) lanes = g_new0(VlMigrateLanes, 1);
    const char *xml = "<domain type='kvm'><name>web</name><metadata/></domain>";
    const char *dest_xml = NULL;
    const char *persist_xml = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int channels = 0;
    unsigned int flags = 0;
    gboolean with_plan = TRUE;
    VlMigrateSettings settings;

    lanes->plan_id = g_strdup("web.1.2");
    lanes->up = g_ptr_array_new();
    lanes->outcomes = g_ptr_array_new();
    g_ptr_array_add(lanes->up, g_ptr_array_index(b->lanes, 0));
    g_ptr_array_add(lanes->up, g_ptr_array_index(b->lanes, 1));
    vl_migrate_settings_init(&settings);

    ck_assert(vl_migrate_build_attempt(&settings, xml, "web.1.2", "host-a", "198.19.0.1",
                                       lanes, 3, 6, "tcp://198.19.0.2", &with_plan,
                                       &params, &nparams, &flags, NULL));
    ck_assert(with_plan);
    ck_assert(flags & VIR_MIGRATE_PARALLEL);
    ck_assert_int_eq(virTypedParamsGetInt(params, nparams,
                                          VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                          &channels), 1);
    ck_assert_int_eq(channels, 6);
    ck_assert_int_eq(virTypedParamsGetString(params, nparams, VIR_MIGRATE_PARAM_DEST_XML,
                                             &dest_xml), 1);
    ck_assert_ptr_nonnull(strstr(dest_xml, "id=\"web.1.2\""));
    ck_assert_ptr_nonnull(strstr(dest_xml, "dest-address=\"198.18.12.2\""));
    ck_assert_ptr_nonnull(strstr(dest_xml, "migration-address=\"198.19.0.1\""));
    virTypedParamsFree(params, nparams);

    /* the same lanes, one link (a retry): no plan, channels as given */
    params = NULL;
    nparams = 0;
    ck_assert(vl_migrate_build_attempt(&settings, xml, "web.1.2", "host-a", "198.19.0.1",
                                       lanes, 1, 2, "tcp://198.19.0.2", &with_plan,
                                       &params, &nparams, &flags, NULL));
    ck_assert(!with_plan);
    ck_assert_int_eq(virTypedParamsGetString(params, nparams, VIR_MIGRATE_PARAM_DEST_XML,
                                             &dest_xml), 0);
    ck_assert_int_eq(virTypedParamsGetString(params, nparams, VIR_MIGRATE_PARAM_PERSIST_XML,
                                             &persist_xml), 0);
    virTypedParamsFree(params, nparams);

    /* plain: no XML needed, no channels, no PARALLEL */
    params = NULL;
    nparams = 0;
    ck_assert(vl_migrate_build_attempt(&settings, NULL, "web.1.2", "host-a", NULL, NULL,
                                       1, 0, NULL, NULL, &params, &nparams, &flags, NULL));
    ck_assert(!(flags & VIR_MIGRATE_PARALLEL));
    ck_assert(flags & VIR_MIGRATE_PEER2PEER);
    virTypedParamsFree(params, nparams);

    /* a destination XML that cannot take a plan fails, naming why */
    params = NULL;
    nparams = 0;
    ck_assert(!vl_migrate_build_attempt(&settings, "<domain", "web.1.2", "host-a",
                                        "198.19.0.1", lanes, 3, 6, NULL, &with_plan,
                                        &params, &nparams, &flags, NULL));
    ck_assert_ptr_null(params);
}
END_TEST

/* A job started in a thread with a context of its own is polled there,
 * not on the global default context nobody turns here (the daemon's
 * mover runs jobs this way in the executor's threads). */
static gpointer
job_in_thread(gpointer data)
{
    FakeJob *f = data;
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(VlMigrateJob) job = NULL;

    g_main_context_push_thread_default(context);
    job = fake_job_new(f, FAKE_COMPLETE);
    vl_migrate_job_start(job, fake_progress, fake_done, f);
    while (!f->done)
        g_main_context_iteration(context, TRUE);
    g_main_context_pop_thread_default(context);
    return NULL;
}

START_TEST(test_job_own_context)
{
    FakeJob f;
    GThread *thread = g_thread_new("job", job_in_thread, &f);

    g_thread_join(thread);
    ck_assert_int_eq(f.result.outcome, VL_MIGRATE_OUTCOME_COMPLETED);
    ck_assert_uint_ge(f.progress_calls, 1);
    ck_assert_uint_eq(f.downtime_calls, 1);
    /* nothing of the job was left on this thread's context */
    ck_assert(!g_main_context_pending(NULL));
    fake_job_clear(&f);
}
END_TEST

static Suite *
migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc;

    tc = tcase_create("peer");
    tcase_add_loop_test(tc, test_uri_equal, 0, G_N_ELEMENTS(uri_cases));
    tcase_add_test(tc, test_find_peer);
    tcase_add_test(tc, test_find_peer_unknown);
    suite_add_tcase(s, tc);

    tc = tcase_create("channels");
    tcase_add_loop_test(tc, test_channels, 0, G_N_ELEMENTS(channel_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("plan");
    tcase_add_test(tc, test_plan_under_threshold);
    tcase_add_test(tc, test_plan_learned_overhead);
    tcase_add_test(tc, test_plan_over_threshold);
    tcase_add_test(tc, test_plan_limits);
    tcase_add_test(tc, test_plan_lane_up_cost);
    tcase_add_test(tc, test_plan_not_converging);
    tcase_add_test(tc, test_plan_learned_and_cap);
    tcase_add_test(tc, test_plan_requested_channels);
    tcase_add_test(tc, test_plan_bad_input);
    tcase_add_test(tc, test_plan_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("daemon");
    tcase_add_test(tc, test_estimate_inputs);
    tcase_add_test(tc, test_unavailable_lanes);
    tcase_add_test(tc, test_lanes_reply);
    tcase_add_loop_test(tc, test_lanes_reply_bad, 0, G_N_ELEMENTS(bad_replies));
    tcase_add_test(tc, test_lanes_up_request);
    tcase_add_test(tc, test_lanes_check);
    tcase_add_test(tc, test_lanes_down_request);
    suite_add_tcase(s, tc);

    tc = tcase_create("inputs");
    tcase_add_test(tc, test_max_links);
    tcase_add_test(tc, test_peer_links);
    tcase_add_test(tc, test_build_attempt);
    suite_add_tcase(s, tc);

    tc = tcase_create("dest-xml");
    tcase_add_loop_test(tc, test_plan_id, 0, G_N_ELEMENTS(odd_names));
    tcase_add_test(tc, test_host_label);
    tcase_add_test(tc, test_dest_xml);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_uri_for_address);
    tcase_add_test(tc, test_job_stats);
    suite_add_tcase(s, tc);

    tc = tcase_create("job");
    tcase_add_test(tc, test_job_completes);
    tcase_add_test(tc, test_job_fails);
    tcase_add_test(tc, test_job_cancel);
    tcase_add_test(tc, test_job_cancel_early);
    tcase_add_test(tc, test_job_stall);
    tcase_add_test(tc, test_job_postcopy);
    tcase_add_test(tc, test_job_own_context);
    suite_add_tcase(s, tc);

    tc = tcase_create("history");
    tcase_add_test(tc, test_history);
    suite_add_tcase(s, tc);
    return s;
}

/* libvirt prints every error unless told not to; the tests check them. */
static void
quiet_virt_errors(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

int
main(void)
{
    /* The typed-parameter helpers keep their errors in thread-local
     * storage that only virInitialize() sets up. */
    if (virInitialize() < 0)
        return 1;
    virSetErrorFunc(NULL, quiet_virt_errors);
    return vl_test_run_suite(migrate_suite());
}
