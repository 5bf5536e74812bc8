/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-order: how much shorter our group-migration orders keep talking
 * pairs split than a random order and plain reverse Cuthill-McKee.
 *
 * For each size and graph family, several seeded graphs; for each, the
 * max stretch (bandwidth) of a random order (mean over --random
 * orders), RCM from a pseudo-peripheral vertex, RCM from the best
 * start, and vl_order_plan(), a lower bound on the optimum, ratios and
 * the wall time of the plan.  Prints one row per graph, one summary
 * row per size and family, then a table of 10-VM graphs where the
 * exact optimum is known.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "order.h"

typedef enum {
    FAMILY_SPARSE,
    FAMILY_GEOMETRIC,
    FAMILY_SERVICE,
    FAMILY_LAST,
} Family;

static const char *family_names[] = { "sparse", "geometric", "service" };

static char *
vm_name(guint i)
{
    return g_strdup_printf("vm-%03u", i);
}

static void
add_edge(VlGraph *g, guint a, guint b, double w)
{
    g_autofree char *na = vm_name(a);
    g_autofree char *nb = vm_name(b);
    g_autoptr(GError) error = NULL;

    if (!vl_graph_add_edge(g, na, nb, w, &error))
        g_error("%s", error->message);
}

/* Traffic weights spread over two orders of magnitude. */
static double
random_weight(GRand *rand)
{
    return floor(pow(10, g_rand_double_range(rand, 0, 2)));
}

/* Erdos-Renyi with mean degree 3: a sparse, expander-like worst case. */
static void
gen_sparse(VlGraph *g, guint n, GRand *rand)
{
    double p = 3.0 / (n - 1);
    guint a;
    guint b;

    for (a = 0; a < n; a++)
        for (b = a + 1; b < n; b++)
            if (g_rand_double(rand) < p)
                add_edge(g, a, b, random_weight(rand));
}

/* Random points in the unit square, linked within a radius giving mean
 * degree 6: racks and rows that talk locally. */
static void
gen_geometric(VlGraph *g, guint n, GRand *rand)
{
    g_autofree double *x = g_new(double, n);
    g_autofree double *y = g_new(double, n);
    double r = sqrt(6.0 / (G_PI * n));
    guint a;
    guint b;

    for (a = 0; a < n; a++) {
        x[a] = g_rand_double(rand);
        y[a] = g_rand_double(rand);
    }
    for (a = 0; a < n; a++)
        for (b = a + 1; b < n; b++)
            if (hypot(x[a] - x[b], y[a] - y[b]) < r)
                add_edge(g, a, b, random_weight(rand));
}

/* Services: cliques of 3-8 replicas talking heavily, each service
 * linked to one or two others by a lighter flow. */
static void
gen_service(VlGraph *g, guint n, GRand *rand)
{
    g_autoptr(GArray) first = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) size = g_array_new(FALSE, FALSE, sizeof(guint));
    guint v = 0;
    guint s;

    while (v < n) {
        guint k = MIN((guint)g_rand_int_range(rand, 3, 9), n - v);
        guint a;
        guint b;

        g_array_append_val(first, v);
        g_array_append_val(size, k);
        for (a = 0; a < k; a++)
            for (b = a + 1; b < k; b++)
                add_edge(g, v + a, v + b, 10 * random_weight(rand));
        v += k;
    }
    for (s = 0; s < first->len && first->len > 1; s++) {
        guint links = g_rand_int_range(rand, 1, 3);
        guint l;

        for (l = 0; l < links; l++) {
            guint t = g_rand_int_range(rand, 0, first->len - 1);
            guint a;
            guint b;

            if (t >= s)
                t++;
            a = g_array_index(first, guint, s) +
                g_rand_int_range(rand, 0, g_array_index(size, guint, s));
            b = g_array_index(first, guint, t) +
                g_rand_int_range(rand, 0, g_array_index(size, guint, t));
            add_edge(g, a, b, random_weight(rand));
        }
    }
}

static VlGraph *
generate(Family family, guint n, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed * 7919 + family);
    VlGraph *g = vl_graph_new();
    guint i;

    /* Every VM exists even if it talks to nobody. */
    for (i = 0; i < n; i++) {
        g_autofree char *name = vm_name(i);

        vl_graph_add_vertex(g, name, NULL, NULL);
    }
    switch (family) {
    case FAMILY_SPARSE:
        gen_sparse(g, n, rand);
        break;
    case FAMILY_GEOMETRIC:
        gen_geometric(g, n, rand);
        break;
    case FAMILY_SERVICE:
    case FAMILY_LAST:
        gen_service(g, n, rand);
        break;
    }
    return g;
}

static double
random_order_bandwidth(const VlGraph *g, guint orders, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    guint n = vl_graph_n_vertices(g);
    g_autofree guint *perm = g_new(guint, n);
    double sum = 0;
    guint r;
    guint i;

    for (r = 0; r < orders; r++) {
        guint bw = 0;

        for (i = 0; i < n; i++)
            perm[i] = i;
        for (i = n - 1; i > 0; i--) {
            guint j = g_rand_int_range(rand, 0, i + 1);
            guint t = perm[i];

            perm[i] = perm[j];
            perm[j] = t;
        }
        vl_order_evaluate(g, perm, n, &bw, NULL, NULL);
        sum += bw;
    }
    return sum / orders;
}

/*
 * A lower bound on the optimum bandwidth, to see how far from it the
 * orders are: the vertices within distance r of any vertex fill at
 * most 2 r k + 1 positions, and a component of diameter D with c
 * vertices needs k >= (c - 1) / D.  O(n m).
 */
static guint
lower_bound(const VlGraph *g)
{
    guint n = vl_graph_n_vertices(g);
    g_autofree guint *level = g_new(guint, n);
    g_autofree guint *ring = g_new0(guint, n + 1);
    g_autofree guint *comp = g_new(guint, n);
    g_autofree guint *size = NULL;
    g_autofree guint *diameter = NULL;
    guint nc = vl_graph_components(g, comp);
    guint lb = 0;
    guint v;
    guint i;

    size = g_new0(guint, MAX(nc, 1));
    diameter = g_new0(guint, MAX(nc, 1));
    for (v = 0; v < n; v++)
        size[comp[v]]++;
    for (v = 0; v < n; v++) {
        guint ecc = vl_graph_bfs_levels(g, v, level);
        guint r;

        memset(ring, 0, sizeof(guint) * (n + 1));
        for (i = 0; i < n; i++)
            if (level[i] != VL_GRAPH_UNREACHED)
                ring[level[i]]++;
        for (r = 1; r <= ecc; r++) {
            ring[r] += ring[r - 1];
            lb = MAX(lb, (ring[r] - 1 + 2 * r - 1) / (2 * r));
        }
        diameter[comp[v]] = MAX(diameter[comp[v]], ecc);
    }
    for (i = 0; i < nc; i++)
        if (diameter[i] > 0)
            lb = MAX(lb, (size[i] - 1 + diameter[i] - 1) / diameter[i]);
    return lb;
}

/*
 * Where the optimum is known: random graphs of 10 VMs, densities 0.15
 * to 0.85.  Mean ratio to the exact optimum of RCM, best-start RCM and
 * our heuristic alone (exact solver off), and how often each is optimal.
 */
static void
small_table(guint count)
{
    double ratio[3] = { 0 };
    guint hits[3] = { 0 };
    guint done = 0;
    guint i;

    for (i = 0; i < count; i++) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(90000 + i);
        g_autoptr(VlGraph) g = vl_graph_new();
        g_autoptr(VlOrder) exact = NULL;
        VlOrder *got[3] = { NULL, NULL, NULL };
        VlOrderOptions opts;
        double p = 0.15 + 0.7 * (i % 8) / 7.0;
        guint a;
        guint b;
        guint k;

        for (a = 0; a < 10; a++)
            for (b = a + 1; b < 10; b++)
                if (g_rand_double(rand) < p)
                    add_edge(g, a, b, random_weight(rand));
        if (vl_graph_n_edges(g) == 0)
            continue;
        vl_order_options_init(&opts);
        opts.exact_limit = 0;
        exact = vl_order_exact(g, 0, NULL);
        got[0] = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL, NULL);
        got[1] = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
        got[2] = vl_order_plan(g, NULL, &opts, NULL);
        for (k = 0; k < 3; k++) {
            ratio[k] += (double)got[k]->bandwidth / exact->bandwidth;
            hits[k] += got[k]->bandwidth == exact->bandwidth;
            vl_order_free(got[k]);
        }
        done++;
    }
    printf("\n%u random 10-VM graphs (densities 0.15-0.85) against the exact optimum\n",
           done);
    printf("%-22s %12s %10s\n", "", "mean ratio", "optimal");
    printf("%-22s %12.3f %9.1f%%\n", "rcm (pseudo-periph.)", ratio[0] / done,
           100.0 * hits[0] / done);
    printf("%-22s %12.3f %9.1f%%\n", "rcm (best start)", ratio[1] / done,
           100.0 * hits[1] / done);
    printf("%-22s %12.3f %9.1f%%\n", "ours without exact", ratio[2] / done,
           100.0 * hits[2] / done);
}

typedef struct {
    double lb;
    double random;
    double rcm;
    double best;
    double ours;
    double ms;
    double cost_ratio;
    guint rows;
    guint ok;
} Summary;

int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) size_args = NULL;
    gint seeds = 5;
    gint randoms = 20;
    gint small = 200;
    gint64 budget = VL_ORDER_DEFAULT_SEARCH_BUDGET;
    guint sizes[16] = { 50, 100, 150, 200 };
    guint n_sizes = 4;
    Summary sum[16][FAMILY_LAST] = { { { 0 } } };
    guint fails = 0;
    GOptionEntry entries[] = {
        { "seeds", 's', 0, G_OPTION_ARG_INT, &seeds,
          "Graphs per size and family (default 5)", "N" },
        { "random", 'r', 0, G_OPTION_ARG_INT, &randoms,
          "Random orders averaged per graph (default 20)", "N" },
        { "budget", 'b', 0, G_OPTION_ARG_INT64, &budget,
          "Local search budget in moves per component", "N" },
        { "small", 0, 0, G_OPTION_ARG_INT, &small,
          "10-VM graphs compared with the exact optimum (default 200)", "N" },
        { "sizes", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &size_args,
          "Graph size (repeatable; default 50 100 150 200)", "N" },
        { NULL },
    };
    guint si;
    guint f;
    gint seed;

    ctx = g_option_context_new("- benchmark group-migration orders");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "bench-order: %s\n", error->message);
        return 2;
    }
    if (seeds < 1 || randoms < 1 || budget < 0 || small < 0) {
        fprintf(stderr, "bench-order: --seeds and --random must be positive, "
                "--budget and --small not negative\n");
        return 2;
    }
    if (size_args) {
        n_sizes = 0;
        for (si = 0; size_args[si] && n_sizes < G_N_ELEMENTS(sizes); si++) {
            guint64 v = 0;

            if (!g_ascii_string_to_unsigned(size_args[si], 10, 2, 100000,
                                            &v, &error)) {
                fprintf(stderr, "bench-order: --sizes: %s\n", error->message);
                return 2;
            }
            sizes[n_sizes++] = v;
        }
    }

    printf("%5s %5s %-9s %4s | %7s %5s %5s %5s %4s | %8s %8s %8s | %9s %8s\n",
           "n", "m", "family", "seed", "random", "rcm", "best", "ours", "lb",
           "ours/rcm", "ours/rnd", "cost/rcm", "plan ms", "method");
    for (si = 0; si < n_sizes; si++) {
        for (f = 0; f < FAMILY_LAST; f++) {
            for (seed = 1; seed <= seeds; seed++) {
                g_autoptr(VlGraph) g = generate(f, sizes[si], seed);
                g_autoptr(VlOrder) rcm = NULL;
                g_autoptr(VlOrder) best = NULL;
                g_autoptr(VlOrder) ours = NULL;
                VlOrderOptions opts;
                double rnd = random_order_bandwidth(g, randoms, seed);
                guint lb = lower_bound(g);
                gint64 t0;
                double ms;
                gboolean ok;
                Summary *s = &sum[si][f];

                vl_order_options_init(&opts);
                opts.search_budget = budget;
                rcm = vl_order_rcm(g, VL_ORDER_START_PSEUDO_PERIPHERAL, NULL);
                best = vl_order_rcm(g, VL_ORDER_START_BEST, NULL);
                t0 = g_get_monotonic_time();
                ours = vl_order_plan(g, NULL, &opts, &error);
                ms = (g_get_monotonic_time() - t0) / 1000.0;
                if (!ours) {
                    fprintf(stderr, "bench-order: %s\n", error->message);
                    return 1;
                }
                ok = ours->bandwidth <= rcm->bandwidth &&
                     ours->bandwidth <= best->bandwidth &&
                     3 * ours->bandwidth <= rnd;
                printf("%5u %5u %-9s %4d | %7.1f %5u %5u %5u %4u | "
                       "%8.3f %8.3f %8.3f | %9.1f %8s%s\n",
                       sizes[si], vl_graph_n_edges(g), family_names[f], seed,
                       rnd, rcm->bandwidth, best->bandwidth, ours->bandwidth, lb,
                       (double)ours->bandwidth / MAX(rcm->bandwidth, 1),
                       ours->bandwidth / rnd,
                       ours->cost / MAX(rcm->cost, 1e-300), ms,
                       ours->method == VL_ORDER_METHOD_EXACT ? "exact"
                       : ours->method == VL_ORDER_METHOD_SEARCH ? "search"
                       : "rcm",
                       ok ? "" : "  <- target missed");
                fflush(stdout);
                s->lb += lb;
                s->random += rnd;
                s->rcm += rcm->bandwidth;
                s->best += best->bandwidth;
                s->ours += ours->bandwidth;
                s->ms += ms;
                s->cost_ratio += ours->cost / MAX(rcm->cost, 1e-300);
                s->rows++;
                s->ok += ok;
                fails += !ok;
            }
        }
    }

    printf("\nMeans per size and family\n");
    printf("%5s %-9s | %7s %6s %6s %6s %6s | %8s %8s %8s | %9s %6s\n",
           "n", "family", "random", "rcm", "best", "ours", "lb", "ours/rcm",
           "ours/rnd", "cost/rcm", "plan ms", "target");
    for (si = 0; si < n_sizes; si++) {
        for (f = 0; f < FAMILY_LAST; f++) {
            Summary *s = &sum[si][f];

            printf("%5u %-9s | %7.1f %6.1f %6.1f %6.1f %6.1f | "
                   "%8.3f %8.3f %8.3f | %9.1f %3u/%-3u\n",
                   sizes[si], family_names[f], s->random / s->rows,
                   s->rcm / s->rows, s->best / s->rows, s->ours / s->rows,
                   s->lb / s->rows,
                   s->ours / MAX(s->rcm, 1), s->ours / s->random,
                   s->cost_ratio / s->rows, s->ms / s->rows, s->ok, s->rows);
        }
    }
    printf("\nRows missing the target (ours <= both RCMs and <= random/3): %u\n",
           fails);
    if (small > 0)
        small_table(small);
    return 0;
}
