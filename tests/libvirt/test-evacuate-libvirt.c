/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt side of evacuate against the test driver: domain addresses
 * for traffic attribution (traffic.c) and the plain libvirt mover inside
 * a run, whose migrations the test driver refuses.
 */
#include <config.h>

#include <string.h>

#include "evacuate.h"
#include "traffic.h"
#include "virt-test.h"
#include "vl-virt-autoptr.h"

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

START_TEST(test_addresses_without_interface)
{
    g_autofree char *node = vl_test_data_path("evacuate/node.xml");
    g_autofree char *uri = g_strdup_printf("test://%s", node);
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

static void
on_done(VlEvacuateRun *run G_GNUC_UNUSED, gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
}

static gboolean
is_true(gpointer data)
{
    return *(gboolean *)data;
}

/* The real mover in a run: the migration thread's failure comes back
 * on the main loop with libvirt's reason, and nothing else starts. */
START_TEST(test_libvirt_mover_failure)
{
    const char *const names[] = { "web 1", "web;3", NULL };
    g_autofree char *node = vl_test_data_path("evacuate/node.xml");
    g_autofree char *uri = g_strdup_printf("test://%s", node);
    g_autoptr(virConnect) conn = virConnectOpen(uri);
    g_autoptr(VlGraph) graph = NULL;
    g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
    g_autoptr(VlEvacuatePlan) plan = NULL;
    g_autoptr(VlEvacuateLibvirtMover) mover = NULL;
    g_autoptr(VlEvacuateRun) run = NULL;
    const GError *err = NULL;
    gboolean done = FALSE;
    guint i;

    ck_assert_ptr_nonnull(conn);
    graph = vl_evacuate_graph_build(names, NULL, NULL, NULL, NULL);
    for (i = 0; names[i]; i++)
        g_ptr_array_add(domains, vl_evacuate_domain_new(names[i]));
    plan = vl_evacuate_plan_compute(graph, domains, NULL, NULL);
    ck_assert_ptr_nonnull(plan);

    mover = vl_evacuate_libvirt_mover_new(conn, "test:///default", "tcp://198.19.0.2", 50);
    run = vl_evacuate_run_new(plan, vl_evacuate_libvirt_mover_ops(), mover);
    vl_evacuate_run_start(run, NULL, on_done, &done);
    ck_assert(vl_virt_test_wait(is_true, &done));

    ck_assert_int_eq(vl_evacuate_run_get_state(run, 0), VL_EVACUATE_MOVE_FAILED);
    ck_assert_int_eq(vl_evacuate_run_get_state(run, 1), VL_EVACUATE_MOVE_PENDING);
    err = vl_evacuate_run_get_error(run, 0);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err->message, "Migration of 'web 1'") &&
                  strstr(err->message, "not supported"), "%s", err->message);
    g_clear_pointer(&run, vl_evacuate_run_free);

    /* a domain that is not there fails at start, with its name */
    {
        const char *const ghost[] = { "no such domain", NULL };
        g_autoptr(VlGraph) g2 = vl_evacuate_graph_build(ghost, NULL, NULL, NULL, NULL);
        g_autoptr(GPtrArray) d2 = g_ptr_array_new_with_free_func((GDestroyNotify)vl_evacuate_domain_free);
        g_autoptr(VlEvacuatePlan) p2 = NULL;

        g_ptr_array_add(d2, vl_evacuate_domain_new(ghost[0]));
        p2 = vl_evacuate_plan_compute(g2, d2, NULL, NULL);
        done = FALSE;
        run = vl_evacuate_run_new(p2, vl_evacuate_libvirt_mover_ops(), mover);
        vl_evacuate_run_start(run, NULL, on_done, &done);
        ck_assert(vl_virt_test_wait(is_true, &done));
        err = vl_evacuate_run_get_error(run, 0);
        ck_assert_ptr_nonnull(strstr(err->message, "'no such domain'"));
    }
}
END_TEST

static Suite *
evacuate_libvirt_suite(void)
{
    Suite *s = suite_create("evacuate-libvirt");
    TCase *tc = tcase_create("libvirt");

    tcase_add_test(tc, test_addresses_of_domain);
    tcase_add_test(tc, test_addresses_without_interface);
    tcase_add_test(tc, test_libvirt_mover_failure);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(evacuate_libvirt_suite());
}
