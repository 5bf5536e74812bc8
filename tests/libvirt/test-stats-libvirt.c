/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt statistics source against test:///default: the active
 * domains are listed once and their statistics fetched in slices
 * (virDomainListGetStats), so that 10 000 domains never need one RPC
 * reply above libvirt's message limit.  Every slice size must give the
 * same records; inactive domains give none.
 */
#include <config.h>

#include <string.h>

#include <libvirt/virterror.h>

#include "stats-source.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

#define N_RUNNING 7

static virConnectPtr vconn;

static void
setup(void)
{
    guint i;

    vl_virt_test_init();
    vconn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(vconn);
    for (i = 0; i <= N_RUNNING; i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='test'><name>slice-%u</name><memory>8192</memory>"
            "<vcpu>2</vcpu><os><type>hvm</type></os></domain>", i);
        g_autoptr(virDomain) dom = virDomainDefineXML(vconn, xml);

        ck_assert_msg(dom != NULL, "%s", virGetLastErrorMessage());
        /* slice-0 stays off: it has no statistics to give. */
        if (i > 0)
            ck_assert_int_eq(virDomainCreate(dom), 0);
    }
}

static void
teardown(void)
{
    guint i;

    for (i = 0; i <= N_RUNNING; i++) {
        g_autofree char *name = g_strdup_printf("slice-%u", i);
        g_autoptr(virDomain) dom = virDomainLookupByName(vconn, name);

        if (!dom)
            continue;
        if (virDomainIsActive(dom) == 1)
            virDomainDestroy(dom);
        virDomainUndefine(dom);
    }
    g_clear_pointer(&vconn, virConnectClose);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted "name:state" of every record. */
static char *
describe(VlStatsBatch *batch)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    guint i;

    for (i = 0; i < batch->stats->len; i++) {
        const VlDomainStats *s = &g_array_index(batch->stats, VlDomainStats, i);

        g_ptr_array_add(lines, g_strdup_printf("%s:%d", s->name, s->state));
    }
    g_ptr_array_sort(lines, compare_strings);
    g_ptr_array_add(lines, NULL);
    return g_strjoinv(",", (char **)lines->pdata);
}

static const guint slices[] = { 1, 2, 3, N_RUNNING, N_RUNNING + 1, VL_STATS_SLICE_DOMAINS };

START_TEST(test_slices_same_records)
{
    g_autoptr(VlStatsSource) whole = vl_stats_source_new_libvirt_sliced(VL_STATS_SLICE_MAX);
    g_autoptr(VlStatsSource) sliced = vl_stats_source_new_libvirt_sliced(slices[_i]);
    g_autoptr(VlStatsBatch) a = NULL;
    g_autoptr(VlStatsBatch) b = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *da = NULL;
    g_autofree char *db = NULL;
    guint running = 0;
    guint i;

    a = vl_stats_source_collect(whole, vconn, &error);
    ck_assert_msg(a != NULL, "%s", error ? error->message : "");
    b = vl_stats_source_collect(sliced, vconn, &error);
    ck_assert_msg(b != NULL, "%s", error ? error->message : "");
    da = describe(a);
    db = describe(b);
    ck_assert_str_eq(db, da);
    for (i = 0; i < b->stats->len; i++) {
        const VlDomainStats *s = &g_array_index(b->stats, VlDomainStats, i);

        ck_assert_str_ne(s->name, "slice-0");
        if (g_str_has_prefix(s->name, "slice-")) {
            running++;
            ck_assert_int_eq(s->state, VIR_DOMAIN_RUNNING);
        }
    }
    ck_assert_uint_eq(running, N_RUNNING);
    /* The test driver reports fixed CPU counters and no memory ones:
     * read, but a rate needs two readings that moved. */
    ck_assert(b->host.cpu_known);
    ck_assert(!b->host.memory_known);
}
END_TEST

START_TEST(test_not_connected)
{
    g_autoptr(VlStatsSource) source = vl_stats_source_new_libvirt();
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsBatch) batch = vl_stats_source_collect(source, NULL, &error);

    ck_assert_ptr_null(batch);
    ck_assert_str_eq(error->message, "Not connected to libvirt");
}
END_TEST

static Suite *
stats_libvirt_suite(void)
{
    Suite *s = suite_create("stats-libvirt");
    TCase *tc = tcase_create("slices");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_slices_same_records, 0, G_N_ELEMENTS(slices));
    tcase_add_test(tc, test_not_connected);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(stats_libvirt_suite());
}
