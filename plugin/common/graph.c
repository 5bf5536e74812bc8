/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>

#include "graph.h"
#include "vl-error.h"

typedef struct {
    guint u;        /* smaller endpoint */
    guint v;        /* larger endpoint */
    guint slot_u;   /* position of v in u's adjacency list */
    guint slot_v;   /* position of u in v's adjacency list */
} VlGraphEdgeRec;

struct _VlGraph {
    GPtrArray *names;       /* char *, owned; index = vertex */
    GHashTable *by_name;    /* name (borrowed from names) -> index + 1 */
    GPtrArray *adj;         /* GArray of VlGraphNeighbor, one per vertex */
    GArray *wdeg;           /* double, one per vertex */
    GArray *edges;          /* VlGraphEdgeRec */
    GHashTable *by_pair;    /* guint64 (u << 32 | v) -> edge index + 1 */
};

VlGraph *
vl_graph_new(void)
{
    VlGraph *graph = g_new0(VlGraph, 1);

    graph->names = g_ptr_array_new_with_free_func(g_free);
    graph->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    graph->adj = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    graph->wdeg = g_array_new(FALSE, TRUE, sizeof(double));
    graph->edges = g_array_new(FALSE, FALSE, sizeof(VlGraphEdgeRec));
    graph->by_pair = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                           g_free, NULL);
    return graph;
}

void
vl_graph_free(VlGraph *graph)
{
    if (!graph)
        return;
    /* by_name borrows its keys from names: drop it first. */
    g_clear_pointer(&graph->by_name, g_hash_table_unref);
    g_clear_pointer(&graph->names, g_ptr_array_unref);
    g_clear_pointer(&graph->adj, g_ptr_array_unref);
    g_clear_pointer(&graph->wdeg, g_array_unref);
    g_clear_pointer(&graph->edges, g_array_unref);
    g_clear_pointer(&graph->by_pair, g_hash_table_unref);
    g_free(graph);
}

/* Names reach error messages; keep those messages valid UTF-8. */
static gboolean
check_name(const char *name, GError **error)
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
    return TRUE;
}

static guint
insert_vertex(VlGraph *graph, const char *name)
{
    char *copy = g_strdup(name);
    guint idx = graph->names->len;
    double zero = 0;

    g_ptr_array_add(graph->names, copy);
    g_hash_table_insert(graph->by_name, copy, GUINT_TO_POINTER(idx + 1));
    g_ptr_array_add(graph->adj, g_array_new(FALSE, FALSE,
                                            sizeof(VlGraphNeighbor)));
    g_array_append_val(graph->wdeg, zero);
    return idx;
}

gboolean
vl_graph_lookup(const VlGraph *graph, const char *name, guint *index)
{
    gpointer value = NULL;

    g_return_val_if_fail(graph != NULL, FALSE);

    if (!name)
        return FALSE;
    value = g_hash_table_lookup(graph->by_name, name);
    if (!value)
        return FALSE;
    if (index)
        *index = GPOINTER_TO_UINT(value) - 1;
    return TRUE;
}

gboolean
vl_graph_add_vertex(VlGraph *graph, const char *name, guint *index,
                    GError **error)
{
    guint idx = 0;

    g_return_val_if_fail(graph != NULL, FALSE);

    if (!check_name(name, error))
        return FALSE;
    if (!vl_graph_lookup(graph, name, &idx))
        idx = insert_vertex(graph, name);
    if (index)
        *index = idx;
    return TRUE;
}

static guint64
pair_key(guint u, guint v)
{
    return ((guint64)MIN(u, v) << 32) | MAX(u, v);
}

static gboolean
find_edge(const VlGraph *graph, guint u, guint v, guint *e)
{
    guint64 key = pair_key(u, v);
    gpointer value = g_hash_table_lookup(graph->by_pair, &key);

    if (!value)
        return FALSE;
    *e = GPOINTER_TO_UINT(value) - 1;
    return TRUE;
}

static GArray *
adj_of(const VlGraph *graph, guint v)
{
    return g_ptr_array_index(graph->adj, v);
}

gboolean
vl_graph_add_edge(VlGraph *graph, const char *a, const char *b,
                  double weight, GError **error)
{
    guint u = 0;
    guint v = 0;
    guint e = 0;
    gboolean have_u;
    gboolean have_v;

    g_return_val_if_fail(graph != NULL, FALSE);

    /* Validate everything first: a failed call must change nothing. */
    if (!check_name(a, error) || !check_name(b, error))
        return FALSE;
    if (strcmp(a, b) == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain '%s' cannot talk to itself in the traffic graph",
                    a);
        return FALSE;
    }
    if (!isfinite(weight) || weight <= 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Traffic weight '%g' between '%s' and '%s' must be positive and finite",
                    weight, a, b);
        return FALSE;
    }

    have_u = vl_graph_lookup(graph, a, &u);
    have_v = vl_graph_lookup(graph, b, &v);
    if (have_u && have_v && find_edge(graph, u, v, &e)) {
        VlGraphEdgeRec *rec = &g_array_index(graph->edges, VlGraphEdgeRec, e);
        VlGraphNeighbor *nu = &g_array_index(adj_of(graph, rec->u),
                                             VlGraphNeighbor, rec->slot_u);
        VlGraphNeighbor *nv = &g_array_index(adj_of(graph, rec->v),
                                             VlGraphNeighbor, rec->slot_v);
        double sum = nu->weight + weight;

        if (!isfinite(sum)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Traffic weight between '%s' and '%s' overflows",
                        a, b);
            return FALSE;
        }
        nu->weight = sum;
        nv->weight = sum;
        g_array_index(graph->wdeg, double, u) += weight;
        g_array_index(graph->wdeg, double, v) += weight;
        return TRUE;
    }

    if (!have_u)
        u = insert_vertex(graph, a);
    if (!have_v)
        v = insert_vertex(graph, b);

    {
        VlGraphEdgeRec rec = { MIN(u, v), MAX(u, v), 0, 0 };
        VlGraphNeighbor to_v = { rec.v, weight };
        VlGraphNeighbor to_u = { rec.u, weight };
        guint64 *key = g_new(guint64, 1);

        rec.slot_u = adj_of(graph, rec.u)->len;
        rec.slot_v = adj_of(graph, rec.v)->len;
        g_array_append_val(adj_of(graph, rec.u), to_v);
        g_array_append_val(adj_of(graph, rec.v), to_u);
        g_array_append_val(graph->edges, rec);
        *key = pair_key(u, v);
        g_hash_table_insert(graph->by_pair, key,
                            GUINT_TO_POINTER(graph->edges->len));
        g_array_index(graph->wdeg, double, u) += weight;
        g_array_index(graph->wdeg, double, v) += weight;
    }
    return TRUE;
}

VlGraph *
vl_graph_new_induced(const VlGraph *graph, const char *const *names,
                     GError **error)
{
    g_autoptr(VlGraph) sub = NULL;
    g_autofree guint *map = NULL;   /* source index -> sub index + 1 */
    guint n;
    guint i;

    g_return_val_if_fail(graph != NULL, NULL);
    g_return_val_if_fail(names != NULL, NULL);

    n = vl_graph_n_vertices(graph);
    map = g_new0(guint, n);
    sub = vl_graph_new();
    for (i = 0; names[i]; i++) {
        guint src = 0;

        if (!vl_graph_lookup(graph, names[i], &src)) {
            g_autofree char *shown = g_utf8_make_valid(names[i], -1);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Unknown domain '%s' in the traffic graph", shown);
            return NULL;
        }
        if (map[src]) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Domain '%s' is listed twice", names[i]);
            return NULL;
        }
        map[src] = insert_vertex(sub, names[i]) + 1;
    }

    for (i = 0; i < graph->edges->len; i++) {
        const VlGraphEdgeRec *rec = &g_array_index(graph->edges,
                                                   VlGraphEdgeRec, i);
        double w = vl_graph_edge(graph, i, NULL, NULL);

        if (map[rec->u] && map[rec->v]) {
            /* Cannot fail: names and weight were validated in graph. */
            vl_graph_add_edge(sub, names[map[rec->u] - 1],
                              names[map[rec->v] - 1], w, NULL);
        }
    }
    return g_steal_pointer(&sub);
}

guint
vl_graph_n_vertices(const VlGraph *graph)
{
    g_return_val_if_fail(graph != NULL, 0);
    return graph->names->len;
}

guint
vl_graph_n_edges(const VlGraph *graph)
{
    g_return_val_if_fail(graph != NULL, 0);
    return graph->edges->len;
}

const char *
vl_graph_vertex_name(const VlGraph *graph, guint v)
{
    g_return_val_if_fail(graph != NULL, NULL);
    g_return_val_if_fail(v < graph->names->len, NULL);
    return g_ptr_array_index(graph->names, v);
}

const VlGraphNeighbor *
vl_graph_neighbors(const VlGraph *graph, guint v, guint *n_neighbors)
{
    GArray *adj;

    g_return_val_if_fail(graph != NULL, NULL);
    g_return_val_if_fail(v < graph->names->len, NULL);
    g_return_val_if_fail(n_neighbors != NULL, NULL);

    adj = adj_of(graph, v);
    *n_neighbors = adj->len;
    return (const VlGraphNeighbor *)adj->data;
}

guint
vl_graph_degree(const VlGraph *graph, guint v)
{
    g_return_val_if_fail(graph != NULL, 0);
    g_return_val_if_fail(v < graph->names->len, 0);
    return adj_of(graph, v)->len;
}

double
vl_graph_weighted_degree(const VlGraph *graph, guint v)
{
    g_return_val_if_fail(graph != NULL, 0);
    g_return_val_if_fail(v < graph->names->len, 0);
    return g_array_index(graph->wdeg, double, v);
}

double
vl_graph_edge_weight(const VlGraph *graph, guint u, guint v)
{
    guint e = 0;

    g_return_val_if_fail(graph != NULL, 0);
    g_return_val_if_fail(u < graph->names->len, 0);
    g_return_val_if_fail(v < graph->names->len, 0);

    if (u == v || !find_edge(graph, u, v, &e))
        return 0;
    return vl_graph_edge(graph, e, NULL, NULL);
}

double
vl_graph_edge(const VlGraph *graph, guint e, guint *u, guint *v)
{
    const VlGraphEdgeRec *rec;

    g_return_val_if_fail(graph != NULL, 0);
    g_return_val_if_fail(e < graph->edges->len, 0);

    rec = &g_array_index(graph->edges, VlGraphEdgeRec, e);
    if (u)
        *u = rec->u;
    if (v)
        *v = rec->v;
    return g_array_index(adj_of(graph, rec->u), VlGraphNeighbor,
                         rec->slot_u).weight;
}

guint
vl_graph_components(const VlGraph *graph, guint *component)
{
    g_autofree guint *queue = NULL;
    guint n;
    guint n_comp = 0;
    guint s;

    g_return_val_if_fail(graph != NULL, 0);

    n = graph->names->len;
    if (n == 0)
        return 0;
    g_return_val_if_fail(component != NULL, 0);

    queue = g_new(guint, n);
    for (s = 0; s < n; s++)
        component[s] = G_MAXUINT;

    for (s = 0; s < n; s++) {
        guint head = 0;
        guint tail = 0;

        if (component[s] != G_MAXUINT)
            continue;
        component[s] = n_comp;
        queue[tail++] = s;
        while (head < tail) {
            guint x = queue[head++];
            GArray *adj = adj_of(graph, x);
            guint i;

            for (i = 0; i < adj->len; i++) {
                guint y = g_array_index(adj, VlGraphNeighbor, i).vertex;

                if (component[y] == G_MAXUINT) {
                    component[y] = n_comp;
                    queue[tail++] = y;
                }
            }
        }
        n_comp++;
    }
    return n_comp;
}

guint
vl_graph_bfs_levels(const VlGraph *graph, guint root, guint *level)
{
    g_autofree guint *queue = NULL;
    guint n;
    guint head = 0;
    guint tail = 0;
    guint ecc = 0;
    guint i;

    g_return_val_if_fail(graph != NULL, 0);
    g_return_val_if_fail(root < graph->names->len, 0);
    g_return_val_if_fail(level != NULL, 0);

    n = graph->names->len;
    queue = g_new(guint, n);
    for (i = 0; i < n; i++)
        level[i] = VL_GRAPH_UNREACHED;

    level[root] = 0;
    queue[tail++] = root;
    while (head < tail) {
        guint x = queue[head++];
        GArray *adj = adj_of(graph, x);

        ecc = level[x];
        for (i = 0; i < adj->len; i++) {
            guint y = g_array_index(adj, VlGraphNeighbor, i).vertex;

            if (level[y] == VL_GRAPH_UNREACHED) {
                level[y] = level[x] + 1;
                queue[tail++] = y;
            }
        }
    }
    return ecc;
}
