/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <math.h>
#include <string.h>

#include "graph.h"
#include "test-util.h"
#include "vl-error.h"

/* Names the graph must take as they are. */
static const char *odd_names[] = {
    "web 1",
    "db's \"primary\"",
    "a;b",
    "line\nbreak",
    "caf\xc3\xa9-\xe2\x82\xac",
    "-",
};

START_TEST(test_vertex_names)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    guint i;

    for (i = 0; i < G_N_ELEMENTS(odd_names); i++) {
        g_autoptr(GError) error = NULL;
        guint idx = 99;

        ck_assert(vl_graph_add_vertex(g, odd_names[i], &idx, &error));
        ck_assert_ptr_null(error);
        ck_assert_uint_eq(idx, i);
    }
    ck_assert_uint_eq(vl_graph_n_vertices(g), G_N_ELEMENTS(odd_names));
    for (i = 0; i < G_N_ELEMENTS(odd_names); i++) {
        guint idx = 99;

        ck_assert_str_eq(vl_graph_vertex_name(g, i), odd_names[i]);
        ck_assert(vl_graph_lookup(g, odd_names[i], &idx));
        ck_assert_uint_eq(idx, i);
    }
}
END_TEST

START_TEST(test_vertex_idempotent)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    guint a = 0;
    guint b = 0;
    guint c = 0;

    ck_assert(vl_graph_add_vertex(g, "x", &a, NULL));
    ck_assert(vl_graph_add_vertex(g, "y", &b, NULL));
    ck_assert(vl_graph_add_vertex(g, "x", &c, NULL));
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 1);
    ck_assert_uint_eq(c, 0);
    ck_assert_uint_eq(vl_graph_n_vertices(g), 2);
    ck_assert(!vl_graph_lookup(g, "z", &c));
    ck_assert_uint_eq(c, 0);    /* untouched on a miss */
    ck_assert(!vl_graph_lookup(g, NULL, &c));
}
END_TEST

START_TEST(test_vertex_bad_names)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    guint idx = 7;

    ck_assert(!vl_graph_add_vertex(g, "", &idx, &e1));
    ck_assert(g_error_matches(e1, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e1->message, "Domain name must not be empty");

    ck_assert(!vl_graph_add_vertex(g, "bad\xff" "name", &idx, &e2));
    ck_assert(g_error_matches(e2, VL_ERROR, VL_ERROR_INVALID));
    ck_assert(g_utf8_validate(e2->message, -1, NULL));
    ck_assert_ptr_nonnull(strstr(e2->message, "is not valid UTF-8"));

    ck_assert_uint_eq(idx, 7);
    ck_assert_uint_eq(vl_graph_n_vertices(g), 0);
}
END_TEST

START_TEST(test_edge_weights_add_up)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    guint a = 0;
    guint b = 0;
    guint c = 0;
    guint u = 9;
    guint v = 9;

    ck_assert(vl_graph_add_edge(g, "a", "b", 1.5, NULL));
    ck_assert(vl_graph_add_edge(g, "b", "c", 2, NULL));
    ck_assert(vl_graph_add_edge(g, "b", "a", 2.5, NULL));   /* reversed */
    ck_assert(vl_graph_add_edge(g, "a", "b", 1, NULL));
    vl_graph_lookup(g, "a", &a);
    vl_graph_lookup(g, "b", &b);
    vl_graph_lookup(g, "c", &c);

    ck_assert_uint_eq(vl_graph_n_vertices(g), 3);
    ck_assert_uint_eq(vl_graph_n_edges(g), 2);
    ck_assert_double_eq(vl_graph_edge_weight(g, a, b), 5);
    ck_assert_double_eq(vl_graph_edge_weight(g, b, a), 5);
    ck_assert_double_eq(vl_graph_edge_weight(g, b, c), 2);
    ck_assert_double_eq(vl_graph_edge_weight(g, a, c), 0);
    ck_assert_double_eq(vl_graph_edge_weight(g, a, a), 0);
    ck_assert_uint_eq(vl_graph_degree(g, a), 1);
    ck_assert_uint_eq(vl_graph_degree(g, b), 2);
    ck_assert_double_eq(vl_graph_weighted_degree(g, a), 5);
    ck_assert_double_eq(vl_graph_weighted_degree(g, b), 7);
    ck_assert_double_eq(vl_graph_weighted_degree(g, c), 2);

    ck_assert_double_eq(vl_graph_edge(g, 0, &u, &v), 5);
    ck_assert_uint_eq(u, MIN(a, b));
    ck_assert_uint_eq(v, MAX(a, b));
    ck_assert_double_eq(vl_graph_edge(g, 1, &u, &v), 2);
    ck_assert_uint_eq(u, MIN(b, c));
    ck_assert_uint_eq(v, MAX(b, c));
}
END_TEST

START_TEST(test_edge_neighbors)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    const VlGraphNeighbor *nb = NULL;
    guint hub = 0;
    guint len = 0;
    guint i;

    ck_assert(vl_graph_add_edge(g, "hub", "x", 1, NULL));
    ck_assert(vl_graph_add_edge(g, "y", "hub", 2, NULL));
    ck_assert(vl_graph_add_edge(g, "hub", "z", 3, NULL));
    ck_assert(vl_graph_add_edge(g, "hub", "x", 10, NULL));
    vl_graph_lookup(g, "hub", &hub);

    nb = vl_graph_neighbors(g, hub, &len);
    ck_assert_uint_eq(len, 3);
    for (i = 0; i < len; i++) {
        const char *name = vl_graph_vertex_name(g, nb[i].vertex);
        const char *expect[] = { "x", "y", "z" };
        double weight[] = { 11, 2, 3 };

        ck_assert_str_eq(name, expect[i]);
        ck_assert_double_eq(nb[i].weight, weight[i]);
    }
}
END_TEST

START_TEST(test_edge_rejected)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    struct {
        const char *a;
        const char *b;
        double w;
        const char *message;
    } bad[] = {
        { "p", "p", 1, "Domain 'p' cannot talk to itself in the traffic graph" },
        { "p", "q", 0, "Traffic weight '0' between 'p' and 'q' must be positive and finite" },
        { "p", "q", -3, "Traffic weight '-3' between 'p' and 'q' must be positive and finite" },
        { "p", "q", NAN, NULL },
        { "p", "q", INFINITY, NULL },
        { "", "q", 1, "Domain name must not be empty" },
        { "p", "\xc3", 1, NULL },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;

        ck_assert(!vl_graph_add_edge(g, bad[i].a, bad[i].b, bad[i].w, &error));
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        if (bad[i].message)
            ck_assert_str_eq(error->message, bad[i].message);
        /* Nothing was created on the way. */
        ck_assert_uint_eq(vl_graph_n_vertices(g), 0);
        ck_assert_uint_eq(vl_graph_n_edges(g), 0);
    }
}
END_TEST

START_TEST(test_edge_overflow)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(GError) error = NULL;
    guint a = 0;
    guint b = 0;

    ck_assert(vl_graph_add_edge(g, "a", "b", G_MAXDOUBLE, NULL));
    ck_assert(!vl_graph_add_edge(g, "a", "b", G_MAXDOUBLE, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(error->message,
                     "Traffic weight between 'a' and 'b' overflows");
    vl_graph_lookup(g, "a", &a);
    vl_graph_lookup(g, "b", &b);
    ck_assert_double_eq(vl_graph_edge_weight(g, a, b), G_MAXDOUBLE);
    ck_assert_double_eq(vl_graph_weighted_degree(g, a), G_MAXDOUBLE);
}
END_TEST

START_TEST(test_components)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    guint comp[8];
    guint expect[8] = { 0, 1, 0, 2, 1, 0, 3, 2 };
    const char *names[8] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    guint i;

    for (i = 0; i < 8; i++)
        vl_graph_add_vertex(g, names[i], NULL, NULL);
    /* {a, c, f}, {b, e}, {d, h}, {g} */
    vl_graph_add_edge(g, "f", "c", 1, NULL);
    vl_graph_add_edge(g, "a", "f", 1, NULL);
    vl_graph_add_edge(g, "e", "b", 1, NULL);
    vl_graph_add_edge(g, "h", "d", 1, NULL);

    ck_assert_uint_eq(vl_graph_components(g, comp), 4);
    for (i = 0; i < 8; i++)
        ck_assert_uint_eq(comp[i], expect[i]);
}
END_TEST

START_TEST(test_components_empty)
{
    g_autoptr(VlGraph) g = vl_graph_new();

    ck_assert_uint_eq(vl_graph_components(g, NULL), 0);
}
END_TEST

START_TEST(test_bfs_levels)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    guint level[7];
    guint r = 0;
    guint i;

    /* r - a - b - c, r - d - c (c is at 2 via d), island x - y */
    vl_graph_add_edge(g, "r", "a", 1, NULL);
    vl_graph_add_edge(g, "a", "b", 1, NULL);
    vl_graph_add_edge(g, "b", "c", 1, NULL);
    vl_graph_add_edge(g, "r", "d", 1, NULL);
    vl_graph_add_edge(g, "d", "c", 1, NULL);
    vl_graph_add_edge(g, "x", "y", 1, NULL);
    vl_graph_lookup(g, "r", &r);

    ck_assert_uint_eq(vl_graph_bfs_levels(g, r, level), 2);
    for (i = 0; i < 7; i++) {
        const char *name = vl_graph_vertex_name(g, i);
        guint expect = VL_GRAPH_UNREACHED;

        if (g_str_equal(name, "r"))
            expect = 0;
        else if (g_str_equal(name, "a") || g_str_equal(name, "d"))
            expect = 1;
        else if (g_str_equal(name, "b") || g_str_equal(name, "c"))
            expect = 2;
        ck_assert_uint_eq(level[i], expect);
    }
}
END_TEST

START_TEST(test_induced)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(VlGraph) sub = NULL;
    const char *keep[] = { "c", "web 1", "a", NULL };
    guint a = 0;
    guint c = 0;
    guint w = 0;

    vl_graph_add_edge(g, "a", "b", 1, NULL);
    vl_graph_add_edge(g, "a", "c", 2, NULL);
    vl_graph_add_edge(g, "c", "web 1", 3, NULL);
    vl_graph_add_edge(g, "b", "web 1", 4, NULL);
    vl_graph_add_edge(g, "c", "a", 5, NULL);

    sub = vl_graph_new_induced(g, keep, NULL);
    ck_assert_ptr_nonnull(sub);
    ck_assert_uint_eq(vl_graph_n_vertices(sub), 3);
    ck_assert_uint_eq(vl_graph_n_edges(sub), 2);
    ck_assert_str_eq(vl_graph_vertex_name(sub, 0), "c");
    ck_assert_str_eq(vl_graph_vertex_name(sub, 1), "web 1");
    ck_assert_str_eq(vl_graph_vertex_name(sub, 2), "a");
    vl_graph_lookup(sub, "a", &a);
    vl_graph_lookup(sub, "c", &c);
    vl_graph_lookup(sub, "web 1", &w);
    ck_assert_double_eq(vl_graph_edge_weight(sub, a, c), 7);
    ck_assert_double_eq(vl_graph_edge_weight(sub, c, w), 3);
    ck_assert_double_eq(vl_graph_edge_weight(sub, a, w), 0);
    ck_assert_double_eq(vl_graph_weighted_degree(sub, c), 10);
}
END_TEST

START_TEST(test_induced_bad)
{
    g_autoptr(VlGraph) g = vl_graph_new();
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    const char *unknown[] = { "a", "zz top", NULL };
    const char *twice[] = { "a", "b", "a", NULL };

    vl_graph_add_edge(g, "a", "b", 1, NULL);
    ck_assert_ptr_null(vl_graph_new_induced(g, unknown, &e1));
    ck_assert(g_error_matches(e1, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e1->message, "Unknown domain 'zz top' in the traffic graph");
    ck_assert_ptr_null(vl_graph_new_induced(g, twice, &e2));
    ck_assert(g_error_matches(e2, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(e2->message, "Domain 'a' is listed twice");
}
END_TEST

START_TEST(test_free_null)
{
    /* Half-built and absent objects must be accepted. */
    vl_graph_free(NULL);
}
END_TEST

static Suite *
graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc;

    tc = tcase_create("vertices");
    tcase_add_test(tc, test_vertex_names);
    tcase_add_test(tc, test_vertex_idempotent);
    tcase_add_test(tc, test_vertex_bad_names);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("edges");
    tcase_add_test(tc, test_edge_weights_add_up);
    tcase_add_test(tc, test_edge_neighbors);
    tcase_add_test(tc, test_edge_rejected);
    tcase_add_test(tc, test_edge_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("structure");
    tcase_add_test(tc, test_components);
    tcase_add_test(tc, test_components_empty);
    tcase_add_test(tc, test_bfs_levels);
    tcase_add_test(tc, test_induced);
    tcase_add_test(tc, test_induced_bad);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(graph_suite());
}
