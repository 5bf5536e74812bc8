/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>

#include "order.h"
#include "vl-error.h"

/*
 * Costs are sums of doubles; two orders whose costs differ by less
 * than this (relative) amount are treated as equally good, so rounding
 * noise never counts as an improvement.
 */
#define COST_EPS 1e-12

static gboolean
cost_less(double a, double b)
{
    return a < b - COST_EPS * MAX(1.0, fabs(b));
}

/* (bandwidth, cost) lexicographically */
static gboolean
score_less(guint bw_a, double cost_a, guint bw_b, double cost_b)
{
    if (bw_a != bw_b)
        return bw_a < bw_b;
    return cost_less(cost_a, cost_b);
}

void
vl_order_options_init(VlOrderOptions *options)
{
    g_return_if_fail(options != NULL);

    options->exact_limit = VL_ORDER_DEFAULT_EXACT_LIMIT;
    options->exact_budget = VL_ORDER_DEFAULT_EXACT_BUDGET;
    options->search_budget = VL_ORDER_DEFAULT_SEARCH_BUDGET;
    options->seed = 0;
}

static gboolean
check_options(const VlOrderOptions *options, GError **error)
{
    if (options->exact_limit > VL_ORDER_EXACT_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Exact ordering limit '%u' is above the maximum '%u'",
                    options->exact_limit, VL_ORDER_EXACT_MAX);
        return FALSE;
    }
    if (options->exact_budget == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Exact ordering budget must be at least '1'");
        return FALSE;
    }
    return TRUE;
}

void
vl_order_free(VlOrder *order)
{
    if (!order)
        return;
    g_free(order->vertices);
    g_strfreev(order->names);
    g_free(order);
}

/* ------------------------------------------------------------------ */
/* Scoring                                                             */

/*
 * Scores the vertices with pos[v] != G_MAXUINT.  Edges are visited in
 * edge-index order so that every caller sums the same doubles in the
 * same order and gets bit-identical costs.
 */
static void
score_positions(const VlGraph *graph, const guint *pos, guint *bandwidth,
                double *cost)
{
    guint m = vl_graph_n_edges(graph);
    guint bw = 0;
    double sum = 0;
    guint e;

    for (e = 0; e < m; e++) {
        guint u = 0;
        guint v = 0;
        double w = vl_graph_edge(graph, e, &u, &v);
        guint s;

        if (pos[u] == G_MAXUINT || pos[v] == G_MAXUINT)
            continue;
        s = pos[u] > pos[v] ? pos[u] - pos[v] : pos[v] - pos[u];
        bw = MAX(bw, s);
        sum += w * s;
    }
    *bandwidth = bw;
    *cost = sum;
}

gboolean
vl_order_evaluate(const VlGraph *graph, const guint *order, guint n,
                  guint *bandwidth, double *cost, GError **error)
{
    g_autofree guint *pos = NULL;
    guint nv;
    guint bw = 0;
    double sum = 0;
    guint i;

    g_return_val_if_fail(graph != NULL, FALSE);
    g_return_val_if_fail(order != NULL || n == 0, FALSE);

    nv = vl_graph_n_vertices(graph);
    pos = g_new(guint, MAX(nv, 1));
    for (i = 0; i < nv; i++)
        pos[i] = G_MAXUINT;
    for (i = 0; i < n; i++) {
        if (order[i] >= nv) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Vertex index '%u' is out of range (the graph has '%u' vertices)",
                        order[i], nv);
            return FALSE;
        }
        if (pos[order[i]] != G_MAXUINT) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Domain '%s' is listed twice",
                        vl_graph_vertex_name(graph, order[i]));
            return FALSE;
        }
        pos[order[i]] = i;
    }

    score_positions(graph, pos, &bw, &sum);
    if (bandwidth)
        *bandwidth = bw;
    if (cost)
        *cost = sum;
    return TRUE;
}

/* Names -> vertex indices, refusing unknown and repeated names. */
static guint *
lookup_names(const VlGraph *graph, const char *const *names, guint *n,
             GError **error)
{
    g_autofree guint *idx = NULL;
    g_autofree guint8 *seen = NULL;
    guint len = g_strv_length((char **)names);
    guint i;

    idx = g_new(guint, MAX(len, 1));
    seen = g_new0(guint8, MAX(vl_graph_n_vertices(graph), 1));
    for (i = 0; i < len; i++) {
        if (!vl_graph_lookup(graph, names[i], &idx[i])) {
            g_autofree char *shown = g_utf8_make_valid(names[i], -1);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Unknown domain '%s' in the traffic graph", shown);
            return NULL;
        }
        if (seen[idx[i]]) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Domain '%s' is listed twice", names[i]);
            return NULL;
        }
        seen[idx[i]] = 1;
    }
    *n = len;
    return g_steal_pointer(&idx);
}

gboolean
vl_order_bandwidth(const VlGraph *graph, const char *const *order,
                   guint *bandwidth, GError **error)
{
    g_autofree guint *idx = NULL;
    guint n = 0;

    g_return_val_if_fail(graph != NULL, FALSE);
    g_return_val_if_fail(order != NULL, FALSE);
    g_return_val_if_fail(bandwidth != NULL, FALSE);

    if (!(idx = lookup_names(graph, order, &n, error)))
        return FALSE;
    return vl_order_evaluate(graph, idx, n, bandwidth, NULL, error);
}

gboolean
vl_order_linear_cost(const VlGraph *graph, const char *const *order,
                     double *cost, GError **error)
{
    g_autofree guint *idx = NULL;
    guint n = 0;

    g_return_val_if_fail(graph != NULL, FALSE);
    g_return_val_if_fail(order != NULL, FALSE);
    g_return_val_if_fail(cost != NULL, FALSE);

    if (!(idx = lookup_names(graph, order, &n, error)))
        return FALSE;
    return vl_order_evaluate(graph, idx, n, NULL, cost, error);
}

/* Takes ownership of @vertices, a permutation of some vertices of @graph. */
static VlOrder *
order_new(const VlGraph *graph, guint *vertices, guint n,
          VlOrderMethod method, gboolean optimal)
{
    VlOrder *order = g_new0(VlOrder, 1);
    guint i;

    order->n = n;
    order->vertices = vertices;
    order->names = g_new0(char *, n + 1);
    for (i = 0; i < n; i++)
        order->names[i] = g_strdup(vl_graph_vertex_name(graph, vertices[i]));
    /* Cannot fail: the callers build permutations themselves. */
    vl_order_evaluate(graph, vertices, n, &order->bandwidth, &order->cost,
                      NULL);
    order->method = method;
    order->optimal = optimal;
    return order;
}

static gboolean
check_not_empty(const VlGraph *graph, GError **error)
{
    if (vl_graph_n_vertices(graph) == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Nothing to order: the traffic graph has no domains");
        return FALSE;
    }
    return TRUE;
}

/*
 * A set of vertices of the graph given local indices 0..n-1, with
 * adjacency restricted to the set (CSR).  Every algorithm below works
 * on one of these: the whole graph, or one connected component.
 */
typedef struct {
    guint n;
    guint *global;      /* local -> graph index */
    guint *start;       /* n + 1 offsets into nbr/wt */
    guint *nbr;         /* local neighbour indices */
    double *wt;
    guint m;            /* edges inside the set */
    guint *eu;          /* edge endpoints, in graph edge-index order */
    guint *ev;
    double *ew;
} Part;

static void
part_free(Part *part)
{
    if (!part)
        return;
    g_free(part->global);
    g_free(part->start);
    g_free(part->nbr);
    g_free(part->wt);
    g_free(part->eu);
    g_free(part->ev);
    g_free(part->ew);
    g_free(part);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Part, part_free)

/* @local is scratch of vl_graph_n_vertices() entries, all G_MAXUINT. */
static Part *
part_new(const VlGraph *graph, const guint *vertices, guint n, guint *local)
{
    Part *part = g_new0(Part, 1);
    guint m_all = vl_graph_n_edges(graph);
    g_autofree guint *fill = NULL;
    guint i;
    guint e;

    part->n = n;
    part->global = g_memdup2(vertices, sizeof(guint) * MAX(n, 1));
    for (i = 0; i < n; i++)
        local[vertices[i]] = i;

    part->start = g_new0(guint, n + 1);
    for (e = 0; e < m_all; e++) {
        guint u = 0;
        guint v = 0;

        vl_graph_edge(graph, e, &u, &v);
        if (local[u] != G_MAXUINT && local[v] != G_MAXUINT) {
            part->start[local[u] + 1]++;
            part->start[local[v] + 1]++;
            part->m++;
        }
    }
    for (i = 0; i < n; i++)
        part->start[i + 1] += part->start[i];

    part->nbr = g_new(guint, MAX(2 * part->m, 1));
    part->wt = g_new(double, MAX(2 * part->m, 1));
    part->eu = g_new(guint, MAX(part->m, 1));
    part->ev = g_new(guint, MAX(part->m, 1));
    part->ew = g_new(double, MAX(part->m, 1));
    fill = g_memdup2(part->start, sizeof(guint) * (n + 1));
    part->m = 0;
    for (e = 0; e < m_all; e++) {
        guint u = 0;
        guint v = 0;
        double w = vl_graph_edge(graph, e, &u, &v);
        guint lu;
        guint lv;

        if (local[u] == G_MAXUINT || local[v] == G_MAXUINT)
            continue;
        lu = local[u];
        lv = local[v];
        part->nbr[fill[lu]] = lv;
        part->wt[fill[lu]++] = w;
        part->nbr[fill[lv]] = lu;
        part->wt[fill[lv]++] = w;
        part->eu[part->m] = lu;
        part->ev[part->m] = lv;
        part->ew[part->m++] = w;
    }

    for (i = 0; i < n; i++)
        local[vertices[i]] = G_MAXUINT;
    return part;
}

static guint
part_degree(const Part *part, guint v)
{
    return part->start[v + 1] - part->start[v];
}

/* Scores a local order; same summation order as score_positions(). */
static void
part_score(const Part *part, const guint *ord, guint *pos, guint *bandwidth,
           double *cost)
{
    guint bw = 0;
    double sum = 0;
    guint i;

    for (i = 0; i < part->n; i++)
        pos[ord[i]] = i;
    for (i = 0; i < part->m; i++) {
        guint a = pos[part->eu[i]];
        guint b = pos[part->ev[i]];
        guint s = a > b ? a - b : b - a;

        bw = MAX(bw, s);
        sum += part->ew[i] * s;
    }
    *bandwidth = bw;
    *cost = sum;
}

/* ------------------------------------------------------------------ */
/* Exact solver                                                        */

/*
 * Moves fill positions 0, 1, ... n-1.  Once u is placed at q, each of
 * its unplaced neighbours must be placed by q + k (its deadline).  The
 * future only depends on the placed set S and on the deadlines of the
 * unplaced vertices, and the cost splits over prefixes:
 *
 *   sum w(u,v) |f(u) - f(v)| = sum over i of w(cut(S_i, V \ S_i))
 *
 * where S_i holds the first i vertices, so the cheapest completion of
 * a state is a function of the state alone.  That makes the search a
 * dynamic programme over (S, deadlines), memoised in a hash table.  A
 * deadline is stored as its slack (deadline - |S|) + 1 in 4 bits, 0
 * meaning none, so a state fits in 12 + 4 * 12 = 60 bits.  Deadlines
 * at or beyond the last position are no constraint and are dropped,
 * which keeps loosely constrained graphs (dense ones) small.
 */

#define NO_DEADLINE 0xff

typedef struct {
    guint n;
    guint k;
    guint32 nbr[VL_ORDER_EXACT_MAX];
    double w[VL_ORDER_EXACT_MAX][VL_ORDER_EXACT_MAX];
    double wdeg[VL_ORDER_EXACT_MAX];

    /* Memo: open addressing, key 0 = empty slot (keys are stored + 1). */
    guint64 *keys;
    double *vals;
    guint8 *next;
    gsize cap;
    gsize used;

    guint64 budget;     /* states left */
    gboolean exhausted;
} Exact;

static void
exact_clear(Exact *ex)
{
    g_clear_pointer(&ex->keys, g_free);
    g_clear_pointer(&ex->vals, g_free);
    g_clear_pointer(&ex->next, g_free);
    ex->cap = 0;
    ex->used = 0;
}

static gsize
memo_slot(const Exact *ex, guint64 key)
{
    /* splitmix64 finaliser: states differ in few bits. */
    guint64 h = key;

    h ^= h >> 30;
    h *= G_GUINT64_CONSTANT(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= G_GUINT64_CONSTANT(0x94d049bb133111eb);
    h ^= h >> 31;
    return h & (ex->cap - 1);
}

static gboolean
memo_get(const Exact *ex, guint64 key, double *val, guint *next)
{
    gsize i;

    if (ex->cap == 0)
        return FALSE;
    for (i = memo_slot(ex, key); ex->keys[i]; i = (i + 1) & (ex->cap - 1)) {
        if (ex->keys[i] == key + 1) {
            *val = ex->vals[i];
            if (next)
                *next = ex->next[i];
            return TRUE;
        }
    }
    return FALSE;
}

static void memo_put(Exact *ex, guint64 key, double val, guint next);

static void
memo_grow(Exact *ex)
{
    guint64 *keys = ex->keys;
    double *vals = ex->vals;
    guint8 *next = ex->next;
    gsize cap = ex->cap;
    gsize i;

    ex->cap = cap ? cap * 2 : 1024;
    ex->keys = g_new0(guint64, ex->cap);
    ex->vals = g_new(double, ex->cap);
    ex->next = g_new(guint8, ex->cap);
    ex->used = 0;
    for (i = 0; i < cap; i++) {
        if (keys[i])
            memo_put(ex, keys[i] - 1, vals[i], next[i]);
    }
    g_free(keys);
    g_free(vals);
    g_free(next);
}

static void
memo_put(Exact *ex, guint64 key, double val, guint next)
{
    gsize i;

    if ((ex->used + 1) * 4 > ex->cap * 3)
        memo_grow(ex);
    for (i = memo_slot(ex, key); ex->keys[i]; i = (i + 1) & (ex->cap - 1)) {
        if (ex->keys[i] == key + 1)
            break;
    }
    if (!ex->keys[i])
        ex->used++;
    ex->keys[i] = key + 1;
    ex->vals[i] = val;
    ex->next[i] = next;
}

static guint64
exact_key(const Exact *ex, guint32 placed, const guint8 *deadline)
{
    guint p = __builtin_popcount(placed);
    guint64 key = placed;
    guint v;

    for (v = 0; v < ex->n; v++) {
        if (!(placed & (1u << v)) && deadline[v] != NO_DEADLINE)
            key |= (guint64)(deadline[v] - p + 1) << (ex->n + 4 * v);
    }
    return key;
}

/*
 * Earliest-deadline-first: the unplaced vertices whose deadlines fall
 * within the next t + 1 positions must number at most t + 1.
 */
static gboolean
exact_deadlines_feasible(const Exact *ex, guint32 placed,
                         const guint8 *deadline)
{
    guint count[VL_ORDER_EXACT_MAX + 1] = { 0 };
    guint p = __builtin_popcount(placed);
    guint sum = 0;
    guint v;
    guint t;

    for (v = 0; v < ex->n; v++) {
        if (placed & (1u << v) || deadline[v] == NO_DEADLINE)
            continue;
        if (deadline[v] < p)
            return FALSE;
        count[deadline[v] - p]++;
    }
    for (t = 0; t < ex->n; t++) {
        sum += count[t];
        if (sum > t + 1)
            return FALSE;
    }
    return TRUE;
}

/* Cheapest sum of the remaining cut weights; INFINITY if infeasible. */
static double
exact_solve(Exact *ex, guint32 placed, const guint8 *deadline, double cut)
{
    guint p = __builtin_popcount(placed);
    guint64 key;
    double best = INFINITY;
    guint best_v = 0;
    double memo = 0;
    guint v;

    if (p == ex->n)
        return 0;
    /* Checked before the key is built: a missed deadline has no slack. */
    if (!exact_deadlines_feasible(ex, placed, deadline))
        return INFINITY;
    key = exact_key(ex, placed, deadline);
    if (memo_get(ex, key, &memo, NULL))
        return memo;
    if (ex->budget == 0) {
        ex->exhausted = TRUE;
        return INFINITY;
    }
    ex->budget--;

    for (v = 0; v < ex->n && !ex->exhausted; v++) {
        guint8 next[VL_ORDER_EXACT_MAX];
        double to_placed = 0;
        double next_cut;
        double c;
        guint u;

        if (placed & (1u << v))
            continue;
        memcpy(next, deadline, sizeof(next));
        for (u = 0; u < ex->n; u++) {
            if (placed & (1u << u))
                to_placed += ex->w[v][u];
            else if ((ex->nbr[v] & (1u << u)) && p + ex->k < ex->n - 1)
                next[u] = MIN(next[u], p + ex->k);
        }
        next_cut = p + 1 == ex->n ? 0 : cut + ex->wdeg[v] - 2 * to_placed;
        c = exact_solve(ex, placed | (1u << v), next, next_cut);
        if (c < INFINITY)
            c += next_cut;
        if (c < best) {
            best = c;
            best_v = v;
        }
    }
    if (!ex->exhausted)
        memo_put(ex, key, best, best_v);
    return best;
}

/* Follows the memo from the empty state; only valid after a finite solve. */
static void
exact_extract(const Exact *ex, guint *ord)
{
    guint8 deadline[VL_ORDER_EXACT_MAX];
    guint32 placed = 0;
    guint p;

    memset(deadline, NO_DEADLINE, sizeof(deadline));
    for (p = 0; p < ex->n; p++) {
        double val = 0;
        guint v = 0;
        guint u;

        if (p + 1 == ex->n) {
            /* The last state is never stored: one vertex is left. */
            for (v = 0; placed & (1u << v); v++)
                ;
        } else if (!memo_get(ex, exact_key(ex, placed, deadline), &val, &v)) {
            /* Every state on the optimal path was solved and stored. */
            g_return_if_reached();
        }
        ord[p] = v;
        for (u = 0; u < ex->n; u++) {
            if (!(placed & (1u << u)) && u != v &&
                (ex->nbr[v] & (1u << u)) && p + ex->k < ex->n - 1)
                deadline[u] = MIN(deadline[u], p + ex->k);
        }
        placed |= 1u << v;
    }
}

static void
exact_setup(Exact *ex, const Part *part)
{
    guint v;

    memset(ex, 0, sizeof(*ex));
    ex->n = part->n;
    for (v = 0; v < part->n; v++) {
        guint i;

        for (i = part->start[v]; i < part->start[v + 1]; i++) {
            ex->nbr[v] |= 1u << part->nbr[i];
            ex->w[v][part->nbr[i]] = part->wt[i];
            ex->wdeg[v] += part->wt[i];
        }
    }
}

/*
 * Breadth-first search from @v on bit masks: fills ring[r] with the
 * number of vertices within distance r and returns the eccentricity;
 * *@comp receives v's component.
 */
static guint
exact_rings(const Exact *ex, guint v, guint *ring, guint32 *comp)
{
    guint32 seen = 1u << v;
    guint32 frontier = 1u << v;
    guint r = 0;

    ring[0] = 1;
    while (TRUE) {
        guint32 grow = 0;
        guint u;

        for (u = 0; u < ex->n; u++) {
            if (frontier & (1u << u))
                grow |= ex->nbr[u];
        }
        frontier = grow & ~seen;
        if (!frontier)
            break;
        seen |= frontier;
        ring[++r] = __builtin_popcount(seen);
    }
    *comp = seen;
    return r;
}

/*
 * Lower bound on the bandwidth k: a ball of radius r holds at most
 * 2 r k + 1 vertices, and a connected component of diameter D spans
 * at most D k positions.  O(n (n + m)) with n <= VL_ORDER_EXACT_MAX.
 */
static guint
exact_lower_bound(const Exact *ex)
{
    guint diameter[VL_ORDER_EXACT_MAX] = { 0 };   /* by smallest vertex */
    guint32 comp_of[VL_ORDER_EXACT_MAX] = { 0 };
    guint lb = 0;
    guint v;

    for (v = 0; v < ex->n; v++) {
        guint ring[VL_ORDER_EXACT_MAX + 1];
        guint32 comp = 0;
        guint ecc = exact_rings(ex, v, ring, &comp);
        guint first = g_bit_nth_lsf(comp, -1);
        guint r;

        for (r = 1; r <= ecc; r++)
            lb = MAX(lb, (ring[r] - 1 + 2 * r - 1) / (2 * r));
        diameter[first] = MAX(diameter[first], ecc);
        comp_of[first] = comp;
    }
    for (v = 0; v < ex->n; v++) {
        guint size = __builtin_popcount(comp_of[v]);

        if (diameter[v] > 0)
            lb = MAX(lb, (size - 1 + diameter[v] - 1) / diameter[v]);
    }
    return lb;
}

/*
 * The cheapest order of @part with bandwidth at most @k.  Returns FALSE
 * with *exhausted set when the budget ran out, FALSE alone when no
 * such order exists.
 */
static gboolean
exact_at_most(Exact *ex, guint k, guint *ord, double *cost,
              gboolean *exhausted)
{
    guint8 deadline[VL_ORDER_EXACT_MAX];
    double c;

    exact_clear(ex);
    ex->k = k;
    memset(deadline, NO_DEADLINE, sizeof(deadline));
    c = exact_solve(ex, 0, deadline, 0);
    *exhausted = ex->exhausted;
    if (ex->exhausted || c == INFINITY) {
        exact_clear(ex);
        return FALSE;
    }
    exact_extract(ex, ord);
    exact_clear(ex);
    *cost = c;
    return TRUE;
}

/*
 * Minimum bandwidth of @part, at most @upper (an achievable bandwidth),
 * and the cheapest order with it.  Returns FALSE when the budget ran
 * out.
 */
static gboolean
exact_min_bandwidth(const Part *part, guint upper, guint64 budget,
                    guint *ord, guint *bandwidth)
{
    Exact ex;
    guint k;

    exact_setup(&ex, part);
    ex.budget = budget;
    for (k = MIN(exact_lower_bound(&ex), upper); k <= upper; k++) {
        gboolean exhausted = FALSE;
        double cost = 0;

        if (exact_at_most(&ex, k, ord, &cost, &exhausted)) {
            *bandwidth = k;
            return TRUE;
        }
        if (exhausted)
            return FALSE;
    }
    /* Unreachable when @upper is achievable. */
    g_return_val_if_reached(FALSE);
}

static gboolean
exact_cheapest(const Part *part, guint k, guint64 budget, guint *ord)
{
    Exact ex;
    gboolean exhausted = FALSE;
    double cost = 0;

    exact_setup(&ex, part);
    ex.budget = budget;
    return exact_at_most(&ex, k, ord, &cost, &exhausted);
}

VlOrder *
vl_order_exact(const VlGraph *graph, guint64 budget, GError **error)
{
    g_autoptr(Part) part = NULL;
    g_autofree guint *local = NULL;
    g_autofree guint *all = NULL;
    g_autofree guint *ord = NULL;
    guint n;
    guint bw = 0;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);

    if (!check_not_empty(graph, error))
        return NULL;
    n = vl_graph_n_vertices(graph);
    if (n > VL_ORDER_EXACT_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Exact ordering handles at most '%u' domains, not '%u'",
                    VL_ORDER_EXACT_MAX, n);
        return NULL;
    }
    if (budget == 0)
        budget = VL_ORDER_DEFAULT_EXACT_BUDGET;

    local = g_new(guint, n);
    all = g_new(guint, n);
    for (i = 0; i < n; i++) {
        local[i] = G_MAXUINT;
        all[i] = i;
    }
    part = part_new(graph, all, n, local);
    ord = g_new(guint, n);
    if (!exact_min_bandwidth(part, n - 1, budget, ord, &bw)) {
        g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                    "Exact ordering gave up after '%" G_GUINT64_FORMAT "' states",
                    budget);
        return NULL;
    }
    return order_new(graph, g_steal_pointer(&ord), n, VL_ORDER_METHOD_EXACT,
                     TRUE);
}

/* ------------------------------------------------------------------ */
/* Connected components                                                */

/*
 * Splits the vertices of @graph by connected component.  Returns the
 * members grouped by component, each group in increasing index; the
 * groups are sorted largest first, ties by smallest vertex index.
 * *@offset receives n_comp + 1 group boundaries.  O(n + m + c log c).
 */
typedef struct {
    guint size;
    guint id;
} CompKey;

static int
comp_key_compare(const void *pa, const void *pb)
{
    const CompKey *a = pa;
    const CompKey *b = pb;

    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    return a->id < b->id ? -1 : (a->id > b->id);
}

static guint *
split_components(const VlGraph *graph, guint *n_comp, guint **offset)
{
    guint n = vl_graph_n_vertices(graph);
    g_autofree guint *label = g_new(guint, MAX(n, 1));
    g_autofree CompKey *keys = NULL;
    g_autofree guint *rank = NULL;
    guint *members = g_new(guint, MAX(n, 1));
    guint *off = NULL;
    guint c;
    guint i;

    c = vl_graph_components(graph, label);
    keys = g_new0(CompKey, MAX(c, 1));
    rank = g_new(guint, MAX(c, 1));
    for (i = 0; i < c; i++)
        keys[i].id = i;
    for (i = 0; i < n; i++)
        keys[label[i]].size++;
    qsort(keys, c, sizeof(CompKey), comp_key_compare);

    off = g_new0(guint, c + 1);
    for (i = 0; i < c; i++) {
        rank[keys[i].id] = i;
        off[i + 1] = off[i] + keys[i].size;
    }
    {
        g_autofree guint *fill = g_memdup2(off, sizeof(guint) * (c + 1));

        for (i = 0; i < n; i++)
            members[fill[rank[label[i]]]++] = i;
    }
    *n_comp = c;
    *offset = off;
    return members;
}

/* ------------------------------------------------------------------ */
/* Reverse Cuthill-McKee                                               */

typedef struct {
    guint degree;
    double weight;
    guint vertex;
} CmKey;

static int
cm_key_compare(const void *pa, const void *pb)
{
    const CmKey *a = pa;
    const CmKey *b = pb;

    if (a->degree != b->degree)
        return a->degree < b->degree ? -1 : 1;
    /* Heavier talkers first: they end up closer to each other. */
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return a->vertex < b->vertex ? -1 : (a->vertex > b->vertex);
}

/* Scratch for the algorithms on one Part. */
typedef struct {
    guint8 *seen;       /* all zero between calls */
    guint *level;       /* all G_MAXUINT between calls */
    guint *queue;
    guint *pos;
    CmKey *keys;
} Scratch;

static void
scratch_free(Scratch *sc)
{
    if (!sc)
        return;
    g_free(sc->seen);
    g_free(sc->level);
    g_free(sc->queue);
    g_free(sc->pos);
    g_free(sc->keys);
    g_free(sc);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Scratch, scratch_free)

static Scratch *
scratch_new(const Part *part)
{
    Scratch *sc = g_new0(Scratch, 1);
    guint n = MAX(part->n, 1);
    guint i;

    sc->seen = g_new0(guint8, n);
    sc->level = g_new(guint, n);
    sc->queue = g_new(guint, n);
    sc->pos = g_new(guint, n);
    sc->keys = g_new(CmKey, n);
    for (i = 0; i < n; i++)
        sc->level[i] = G_MAXUINT;
    return sc;
}

/*
 * Cuthill-McKee from @root: breadth-first, each vertex's unvisited
 * neighbours by increasing degree, written reversed into @ord.  Covers
 * @root's component; returns its size.  O(m log max-degree).
 */
static guint
part_rcm_from(const Part *part, guint root, Scratch *sc, guint *ord)
{
    guint head = 0;
    guint tail = 0;
    guint i;

    ord[tail++] = root;
    sc->seen[root] = 1;
    while (head < tail) {
        guint x = ord[head++];
        guint nk = 0;

        for (i = part->start[x]; i < part->start[x + 1]; i++) {
            guint y = part->nbr[i];

            if (sc->seen[y])
                continue;
            sc->seen[y] = 1;
            sc->keys[nk].degree = part_degree(part, y);
            sc->keys[nk].weight = part->wt[i];
            sc->keys[nk++].vertex = y;
        }
        qsort(sc->keys, nk, sizeof(CmKey), cm_key_compare);
        for (i = 0; i < nk; i++)
            ord[tail++] = sc->keys[i].vertex;
    }
    for (i = 0; i < tail / 2; i++) {
        guint t = ord[i];

        ord[i] = ord[tail - 1 - i];
        ord[tail - 1 - i] = t;
    }
    for (i = 0; i < tail; i++)
        sc->seen[ord[i]] = 0;
    return tail;
}

/* Breadth-first levels from @root into sc->level; returns the eccentricity. */
static guint
part_bfs(const Part *part, guint root, Scratch *sc, guint *n_reached)
{
    guint head = 0;
    guint tail = 0;
    guint ecc = 0;

    sc->level[root] = 0;
    sc->queue[tail++] = root;
    while (head < tail) {
        guint x = sc->queue[head++];
        guint i;

        ecc = sc->level[x];
        for (i = part->start[x]; i < part->start[x + 1]; i++) {
            guint y = part->nbr[i];

            if (sc->level[y] == G_MAXUINT) {
                sc->level[y] = sc->level[x] + 1;
                sc->queue[tail++] = y;
            }
        }
    }
    *n_reached = tail;
    return ecc;
}

static void
part_bfs_reset(Scratch *sc, guint n_reached)
{
    guint i;

    for (i = 0; i < n_reached; i++)
        sc->level[sc->queue[i]] = G_MAXUINT;
}

/*
 * George and Liu's pseudo-peripheral vertex of @root's component: from
 * a vertex of least degree, jump to a least-degree vertex of the last
 * BFS level while that raises the eccentricity.  Each jump raises it,
 * so at most n BFS runs: O(n m) worst case, a few runs in practice.
 */
static guint
part_pseudo_peripheral(const Part *part, guint root, Scratch *sc)
{
    guint n_reached = 0;
    guint r = root;
    guint ecc;
    guint i;

    /* Least degree in the component, ties to the smallest index. */
    part_bfs(part, root, sc, &n_reached);
    for (i = 0; i < n_reached; i++) {
        guint x = sc->queue[i];

        if (part_degree(part, x) < part_degree(part, r) ||
            (part_degree(part, x) == part_degree(part, r) && x < r))
            r = x;
    }
    part_bfs_reset(sc, n_reached);

    ecc = part_bfs(part, r, sc, &n_reached);
    while (TRUE) {
        guint x = G_MAXUINT;
        guint ecc_x;

        for (i = 0; i < n_reached; i++) {
            guint y = sc->queue[i];

            if (sc->level[y] != ecc)
                continue;
            if (x == G_MAXUINT || part_degree(part, y) < part_degree(part, x) ||
                (part_degree(part, y) == part_degree(part, x) && y < x))
                x = y;
        }
        part_bfs_reset(sc, n_reached);
        if (x == r)
            return r;
        ecc_x = part_bfs(part, x, sc, &n_reached);
        if (ecc_x <= ecc) {
            part_bfs_reset(sc, n_reached);
            return r;
        }
        r = x;
        ecc = ecc_x;
    }
}

#define RCM_MAX_STARTS 1000

/*
 * RCM of a connected @part into @ord (local indices).  The best start
 * costs O(min(n, RCM_MAX_STARTS) m log max-degree).
 */
static void
part_rcm(const Part *part, VlOrderStart start, Scratch *sc, guint *ord)
{
    g_autofree guint *tmp = NULL;
    guint best_bw = G_MAXUINT;
    double best_cost = INFINITY;
    guint step;
    guint pp;
    guint s;

    if (part->n == 0)
        return;
    if (start == VL_ORDER_START_PSEUDO_PERIPHERAL) {
        part_rcm_from(part, part_pseudo_peripheral(part, 0, sc), sc, ord);
        return;
    }

    /* Beyond RCM_MAX_STARTS vertices, try that many starts spread
     * evenly over the component, and the pseudo-peripheral vertex. */
    tmp = g_new(guint, part->n);
    step = (part->n + RCM_MAX_STARTS - 1) / RCM_MAX_STARTS;
    pp = step > 1 ? part_pseudo_peripheral(part, 0, sc) : G_MAXUINT;
    for (s = 0; s < part->n; s++) {
        guint bw = 0;
        double cost = 0;

        if (s % step != 0 && s != pp)
            continue;
        part_rcm_from(part, s, sc, tmp);
        part_score(part, tmp, sc->pos, &bw, &cost);
        if (score_less(bw, cost, best_bw, best_cost)) {
            best_bw = bw;
            best_cost = cost;
            memcpy(ord, tmp, sizeof(guint) * part->n);
        }
    }
}

/* Global vertex order of one part from a local order. */
static void
part_to_global(const Part *part, const guint *ord, guint *out)
{
    guint i;

    for (i = 0; i < part->n; i++)
        out[i] = part->global[ord[i]];
}

VlOrder *
vl_order_rcm(const VlGraph *graph, VlOrderStart start, GError **error)
{
    g_autofree guint *members = NULL;
    g_autofree guint *offset = NULL;
    g_autofree guint *local = NULL;
    g_autofree guint *result = NULL;
    g_autofree guint *ord = NULL;
    guint n;
    guint n_comp = 0;
    guint c;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);

    if (!check_not_empty(graph, error))
        return NULL;
    n = vl_graph_n_vertices(graph);
    members = split_components(graph, &n_comp, &offset);
    local = g_new(guint, n);
    for (i = 0; i < n; i++)
        local[i] = G_MAXUINT;
    result = g_new(guint, n);
    ord = g_new(guint, n);
    for (c = 0; c < n_comp; c++) {
        g_autoptr(Part) part = part_new(graph, members + offset[c],
                                        offset[c + 1] - offset[c], local);
        g_autoptr(Scratch) sc = scratch_new(part);

        part_rcm(part, start, sc, ord);
        part_to_global(part, ord, result + offset[c]);
    }
    return order_new(graph, g_steal_pointer(&result), n, VL_ORDER_METHOD_RCM,
                     FALSE);
}

/* ------------------------------------------------------------------ */
/* Local search                                                        */

/*
 * Moves are swaps of two positions and shifts (take the vertex at i
 * out, insert it at j).  A move is scored incrementally: only edges at
 * vertices whose position changed are rescored, and a histogram of
 * stretches gives the new bandwidth, so a move costs O(sum of the
 * degrees of the vertices it displaces).
 *
 * Two acceptance rules alternate:
 *  - bandwidth phase: lower (bandwidth, pairs at the bandwidth, cost);
 *    candidate moves put an endpoint of a longest edge where all its
 *    edges would be shorter, nearest the middle of its neighbours;
 *  - cost phase: lower (bandwidth, cost); candidates put a vertex at
 *    the weighted median of its neighbours' positions, or swap it with
 *    its successor.
 * When neither finds anything, a seeded kick (a few random short
 * shifts) restarts the descent from the best order so far.  The best
 * order in (bandwidth, cost) is kept apart and only replaced by a
 * strictly better one, rescored from scratch, so the result is never
 * worse than the start.
 */

#define SEARCH_KICKS_WITHOUT_GAIN 40

typedef struct {
    const Part *part;
    guint n;
    guint *ord;         /* position -> vertex */
    guint *pos;         /* vertex -> position */
    guint *pos_old;     /* positions before the move being scored */
    guint *hist;        /* number of edges per stretch */
    guint bw;
    double cost;

    guint *aff;         /* vertices moved by the current move */
    guint naff;
    guint *log_old;     /* stretch changes of the current move */
    guint *log_new;
    guint nlog;

    guint64 budget;     /* work units left */
    guint64 work;       /* units spent by the current move */
    GRand *rand;

    guint *best;
    guint best_bw;
    double best_cost;
    guint *scratch_pos;
    struct _PosWeight *nbr;     /* for weighted medians */
} Search;

static void
search_reset(Search *s, const guint *ord)
{
    const Part *part = s->part;
    guint i;

    if (ord != s->ord)
        memcpy(s->ord, ord, sizeof(guint) * s->n);
    for (i = 0; i < s->n; i++) {
        s->pos[ord[i]] = i;
        s->pos_old[ord[i]] = i;
        s->hist[i] = 0;
    }
    s->bw = 0;
    s->cost = 0;
    for (i = 0; i < part->m; i++) {
        guint a = s->pos[part->eu[i]];
        guint b = s->pos[part->ev[i]];
        guint st = a > b ? a - b : b - a;

        s->hist[st]++;
        s->bw = MAX(s->bw, st);
        s->cost += part->ew[i] * st;
    }
}

static void
search_apply(Search *s, guint i, guint j, gboolean swap)
{
    guint t;

    s->naff = 0;
    if (swap) {
        guint x = s->ord[i];

        s->ord[i] = s->ord[j];
        s->ord[j] = x;
        s->pos[s->ord[i]] = i;
        s->pos[s->ord[j]] = j;
        s->aff[s->naff++] = s->ord[i];
        s->aff[s->naff++] = s->ord[j];
        return;
    }
    if (i < j) {
        guint x = s->ord[i];

        for (t = i; t < j; t++)
            s->ord[t] = s->ord[t + 1];
        s->ord[j] = x;
    } else {
        guint x = s->ord[i];

        for (t = i; t > j; t--)
            s->ord[t] = s->ord[t - 1];
        s->ord[j] = x;
    }
    for (t = MIN(i, j); t <= MAX(i, j); t++) {
        s->pos[s->ord[t]] = t;
        s->aff[s->naff++] = s->ord[t];
    }
}

/* Rescores the edges at the moved vertices; returns the new bandwidth. */
static guint
search_delta(Search *s, double *dcost)
{
    const Part *part = s->part;
    guint maxnew = 0;
    double dc = 0;
    guint nb;
    guint a;

    s->nlog = 0;
    s->work = s->naff;
    for (a = 0; a < s->naff; a++) {
        guint x = s->aff[a];
        guint i;

        s->work += part_degree(part, x);
        for (i = part->start[x]; i < part->start[x + 1]; i++) {
            guint y = part->nbr[i];
            guint o;
            guint nw;

            /* An edge between two moved vertices is seen twice. */
            if (s->pos[y] != s->pos_old[y] && y < x)
                continue;
            o = s->pos_old[x] > s->pos_old[y] ? s->pos_old[x] - s->pos_old[y]
                                              : s->pos_old[y] - s->pos_old[x];
            nw = s->pos[x] > s->pos[y] ? s->pos[x] - s->pos[y]
                                       : s->pos[y] - s->pos[x];
            if (o == nw)
                continue;
            s->hist[o]--;
            s->hist[nw]++;
            s->log_old[s->nlog] = o;
            s->log_new[s->nlog++] = nw;
            dc += part->wt[i] * ((double)nw - (double)o);
            maxnew = MAX(maxnew, nw);
        }
    }
    nb = s->bw;
    if (maxnew > nb)
        nb = maxnew;
    while (nb > 0 && s->hist[nb] == 0)
        nb--;
    *dcost = dc;
    return nb;
}

static void
search_undo(Search *s, guint i, guint j, gboolean swap)
{
    guint a;

    for (a = 0; a < s->nlog; a++) {
        s->hist[s->log_new[a]]--;
        s->hist[s->log_old[a]]++;
    }
    search_apply(s, swap ? i : j, swap ? j : i, swap);
}

/* Keeps the order if it beats the best one, rescored from scratch. */
static void
search_note_best(Search *s)
{
    guint bw = 0;
    double cost = 0;

    if (!score_less(s->bw, s->cost, s->best_bw, s->best_cost))
        return;
    part_score(s->part, s->ord, s->scratch_pos, &bw, &cost);
    s->cost = cost;     /* drop the rounding the deltas accumulated */
    if (!score_less(bw, cost, s->best_bw, s->best_cost))
        return;
    s->best_bw = bw;
    s->best_cost = cost;
    memcpy(s->best, s->ord, sizeof(guint) * s->n);
}

typedef enum {
    SEARCH_BANDWIDTH,
    SEARCH_COST,
} SearchMode;

static gboolean
search_try(Search *s, guint i, guint j, gboolean swap, SearchMode mode)
{
    guint ncrit = s->hist[s->bw];
    double dc = 0;
    guint nb;
    gboolean accept;
    guint a;

    if (i == j || s->budget == 0)
        return FALSE;

    search_apply(s, i, j, swap);
    nb = search_delta(s, &dc);
    /* A move costs the vertices it displaces plus the edges it rescores. */
    s->budget -= MIN(s->budget, s->work);
    if (nb != s->bw)
        accept = nb < s->bw;
    else if (mode == SEARCH_BANDWIDTH && s->hist[nb] != ncrit)
        accept = s->hist[nb] < ncrit;
    else
        accept = cost_less(s->cost + dc, s->cost);

    if (!accept) {
        search_undo(s, i, j, swap);
        return FALSE;
    }
    s->bw = nb;
    s->cost += dc;
    for (a = 0; a < s->naff; a++)
        s->pos_old[s->aff[a]] = s->pos[s->aff[a]];
    search_note_best(s);
    return TRUE;
}

/* One sweep of the bandwidth phase; TRUE if anything was accepted. */
static gboolean
search_sweep_bandwidth(Search *s)
{
    const Part *part = s->part;
    gboolean improved = FALSE;
    guint i;

    for (i = 0; i < s->n && s->budget > 0 && s->bw > 0; i++) {
        guint x = s->ord[i];
        guint lo = i;
        guint hi = i;
        gint64 left;
        gint64 right;
        gint64 mid;
        gint64 off;
        guint e;

        for (e = part->start[x]; e < part->start[x + 1]; e++) {
            lo = MIN(lo, s->pos[part->nbr[e]]);
            hi = MAX(hi, s->pos[part->nbr[e]]);
        }
        if (i - lo < s->bw && hi - i < s->bw)
            continue;   /* not on a longest edge */

        /* Where every edge of x would be shorter than the bandwidth. */
        mid = ((gint64)lo + hi) / 2;
        left = MAX((gint64)hi - (s->bw - 1), 0);
        right = MIN((gint64)lo + (s->bw - 1), (gint64)s->n - 1);
        if (left > right) {
            left = MAX(mid - 1, 0);
            right = MIN(mid + 1, (gint64)s->n - 1);
        }
        mid = CLAMP(mid, left, right);
        for (off = 0; mid - off >= left || mid + off <= right; off++) {
            gint64 cand[2] = { mid + off, mid - off };
            guint c;

            for (c = 0; c < (off ? 2u : 1u); c++) {
                guint t;

                if (cand[c] < left || cand[c] > right)
                    continue;
                t = (guint)cand[c];
                if (search_try(s, i, t, TRUE, SEARCH_BANDWIDTH) ||
                    search_try(s, i, t, FALSE, SEARCH_BANDWIDTH)) {
                    improved = TRUE;
                    goto next_vertex;
                }
            }
        }
    next_vertex:
        ;
    }
    return improved;
}

typedef struct _PosWeight {
    guint pos;
    double weight;
} PosWeight;

static int
pos_weight_compare(const void *pa, const void *pb)
{
    const PosWeight *a = pa;
    const PosWeight *b = pb;

    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

/* Position minimising sum w * |t - pos| over x's neighbours. */
static guint
search_weighted_median(Search *s, guint x)
{
    const Part *part = s->part;
    guint deg = part_degree(part, x);
    double total = 0;
    double acc = 0;
    guint i;

    for (i = 0; i < deg; i++) {
        guint e = part->start[x] + i;

        s->nbr[i].pos = s->pos[part->nbr[e]];
        s->nbr[i].weight = part->wt[e];
        total += part->wt[e];
    }
    qsort(s->nbr, deg, sizeof(PosWeight), pos_weight_compare);
    for (i = 0; i < deg; i++) {
        acc += s->nbr[i].weight;
        if (2 * acc >= total)
            return s->nbr[i].pos;
    }
    return s->pos[x];
}

static gboolean
search_sweep_cost(Search *s)
{
    const Part *part = s->part;
    gboolean improved = FALSE;
    guint i;

    for (i = 0; i < s->n && s->budget > 0; i++) {
        guint x = s->ord[i];
        guint med;
        guint t;

        if (part_degree(part, x) == 0)
            continue;
        med = search_weighted_median(s, x);
        for (t = med > 0 ? med - 1 : 0; t <= MIN(med + 1, s->n - 1); t++) {
            if (search_try(s, i, t, FALSE, SEARCH_COST)) {
                improved = TRUE;
                break;
            }
        }
        if (s->ord[i] != x)
            continue;
        if ((i + 1 < s->n && search_try(s, i, i + 1, TRUE, SEARCH_COST)) ||
            search_try(s, i, med, TRUE, SEARCH_COST))
            improved = TRUE;
    }
    return improved;
}

/* Descends until a round improves nothing on the best order. */
static void
search_descend(Search *s)
{
    while (s->budget > 0) {
        guint bw = s->best_bw;
        double cost = s->best_cost;
        gboolean moved = FALSE;

        while (s->budget > 0 && search_sweep_bandwidth(s))
            moved = TRUE;
        if (search_sweep_cost(s))
            moved = TRUE;
        if (!moved || !score_less(s->best_bw, s->best_cost, bw, cost))
            break;
    }
}

static void
search_kick(Search *s)
{
    guint reach = MAX(s->best_bw / 2, 1);
    guint kicks = 2 + g_rand_int_range(s->rand, 0, 4);
    guint k;

    /* Two resets of O(n + m) each. */
    s->budget -= MIN(s->budget, 2 * ((guint64)s->n + s->part->m));
    search_reset(s, s->best);
    for (k = 0; k < kicks; k++) {
        guint i = g_rand_int_range(s->rand, 0, s->n);
        gint64 t = (gint64)i + g_rand_int_range(s->rand, -(gint32)reach,
                                                (gint32)reach + 1);

        t = CLAMP(t, 0, (gint64)s->n - 1);
        if ((guint)t != i)
            search_apply(s, i, (guint)t, FALSE);
    }
    search_reset(s, s->ord);
}

/* Improves the order @ord of @part in place. */
static void
part_improve(const Part *part, guint *ord, guint64 budget, guint32 seed)
{
    Search s = { 0 };
    guint max_deg = 1;
    guint without_gain = 0;
    guint i;

    if (part->n < 2 || part->m == 0 || budget == 0)
        return;
    for (i = 0; i < part->n; i++)
        max_deg = MAX(max_deg, part_degree(part, i));

    s.part = part;
    s.n = part->n;
    s.ord = g_new(guint, s.n);
    s.pos = g_new(guint, s.n);
    s.pos_old = g_new(guint, s.n);
    s.hist = g_new0(guint, s.n);
    s.aff = g_new(guint, s.n);
    s.log_old = g_new(guint, part->m);
    s.log_new = g_new(guint, part->m);
    s.best = g_memdup2(ord, sizeof(guint) * s.n);
    s.scratch_pos = g_new(guint, s.n);
    s.nbr = g_new(PosWeight, max_deg);
    s.budget = budget;
    s.rand = g_rand_new_with_seed(seed);

    search_reset(&s, ord);
    part_score(part, ord, s.scratch_pos, &s.best_bw, &s.best_cost);
    search_descend(&s);
    while (s.budget > 0 && without_gain < SEARCH_KICKS_WITHOUT_GAIN &&
           s.best_bw > 0) {
        guint bw = s.best_bw;
        double cost = s.best_cost;

        search_kick(&s);
        search_descend(&s);
        if (score_less(s.best_bw, s.best_cost, bw, cost))
            without_gain = 0;
        else
            without_gain++;
    }
    memcpy(ord, s.best, sizeof(guint) * s.n);

    g_free(s.ord);
    g_free(s.pos);
    g_free(s.pos_old);
    g_free(s.hist);
    g_free(s.aff);
    g_free(s.log_old);
    g_free(s.log_new);
    g_free(s.best);
    g_free(s.scratch_pos);
    g_free(s.nbr);
    g_rand_free(s.rand);
}

VlOrder *
vl_order_improve(const VlGraph *graph, const guint *start, guint n,
                 const VlOrderOptions *options, GError **error)
{
    VlOrderOptions opts;
    g_autoptr(Part) part = NULL;
    g_autofree guint *local = NULL;
    g_autofree guint *ord = NULL;
    g_autofree guint *result = NULL;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);
    g_return_val_if_fail(start != NULL || n == 0, NULL);

    if (options)
        opts = *options;
    else
        vl_order_options_init(&opts);
    if (!check_options(&opts, error) || !check_not_empty(graph, error))
        return NULL;
    if (n != vl_graph_n_vertices(graph)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Order has '%u' domains but the graph has '%u'",
                    n, vl_graph_n_vertices(graph));
        return NULL;
    }
    if (!vl_order_evaluate(graph, start, n, NULL, NULL, error))
        return NULL;

    local = g_new(guint, n);
    ord = g_new(guint, n);
    for (i = 0; i < n; i++) {
        local[i] = G_MAXUINT;
        ord[i] = i;
    }
    /* Part over the graph's own numbering: local index == vertex. */
    part = part_new(graph, ord, n, local);
    memcpy(ord, start, sizeof(guint) * n);
    part_improve(part, ord, opts.search_budget, opts.seed);
    result = g_new(guint, n);
    part_to_global(part, ord, result);
    return order_new(graph, g_steal_pointer(&result), n,
                     VL_ORDER_METHOD_SEARCH, FALSE);
}

/* ------------------------------------------------------------------ */
/* The plan                                                            */

typedef struct {
    Part *part;
    guint *ord;         /* chosen local order */
    guint bw;
    double cost;
    gboolean exact;     /* ord is optimal for bandwidth <= bw */
    guint *alt[2];      /* the two RCM orders, for the final choice */
    guint alt_bw[2];
    double alt_cost[2];
} PlanComp;

static void
plan_comp_clear(PlanComp *pc)
{
    g_clear_pointer(&pc->part, part_free);
    g_clear_pointer(&pc->ord, g_free);
    g_clear_pointer(&pc->alt[0], g_free);
    g_clear_pointer(&pc->alt[1], g_free);
}

/* The first pass on one component: exact if small enough, else heuristic. */
static void
plan_comp_solve(PlanComp *pc, const VlOrderOptions *opts)
{
    const Part *part = pc->part;
    g_autoptr(Scratch) sc = scratch_new(part);
    guint n = part->n;
    guint k;

    for (k = 0; k < 2; k++) {
        pc->alt[k] = g_new(guint, n);
        part_rcm(part, k ? VL_ORDER_START_BEST : VL_ORDER_START_PSEUDO_PERIPHERAL,
                 sc, pc->alt[k]);
        part_score(part, pc->alt[k], sc->pos, &pc->alt_bw[k], &pc->alt_cost[k]);
    }
    pc->ord = g_memdup2(pc->alt[1], sizeof(guint) * n);

    if (n == 1) {
        pc->exact = TRUE;
    } else if (n <= opts->exact_limit &&
               exact_min_bandwidth(part, pc->alt_bw[1], opts->exact_budget,
                                   pc->ord, &k)) {
        pc->exact = TRUE;
    } else {
        memcpy(pc->ord, pc->alt[1], sizeof(guint) * n);
        part_improve(part, pc->ord, opts->search_budget, opts->seed);
    }
    part_score(part, pc->ord, sc->pos, &pc->bw, &pc->cost);
}

/*
 * The second pass, once the overall bandwidth @bw is known: a component
 * whose own bandwidth is lower may stretch up to @bw if that lowers the
 * cost.  Returns FALSE if an exact component ran out of budget (its
 * order stays optimal for its own bandwidth, not necessarily for @bw).
 */
static gboolean
plan_comp_relax(PlanComp *pc, guint bw, const VlOrderOptions *opts)
{
    const Part *part = pc->part;
    g_autoptr(Scratch) sc = scratch_new(part);
    guint k;

    if (pc->bw == bw)
        return TRUE;
    if (pc->exact) {
        g_autofree guint *ord = g_new(guint, part->n);

        if (!exact_cheapest(part, bw, opts->exact_budget, ord))
            return FALSE;
        memcpy(pc->ord, ord, sizeof(guint) * part->n);
        part_score(part, pc->ord, sc->pos, &pc->bw, &pc->cost);
        return TRUE;
    }
    /* Never let an RCM order be cheaper within the same bandwidth. */
    for (k = 0; k < 2; k++) {
        if (pc->alt_bw[k] <= bw && cost_less(pc->alt_cost[k], pc->cost)) {
            memcpy(pc->ord, pc->alt[k], sizeof(guint) * part->n);
            pc->bw = pc->alt_bw[k];
            pc->cost = pc->alt_cost[k];
        }
    }
    return TRUE;
}

VlOrder *
vl_order_plan(const VlGraph *graph, const char *const *vertices,
              const VlOrderOptions *options, GError **error)
{
    VlOrderOptions opts;
    g_autoptr(VlGraph) sub = NULL;
    const VlGraph *g = graph;
    g_autofree guint *members = NULL;
    g_autofree guint *offset = NULL;
    g_autofree guint *local = NULL;
    g_autofree guint *result = NULL;
    g_autofree PlanComp *comps = NULL;
    gboolean all_exact = TRUE;
    gboolean optimal = TRUE;
    guint n_comp = 0;
    guint bw = 0;
    guint n;
    guint c;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);

    if (options)
        opts = *options;
    else
        vl_order_options_init(&opts);
    if (!check_options(&opts, error))
        return NULL;
    if (vertices) {
        if (!vertices[0]) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Nothing to order: the list of domains is empty");
            return NULL;
        }
        if (!(sub = vl_graph_new_induced(graph, vertices, error)))
            return NULL;
        g = sub;
    }
    if (!check_not_empty(g, error))
        return NULL;

    n = vl_graph_n_vertices(g);
    members = split_components(g, &n_comp, &offset);
    local = g_new(guint, n);
    for (i = 0; i < n; i++)
        local[i] = G_MAXUINT;
    comps = g_new0(PlanComp, n_comp);
    for (c = 0; c < n_comp; c++) {
        comps[c].part = part_new(g, members + offset[c],
                                 offset[c + 1] - offset[c], local);
        plan_comp_solve(&comps[c], &opts);
        bw = MAX(bw, comps[c].bw);
        all_exact = all_exact && comps[c].exact;
    }

    result = g_new(guint, n);
    for (c = 0; c < n_comp; c++) {
        if (!plan_comp_relax(&comps[c], bw, &opts))
            optimal = FALSE;
        part_to_global(comps[c].part, comps[c].ord, result + offset[c]);
        plan_comp_clear(&comps[c]);
    }

    if (sub) {
        /* Vertex i of the induced graph is vertices[i]. */
        for (i = 0; i < n; i++) {
            guint v = 0;

            vl_graph_lookup(graph, vertices[result[i]], &v);
            result[i] = v;
        }
    }
    return order_new(graph, g_steal_pointer(&result), n,
                     all_exact ? VL_ORDER_METHOD_EXACT
                     : opts.search_budget > 0 ? VL_ORDER_METHOD_SEARCH
                     : VL_ORDER_METHOD_RCM,
                     all_exact && optimal);
}

/* ------------------------------------------------------------------ */
/* The dynamic order                                                   */

static gboolean
check_list_name(GHashTable *seen, const char *name, GError **error)
{
    if (!name || !*name) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain name must not be empty");
        return FALSE;
    }
    if (!g_utf8_validate(name, -1, NULL)) {
        g_autofree char *shown = g_utf8_make_valid(name, -1);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain name '%s' is not valid UTF-8", shown);
        return FALSE;
    }
    if (!g_hash_table_add(seen, (gpointer)name)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain '%s' is listed twice", name);
        return FALSE;
    }
    return TRUE;
}

const char *
vl_order_next(const VlGraph *graph, const char *const *moved,
              const char *const *pending, GError **error)
{
    g_autoptr(GHashTable) seen = NULL;
    g_autofree guint8 *is_moved = NULL;
    const char *best = NULL;
    double best_to_moved = 0;
    double best_total = 0;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);
    g_return_val_if_fail(pending != NULL, NULL);

    if (!pending[0]) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Nothing left to move: the list of pending domains is empty");
        return NULL;
    }

    seen = g_hash_table_new(g_str_hash, g_str_equal);
    is_moved = g_new0(guint8, MAX(vl_graph_n_vertices(graph), 1));
    for (i = 0; moved && moved[i]; i++) {
        guint v = 0;

        if (!check_list_name(seen, moved[i], error))
            return NULL;
        if (vl_graph_lookup(graph, moved[i], &v))
            is_moved[v] = 1;
    }
    for (i = 0; pending[i]; i++) {
        if (!check_list_name(seen, pending[i], error))
            return NULL;
    }

    for (i = 0; pending[i]; i++) {
        double to_moved = 0;
        double total = 0;
        guint v = 0;

        if (vl_graph_lookup(graph, pending[i], &v)) {
            const VlGraphNeighbor *nb = NULL;
            guint deg = 0;
            guint j;

            nb = vl_graph_neighbors(graph, v, &deg);
            for (j = 0; j < deg; j++) {
                if (is_moved[nb[j].vertex])
                    to_moved += nb[j].weight;
            }
            total = vl_graph_weighted_degree(graph, v);
        }
        if (!best || to_moved > best_to_moved ||
            (to_moved == best_to_moved &&
             (total > best_total ||
              (total == best_total && strcmp(pending[i], best) < 0)))) {
            best = pending[i];
            best_to_moved = to_moved;
            best_total = total;
        }
    }
    return best;
}
