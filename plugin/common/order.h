/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * order.h: in which order to move a group of domains that talk
 *
 * When domains leave a host one after another, a talking pair is split
 * across the old and the new host from the moment the first of them
 * moves until the second one does.  With moves numbered by position in
 * the order f, the longest split of any pair is the bandwidth of the
 * order, max |f(u) - f(v)| over the edges, and the traffic-weighted
 * total split time is its linear arrangement cost, the sum of
 * w(u,v) * |f(u) - f(v)|.  We minimise the bandwidth first and the
 * cost second.  Both problems are NP-hard, so small groups are solved
 * exactly and larger ones by reverse Cuthill-McKee plus a local search
 * that only ever accepts improvements.  docs/ordering.md has the
 * algorithms, their complexity and the benchmark.
 *
 * Everything here is deterministic: the same graph (built in the same
 * order) and the same options give the same order.
 */
#pragma once

#include <glib.h>

#include "graph.h"

G_BEGIN_DECLS

/* The exact solver packs its state into 64 bits: 5 bits per vertex. */
#define VL_ORDER_EXACT_MAX 12
#define VL_ORDER_DEFAULT_EXACT_LIMIT 10
#define VL_ORDER_DEFAULT_EXACT_BUDGET (G_GUINT64_CONSTANT(1) << 18)
#define VL_ORDER_DEFAULT_SEARCH_BUDGET (G_GUINT64_CONSTANT(1) << 23)

typedef enum {
    VL_ORDER_METHOD_EXACT,      /* every component solved exactly */
    VL_ORDER_METHOD_RCM,        /* reverse Cuthill-McKee only */
    VL_ORDER_METHOD_SEARCH,     /* local search (possibly mixed with exact) */
} VlOrderMethod;

typedef enum {
    VL_ORDER_START_PSEUDO_PERIPHERAL,   /* George-Liu's start vertex */
    VL_ORDER_START_BEST,                /* try every vertex, keep the best */
} VlOrderStart;

typedef struct {
    /* Components with at most this many vertices are solved exactly;
     * 0 disables the exact solver, at most VL_ORDER_EXACT_MAX. */
    guint exact_limit;
    /* Distinct states the exact solver may visit per component before
     * it gives up and the heuristic answer stands.  At least 1. */
    guint64 exact_budget;
    /* Work the local search may spend per component: one unit per
     * vertex a candidate move displaces and per edge it rescores
     * (roughly 10-20 ns each).  0 skips the local search. */
    guint64 search_budget;
    /* Seed of the perturbations of the local search. */
    guint32 seed;
} VlOrderOptions;

/* Fills @options with the defaults used when NULL options are passed. */
void vl_order_options_init(VlOrderOptions *options);

typedef struct {
    guint n;            /* number of domains ordered */
    guint *vertices;    /* n vertex indices of the graph given, in move order */
    char **names;       /* NULL-terminated names in move order */
    guint bandwidth;    /* max |f(u) - f(v)| over the edges ordered */
    double cost;        /* sum of w(u,v) * |f(u) - f(v)| */
    VlOrderMethod method;
    gboolean optimal;   /* bandwidth and then cost proven minimal */
} VlOrder;

void vl_order_free(VlOrder *order);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlOrder, vl_order_free)

/**
 * vl_order_evaluate:
 * @graph: the graph
 * @order: (array length=n): distinct vertex indices of @graph
 * @n: length of @order
 * @bandwidth: (out) (optional): the largest stretch
 * @cost: (out) (optional): the weighted sum of stretches
 * @error: (out) (optional): set on an index out of range or repeated
 *
 * Scores @order.  Only edges with both ends in @order count, so a
 * partial order scores the subgroup it moves.  O(n + m).
 */
gboolean vl_order_evaluate(const VlGraph *graph, const guint *order, guint n,
                           guint *bandwidth, double *cost, GError **error);

/**
 * vl_order_bandwidth:
 * @graph: the graph
 * @order: NULL-terminated, distinct domain names of @graph
 * @bandwidth: (out): max |f(u) - f(v)| over the edges within @order
 * @error: (out) (optional): set on an unknown or repeated name
 */
gboolean vl_order_bandwidth(const VlGraph *graph, const char *const *order,
                            guint *bandwidth, GError **error);

/**
 * vl_order_linear_cost:
 * @graph: the graph
 * @order: NULL-terminated, distinct domain names of @graph
 * @cost: (out): sum of w(u,v) * |f(u) - f(v)| over the edges within @order
 * @error: (out) (optional): set on an unknown or repeated name
 */
gboolean vl_order_linear_cost(const VlGraph *graph, const char *const *order,
                              double *cost, GError **error);

/**
 * vl_order_exact:
 * @graph: the graph, at most VL_ORDER_EXACT_MAX vertices
 * @budget: states the search may visit, 0 for the default
 * @error: (out) (optional): VL_ERROR_INVALID for an empty or too large
 *   graph, VL_ERROR_TIMEOUT when @budget runs out
 *
 * Returns an order of all vertices of minimum bandwidth and, among
 * those, of minimum weighted cost.  A dynamic programme over (placed
 * set, deadlines of the unplaced neighbours) decides "bandwidth <= k"
 * for k from a lower bound up, then keeps the cheapest order.
 */
VlOrder *vl_order_exact(const VlGraph *graph, guint64 budget, GError **error);

/**
 * vl_order_rcm:
 * @graph: the graph
 * @start: how each component's start vertex is chosen
 * @error: (out) (optional): set when @graph has no vertices
 *
 * Reverse Cuthill-McKee, per connected component; components are
 * concatenated largest first (ties: smallest vertex index first), which
 * changes neither objective.  The best start is chosen by (bandwidth,
 * cost) among every vertex of the component, or among 1000 evenly
 * spread ones and the pseudo-peripheral vertex in larger components.
 * O(n m) worst case for a pseudo-peripheral start (a few BFS runs in
 * practice), O(min(n, 1000) m log m) for the best start.
 */
VlOrder *vl_order_rcm(const VlGraph *graph, VlOrderStart start,
                      GError **error);

/**
 * vl_order_improve:
 * @graph: the graph
 * @start: (array length=n): a permutation of all vertices of @graph
 * @n: vl_graph_n_vertices(@graph)
 * @options: (nullable): search_budget and seed are used
 * @error: (out) (optional): set when @start is not a permutation
 *
 * Local search from @start: moves that lower (bandwidth, number of
 * pairs at that bandwidth, cost) or (bandwidth, cost), with seeded
 * perturbations.  The best order visited in (bandwidth, cost) order is
 * returned, so the result is never worse than @start.
 */
VlOrder *vl_order_improve(const VlGraph *graph, const guint *start, guint n,
                          const VlOrderOptions *options, GError **error);

/**
 * vl_order_plan:
 * @graph: the communication graph
 * @vertices: (nullable): NULL-terminated distinct names of the domains to
 *   move, all in @graph; NULL for every vertex of @graph
 * @options: (nullable): NULL for the defaults
 * @error: (out) (optional): set on an empty group, an unknown or
 *   repeated name, or options out of range
 *
 * The order the evacuate command uses.  Edges to domains outside
 * @vertices are ignored.  Each connected component is solved exactly
 * when it has at most exact_limit vertices (and the budget suffices),
 * otherwise by the best-start RCM improved by vl_order_improve();
 * components are concatenated largest first.  The result is never worse
 * than vl_order_rcm(VL_ORDER_START_BEST) in (bandwidth, cost).
 */
VlOrder *vl_order_plan(const VlGraph *graph, const char *const *vertices,
                       const VlOrderOptions *options, GError **error);

/**
 * vl_order_next:
 * @graph: the traffic known so far
 * @moved: (nullable): NULL-terminated names already moved
 * @pending: NULL-terminated names still to move, at least one
 * @error: (out) (optional): set on a bad, repeated or empty list
 *
 * The dynamic order, for when edges are only observed as domains move:
 * returns the pending domain with the most traffic weight to the moved
 * set; ties go to the most total weight, then to the smallest name
 * (strcmp).  Names need not be in @graph: an unknown one has no known
 * traffic.  Returns a pointer into @pending, or NULL on error.  O(n + m).
 */
const char *vl_order_next(const VlGraph *graph, const char *const *moved,
                          const char *const *pending, GError **error);

G_END_DECLS
