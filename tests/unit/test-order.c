/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "order.h"
#include "test-util.h"
#include "vl-error.h"

#define MAX_BRUTE 10

/*
 * Under valgrind the code runs 50-100 times slower, so the big tables
 * (every labelled graph, 240 random graphs, families of stars, cycles)
 * are sampled: memcheck needs the code paths, not every case.  The
 * default and sanitizer runs go through all of them.
 */
#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
# endif
#endif
#ifndef UNDER_VALGRIND
# define UNDER_VALGRIND() FALSE
#endif

/* Names the case being checked, for failure messages. */
static char current_case[96];

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static char *
vname(guint i)
{
    return g_strdup_printf("v%u", i);
}

static void
add_vertex(VlGraph *g, guint i)
{
    g_autofree char *name = vname(i);

    ck_assert(vl_graph_add_vertex(g, name, NULL, NULL));
}

static void
add_edge(VlGraph *g, guint a, guint b, double w)
{
    g_autofree char *na = vname(a);
    g_autofree char *nb = vname(b);

    ck_assert(vl_graph_add_edge(g, na, nb, w, NULL));
}

/* Vertex i is "v<i>" with index i; edge k of the n(n-1)/2 pairs is in
 * when bit k of @mask is set.  @wseed 0: unit weights, else 1..9. */
static VlGraph *
graph_from_mask(guint n, guint64 mask, guint32 wseed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(wseed);
    VlGraph *g = vl_graph_new();
    guint k = 0;
    guint a;
    guint b;

    for (a = 0; a < n; a++)
        add_vertex(g, a);
    for (a = 0; a < n; a++) {
        for (b = a + 1; b < n; b++, k++) {
            if (mask & (G_GUINT64_CONSTANT(1) << k))
                add_edge(g, a, b, wseed ? g_rand_int_range(rand, 1, 10) : 1);
        }
    }
    return g;
}

/* G(n, p) with integer weights 1..9; vertices inserted in a shuffled
 * order so that index order says nothing about the structure. */
static VlGraph *
random_graph(guint n, double p, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    g_autofree guint *label = g_new(guint, n);
    VlGraph *g = vl_graph_new();
    guint a;
    guint b;

    for (a = 0; a < n; a++)
        label[a] = a;
    for (a = n; a > 1; a--) {
        guint j = g_rand_int_range(rand, 0, a);
        guint t = label[a - 1];

        label[a - 1] = label[j];
        label[j] = t;
    }
    for (a = 0; a < n; a++)
        add_vertex(g, label[a]);
    for (a = 0; a < n; a++)
        for (b = a + 1; b < n; b++)
            if (g_rand_double(rand) < p)
                add_edge(g, a, b, g_rand_int_range(rand, 1, 10));
    return g;
}

/* Services: cliques of 2-6, a few light links between them, some
 * isolated VMs; integer weights. */
static VlGraph *
service_graph(guint n, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    VlGraph *g = vl_graph_new();
    guint v = 0;
    guint a;
    guint b;

    for (a = 0; a < n; a++)
        add_vertex(g, a);
    while (v < n) {
        guint k = MIN((guint)g_rand_int_range(rand, 1, 7), n - v);

        for (a = 0; a < k; a++)
            for (b = a + 1; b < k; b++)
                add_edge(g, v + a, v + b, g_rand_int_range(rand, 5, 20));
        v += k;
    }
    for (a = 0; a < n / 4; a++) {
        guint x = g_rand_int_range(rand, 0, n);
        guint y = g_rand_int_range(rand, 0, n);

        if (x != y)
            add_edge(g, x, y, 1);
    }
    return g;
}

/*
 * Brute force, independent of order.c: every permutation is generated
 * and scored; the least bandwidth and, among those, the least cost are
 * kept.  To score fast, each unplaced vertex v carries the weight and
 * the weighted positions of its placed neighbours, so appending v at
 * position d adds d * W(v) - P(v) to the cost and d - first(v) to the
 * longest stretch.
 */
typedef struct {
    guint n;
    double w[MAX_BRUTE][MAX_BRUTE];
    guint32 nbr[MAX_BRUTE];     /* neighbour bit masks */
    guint32 used;
    double wsum[MAX_BRUTE];     /* weight to placed neighbours */
    double psum[MAX_BRUTE];     /* weight * position of placed neighbours */
    guint first[MAX_BRUTE];     /* earliest placed neighbour, or G_MAXUINT */
    guint best_bw;
    double best_cost;
    guint64 leaves;
} Brute;

static void
brute_leaf(Brute *b, guint bw, double cost)
{
    b->leaves++;
    if (bw < b->best_bw || (bw == b->best_bw && cost < b->best_cost)) {
        b->best_bw = bw;
        b->best_cost = cost;
    }
}

static void
brute_rec(Brute *b, guint depth, guint bw, double cost)
{
    guint v;

    for (v = 0; v < b->n; v++) {
        guint nbw = bw;
        double ncost;
        guint32 todo;
        guint saved[MAX_BRUTE];

        if (b->used & (1u << v))
            continue;
        if (b->first[v] != G_MAXUINT)
            nbw = MAX(nbw, depth - b->first[v]);
        ncost = cost + depth * b->wsum[v] - b->psum[v];
        if (depth + 1 == b->n) {
            brute_leaf(b, nbw, ncost);
            continue;
        }
        todo = b->nbr[v] & ~b->used;
        for (guint32 t = todo; t; t &= t - 1) {
            guint u = __builtin_ctz(t);

            saved[u] = b->first[u];
            b->wsum[u] += b->w[v][u];
            b->psum[u] += b->w[v][u] * depth;
            b->first[u] = MIN(b->first[u], depth);
        }
        b->used |= 1u << v;
        brute_rec(b, depth + 1, nbw, ncost);
        b->used &= ~(1u << v);
        for (guint32 t = todo; t; t &= t - 1) {
            guint u = __builtin_ctz(t);

            b->wsum[u] -= b->w[v][u];
            b->psum[u] -= b->w[v][u] * depth;
            b->first[u] = saved[u];
        }
    }
}

static void
brute_force(const VlGraph *g, guint *bw, double *cost)
{
    Brute b = { 0 };
    guint e;
    guint f = 1;
    guint i;

    b.n = vl_graph_n_vertices(g);
    ck_assert_uint_le(b.n, MAX_BRUTE);
    for (e = 0; e < vl_graph_n_edges(g); e++) {
        guint u = 0;
        guint v = 0;
        double w = vl_graph_edge(g, e, &u, &v);

        b.w[u][v] = w;
        b.w[v][u] = w;
        b.nbr[u] |= 1u << v;
        b.nbr[v] |= 1u << u;
    }
    for (i = 0; i < MAX_BRUTE; i++)
        b.first[i] = G_MAXUINT;
    b.best_bw = G_MAXUINT;
    b.best_cost = INFINITY;
    if (b.n == 0)
        brute_leaf(&b, 0, 0);
    else
        brute_rec(&b, 0, 0, 0);
    for (i = 2; i <= b.n; i++)
        f *= i;
    ck_assert_uint_eq(b.leaves, f);     /* it really saw them all */
    *bw = b.best_bw;
    *cost = b.best_cost;
}

/* Checks that @o is a permutation of @g's vertices (or of @expect_n of
 * them) with consistent names and scores, recomputed here. */
static void
check_order(const VlGraph *g, const VlOrder *o, guint expect_n)
{
    g_autofree guint8 *seen = g_new0(guint8, vl_graph_n_vertices(g) + 1);
    g_autofree guint *pos = g_new(guint, vl_graph_n_vertices(g) + 1);
    guint bw = 0;
    double cost = 0;
    guint i;
    guint e;

    ck_assert_uint_eq(o->n, expect_n);
    ck_assert_uint_eq(g_strv_length(o->names), expect_n);
    for (i = 0; i < vl_graph_n_vertices(g); i++)
        pos[i] = G_MAXUINT;
    for (i = 0; i < o->n; i++) {
        ck_assert_uint_lt(o->vertices[i], vl_graph_n_vertices(g));
        ck_assert(!seen[o->vertices[i]]);
        seen[o->vertices[i]] = 1;
        pos[o->vertices[i]] = i;
        ck_assert_str_eq(o->names[i], vl_graph_vertex_name(g, o->vertices[i]));
    }
    for (e = 0; e < vl_graph_n_edges(g); e++) {
        guint u = 0;
        guint v = 0;
        double w = vl_graph_edge(g, e, &u, &v);
        guint s;

        if (pos[u] == G_MAXUINT || pos[v] == G_MAXUINT)
            continue;
        s = pos[u] > pos[v] ? pos[u] - pos[v] : pos[v] - pos[u];
        bw = MAX(bw, s);
        cost += w * s;
    }
    ck_assert_uint_eq(o->bandwidth, bw);
    ck_assert_double_eq_tol(o->cost, cost, 1e-9 * MAX(1, cost));
}

/* (bandwidth, cost) of @a no worse than @b; exact with integer weights. */
static void
check_not_worse(const VlOrder *a, const VlOrder *b)
{
    ck_assert_msg(a->bandwidth < b->bandwidth ||
                  (a->bandwidth == b->bandwidth && a->cost <= b->cost),
                  "%s: (%u, %g) is worse than (%u, %g)", current_case,
                  a->bandwidth, a->cost, b->bandwidth, b->cost);
}

/* Every vertex of each component sits in one contiguous run. */
static void
check_components_contiguous(const VlGraph *g, const VlOrder *o)
{
    g_autofree guint *comp = g_new(guint, vl_graph_n_vertices(g));
    g_autofree guint8 *closed = NULL;
    guint nc = vl_graph_components(g, comp);
    guint i;

    closed = g_new0(guint8, nc);
    for (i = 0; i < o->n; i++) {
        guint c = comp[o->vertices[i]];

        ck_assert(!closed[c]);
        if (i + 1 < o->n && comp[o->vertices[i + 1]] != c)
            closed[c] = 1;
    }
}

/* ------------------------------------------------------------------ */
/* Objectives                                                          */

static VlGraph *
small_graph(void)
{
    VlGraph *g = vl_graph_new();

    /* a-b 2, b-c 1, a-d 3, c-d 1, e isolated */
    vl_graph_add_edge(g, "a", "b", 2, NULL);
    vl_graph_add_edge(g, "b", "c", 1, NULL);
    vl_graph_add_edge(g, "a", "d", 3, NULL);
    vl_graph_add_edge(g, "c", "d", 1, NULL);
    vl_graph_add_vertex(g, "e", NULL, NULL);
    return g;
}

START_TEST(test_objectives)
{
    g_autoptr(VlGraph) g = small_graph();
    const char *o1[] = { "a", "b", "c", "d", "e", NULL };
    const char *o2[] = { "b", "a", "d", "c", "e", NULL };
    const char *o3[] = { "e", "a", "c", "b", "d", NULL };
    const char *partial[] = { "c", "a", NULL };
    const char *none[] = { NULL };
    guint bw = 99;
    double cost = -1;

    /* a-b 1*2, b-c 1*1, a-d 3*3, c-d 1*1 */
    ck_assert(vl_order_bandwidth(g, o1, &bw, NULL));
    ck_assert(vl_order_linear_cost(g, o1, &cost, NULL));
    ck_assert_uint_eq(bw, 3);
    ck_assert_double_eq(cost, 2 + 1 + 9 + 1);
    /* a-b 1*2, b-c 3*1, a-d 1*3, c-d 1*1 */
    ck_assert(vl_order_bandwidth(g, o2, &bw, NULL));
    ck_assert(vl_order_linear_cost(g, o2, &cost, NULL));
    ck_assert_uint_eq(bw, 3);
    ck_assert_double_eq(cost, 2 + 3 + 3 + 1);
    /* a-b 2*2, b-c 1*1, a-d 3*3, c-d 2*1 */
    ck_assert(vl_order_bandwidth(g, o3, &bw, NULL));
    ck_assert(vl_order_linear_cost(g, o3, &cost, NULL));
    ck_assert_uint_eq(bw, 3);
    ck_assert_double_eq(cost, 4 + 1 + 9 + 2);
    /* Only edges inside the order count. */
    ck_assert(vl_order_bandwidth(g, partial, &bw, NULL));
    ck_assert(vl_order_linear_cost(g, partial, &cost, NULL));
    ck_assert_uint_eq(bw, 0);
    ck_assert_double_eq(cost, 0);
    ck_assert(vl_order_bandwidth(g, none, &bw, NULL));
    ck_assert_uint_eq(bw, 0);
}
END_TEST

START_TEST(test_objectives_bad_input)
{
    g_autoptr(VlGraph) g = small_graph();
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;
    g_autoptr(GError) e4 = NULL;
    const char *unknown[] = { "a", "nobody here", NULL };
    const char *twice[] = { "a", "b", "a", NULL };
    const char *bad_utf8[] = { "a", "\xfe", NULL };
    guint idx[] = { 0, 7 };
    guint bw = 99;
    double cost = -1;

    ck_assert(!vl_order_bandwidth(g, unknown, &bw, &e1));
    ck_assert(g_error_matches(e1, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e1->message,
                     "Unknown domain 'nobody here' in the traffic graph");
    ck_assert(!vl_order_linear_cost(g, twice, &cost, &e2));
    ck_assert(g_error_matches(e2, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e2->message, "Domain 'a' is listed twice");
    ck_assert(!vl_order_bandwidth(g, bad_utf8, &bw, &e3));
    ck_assert(g_utf8_validate(e3->message, -1, NULL));
    ck_assert(!vl_order_evaluate(g, idx, 2, &bw, &cost, &e4));
    ck_assert_str_eq(e4->message,
                     "Vertex index '7' is out of range (the graph has '5' vertices)");
    /* Out-parameters untouched on failure. */
    ck_assert_uint_eq(bw, 99);
    ck_assert_double_eq(cost, -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Exact solver against brute force                                    */

static void
check_exact_and_plan(const VlGraph *g)
{
    g_autoptr(VlOrder) exact = NULL;
    g_autoptr(VlOrder) plan = NULL;
    g_autoptr(GError) error = NULL;
    guint n = vl_graph_n_vertices(g);
    guint bw = 0;
    double cost = 0;

    brute_force(g, &bw, &cost);

    exact = vl_order_exact(g, 0, &error);
    ck_assert_msg(exact != NULL, "%s", error ? error->message : "");
    check_order(g, exact, n);
    ck_assert_msg(exact->bandwidth == bw && fabs(exact->cost - cost) < 1e-9,
                  "%s: exact (%u, %g), brute force (%u, %g)", current_case,
                  exact->bandwidth, exact->cost, bw, cost);
    ck_assert(exact->optimal);
    ck_assert_int_eq(exact->method, VL_ORDER_METHOD_EXACT);

    plan = vl_order_plan(g, NULL, NULL, &error);
    ck_assert_msg(plan != NULL, "%s", error ? error->message : "");
    check_order(g, plan, n);
    ck_assert_msg(plan->bandwidth == bw && fabs(plan->cost - cost) < 1e-9,
                  "%s: plan (%u, %g), brute force (%u, %g)", current_case,
                  plan->bandwidth, plan->cost, bw, cost);
    ck_assert(plan->optimal);
}

/* Every labelled graph on _i + 1 vertices, unit and random weights. */
START_TEST(test_exact_all_labelled)
{
    guint n = _i + 1;
    guint pairs = n * (n - 1) / 2;
    guint64 mask;

    for (mask = 0; mask < (G_GUINT64_CONSTANT(1) << pairs);
         mask += UNDER_VALGRIND() && n == 5 ? 7 : 1) {
        g_autoptr(VlGraph) unit = graph_from_mask(n, mask, 0);
        g_autoptr(VlGraph) weighted = graph_from_mask(n, mask, mask + 1);

        g_snprintf(current_case, sizeof(current_case),
                   "%u vertices, edge mask %#" G_GINT64_MODIFIER "x", n, mask);
        check_exact_and_plan(unit);
        check_exact_and_plan(weighted);
    }
}
END_TEST

#define N_RANDOM_SMALL 240

/*
 * 240 random graphs of 6..9 vertices (72 each of 6, 7 and 8, and 24 of
 * 9, where one brute force sees 362880 orders), densities 0.1..0.9.
 */
static void
random_case(guint k)
{
    static const guint size_of[10] = { 6, 6, 6, 7, 7, 7, 8, 8, 8, 9 };
    guint n = size_of[k % 10];
    double p = 0.1 + 0.8 * ((k / 10) % 9) / 8.0;
    g_autoptr(VlGraph) g = random_graph(n, p, 1000 + k);
    g_autoptr(VlOrder) heur = NULL;
    g_autoptr(VlOrder) best = NULL;
    g_autoptr(VlOrder) exact = NULL;
    VlOrderOptions opts;

    check_exact_and_plan(g);

    /* The heuristic alone: a valid order no better than the optimum
     * and no worse than best-start RCM. */
    vl_order_options_init(&opts);
    opts.exact_limit = 0;
    heur = vl_order_plan(g, NULL, &opts, NULL);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    exact = vl_order_exact(g, 0, NULL);
    check_order(g, heur, n);
    /* Only edgeless graphs (all singletons) are trivially optimal. */
    ck_assert(heur->optimal == (vl_graph_n_edges(g) == 0));
    check_not_worse(exact, heur);
    check_not_worse(heur, best);
}

/* 20 cases per fork: a fork per case is slow under ASan's leak check. */
START_TEST(test_exact_random)
{
    guint i;

    for (i = _i * 20; i < (guint)(_i + 1) * 20;
         i += UNDER_VALGRIND() ? 11 : 1) {
        g_snprintf(current_case, sizeof(current_case), "random_case %u", i);
        random_case(i);
    }
}
END_TEST

START_TEST(test_exact_limits)
{
    g_autoptr(VlGraph) big = random_graph(VL_ORDER_EXACT_MAX + 1, 0.3, 5);
    g_autoptr(VlGraph) g = random_graph(9, 0.4, 6);
    g_autoptr(VlGraph) empty = vl_graph_new();
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;

    ck_assert_ptr_null(vl_order_exact(big, 0, &e1));
    ck_assert(g_error_matches(e1, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e1->message,
                     "Exact ordering handles at most '12' domains, not '13'");
    ck_assert_ptr_null(vl_order_exact(g, 1, &e2));
    ck_assert(g_error_matches(e2, VL_ERROR, VL_ERROR_TIMEOUT));
    ck_assert_str_eq(e2->message, "Exact ordering gave up after '1' states");
    ck_assert_ptr_null(vl_order_exact(empty, 0, &e3));
    ck_assert(g_error_matches(e3, VL_ERROR, VL_ERROR_INVALID));
}
END_TEST

/* The largest exact size works, and within a small budget. */
static void
twelve_case(guint k)
{
    g_autoptr(VlGraph) g = random_graph(VL_ORDER_EXACT_MAX, 0.35, 77 + k);
    g_autoptr(VlOrder) exact = NULL;
    g_autoptr(VlOrder) best = NULL;
    g_autoptr(GError) error = NULL;

    exact = vl_order_exact(g, 0, &error);
    ck_assert_msg(exact != NULL, "%s", error ? error->message : "");
    check_order(g, exact, VL_ORDER_EXACT_MAX);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    check_not_worse(exact, best);
}

START_TEST(test_exact_twelve)
{
    guint i;

    for (i = 0; i < 10; i += UNDER_VALGRIND() ? 5 : 1) {
        g_snprintf(current_case, sizeof(current_case), "twelve_case %u", i);
        twelve_case(i);
    }
}
END_TEST

/* When the exact budget runs out, the plan falls back and says so. */
START_TEST(test_plan_exact_budget_exhausted)
{
    g_autoptr(VlGraph) g = random_graph(9, 0.4, 6);
    g_autoptr(VlOrder) plan = NULL;
    g_autoptr(VlOrder) best = NULL;
    VlOrderOptions opts;

    vl_order_options_init(&opts);
    opts.exact_budget = 1;
    plan = vl_order_plan(g, NULL, &opts, NULL);
    ck_assert_ptr_nonnull(plan);
    check_order(g, plan, 9);
    ck_assert(!plan->optimal);
    ck_assert_int_eq(plan->method, VL_ORDER_METHOD_SEARCH);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    check_not_worse(plan, best);
}
END_TEST

/* ------------------------------------------------------------------ */
/* RCM and the plan on graphs whose answer is known                    */

/* A path inserted in shuffled order. */
static void
path_case(guint k)
{
    guint n = 2 + k * 7;
    g_autoptr(GRand) rand = g_rand_new_with_seed(n);
    g_autofree guint *label = g_new(guint, n);
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) pp = NULL;
    g_autoptr(VlOrder) best = NULL;
    g_autoptr(VlOrder) plan = NULL;
    double total = 0;
    guint i;

    for (i = 0; i < n; i++)
        label[i] = i;
    for (i = n; i > 1; i--) {
        guint j = g_rand_int_range(rand, 0, i);
        guint t = label[i - 1];

        label[i - 1] = label[j];
        label[j] = t;
    }
    for (i = 0; i + 1 < n; i++) {
        add_edge(g, label[i], label[i + 1], i + 1);
        total += i + 1;
    }

    pp = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL, NULL);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, pp, n);
    check_order(g, best, n);
    check_order(g, plan, n);
    ck_assert_uint_eq(pp->bandwidth, 1);
    ck_assert_uint_eq(best->bandwidth, 1);
    ck_assert_uint_eq(plan->bandwidth, 1);
    ck_assert_double_eq(pp->cost, total);
    ck_assert_double_eq(plan->cost, total);
}

START_TEST(test_path)
{
    guint i;

    for (i = 0; i < 8; i += UNDER_VALGRIND() ? 3 : 1) {
        g_snprintf(current_case, sizeof(current_case), "path_case %u", i);
        path_case(i);
    }
}
END_TEST

/*
 * A component above the best-start RCM's 1000 tried starts: a shuffled
 * path of 1500 VMs still comes out with bandwidth 1.
 */
START_TEST(test_rcm_large_component)
{
    guint n = 1500;
    g_autoptr(GRand) rand = g_rand_new_with_seed(n);
    g_autofree guint *label = g_new(guint, n);
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) best = NULL;
    guint i;

    for (i = 0; i < n; i++)
        label[i] = i;
    for (i = n; i > 1; i--) {
        guint j = g_rand_int_range(rand, 0, i);
        guint t = label[i - 1];

        label[i - 1] = label[j];
        label[j] = t;
    }
    for (i = 0; i + 1 < n; i++)
        add_edge(g, label[i], label[i + 1], 1);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    check_order(g, best, n);
    ck_assert_uint_eq(best->bandwidth, 1);
}
END_TEST

/* Star with _i leaves: optimum ceil(leaves / 2), exact or not. */
static void
star_case(guint k)
{
    guint leaves = k;
    guint n = leaves + 1;
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) plan = NULL;
    g_autoptr(VlOrder) best = NULL;
    guint i;

    add_vertex(g, 0);
    for (i = 1; i <= leaves; i++)
        add_edge(g, 0, i, 1);

    plan = vl_order_plan(g, NULL, NULL, NULL);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    check_order(g, plan, n);
    ck_assert_uint_eq(plan->bandwidth, (leaves + 1) / 2);
    check_not_worse(plan, best);
    if (n <= VL_ORDER_EXACT_MAX) {
        g_autoptr(VlOrder) exact = vl_order_exact(g, 0, NULL);

        ck_assert_uint_eq(exact->bandwidth, (leaves + 1) / 2);
    }
}

START_TEST(test_star)
{
    guint i;

    for (i = 0; i < 41; i += UNDER_VALGRIND() ? 6 : 1) {
        g_snprintf(current_case, sizeof(current_case), "star_case %u", i);
        star_case(i);
    }
}
END_TEST

static void
cycle_case(guint k)
{
    guint n = 3 + k;
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) pp = NULL;
    g_autoptr(VlOrder) best = NULL;
    g_autoptr(VlOrder) plan = NULL;
    guint i;

    for (i = 0; i < n; i++)
        add_edge(g, i, (i + 1) % n, 1);
    pp = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL, NULL);
    best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, pp, n);
    check_order(g, plan, n);
    ck_assert_uint_eq(pp->bandwidth, 2);
    ck_assert_uint_eq(best->bandwidth, 2);
    ck_assert_uint_eq(plan->bandwidth, 2);
    /* Optimal cost of a unit cycle: 2 (n - 1). */
    ck_assert_double_eq(plan->cost, 2 * (n - 1));
}

START_TEST(test_cycle)
{
    guint i;

    for (i = 0; i < 40; i += UNDER_VALGRIND() ? 6 : 1) {
        g_snprintf(current_case, sizeof(current_case), "cycle_case %u", i);
        cycle_case(i);
    }
}
END_TEST

static void
complete_case(guint k)
{
    guint n = 2 + k;
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) pp = NULL;
    g_autoptr(VlOrder) plan = NULL;
    guint a;
    guint b;

    for (a = 0; a < n; a++)
        for (b = a + 1; b < n; b++)
            add_edge(g, a, b, 1);
    pp = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL, NULL);
    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, pp, n);
    check_order(g, plan, n);
    ck_assert_uint_eq(pp->bandwidth, n - 1);
    ck_assert_uint_eq(plan->bandwidth, n - 1);
    /* Every order of K_n costs sum d (n - d) = (n^3 - n) / 6. */
    ck_assert_double_eq(plan->cost, (double)(n * n * n - n) / 6);
}

START_TEST(test_complete)
{
    guint i;

    for (i = 0; i < 14; i += UNDER_VALGRIND() ? 4 : 1) {
        g_snprintf(current_case, sizeof(current_case), "complete_case %u", i);
        complete_case(i);
    }
}
END_TEST

/* Star(7), path(5), triangle, two isolated VMs, inserted interleaved. */
static VlGraph *
disconnected_graph(void)
{
    VlGraph *g = vl_graph_new();

    vl_graph_add_vertex(g, "lonely 1", NULL, NULL);
    vl_graph_add_edge(g, "t1", "t2", 1, NULL);
    vl_graph_add_edge(g, "p1", "p2", 1, NULL);
    vl_graph_add_edge(g, "hub", "s1", 1, NULL);
    vl_graph_add_edge(g, "t2", "t3", 1, NULL);
    vl_graph_add_edge(g, "p2", "p3", 1, NULL);
    vl_graph_add_edge(g, "hub", "s2", 1, NULL);
    vl_graph_add_edge(g, "t3", "t1", 1, NULL);
    vl_graph_add_edge(g, "p3", "p4", 1, NULL);
    vl_graph_add_edge(g, "hub", "s3", 1, NULL);
    vl_graph_add_edge(g, "p4", "p5", 1, NULL);
    vl_graph_add_edge(g, "hub", "s4", 1, NULL);
    vl_graph_add_edge(g, "hub", "s5", 1, NULL);
    vl_graph_add_edge(g, "hub", "s6", 1, NULL);
    vl_graph_add_vertex(g, "lonely 2", NULL, NULL);
    return g;
}

static void
check_disconnected(const VlGraph *g, const VlOrder *o, guint expect_bw)
{
    static const char *prefix[] = {
        "hub", "hub", "hub", "hub", "hub", "hub", "hub",
        "p", "p", "p", "p", "p", "t", "t", "t", "lonely 1", "lonely 2",
    };
    guint i;

    check_order(g, o, 17);
    check_components_contiguous(g, o);
    ck_assert_uint_eq(o->bandwidth, expect_bw);
    /* Largest component first, equal sizes by first insertion. */
    for (i = 0; i < 17; i++) {
        if (g_str_equal(prefix[i], "hub"))
            ck_assert(g_str_equal(o->names[i], "hub") || o->names[i][0] == 's');
        else
            ck_assert(g_str_has_prefix(o->names[i], prefix[i]));
    }
}

START_TEST(test_disconnected)
{
    g_autoptr(VlGraph) g = disconnected_graph();
    g_autoptr(VlOrder) pp = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL,
                                         NULL);
    g_autoptr(VlOrder) best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    g_autoptr(VlOrder) plan = vl_order_plan(g, NULL, NULL, NULL);

    /* RCM of a star puts the hub next to one end: bandwidth 5. */
    check_disconnected(g, pp, 5);
    check_disconnected(g, best, 5);
    check_disconnected(g, plan, 3);
    ck_assert(plan->optimal);
    ck_assert_int_eq(plan->method, VL_ORDER_METHOD_EXACT);
    /* Path and triangle may stretch to 3 but are cheapest at 1 and 2:
     * star 2 * (1 + 2 + 3) = 12, path 4, triangle 4. */
    ck_assert_double_eq(plan->cost, 12 + 4 + 4);
}
END_TEST

/*
 * A component may stretch up to the bandwidth another one forces if
 * that makes it cheaper.  The six-VM component below needs bandwidth 2
 * (order 1 0 3 2 5 4, cost 9) but costs 8 at bandwidth 3 (order
 * 1 3 0 2 5 4); the four-VM clique forces 3 anyway (cost 10).  Found
 * and checked by enumerating all 720 orders outside this test.
 */
START_TEST(test_disconnected_relax)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlGraph) six = NULL;
    g_autoptr(VlOrder) plan = NULL;
    g_autoptr(VlOrder) alone = NULL;
    const char *six_names[] = { "v0", "v1", "v2", "v3", "v4", "v5", NULL };
    const char *at3[] = { "v1", "v3", "v0", "v2", "v5", "v4", NULL };
    guint bw = 0;
    double cost = 0;
    guint a;
    guint b;

    add_edge(g, 0, 2, 1);
    add_edge(g, 0, 3, 1);
    add_edge(g, 1, 3, 1);
    add_edge(g, 2, 5, 1);
    add_edge(g, 3, 5, 1);
    add_edge(g, 4, 5, 1);
    for (a = 10; a < 14; a++)
        for (b = a + 1; b < 14; b++)
            add_edge(g, a, b, 1);
    ck_assert(vl_order_bandwidth(g, at3, &bw, NULL));
    ck_assert(vl_order_linear_cost(g, at3, &cost, NULL));
    ck_assert_uint_eq(bw, 3);
    ck_assert_double_eq(cost, 8);

    six = vl_graph_new_induced(g, six_names, NULL);
    alone = vl_order_plan(six, NULL, NULL, NULL);
    ck_assert_uint_eq(alone->bandwidth, 2);
    ck_assert_double_eq(alone->cost, 9);

    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, plan, 10);
    check_components_contiguous(g, plan);
    ck_assert_uint_eq(plan->bandwidth, 3);
    ck_assert_double_eq(plan->cost, 8 + 10);
    ck_assert(plan->optimal);
}
END_TEST

/* ------------------------------------------------------------------ */
/* "Ours is never worse than RCM"                                      */

static VlGraph *
property_graph(guint i)
{
    guint n = 12 + (i * 37) % 60;

    switch (i % 3) {
    case 0:
        return random_graph(n, 2.5 / n, 500 + i);       /* sparse, split */
    case 1:
        return service_graph(n, 600 + i);
    default:
        return random_graph(n, 6.0 / n, 700 + i);       /* connected-ish */
    }
}

static void
not_worse_case(guint k)
{
    g_autoptr(VlGraph) g = property_graph(k);
    guint n = vl_graph_n_vertices(g);
    g_autoptr(VlOrder) pp = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL,
                                         NULL);
    g_autoptr(VlOrder) best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    g_autoptr(VlOrder) plan = NULL;
    g_autoptr(VlOrder) again = NULL;
    VlOrderOptions opts;
    guint i;

    vl_order_options_init(&opts);
    opts.search_budget = 5000;      /* keep the test fast */
    plan = vl_order_plan(g, NULL, &opts, NULL);
    check_order(g, pp, n);
    check_order(g, best, n);
    check_order(g, plan, n);
    check_components_contiguous(g, pp);
    check_components_contiguous(g, plan);
    check_not_worse(best, pp);
    check_not_worse(plan, best);
    check_not_worse(plan, pp);

    /* Deterministic: the same input gives the same order. */
    again = vl_order_plan(g, NULL, &opts, NULL);
    for (i = 0; i < n; i++)
        ck_assert_uint_eq(plan->vertices[i], again->vertices[i]);
}

/* 9 cases per fork. */
START_TEST(test_plan_not_worse_than_rcm)
{
    guint i;

    for (i = _i * 9; i < (guint)(_i + 1) * 9;
         i += UNDER_VALGRIND() ? 7 : 1) {
        g_snprintf(current_case, sizeof(current_case), "not_worse_case %u", i);
        not_worse_case(i);
    }
}
END_TEST

/* vl_order_improve() never returns anything worse than its start. */
static void
improve_case(guint k)
{
    g_autoptr(VlGraph) g = property_graph(k);
    guint n = vl_graph_n_vertices(g);
    g_autoptr(GRand) rand = g_rand_new_with_seed(k);
    g_autofree guint *perm = g_new(guint, n);
    g_autoptr(VlOrder) start = NULL;
    g_autoptr(VlOrder) better = NULL;
    g_autoptr(VlOrder) best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    g_autoptr(VlOrder) from_rcm = NULL;
    VlOrderOptions opts;
    guint i;

    for (i = 0; i < n; i++)
        perm[i] = i;
    for (i = n; i > 1; i--) {
        guint j = g_rand_int_range(rand, 0, i);
        guint t = perm[i - 1];

        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    vl_order_options_init(&opts);
    opts.search_budget = 1000 + 500 * k;
    opts.seed = k;
    start = vl_order_improve(g, perm, n, &opts, NULL);  /* budget bound */
    opts.search_budget = 0;
    better = vl_order_improve(g, perm, n, &opts, NULL); /* no search */
    check_order(g, start, n);
    check_order(g, better, n);
    for (i = 0; i < n; i++)
        ck_assert_uint_eq(better->vertices[i], perm[i]);
    check_not_worse(start, better);

    opts.search_budget = 5000;
    from_rcm = vl_order_improve(g, best->vertices, n, &opts, NULL);
    check_order(g, from_rcm, n);
    check_not_worse(from_rcm, best);
}

/* 5 cases per fork. */
START_TEST(test_improve_not_worse)
{
    guint i;

    for (i = _i * 5; i < (guint)(_i + 1) * 5;
         i += UNDER_VALGRIND() ? 4 : 1) {
        g_snprintf(current_case, sizeof(current_case), "improve_case %u", i);
        improve_case(i);
    }
}
END_TEST

START_TEST(test_improve_bad_input)
{
    g_autoptr(VlGraph) g = small_graph();
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;
    guint short_perm[] = { 0, 1, 2 };
    guint twice[] = { 0, 1, 2, 3, 3 };
    guint range[] = { 0, 1, 2, 3, 5 };

    ck_assert_ptr_null(vl_order_improve(g, short_perm, 3, NULL, &e1));
    ck_assert_str_eq(e1->message,
                     "Order has '3' domains but the graph has '5'");
    ck_assert_ptr_null(vl_order_improve(g, twice, 5, NULL, &e2));
    ck_assert_str_eq(e2->message, "Domain 'd' is listed twice");
    ck_assert_ptr_null(vl_order_improve(g, range, 5, NULL, &e3));
    ck_assert(g_error_matches(e3, VL_ERROR, VL_ERROR_INVALID));
}
END_TEST

/* ------------------------------------------------------------------ */
/* The plan's input                                                    */

START_TEST(test_plan_subset)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) plan = NULL;
    const char *group[] = { "d", "a", "c", NULL };
    guint i;

    /* a-b-c-d path plus a-d heavy; b stays behind. */
    vl_graph_add_edge(g, "a", "b", 1, NULL);
    vl_graph_add_edge(g, "b", "c", 1, NULL);
    vl_graph_add_edge(g, "c", "d", 1, NULL);
    vl_graph_add_edge(g, "a", "d", 5, NULL);
    plan = vl_order_plan(g, group, NULL, NULL);
    ck_assert_ptr_nonnull(plan);
    check_order(g, plan, 3);
    /* Within {a, c, d}: a-d (5) and c-d (1): d in the middle. */
    ck_assert_str_eq(plan->names[1], "d");
    ck_assert_uint_eq(plan->bandwidth, 1);
    ck_assert_double_eq(plan->cost, 6);
    for (i = 0; i < 3; i++) {
        guint v = 0;

        ck_assert(vl_graph_lookup(g, plan->names[i], &v));
        ck_assert_uint_eq(plan->vertices[i], v);
    }
}
END_TEST

START_TEST(test_plan_bad_input)
{
    g_autoptr(VlGraph) g = small_graph();
    g_autoptr(VlGraph) empty = vl_graph_new();
    const char *unknown[] = { "a", "ghost", NULL };
    const char *twice[] = { "a", "b", "a", NULL };
    const char *none[] = { NULL };
    const char *utf8[] = { "\xc0\xaf", NULL };
    struct {
        const VlGraph *g;
        const char *const *vertices;
        guint exact_limit;
        guint64 exact_budget;
        const char *message;
    } bad[] = {
        { g, unknown, 10, 1, "Unknown domain 'ghost' in the traffic graph" },
        { g, twice, 10, 1, "Domain 'a' is listed twice" },
        { g, none, 10, 1, "Nothing to order: the list of domains is empty" },
        { g, utf8, 10, 1, NULL },
        { empty, NULL, 10, 1, "Nothing to order: the traffic graph has no domains" },
        { g, NULL, 13, 1, "Exact ordering limit '13' is above the maximum '12'" },
        { g, NULL, 10, 0, "Exact ordering budget must be at least '1'" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        VlOrderOptions opts;

        vl_order_options_init(&opts);
        opts.exact_limit = bad[i].exact_limit;
        opts.exact_budget = bad[i].exact_budget;
        ck_assert_ptr_null(vl_order_plan(bad[i].g, bad[i].vertices, &opts,
                                         &error));
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        ck_assert(g_utf8_validate(error->message, -1, NULL));
        if (bad[i].message)
            ck_assert_str_eq(error->message, bad[i].message);
    }

    {
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;

        ck_assert_ptr_null(vl_order_rcm(empty, VL_ORDER_START_BEST, &e1));
        ck_assert(g_error_matches(e1, VL_ERROR, VL_ERROR_INVALID));
        ck_assert_ptr_null(vl_order_improve(empty, NULL, 0, NULL, &e2));
        ck_assert(g_error_matches(e2, VL_ERROR, VL_ERROR_INVALID));
    }
}
END_TEST

START_TEST(test_plan_single)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) plan = NULL;

    vl_graph_add_vertex(g, "only 'one'", NULL, NULL);
    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, plan, 1);
    ck_assert_str_eq(plan->names[0], "only 'one'");
    ck_assert_uint_eq(plan->bandwidth, 0);
    ck_assert(plan->optimal);
}
END_TEST

/* Odd names go through untouched; results come back by name. */
START_TEST(test_plan_odd_names)
{
    const char *names[] = {
        "web 1", "db's \"primary\"", "a;b", "line\nbreak", "caf\xc3\xa9",
    };
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlOrder) plan = NULL;
    guint bw = 0;
    guint i;

    for (i = 0; i + 1 < G_N_ELEMENTS(names); i++)
        ck_assert(vl_graph_add_edge(g, names[i], names[i + 1], 1, NULL));
    plan = vl_order_plan(g, NULL, NULL, NULL);
    check_order(g, plan, G_N_ELEMENTS(names));
    ck_assert_uint_eq(plan->bandwidth, 1);
    ck_assert(vl_order_bandwidth(g, (const char *const *)plan->names, &bw,
                                 NULL));
    ck_assert_uint_eq(bw, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Golden plans: tests/data/order/<case>.graph -> <case>.out           */

/* Lines "name<TAB>name<TAB>weight" or "name"; '#' starts a comment. */
static VlGraph *
load_graph(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) error = NULL;
    VlGraph *g = vl_graph_new();
    guint i;

    ck_assert_msg(g_file_get_contents(path, &text, NULL, &error), "%s",
                  error ? error->message : "");
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        g_autofree char *a = NULL;
        g_autofree char *b = NULL;

        if (!*lines[i] || lines[i][0] == '#')
            continue;
        f = g_strsplit(lines[i], "\t", -1);
        a = g_strcompress(f[0]);
        if (g_strv_length(f) == 1) {
            ck_assert(vl_graph_add_vertex(g, a, NULL, NULL));
            continue;
        }
        ck_assert_uint_eq(g_strv_length(f), 3);
        b = g_strcompress(f[1]);
        ck_assert_msg(vl_graph_add_edge(g, a, b, g_ascii_strtod(f[2], NULL),
                                        NULL), "%s:%u", path, i + 1);
    }
    return g;
}

static char *
describe(const VlOrder *o)
{
    GString *out = g_string_new(NULL);
    char keep[128];
    guint i;

    /* Escape control characters and quotes, keep UTF-8 readable. */
    for (i = 0; i < 127; i++)
        keep[i] = (char)(0x80 + i);
    keep[127] = '\0';

    /* The golden files carry the licence line like every file. */
    g_string_append(out, "# SPDX-License-Identifier: LGPL-2.1-or-later\n");
    g_string_append_printf(out, "bandwidth %u\ncost %.6g\noptimal %s\n",
                           o->bandwidth, o->cost, o->optimal ? "yes" : "no");
    for (i = 0; i < o->n; i++) {
        g_autofree char *esc = g_strescape(o->names[i], keep);

        g_string_append_printf(out, "%s\n", esc);
    }
    return g_string_free(out, FALSE);
}

static const char *golden_cases[] = { "clusters", "services", "odd-names" };

START_TEST(test_golden)
{
    g_autofree char *base = g_strdup_printf("order/%s", golden_cases[_i]);
    g_autofree char *in_rel = g_strconcat(base, ".graph", NULL);
    g_autofree char *out_rel = g_strconcat(base, ".out", NULL);
    g_autofree char *in_path = vl_test_data_path(in_rel);
    g_autofree char *out_path = vl_test_data_path(out_rel);
    g_autoptr(VlGraph) g = load_graph(in_path);
    g_autoptr(VlOrder) plan = vl_order_plan(g, NULL, NULL, NULL);
    g_autoptr(VlOrder) best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
    g_autofree char *got = NULL;
    g_autofree char *want = NULL;
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_nonnull(plan);
    check_order(g, plan, vl_graph_n_vertices(g));
    check_not_worse(plan, best);
    got = describe(plan);
    if (g_getenv("VL_TEST_REGENERATE")) {
        ck_assert_msg(g_file_set_contents(out_path, got, -1, &error), "%s",
                      error ? error->message : "");
        return;
    }
    ck_assert_msg(g_file_get_contents(out_path, &want, NULL, &error), "%s",
                  error ? error->message : "");
    ck_assert_str_eq(got, want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The dynamic order                                                   */

static VlGraph *
dynamic_graph(void)
{
    VlGraph *g = vl_graph_new();

    /* a-b 5, a-c 1, b-c 1, c-d 10, d-e 2 */
    vl_graph_add_edge(g, "a", "b", 5, NULL);
    vl_graph_add_edge(g, "a", "c", 1, NULL);
    vl_graph_add_edge(g, "b", "c", 1, NULL);
    vl_graph_add_edge(g, "c", "d", 10, NULL);
    vl_graph_add_edge(g, "d", "e", 2, NULL);
    return g;
}

START_TEST(test_next_by_hand)
{
    g_autoptr(VlGraph) g = dynamic_graph();
    const char *p0[] = { "a", "b", "c", "d", "e", NULL };
    const char *m1[] = { "c", NULL };
    const char *p1[] = { "a", "b", "d", "e", NULL };
    const char *m2[] = { "c", "d", NULL };
    const char *p2[] = { "a", "b", "e", NULL };
    const char *m3[] = { "c", "d", "e", NULL };
    const char *p3[] = { "b", "a", NULL };
    const char *m4[] = { "c", "d", "e", "a", NULL };
    const char *p4[] = { "new vm", "b", NULL };
    const char *p5[] = { "zz", "new vm", NULL };
    const char *m6[] = { "gone elsewhere", NULL };
    const char *p6[] = { "e", "a", NULL };

    /* Nothing moved: most total weight (c and d, 12), then name. */
    ck_assert_ptr_eq(vl_order_next(g, NULL, p0, NULL), p0[2]);
    /* d has 10 to c. */
    ck_assert_ptr_eq(vl_order_next(g, m1, p1, NULL), p1[2]);
    /* a 1, b 1, e 2. */
    ck_assert_ptr_eq(vl_order_next(g, m2, p2, NULL), p2[2]);
    /* a and b tie on 1 and on 6 total: the name decides. */
    ck_assert_ptr_eq(vl_order_next(g, m3, p3, NULL), p3[1]);
    /* Unknown pending VMs have no traffic. */
    ck_assert_ptr_eq(vl_order_next(g, m4, p4, NULL), p4[1]);
    ck_assert_ptr_eq(vl_order_next(g, m4, p5, NULL), p5[1]);
    /* Unknown moved VMs contribute nothing: totals decide (a 6, e 2). */
    ck_assert_ptr_eq(vl_order_next(g, m6, p6, NULL), p6[1]);
}
END_TEST

START_TEST(test_next_bad_input)
{
    g_autoptr(VlGraph) g = dynamic_graph();
    const char *none[] = { NULL };
    const char *a[] = { "a", NULL };
    const char *twice[] = { "b", "c", "b", NULL };
    const char *empty_name[] = { "", NULL };
    const char *bad_utf8[] = { "\xed\xa0\x80", NULL };
    struct {
        const char *const *moved;
        const char *const *pending;
        const char *message;
    } bad[] = {
        { NULL, none, "Nothing left to move: the list of pending domains is empty" },
        { a, none, "Nothing left to move: the list of pending domains is empty" },
        { NULL, twice, "Domain 'b' is listed twice" },
        { a, a, "Domain 'a' is listed twice" },
        { twice, a, "Domain 'b' is listed twice" },
        { NULL, empty_name, "Domain name must not be empty" },
        { bad_utf8, a, NULL },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;

        ck_assert_ptr_null(vl_order_next(g, bad[i].moved, bad[i].pending,
                                         &error));
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        ck_assert(g_utf8_validate(error->message, -1, NULL));
        if (bad[i].message)
            ck_assert_str_eq(error->message, bad[i].message);
    }
}
END_TEST

/*
 * An evacuation where flows are only seen once one end has moved: two
 * services of four, linked to nothing else.  Once a VM of a service
 * moves, its mates are the only pending VMs with traffic to the moved
 * set, so each service moves as a block.
 */
START_TEST(test_next_simulated)
{
    g_autoptr(VlGraph) truth = vl_graph_new();
    g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func(g_free);
    const char *svc[2][4] = {
        { "web a", "web b", "web c", "web d" },
        { "db 1", "db 2", "db 3", "db 4" },
    };
    guint s;
    guint i;
    guint j;

    for (s = 0; s < 2; s++)
        for (i = 0; i < 4; i++)
            for (j = i + 1; j < 4; j++)
                vl_graph_add_edge(truth, svc[s][i], svc[s][j], 1 + i + j, NULL);
    for (i = 0; i < 4; i++) {
        g_ptr_array_add(pending, g_strdup(svc[1][i]));
        g_ptr_array_add(pending, g_strdup(svc[0][i]));
    }

    while (pending->len > 0) {
        g_autoptr(VlGraph) known = vl_graph_new();
        const char *next = NULL;
        guint e;

        /* What the moved VMs revealed so far. */
        for (e = 0; e < vl_graph_n_edges(truth); e++) {
            guint u = 0;
            guint v = 0;
            double w = vl_graph_edge(truth, e, &u, &v);
            const char *nu = vl_graph_vertex_name(truth, u);
            const char *nv = vl_graph_vertex_name(truth, v);

            for (i = 0; i < moved->len; i++) {
                if (g_str_equal(moved->pdata[i], nu) ||
                    g_str_equal(moved->pdata[i], nv)) {
                    vl_graph_add_edge(known, nu, nv, w, NULL);
                    break;
                }
            }
        }
        g_ptr_array_add(moved, NULL);
        g_ptr_array_add(pending, NULL);
        next = vl_order_next(known, (const char *const *)moved->pdata,
                             (const char *const *)pending->pdata, NULL);
        g_ptr_array_remove_index(moved, moved->len - 1);
        g_ptr_array_remove_index(pending, pending->len - 1);
        ck_assert_ptr_nonnull(next);
        for (i = 0; i < pending->len; i++) {
            if (pending->pdata[i] == next) {
                g_ptr_array_add(moved, g_ptr_array_steal_index(pending, i));
                break;
            }
        }
    }

    ck_assert_uint_eq(moved->len, 8);
    /* Nothing known at first: the smallest name starts, "db 1". */
    ck_assert_str_eq(moved->pdata[0], "db 1");
    for (i = 0; i < 8; i++)
        ck_assert(g_str_has_prefix(moved->pdata[i], i < 4 ? "db " : "web "));
}
END_TEST

static Suite *
order_suite(void)
{
    Suite *s = suite_create("order");
    TCase *tc;

    tc = tcase_create("objectives");
    tcase_add_test(tc, test_objectives);
    tcase_add_test(tc, test_objectives_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("exact");
    tcase_add_loop_test(tc, test_exact_all_labelled, 0, 5);
    tcase_add_loop_test(tc, test_exact_random, 0, N_RANDOM_SMALL / 20);
    tcase_add_test(tc, test_exact_limits);
    tcase_add_test(tc, test_exact_twelve);
    tcase_add_test(tc, test_plan_exact_budget_exhausted);
    suite_add_tcase(s, tc);

    tc = tcase_create("known-answers");
    tcase_add_test(tc, test_path);
    tcase_add_test(tc, test_rcm_large_component);
    tcase_add_test(tc, test_star);
    tcase_add_test(tc, test_cycle);
    tcase_add_test(tc, test_complete);
    tcase_add_test(tc, test_disconnected);
    tcase_add_test(tc, test_disconnected_relax);
    suite_add_tcase(s, tc);

    tc = tcase_create("not-worse-than-rcm");
    tcase_add_loop_test(tc, test_plan_not_worse_than_rcm, 0, 45 / 9);
    tcase_add_loop_test(tc, test_improve_not_worse, 0, 10 / 5);
    tcase_add_test(tc, test_improve_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("plan-input");
    tcase_add_test(tc, test_plan_subset);
    tcase_add_test(tc, test_plan_bad_input);
    tcase_add_test(tc, test_plan_single);
    tcase_add_test(tc, test_plan_odd_names);
    tcase_add_loop_test(tc, test_golden, 0, G_N_ELEMENTS(golden_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("dynamic");
    tcase_add_test(tc, test_next_by_hand);
    tcase_add_test(tc, test_next_bad_input);
    tcase_add_test(tc, test_next_simulated);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(order_suite());
}
