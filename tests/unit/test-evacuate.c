/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * evacuate.c: the graph, the plan (with fake and real estimates) and the
 * run (with a fake mover and a fake observer, on the main loop).
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "evacuate.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

#define RUN_TIMEOUT_MS 10000

/* ---- helpers ---------------------------------------------------------- */

static VlAffinity *
affinity(const char *a, const char *b, double w)
{
    VlAffinity *aff = vl_affinity_new();

    aff->a = g_strdup(a);
    aff->b = g_strdup(b);
    aff->weight = w;
    return aff;
}

static double
weight(const VlGraph *g, const char *a, const char *b)
{
    guint u = 0, v = 0;

    if (!vl_graph_lookup(g, a, &u) || !vl_graph_lookup(g, b, &v))
        return 0;
    return vl_graph_edge_weight(g, u, v);
}

/* VlEvacuateDomain list of @names; memory_bytes = @mem[i] when given. */
static GPtrArray *
domains_of(const char *const *names, const double *mem)
{
    GPtrArray *domains = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
    guint i;

    for (i = 0; names[i]; i++) {
        VlEvacuateDomain *d = vl_evacuate_domain_new(names[i]);

        if (mem)
            d->memory_bytes = mem[i];
        g_ptr_array_add(domains, d);
    }
    return domains;
}

/* A graph of @names with edges "a-b" listed as pairs in @edges. */
static VlGraph *
graph_of(const char *const *names, const char *const *edges)
{
    VlGraph *g = vl_graph_new();
    guint i;

    for (i = 0; names[i]; i++)
        ck_assert(vl_graph_add_vertex(g, names[i], NULL, NULL));
    for (i = 0; edges && edges[i]; i += 2)
        ck_assert(vl_graph_add_edge(g, edges[i], edges[i + 1], 1, NULL));
    return g;
}

/* ---- the graph -------------------------------------------------------- */

START_TEST(test_graph_build)
{
    const char *const names[] = { "web 1", "db \"main\"", "cache;3", NULL };
    g_autoptr(GPtrArray) affs = g_ptr_array_new_with_free_func((GDestroyNotify)vl_affinity_free);
    g_autoptr(VlGraph) observed = vl_graph_new();
    g_autoptr(VlGraph) g = NULL;
    g_autoptr(GError) error = NULL;
    double scale = 0;

    g_ptr_array_add(affs, affinity("web 1", "db \"main\"", 4));
    g_ptr_array_add(affs, affinity("cache;3", "web 1", 2));
    g_ptr_array_add(affs, affinity("web 1", "elsewhere", 100));
    ck_assert(vl_graph_add_edge(observed, "web 1", "cache;3", 1000, NULL));
    ck_assert(vl_graph_add_edge(observed, "cache;3", "stays", 1e9, NULL));

    /* Without observation: the declared weights as they are. */
    g = vl_evacuate_graph_build(names, affs, NULL, &scale, &error);
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq(scale, 1);
    ck_assert_uint_eq(vl_graph_n_vertices(g), 3);
    ck_assert_str_eq(vl_graph_vertex_name(g, 0), "web 1");
    ck_assert_str_eq(vl_graph_vertex_name(g, 2), "cache;3");
    ck_assert_uint_eq(vl_graph_n_edges(g), 2);
    ck_assert_double_eq(weight(g, "web 1", "db \"main\""), 4);
    g_clear_pointer(&g, vl_graph_free);

    /* With it: the heaviest affinity inside the group (4; the 100 goes to
     * a domain that does not move) counts as the heaviest observed pair
     * inside the group (1000; "stays" does not move). */
    g = vl_evacuate_graph_build(names, affs, observed, &scale, &error);
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq(scale, 250);
    ck_assert_uint_eq(vl_graph_n_vertices(g), 3);
    ck_assert_double_eq(weight(g, "web 1", "db \"main\""), 1000);
    ck_assert_double_eq(weight(g, "web 1", "cache;3"), 1000 + 2 * 250);
    ck_assert_double_eq(weight(g, "db \"main\"", "cache;3"), 0);
}
END_TEST

START_TEST(test_graph_build_bad)
{
    const char *const twice[] = { "a", "b", "a", NULL };
    const char *const empty[] = { "a", "", NULL };
    const char *const binary[] = { "a", "b\xff", NULL };
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_evacuate_graph_build(twice, NULL, NULL, NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "'a'"));
    g_clear_error(&error);
    ck_assert_ptr_null(vl_evacuate_graph_build(empty, NULL, NULL, NULL, &error));
    g_clear_error(&error);
    ck_assert_ptr_null(vl_evacuate_graph_build(binary, NULL, NULL, NULL, &error));
    ck_assert(g_utf8_validate(error->message, -1, NULL));
}
END_TEST

/* ---- the plan --------------------------------------------------------- */

/* A fake estimate: memory_bytes is the job time in seconds at full
 * bandwidth; shared k ways it takes k times as long.  Negative memory
 * means "does not converge", 0 "unknown". */
typedef struct {
    guint calls;
    guint sharing_seen;
    gboolean fail;
} FakeEstimate;

static gboolean
fake_estimate(gpointer data, const VlEvacuateDomain *d, guint sharing,
              VlEvacuateMoveEstimate *out, GError **error)
{
    FakeEstimate *fe = data;
    const char *links[] = { "base", "lane1", NULL };

    fe->calls++;
    fe->sharing_seen = sharing;
    if (fe->fail) {
        g_set_error(error, VL_ERROR, VL_ERROR_ESTIMATE, "fake failure for '%s'", d->name);
        return FALSE;
    }
    if (d->memory_bytes == 0)
        return TRUE;
    out->estimated = TRUE;
    out->bandwidth_bps = 100.0 / sharing;
    out->links = g_strdupv((char **)links);
    out->estimate.converges = d->memory_bytes > 0;
    out->estimate.total_time_s = d->memory_bytes > 0 ? d->memory_bytes * sharing : INFINITY;
    out->estimate.downtime_s = 0.3;
    return TRUE;
}

static const char *
step_name(const VlEvacuatePlan *plan, guint i)
{
    return ((const VlEvacuateStep *)g_ptr_array_index(plan->steps, i))->name;
}

static const VlEvacuateStep *
step_at(const VlEvacuatePlan *plan, guint i)
{
    return g_ptr_array_index(plan->steps, i);
}

/* The plan's order is order.h's plan for the same graph, on graphs that
 * call for each of its methods. */
START_TEST(test_plan_matches_order)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(7 + _i);
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(VlOrder) order = NULL;
    g_autoptr(GError) error = NULL;
    /* 8 (exact) and 40 (local search) domains */
    guint n = _i % 2 ? 40 : 8;
    guint i;

    for (i = 0; i < n; i++) {
        char *name = g_strdup_printf("vm '%u'", i);

        g_ptr_array_add(names, name);
        ck_assert(vl_graph_add_vertex(g, name, NULL, NULL));
        g_ptr_array_add(domains, vl_evacuate_domain_new(name));
    }
    for (i = 0; i < 2 * n; i++) {
        guint a = g_rand_int_range(rand, 0, n);
        guint b = g_rand_int_range(rand, 0, n);

        if (a != b)
            ck_assert(vl_graph_add_edge(g, g_ptr_array_index(names, a),
                                        g_ptr_array_index(names, b),
                                        g_rand_double_range(rand, 1, 100), NULL));
    }
    g_ptr_array_add(names, NULL);

    plan = vl_evacuate_plan_compute(g, domains, NULL, &error);
    ck_assert_msg(plan != NULL, "%s", error ? error->message : "");
    order = vl_order_plan(g, (const char *const *)names->pdata, NULL, NULL);
    ck_assert_ptr_nonnull(order);
    ck_assert_uint_eq(plan->steps->len, order->n);
    for (i = 0; i < order->n; i++)
        ck_assert_str_eq(step_name(plan, i), order->names[i]);
    ck_assert_uint_eq(plan->bandwidth, order->bandwidth);
    ck_assert_double_eq(plan->cost, order->cost);
    ck_assert_int_eq(plan->method, order->method);
    ck_assert_int_eq(plan->optimal, order->optimal);
    ck_assert_uint_eq(plan->n_edges, vl_graph_n_edges(g));
    /* no estimate function: nothing is predicted */
    ck_assert(isnan(plan->total_s));
    ck_assert(!step_at(plan, 0)->move.estimated);
}
END_TEST

/* A path a - b - c - d declared backwards: the plan moves talking
 * neighbours next to each other, whatever the listing order. */
START_TEST(test_plan_path)
{
    const char *const names[] = { "a", "c", "d", "b", NULL };
    const char *const edges[] = { "a", "b", "b", "c", "c", "d", NULL };
    g_autoptr(VlGraph) g = graph_of(names, edges);
    g_autoptr(GPtrArray) domains = domains_of(names, NULL);
    g_autoptr(VlEvacuatePlan) plan = vl_evacuate_plan_compute(g, domains, NULL, NULL);
    g_auto(GStrv) order = NULL;
    guint i;

    ck_assert_ptr_nonnull(plan);
    ck_assert_uint_eq(plan->bandwidth, 1);
    ck_assert_double_eq(plan->cost, 3);
    ck_assert(plan->optimal);
    order = vl_evacuate_plan_get_order(plan);
    ck_assert_uint_eq(g_strv_length(order), 4);
    for (i = 0; i + 1 < 4; i++)
        ck_assert_double_eq(weight(g, order[i], order[i + 1]), 1);
}
END_TEST

/* Predicted times: durations 10, 20, 30, 40 s at full bandwidth. */
START_TEST(test_plan_schedule)
{
    const char *const names[] = { "m1", "m2", "m3", "m4", NULL };
    const char *const edges[] = { "m1", "m2", "m2", "m3", "m3", "m4", NULL };
    const double secs[] = { 10, 20, 30, 40 };
    g_autoptr(VlGraph) g = graph_of(names, edges);
    g_autoptr(GPtrArray) domains = domains_of(names, secs);
    g_autoptr(VlEvacuatePlan) plan = NULL;
    VlEvacuatePlanConfig config;
    FakeEstimate fe = { 0 };
    double duration[4] = { 0 };
    guint i;

    vl_evacuate_plan_config_init(&config);
    config.estimate = fake_estimate;
    config.estimate_data = &fe;
    /* the jobs alone here; the fixed costs have a test of their own */
    config.move_overhead_s = 0;

    /* one at a time: end to end, full bandwidth */
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    ck_assert_uint_eq(fe.sharing_seen, 1);
    ck_assert_uint_eq(fe.calls, 4);
    ck_assert_double_eq(plan->total_s, 100);
    for (i = 1; i < 4; i++)
        ck_assert_double_eq(step_at(plan, i)->start_s, step_at(plan, i - 1)->end_s);
    g_clear_pointer(&plan, vl_evacuate_plan_free);

    /* two at once: each gets half the bandwidth (twice as long), and
     * the next move takes the slot that frees first */
    config.concurrency = 2;
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    ck_assert_uint_eq(fe.sharing_seen, 2);
    ck_assert_uint_eq(plan->sharing, 2);
    for (i = 0; i < 4; i++) {
        const VlEvacuateStep *s = step_at(plan, i);
        guint k;

        for (k = 0; k < 4; k++) {
            if (g_str_equal(s->name, names[k]))
                duration[i] = 2 * secs[k];
        }
        ck_assert_double_eq(s->duration_s, duration[i]);
        ck_assert_double_eq(s->move.bandwidth_bps, 50);
    }
    /* slots: 1st and 2nd at 0; 3rd after the shorter of them; 4th after
     * the other */
    ck_assert_double_eq(step_at(plan, 0)->start_s, 0);
    ck_assert_double_eq(step_at(plan, 1)->start_s, 0);
    ck_assert_double_eq(step_at(plan, 2)->start_s, MIN(duration[0], duration[1]));
    ck_assert_double_eq(step_at(plan, 3)->start_s,
                        MIN(MAX(duration[0], duration[1]),
                            MIN(duration[0], duration[1]) + duration[2]));
    {
        double ends[4];
        double total = 0;

        for (i = 0; i < 4; i++) {
            ends[i] = step_at(plan, i)->start_s + duration[i];
            ck_assert_double_eq(step_at(plan, i)->end_s, ends[i]);
            total = MAX(total, ends[i]);
        }
        ck_assert_double_eq(plan->total_s, total);
    }
    g_clear_pointer(&plan, vl_evacuate_plan_free);

    /* more slots than domains: the links are shared 4 ways, not 16 */
    config.concurrency = 16;
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert_uint_eq(plan->sharing, 4);
    ck_assert_uint_eq(fe.sharing_seen, 4);
    ck_assert_double_eq(plan->total_s, 4 * 40);
}
END_TEST

/* The fixed cost per move and the lanes coming up once, by hand: jobs of
 * 10, 20, 30, 40 s at full bandwidth, 3 s per move, lanes up in 5 s. */
START_TEST(test_plan_fixed_costs)
{
    const char *const names[] = { "m1", "m2", "m3", "m4", NULL };
    const char *const edges[] = { "m1", "m2", "m2", "m3", "m3", "m4", NULL };
    const double secs[] = { 10, 20, 30, 40 };
    g_autoptr(VlGraph) g = graph_of(names, edges);
    g_autoptr(GPtrArray) domains = domains_of(names, secs);
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *moves = NULL;
    json_object *v = NULL;
    VlEvacuatePlanConfig config;
    FakeEstimate fe = { 0 };
    gboolean forward;

    vl_evacuate_plan_config_init(&config);
    ck_assert_double_eq(config.move_overhead_s, VL_EVACUATE_MOVE_OVERHEAD_S);
    ck_assert_double_eq(config.lanes_up_s, 0);
    config.estimate = fake_estimate;
    config.estimate_data = &fe;
    config.move_overhead_s = 3;
    config.lanes_up_s = 5;

    /* one at a time: 5 + (10+3) + (20+3) + (30+3) + (40+3) = 117,
     * whichever end of the path goes first */
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    forward = g_str_equal(step_name(plan, 0), "m1");
    ck_assert_double_eq(plan->lanes_up_s, 5);
    ck_assert_double_eq(plan->move_overhead_s, 3);
    ck_assert_double_eq(step_at(plan, 0)->start_s, 5);
    ck_assert_double_eq(step_at(plan, 0)->job_s, forward ? 10 : 40);
    ck_assert_double_eq(step_at(plan, 0)->overhead_s, 3);
    ck_assert_double_eq(step_at(plan, 0)->duration_s, forward ? 13 : 43);
    ck_assert_double_eq(step_at(plan, 1)->start_s, forward ? 18 : 48);
    ck_assert_double_eq(step_at(plan, 3)->end_s, 117);
    ck_assert_double_eq(plan->total_s, 117);

    json = vl_evacuate_plan_to_json(plan);
    ck_assert(json_object_object_get_ex(json, "lanes_up_s", &v));
    ck_assert_double_eq(json_object_get_double(v), 5);
    ck_assert(json_object_object_get_ex(json, "move_overhead_s", &v));
    ck_assert_double_eq(json_object_get_double(v), 3);
    ck_assert(json_object_object_get_ex(json, "moves", &moves));
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(moves, 0), "job_s", &v));
    ck_assert_double_eq(json_object_get_double(v), forward ? 10 : 40);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(moves, 0), "overhead_s", &v));
    ck_assert_double_eq(json_object_get_double(v), 3);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(moves, 0), "duration_s", &v));
    ck_assert_double_eq(json_object_get_double(v), forward ? 13 : 43);
    g_clear_pointer(&plan, vl_evacuate_plan_free);

    /* two at once: jobs twice as long, both slots free at 5 s.
     * m1..m4: 23, 43, 63, 83 -> 5-28, 5-48, 28-91, 48-131: 131.
     * m4..m1: 83, 63, 43, 23 -> 5-88, 5-68, 68-111, 88-111: 111. */
    config.concurrency = 2;
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    forward = g_str_equal(step_name(plan, 0), "m1");
    ck_assert_double_eq(step_at(plan, 0)->start_s, 5);
    ck_assert_double_eq(step_at(plan, 1)->start_s, 5);
    ck_assert_double_eq(step_at(plan, 2)->start_s, forward ? 28 : 68);
    ck_assert_double_eq(step_at(plan, 3)->start_s, forward ? 48 : 88);
    ck_assert_double_eq(plan->total_s, forward ? 131 : 111);
    g_clear_pointer(&plan, vl_evacuate_plan_free);

    /* no estimate, no fixed cost: the order alone, nothing predicted */
    config.estimate = NULL;
    plan = vl_evacuate_plan_compute(g, domains, &config, NULL);
    ck_assert(isnan(step_at(plan, 0)->overhead_s));
    ck_assert(isnan(plan->total_s));
}
END_TEST

/* What a move's record says it cost besides its job and its lanes. */
START_TEST(test_move_overhead)
{
    ck_assert_double_eq(vl_evacuate_move_overhead(20, 12.5, 1.5), 6);
    ck_assert_double_eq(vl_evacuate_move_overhead(9.6, 3.1, 0), 6.5);
    /* a job longer than the move as seen (clocks apart): never below 0 */
    ck_assert_double_eq(vl_evacuate_move_overhead(10, 12, 0), 0);
    ck_assert(isnan(vl_evacuate_move_overhead(NAN, 1, 0)));
    ck_assert(isnan(vl_evacuate_move_overhead(10, -1, 0)));
    ck_assert(isnan(vl_evacuate_move_overhead(10, 1, INFINITY)));
}
END_TEST

START_TEST(test_plan_unknown_and_hopeless)
{
    const char *const names[] = { "a", "b", "c", NULL };
    const char *const edges[] = { "a", "b", "b", "c", NULL };
    const double hopeless[] = { 10, -1, 10 };
    const double unknown[] = { 10, 0, 10 };
    g_autoptr(VlGraph) g = graph_of(names, edges);
    g_autoptr(GPtrArray) d1 = domains_of(names, hopeless);
    g_autoptr(GPtrArray) d2 = domains_of(names, unknown);
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *moves = NULL;
    json_object *v = NULL;
    VlEvacuatePlanConfig config;
    FakeEstimate fe = { 0 };
    guint i;

    vl_evacuate_plan_config_init(&config);
    config.estimate = fake_estimate;
    config.estimate_data = &fe;

    /* b never ends: the total is infinite; with two slots the third
     * still starts, after the first */
    config.concurrency = 2;
    plan = vl_evacuate_plan_compute(g, d1, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    ck_assert(isinf(plan->total_s));
    for (i = 0; i < 3; i++) {
        const VlEvacuateStep *s = step_at(plan, i);

        if (g_str_equal(s->name, "b"))
            ck_assert(isinf(s->duration_s) && !s->move.estimate.converges);
        else
            ck_assert(isfinite(s->end_s));
    }
    json = vl_evacuate_plan_to_json(plan);
    ck_assert(json_object_object_get_ex(json, "total_s", &v));
    ck_assert_ptr_null(v);
    g_clear_pointer(&plan, vl_evacuate_plan_free);
    g_clear_pointer(&json, json_object_put);

    /* b unknown: b and every later time unknown, the total too */
    config.concurrency = 1;
    plan = vl_evacuate_plan_compute(g, d2, &config, NULL);
    ck_assert_ptr_nonnull(plan);
    ck_assert(isnan(plan->total_s));
    for (i = 0; i < 3; i++) {
        const VlEvacuateStep *s = step_at(plan, i);

        if (g_str_equal(s->name, "b")) {
            ck_assert(!s->move.estimated);
            ck_assert(isnan(s->end_s));
        }
    }
    json = vl_evacuate_plan_to_json(plan);
    ck_assert(json_object_object_get_ex(json, "moves", &moves));
    ck_assert_uint_eq(json_object_array_length(moves), 3);
    for (i = 0; i < 3; i++) {
        json_object *m = json_object_array_get_idx(moves, i);
        json_object *name = NULL;
        json_object *est = NULL;

        ck_assert(json_object_object_get_ex(m, "domain", &name));
        ck_assert_str_eq(json_object_get_string(name), step_name(plan, i));
        ck_assert(json_object_object_get_ex(m, "estimated", &est));
        ck_assert_int_eq(json_object_get_boolean(est),
                         !g_str_equal(step_name(plan, i), "b"));
        /* the inputs as given: memory, and no dirty rate measured */
        ck_assert(json_object_object_get_ex(m, "memory_bytes", &est));
        ck_assert_double_eq(json_object_get_double(est),
                            g_str_equal(step_name(plan, i), "b") ? 0 : 10);
        ck_assert(json_object_object_get_ex(m, "dirty_rate_bps", &est));
        ck_assert_ptr_null(est);
    }
}
END_TEST

START_TEST(test_plan_bad_input)
{
    const char *const names[] = { "a", "b", NULL };
    const char *const other[] = { "a", "z", NULL };
    g_autoptr(VlGraph) g = graph_of(names, NULL);
    g_autoptr(GPtrArray) domains = domains_of(names, NULL);
    g_autoptr(GPtrArray) missing = domains_of(other, NULL);
    g_autoptr(GPtrArray) none = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    VlEvacuatePlanConfig config;
    FakeEstimate fe = { .fail = TRUE };

    vl_evacuate_plan_config_init(&config);
    config.concurrency = 0;
    ck_assert_ptr_null(vl_evacuate_plan_compute(g, domains, &config, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    {
        const double bad[] = { -1, NAN, INFINITY, VL_EVACUATE_FIXED_MAX_S + 1 };
        guint k;

        for (k = 0; k < G_N_ELEMENTS(bad); k++) {
            vl_evacuate_plan_config_init(&config);
            config.move_overhead_s = bad[k];
            ck_assert_ptr_null(vl_evacuate_plan_compute(g, domains, &config, &error));
            ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
            g_clear_error(&error);
            vl_evacuate_plan_config_init(&config);
            config.lanes_up_s = bad[k];
            ck_assert_ptr_null(vl_evacuate_plan_compute(g, domains, &config, &error));
            ck_assert_ptr_nonnull(strstr(error->message, "lane bring-up"));
            g_clear_error(&error);
        }
    }
    vl_evacuate_plan_config_init(&config);
    g_clear_error(&error);
    config.concurrency = VL_EVACUATE_CONCURRENCY_MAX + 1;
    ck_assert_ptr_null(vl_evacuate_plan_compute(g, domains, &config, &error));
    g_clear_error(&error);
    config.concurrency = 1;
    ck_assert_ptr_null(vl_evacuate_plan_compute(g, none, &config, &error));
    g_clear_error(&error);
    ck_assert_ptr_null(vl_evacuate_plan_compute(g, missing, &config, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "'z'"));
    g_clear_error(&error);
    config.estimate = fake_estimate;
    config.estimate_data = &fe;
    ck_assert_ptr_null(vl_evacuate_plan_compute(g, domains, &config, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_ESTIMATE));
}
END_TEST

/* ---- the real estimate over links ------------------------------------ */

static const char policy_json[] =
    "{ \"migration\": { \"max_lanes\": 3, \"channels_per_lane\": 2, \"max_downtime_ms\": 500,\n"
    "  \"peers\": [ { \"name\": \"b\", \"uri\": \"qemu+tcp://198.18.0.12/system\",\n"
    "    \"migration_address\": \"198.19.0.2\", \"lanes\": [\n"
    "    { \"interface\": \"lane1\", \"address\": \"198.18.11.1/24\", \"peer_address\": \"198.18.11.2\", \"bandwidth_mbit\": 200 },\n"
    "    { \"interface\": \"lane2\", \"address\": \"198.18.12.1/24\", \"peer_address\": \"198.18.12.2\", \"bandwidth_mbit\": 100 },\n"
    "    { \"interface\": \"lane3\", \"address\": \"198.18.13.1/24\", \"peer_address\": \"198.18.13.2\", \"bandwidth_mbit\": 100 } ] },\n"
    "  { \"name\": \"c\", \"uri\": \"qemu+tcp://198.18.0.13/system\" },\n"
    "  { \"name\": \"d\", \"uri\": \"qemu+tcp://198.18.0.14/system\", \"base_bandwidth_mbit\": 1000 } ] } }";

START_TEST(test_path_from_policy)
{
    g_autoptr(VlPolicy) policy = vl_policy_load_data("p.json", policy_json,
                                                     strlen(policy_json), NULL);
    g_autoptr(VlEvacuatePath) path = NULL;
    g_autoptr(GHashTable) unavailable = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) error = NULL;
    const VlPeerConfig *peer = NULL;
    const VlEvacuateLink *link = NULL;

    ck_assert_ptr_nonnull(policy);
    peer = vl_migrate_find_peer(policy->migration, "qemu+tcp://198.18.0.12/system", NULL, NULL);
    ck_assert_ptr_nonnull(peer);

    /* the base path (as fast as lane1, no base rate declared) and
     * max_lanes lanes */
    path = vl_evacuate_path_from_peer(policy->migration, peer,
                                      VL_EVACUATE_LANES_FROM_POLICY, NULL, &error);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_eq(path->links->len, 3 + 1);
    link = g_ptr_array_index(path->links, 0);
    ck_assert_str_eq(link->name, "base");
    ck_assert_double_eq(link->bps, 200e6 / 8);
    link = g_ptr_array_index(path->links, 2);
    ck_assert_str_eq(link->name, "lane2");
    ck_assert_double_eq(link->bps, 100e6 / 8);
    ck_assert_uint_eq(path->channels_per_link, 2);
    ck_assert_double_eq(path->max_downtime_s, 0.5);
    g_clear_pointer(&path, vl_evacuate_path_free);

    path = vl_evacuate_path_from_peer(policy->migration, peer, 1, NULL, &error);
    ck_assert_uint_eq(path->links->len, 2);
    g_clear_pointer(&path, vl_evacuate_path_free);
    path = vl_evacuate_path_from_peer(policy->migration, peer, 0, NULL, &error);
    ck_assert_uint_eq(path->links->len, 1);
    g_clear_pointer(&path, vl_evacuate_path_free);

    /* a lane the daemon cannot bring up is left out, the next one used */
    g_hash_table_insert(unavailable, (gpointer)"lane1", (gpointer)"held for another peer");
    path = vl_evacuate_path_from_peer(policy->migration, peer, 2, unavailable, &error);
    ck_assert_uint_eq(path->links->len, 3);
    ck_assert_str_eq(((VlEvacuateLink *)g_ptr_array_index(path->links, 1))->name, "lane2");
    ck_assert_str_eq(((VlEvacuateLink *)g_ptr_array_index(path->links, 2))->name, "lane3");
    /* the base path keeps the first lane's rate all the same */
    ck_assert_double_eq(((VlEvacuateLink *)g_ptr_array_index(path->links, 0))->bps, 200e6 / 8);
    g_clear_pointer(&path, vl_evacuate_path_free);

    /* a declared base rate wins; no lane is needed then */
    peer = vl_migrate_find_peer(policy->migration, "qemu+tcp://198.18.0.14/system", NULL, NULL);
    path = vl_evacuate_path_from_peer(policy->migration, peer,
                                      VL_EVACUATE_LANES_FROM_POLICY, NULL, &error);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_eq(path->links->len, 1);
    ck_assert_double_eq(((VlEvacuateLink *)g_ptr_array_index(path->links, 0))->bps, 1000e6 / 8);
    g_clear_pointer(&path, vl_evacuate_path_free);

    peer = vl_migrate_find_peer(policy->migration, "qemu+tcp://198.18.0.13/system", NULL, NULL);
    ck_assert_ptr_nonnull(peer);
    ck_assert_ptr_null(vl_evacuate_path_from_peer(policy->migration, peer, 0, NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "'c'"));
}
END_TEST

/* Concurrent moves share the links: the estimate of each is the model
 * run on links 1/k as fast, and its bandwidth 1/k of the aggregate. */
START_TEST(test_path_learns_setup)
{
    g_autoptr(VlEvacuatePath) path = vl_evacuate_path_new();
    g_autoptr(VlEvacuateDomain) d = vl_evacuate_domain_new("guest; \"y\"");
    g_autoptr(VlHistory) empty = vl_history_new();
    g_autoptr(VlHistory) history = vl_history_new();
    VlEvacuateMoveEstimate fixed = { 0 };
    VlEvacuateMoveEstimate learned = { 0 };
    guint i;

    ck_assert(vl_evacuate_path_add_link(path, "base", 200e6 / 8, NULL));
    d->memory_bytes = 512.0 * 1048576;
    ck_assert_double_eq(path->setup_s, VL_MIGRATE_SETUP_S);
    ck_assert(vl_evacuate_estimate_links(path, d, 1, &fixed, NULL));

    /* Nothing to learn: the default stays. */
    ck_assert(!vl_evacuate_path_learn_setup(path, NULL));
    ck_assert(!vl_evacuate_path_learn_setup(path, empty));
    ck_assert_double_eq(path->setup_s, VL_MIGRATE_SETUP_S);

    /* Three jobs that took 3.1 s beyond moving their bytes (10 s at
     * 10 MB/s): setup 3.0 s, the resume keeping its fixed 0.1 s. */
    for (i = 0; i < 3; i++) {
        VlHistoryRecord *r = vl_history_record_new();

        r->domain = g_strdup("web");
        r->memory_bytes = 200000000;
        r->processed_bytes = 100000000;
        r->memory_bps = 10000000;
        r->total_time_s = 13.1;
        r->lanes = 0;
        g_ptr_array_add(history->records, r);
    }
    ck_assert(vl_evacuate_path_learn_setup(path, history));
    ck_assert_double_eq_tol(path->setup_s, 3.1 - VL_MIGRATE_RESUME_S, 1e-9);
    ck_assert(vl_evacuate_estimate_links(path, d, 1, &learned, NULL));
    ck_assert_double_eq_tol(learned.estimate.total_time_s - fixed.estimate.total_time_s,
                            path->setup_s - VL_MIGRATE_SETUP_S, 1e-6);
    g_strfreev(fixed.links);
    g_strfreev(learned.links);
}
END_TEST

START_TEST(test_estimate_links_shared)
{
    g_autoptr(VlEvacuatePath) path = vl_evacuate_path_new();
    g_autoptr(VlEvacuateDomain) d = vl_evacuate_domain_new("guest 'x'");
    VlEvacuateMoveEstimate alone = { 0 };
    VlEvacuateMoveEstimate shared = { 0 };
    VlEstimateInput in;
    VlEstimate expect;
    double lanes[2] = { 200e6 / 8 / 3, 100e6 / 8 / 3 };

    ck_assert(vl_evacuate_path_add_link(path, "base", 200e6 / 8, NULL));
    ck_assert(vl_evacuate_path_add_link(path, "lane1", 100e6 / 8, NULL));
    ck_assert(!vl_evacuate_path_add_link(path, "lane9", NAN, NULL));
    ck_assert(!vl_evacuate_path_add_link(path, "lane9", -1, NULL));
    ck_assert_uint_eq(path->links->len, 2);
    d->memory_bytes = 1024.0 * 1048576;
    d->zero_bytes = 256.0 * 1048576;
    d->dirty_rate_bps = 2.0 * 1048576;

    ck_assert(vl_evacuate_estimate_links(path, d, 1, &alone, NULL));
    ck_assert(vl_evacuate_estimate_links(path, d, 3, &shared, NULL));
    ck_assert(alone.estimated && shared.estimated);
    ck_assert_double_eq_tol(shared.bandwidth_bps, alone.bandwidth_bps / 3, 1e-6);
    ck_assert_uint_eq(alone.channels, 4);
    ck_assert_str_eq(alone.links[1], "lane1");
    ck_assert(shared.estimate.total_time_s > 2.5 * alone.estimate.total_time_s);

    /* the same model, run here by hand on the divided links */
    vl_estimate_input_init(&in);
    in.memory_bytes = d->memory_bytes;
    in.zero_bytes = d->zero_bytes;
    in.dirty_rate_bps = d->dirty_rate_bps;
    in.lane_bps = lanes;
    in.n_lanes = 2;
    in.channels = 4;
    in.efficiency = VL_MIGRATE_EFFICIENCY;
    in.max_downtime_s = path->max_downtime_s;
    in.setup_s = VL_MIGRATE_SETUP_S;
    in.resume_s = VL_MIGRATE_RESUME_S;
    ck_assert(vl_estimate_run(&in, &expect, NULL));
    ck_assert_double_eq_tol(shared.estimate.total_time_s, expect.total_time_s, 1e-9);
    ck_assert_uint_eq(shared.estimate.iterations, expect.iterations);

    vl_evacuate_move_estimate_clear(&alone);
    vl_evacuate_move_estimate_clear(&shared);

    /* one link gets the channels of one link, as the mover does;
     * unknown memory is no estimate */
    g_ptr_array_set_size(path->links, 1);
    ck_assert(vl_evacuate_estimate_links(path, d, 1, &alone, NULL));
    ck_assert_uint_eq(alone.channels, vl_migrate_channels_for(1, path->channels_per_link, 0));
    vl_evacuate_move_estimate_clear(&alone);
    d->memory_bytes = 0;
    ck_assert(vl_evacuate_estimate_links(path, d, 1, &alone, NULL));
    ck_assert(!alone.estimated);
    ck_assert_ptr_null(alone.links);
    ck_assert(!vl_evacuate_estimate_links(path, d, 0, &alone, NULL));
}
END_TEST

/* ---- the run ---------------------------------------------------------- */

typedef enum {
    FAKE_OK,            /* moved after a few main loop turns */
    FAKE_FAIL,          /* fails after a few turns */
    FAKE_START_FAIL,    /* start() itself fails */
    FAKE_HOLD,          /* runs until cancelled (then cancelled) */
    FAKE_LATE,          /* runs until cancelled, then completes anyway */
} FakeOutcome;

typedef struct FakeMover FakeMover;

typedef struct {
    FakeMover *fm;
    VlEvacuateRun *run;
    guint move;
    char *domain;
    FakeOutcome outcome;
    guint ticks;
    gboolean cancelled;
    gboolean done;
    guint source;
} FakeMove;

struct FakeMover {
    GHashTable *outcomes;       /* domain -> FakeOutcome + 1 */
    GPtrArray *started;         /* domain names, start order */
    GPtrArray *moves;           /* FakeMove*, freed by free() */
    guint running;
    guint max_running;
    guint cancels;
    guint frees;
};

static gboolean
fake_tick(gpointer data)
{
    FakeMove *m = data;
    g_autoptr(GError) error = NULL;
    VlEvacuateProgress p = { .elapsed_s = m->ticks, .percent = 30.0 * m->ticks,
                             .bandwidth_bps = NAN, .eta_s = NAN };

    m->ticks++;
    if (m->outcome == FAKE_HOLD || m->outcome == FAKE_LATE) {
        if (!m->cancelled)
            return G_SOURCE_CONTINUE;
    } else if (m->ticks < 3) {
        vl_evacuate_run_move_progress(m->run, m->move, &p);
        return G_SOURCE_CONTINUE;
    }
    m->source = 0;
    m->done = TRUE;
    m->fm->running--;
    if (m->outcome == FAKE_OK || m->outcome == FAKE_LATE) {
        vl_evacuate_run_move_done(m->run, m->move, TRUE, FALSE, NULL);
    } else if (m->outcome == FAKE_HOLD) {
        g_set_error(&error, VL_ERROR, VL_ERROR_FAILED, "Aborted '%s'", m->domain);
        vl_evacuate_run_move_done(m->run, m->move, FALSE, TRUE, error);
    } else {
        g_set_error(&error, VL_ERROR, VL_ERROR_LIBVIRT, "Fake failure of '%s'", m->domain);
        vl_evacuate_run_move_done(m->run, m->move, FALSE, FALSE, error);
    }
    return G_SOURCE_REMOVE;
}

static gpointer
fake_start(gpointer data, VlEvacuateRun *run, guint move, const char *domain,
           GError **error)
{
    FakeMover *fm = data;
    FakeMove *m = NULL;
    FakeOutcome outcome = GPOINTER_TO_UINT(g_hash_table_lookup(fm->outcomes, domain));

    outcome = outcome ? outcome - 1 : FAKE_OK;
    ck_assert_str_eq(vl_evacuate_run_get_domain(run, move), domain);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, move), VL_EVACUATE_MOVE_RUNNING);
    g_ptr_array_add(fm->started, g_strdup(domain));
    if (outcome == FAKE_START_FAIL) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT, "Cannot find domain '%s'", domain);
        return NULL;
    }
    m = g_new0(FakeMove, 1);
    m->fm = fm;
    m->run = run;
    m->move = move;
    m->domain = g_strdup(domain);
    m->outcome = outcome;
    m->source = g_idle_add(fake_tick, m);
    fm->running++;
    fm->max_running = MAX(fm->max_running, fm->running);
    return m;
}

static void
fake_cancel(gpointer data, gpointer handle)
{
    FakeMover *fm = data;
    FakeMove *m = handle;

    ck_assert(!m->done);
    fm->cancels++;
    m->cancelled = TRUE;
}

static void
fake_free(gpointer data, gpointer handle)
{
    FakeMover *fm = data;
    FakeMove *m = handle;

    ck_assert(m->done);
    fm->frees++;
    g_free(m->domain);
    g_free(m);
}

static const VlEvacuateMoverOps fake_ops = {
    .start = fake_start,
    .cancel = fake_cancel,
    .free = fake_free,
};

static void
fake_mover_init(FakeMover *fm)
{
    memset(fm, 0, sizeof(*fm));
    fm->outcomes = g_hash_table_new(g_str_hash, g_str_equal);
    fm->started = g_ptr_array_new_with_free_func(g_free);
}

static void
fake_mover_clear(FakeMover *fm)
{
    g_clear_pointer(&fm->outcomes, g_hash_table_unref);
    g_clear_pointer(&fm->started, g_ptr_array_unref);
}

static void
fake_set(FakeMover *fm, const char *domain, FakeOutcome outcome)
{
    g_hash_table_insert(fm->outcomes, (gpointer)domain, GUINT_TO_POINTER(outcome + 1));
}

typedef struct {
    gboolean done;
    guint dones;
    guint stopping;
    guint started;
    guint finished;
    guint progress;
    guint observed;
    guint observe_errors;
    GPtrArray *order;           /* names in STARTED order */
    GArray *weights;            /* weight_to_moved of each STARTED */
    VlEvacuateRun *cancel_after_start; /* cancel at the 2nd STARTED */
} Watch;

static void
on_event(VlEvacuateRun *run, const VlEvacuateEvent *e, gpointer user_data)
{
    Watch *w = user_data;

    switch (e->type) {
    case VL_EVACUATE_EVENT_STARTED:
        w->started++;
        ck_assert_uint_eq(e->position, w->started);
        g_ptr_array_add(w->order, g_strdup(e->domain));
        g_array_append_val(w->weights, e->weight_to_moved);
        break;
    case VL_EVACUATE_EVENT_PROGRESS:
        w->progress++;
        ck_assert_int_eq(vl_evacuate_run_get_state(run, e->move), VL_EVACUATE_MOVE_RUNNING);
        break;
    case VL_EVACUATE_EVENT_FINISHED:
        w->finished++;
        ck_assert_int_eq(vl_evacuate_run_get_state(run, e->move), e->state);
        ck_assert((e->error != NULL) == (e->state != VL_EVACUATE_MOVE_MOVED));
        break;
    case VL_EVACUATE_EVENT_STOPPING:
        w->stopping++;
        ck_assert_ptr_nonnull(e->error);
        break;
    case VL_EVACUATE_EVENT_NOTE:
        break;
    case VL_EVACUATE_EVENT_OBSERVED:
        w->observed++;
        if (e->error)
            w->observe_errors++;
        break;
    }
}

static void
on_done(VlEvacuateRun *run G_GNUC_UNUSED, gpointer user_data)
{
    Watch *w = user_data;

    w->done = TRUE;
    w->dones++;
}

static gboolean
is_done(gpointer data)
{
    return ((Watch *)data)->done;
}

static void
watch_init(Watch *w)
{
    memset(w, 0, sizeof(*w));
    w->order = g_ptr_array_new_with_free_func(g_free);
    w->weights = g_array_new(FALSE, FALSE, sizeof(double));
}

static void
watch_clear(Watch *w)
{
    g_clear_pointer(&w->order, g_ptr_array_unref);
    g_clear_pointer(&w->weights, g_array_unref);
}

/* A plan over the path n1 - n2 - ... of @names, @concurrency at once. */
static VlEvacuatePlan *
path_plan(const char *const *names, guint concurrency)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(GPtrArray) domains = domains_of(names, NULL);
    VlEvacuatePlanConfig config;
    guint i;

    for (i = 0; names[i]; i++) {
        ck_assert(vl_graph_add_vertex(g, names[i], NULL, NULL));
        if (i > 0)
            ck_assert(vl_graph_add_edge(g, names[i - 1], names[i], 1, NULL));
    }
    vl_evacuate_plan_config_init(&config);
    config.concurrency = concurrency;
    return vl_evacuate_plan_compute(g, domains, &config, NULL);
}

static void
assert_started(const Watch *w, const VlEvacuatePlan *plan, guint n)
{
    guint i;

    ck_assert_uint_eq(w->order->len, n);
    for (i = 0; i < n; i++)
        ck_assert_str_eq(g_ptr_array_index(w->order, i), step_name(plan, i));
}

static const char *const five[] = { "a 1", "b \"2\"", "c;3", "d\n4", "e'5", NULL };

START_TEST(test_run_all)
{
    guint concurrency = _i + 1;   /* 1, 2, 3 */
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, concurrency);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *moved = NULL;
    FakeMover fm;
    Watch w;
    guint n_started = 0;
    const guint *started = NULL;
    guint i;

    fake_mover_init(&fm);
    watch_init(&w);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    /* nothing happens before the main loop turns */
    ck_assert_uint_eq(w.started, 0);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));

    assert_started(&w, plan, 5);
    ck_assert_uint_eq(fm.max_running, concurrency);
    ck_assert_uint_eq(w.finished, 5);
    ck_assert_uint_eq(w.stopping, 0);
    ck_assert_uint_eq(w.progress, 10);
    ck_assert(vl_evacuate_run_succeeded(run));
    ck_assert(!vl_evacuate_run_was_cancelled(run));
    started = vl_evacuate_run_get_started(run, &n_started);
    ck_assert_uint_eq(n_started, 5);
    for (i = 0; i < 5; i++) {
        ck_assert_str_eq(vl_evacuate_run_get_domain(run, started[i]), step_name(plan, i));
        ck_assert(vl_evacuate_run_get_duration(run, i) >= 0);
        ck_assert_ptr_null(vl_evacuate_run_get_error(run, i));
    }
    json = vl_evacuate_run_to_json(run);
    ck_assert(json_object_object_get_ex(json, "moved", &moved));
    ck_assert_uint_eq(json_object_array_length(moved), 5);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(moved, 3)),
                     step_name(plan, 3));

    /* the done callback came once, and stays the only one */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    ck_assert_uint_eq(w.dones, 1);
    g_clear_pointer(&run, vl_evacuate_run_free);
    ck_assert_uint_eq(fm.frees, 5);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

START_TEST(test_run_failure_sequential)
{
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, 1);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *arr = NULL;
    FakeMover fm;
    Watch w;

    fake_mover_init(&fm);
    watch_init(&w);
    fake_set(&fm, step_name(plan, 1), FAKE_FAIL);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));

    assert_started(&w, plan, 2);
    ck_assert_uint_eq(w.stopping, 1);
    ck_assert(!vl_evacuate_run_succeeded(run));
    ck_assert(!vl_evacuate_run_was_cancelled(run));
    json = vl_evacuate_run_to_json(run);
    ck_assert(json_object_object_get_ex(json, "moved", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 1);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)),
                     step_name(plan, 0));
    ck_assert(json_object_object_get_ex(json, "not_moved", &arr));
    ck_assert_uint_eq(json_object_array_length(arr), 4);
    /* the failed one first, then those never started, in plan order */
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)),
                     step_name(plan, 1));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 1)),
                     step_name(plan, 2));
    ck_assert(json_object_object_get_ex(json, "moves", &arr));
    {
        json_object *failed = json_object_array_get_idx(arr, 1);
        json_object *later = json_object_array_get_idx(arr, 4);
        json_object *v = NULL;

        ck_assert(json_object_object_get_ex(failed, "state", &v));
        ck_assert_str_eq(json_object_get_string(v), "failed");
        ck_assert(json_object_object_get_ex(failed, "error", &v));
        ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "Fake failure"));
        ck_assert(json_object_object_get_ex(later, "state", &v));
        ck_assert_str_eq(json_object_get_string(v), "pending");
        ck_assert(json_object_object_get_ex(later, "position", &v));
        ck_assert_ptr_null(v);
    }
    g_clear_pointer(&run, vl_evacuate_run_free);
    ck_assert_uint_eq(fm.frees, 2);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

/* Two at once; the second fails while the first still runs: the first
 * is left alone (not cancelled) and the run waits for it. */
START_TEST(test_run_failure_lets_running_finish)
{
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, 2);
    g_autoptr(VlEvacuateRun) run = NULL;
    FakeMover fm;
    Watch w;

    fake_mover_init(&fm);
    watch_init(&w);
    fake_set(&fm, step_name(plan, 0), FAKE_LATE);
    fake_set(&fm, step_name(plan, 1), FAKE_FAIL);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    while (w.finished == 0)
        g_main_context_iteration(NULL, TRUE);
    ck_assert_uint_eq(w.stopping, 1);

    /* The first keeps running; the run neither cancels it nor ends. */
    ck_assert(!vl_test_loop_run_until(is_done, &w, 300));
    ck_assert_uint_eq(fm.cancels, 0);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_RUNNING);
    ck_assert_uint_eq(w.started, 2);

    /* Ctrl-C now: the one running is asked to abort; it completes
     * anyway (the switch-over came first) and counts as moved. */
    vl_evacuate_run_cancel(run);
    ck_assert_uint_eq(fm.cancels, 1);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_MOVED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_FAILED);
    ck_assert_uint_eq(w.started, 2);
    /* the failure already stopped it: no second STOPPING */
    ck_assert_uint_eq(w.stopping, 1);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

START_TEST(test_run_start_failure)
{
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, 3);
    g_autoptr(VlEvacuateRun) run = NULL;
    FakeMover fm;
    Watch w;

    fake_mover_init(&fm);
    watch_init(&w);
    fake_set(&fm, step_name(plan, 1), FAKE_START_FAIL);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));
    /* the first had started; the third never does */
    assert_started(&w, plan, 2);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_MOVED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_FAILED);
    ck_assert_ptr_nonnull(strstr(vl_evacuate_run_get_error(run, 1)->message, "Cannot find"));
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 2), VL_EVACUATE_MOVE_PENDING);
    ck_assert(isnan(vl_evacuate_run_get_duration(run, 2)));
    g_clear_pointer(&run, vl_evacuate_run_free);
    ck_assert_uint_eq(fm.frees, 1);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

/* Ctrl-C with two running: both are asked to abort, nothing new starts,
 * both end cancelled and the rest is reported as not started. */
START_TEST(test_run_cancel)
{
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, 2);
    g_autoptr(VlEvacuateRun) run = NULL;
    g_autoptr(json_object) json = NULL;
    json_object *v = NULL;
    FakeMover fm;
    Watch w;
    guint i;

    fake_mover_init(&fm);
    watch_init(&w);
    for (i = 0; five[i]; i++)
        fake_set(&fm, five[i], FAKE_HOLD);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    while (w.started < 2)
        g_main_context_iteration(NULL, TRUE);
    ck_assert(!vl_test_loop_run_until(is_done, &w, 100));
    ck_assert_uint_eq(w.started, 2);

    vl_evacuate_run_cancel(run);
    vl_evacuate_run_cancel(run);    /* twice is once */
    ck_assert_uint_eq(fm.cancels, 2);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));
    ck_assert_uint_eq(w.started, 2);
    ck_assert_uint_eq(w.stopping, 1);
    ck_assert(vl_evacuate_run_was_cancelled(run));
    for (i = 0; i < 5; i++) {
        VlEvacuateMoveState st = vl_evacuate_run_get_state(run, i);

        ck_assert(st == VL_EVACUATE_MOVE_CANCELLED || st == VL_EVACUATE_MOVE_PENDING);
    }
    json = vl_evacuate_run_to_json(run);
    ck_assert(json_object_object_get_ex(json, "cancelled", &v));
    ck_assert(json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(json, "not_moved", &v));
    ck_assert_uint_eq(json_object_array_length(v), 5);
    /* cancelling after the end changes nothing */
    vl_evacuate_run_cancel(run);
    ck_assert_uint_eq(fm.cancels, 2);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

/* ---- the dynamic order ----------------------------------------------- */

typedef struct {
    GMutex lock;
    guint calls;
    /* what each call sees: edges "a", "b", rate; NULL-separated rounds */
    const char *const *const *rounds;
    gboolean fail;
} FakeObserver;

static VlGraph *
fake_observe(gpointer data, GCancellable *cancellable G_GNUC_UNUSED, GError **error)
{
    FakeObserver *fo = data;
    VlGraph *g = vl_graph_new();
    const char *const *round = NULL;
    guint call;
    guint i;

    g_mutex_lock(&fo->lock);
    call = fo->calls++;
    g_mutex_unlock(&fo->lock);
    if (fo->fail) {
        vl_graph_free(g);
        g_set_error(error, VL_ERROR, VL_ERROR_IO, "No table");
        return NULL;
    }
    round = fo->rounds ? fo->rounds[call] : NULL;
    for (i = 0; round && round[i]; i += 3)
        ck_assert(vl_graph_add_edge(g, round[i], round[i + 1],
                                    g_ascii_strtod(round[i + 2], NULL), NULL));
    return g;
}

/* Nothing known at the start (the plan is the listing order, a b e d
 * c); a flow from the first one to leave, "a", shows up with "d" once
 * "a" is away; then "d"'s partner "b"; then nothing new, and the plan's
 * order decides between "e" and "c" (vl_order_next() alone would take
 * "c", the smaller name). */
START_TEST(test_run_dynamic)
{
    const char *const names[] = { "a", "b", "e", "d", "c", NULL };
    static const char *const r1[] = { "a", "d", "500", "c", "x-outside", "9", NULL };
    static const char *const r2[] = { "d", "b", "100", NULL };
    static const char *const r3[] = { NULL };
    static const char *const r4[] = { NULL };
    static const char *const *const rounds[] = { r1, r2, r3, r4 };
    g_autoptr(VlGraph) g = graph_of(names, NULL);
    g_autoptr(GPtrArray) domains = domains_of(names, NULL);
    g_autoptr(VlEvacuatePlan) plan = vl_evacuate_plan_compute(g, domains, NULL, NULL);
    g_autoptr(VlEvacuateRun) run = NULL;
    FakeObserver fo = { .rounds = rounds };
    FakeMover fm;
    Watch w;
    const char *expect[] = { "a", "d", "b", "e", "c" };
    guint i;

    g_mutex_init(&fo.lock);
    fake_mover_init(&fm);
    watch_init(&w);
    ck_assert_ptr_nonnull(plan);
    for (i = 0; i < 5; i++)
        ck_assert_str_eq(step_name(plan, i), names[i]);

    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_set_dynamic(run, g, fake_observe, &fo);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));

    ck_assert(vl_evacuate_run_succeeded(run));
    ck_assert_uint_eq(w.order->len, 5);
    for (i = 0; i < 5; i++)
        ck_assert_str_eq(g_ptr_array_index(w.order, i), expect[i]);
    /* "d" for its 500 B/s to "a", "b" for its 100 to "d", then the plan */
    ck_assert_double_eq(g_array_index(w.weights, double, 0), 0);
    ck_assert_double_eq(g_array_index(w.weights, double, 1), 500);
    ck_assert_double_eq(g_array_index(w.weights, double, 2), 100);
    ck_assert_double_eq(g_array_index(w.weights, double, 3), 0);
    /* observed once after each move but the last */
    ck_assert_uint_eq(fo.calls, 4);
    ck_assert_uint_eq(w.observed, 4);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fake_mover_clear(&fm);
    watch_clear(&w);
    g_mutex_clear(&fo.lock);
}
END_TEST

/* Declared affinities alone (no observer): vl_order_next on them. */
START_TEST(test_run_dynamic_known)
{
    const char *const names[] = { "a", "b", "c", NULL };
    const char *const edges[] = { "a", "c", NULL };
    g_autoptr(VlGraph) g = graph_of(names, edges);
    g_autoptr(VlGraph) plan_graph = graph_of(names, NULL);
    g_autoptr(GPtrArray) domains = domains_of(names, NULL);
    /* planned without the edge: a, b, c */
    g_autoptr(VlEvacuatePlan) plan = vl_evacuate_plan_compute(plan_graph, domains, NULL, NULL);
    g_autoptr(VlEvacuateRun) run = NULL;
    FakeMover fm;
    Watch w;

    fake_mover_init(&fm);
    watch_init(&w);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_set_dynamic(run, g, NULL, NULL);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));
    ck_assert_str_eq(g_ptr_array_index(w.order, 0), "a");
    ck_assert_str_eq(g_ptr_array_index(w.order, 1), "c");
    ck_assert_str_eq(g_ptr_array_index(w.order, 2), "b");
    ck_assert_uint_eq(w.observed, 0);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fake_mover_clear(&fm);
    watch_clear(&w);
}
END_TEST

START_TEST(test_run_dynamic_observe_fails)
{
    g_autoptr(VlEvacuatePlan) plan = path_plan(five, 1);
    g_autoptr(VlGraph) g = graph_of(five, NULL);
    g_autoptr(VlEvacuateRun) run = NULL;
    FakeObserver fo = { .fail = TRUE };
    FakeMover fm;
    Watch w;

    g_mutex_init(&fo.lock);
    fake_mover_init(&fm);
    watch_init(&w);
    run = vl_evacuate_run_new(plan, &fake_ops, &fm);
    vl_evacuate_run_set_dynamic(run, g, fake_observe, &fo);
    vl_evacuate_run_start(run, on_event, on_done, &w);
    ck_assert(vl_test_loop_run_until(is_done, &w, RUN_TIMEOUT_MS));
    /* every observation failed; the run went on in the plan's order */
    ck_assert(vl_evacuate_run_succeeded(run));
    ck_assert_uint_eq(w.observe_errors, 4);
    assert_started(&w, plan, 5);
    g_clear_pointer(&run, vl_evacuate_run_free);
    fake_mover_clear(&fm);
    watch_clear(&w);
    g_mutex_clear(&fo.lock);
}
END_TEST

static Suite *
evacuate_suite(void)
{
    Suite *s = suite_create("evacuate");
    TCase *tc;

    tc = tcase_create("graph");
    tcase_add_test(tc, test_graph_build);
    tcase_add_test(tc, test_graph_build_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("plan");
    tcase_add_loop_test(tc, test_plan_matches_order, 0, 10);
    tcase_add_test(tc, test_plan_path);
    tcase_add_test(tc, test_plan_schedule);
    tcase_add_test(tc, test_plan_fixed_costs);
    tcase_add_test(tc, test_move_overhead);
    tcase_add_test(tc, test_plan_unknown_and_hopeless);
    tcase_add_test(tc, test_plan_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("estimate");
    tcase_add_test(tc, test_path_from_policy);
    tcase_add_test(tc, test_estimate_links_shared);
    tcase_add_test(tc, test_path_learns_setup);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_loop_test(tc, test_run_all, 0, 3);
    tcase_add_test(tc, test_run_failure_sequential);
    tcase_add_test(tc, test_run_failure_lets_running_finish);
    tcase_add_test(tc, test_run_start_failure);
    tcase_add_test(tc, test_run_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("dynamic");
    tcase_add_test(tc, test_run_dynamic);
    tcase_add_test(tc, test_run_dynamic_known);
    tcase_add_test(tc, test_run_dynamic_observe_fails);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(evacuate_suite());
}
