/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlConn: backoff, loss and reconnection, URI changes.  test:///default
 * has no libvirtd to kill, so a loss is driven through
 * vl_conn_handle_close(), the function libvirt's close callback calls;
 * everything after it (deregistering, closing, backoff, reconnecting,
 * re-registering the events) is the real path.
 */
#include <config.h>

#include <string.h>

#include "conn-priv.h"
#include "virt-test.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

typedef struct {
    guint min_ms;
    guint max_ms;
    guint attempt;
    guint expected;
} BackoffCase;

static const BackoffCase backoff_cases[] = {
    /* The daemon's defaults: 1 s doubling to 30 s. */
    { 1000, 30000, 0, 1000 },
    { 1000, 30000, 1, 2000 },
    { 1000, 30000, 2, 4000 },
    { 1000, 30000, 3, 8000 },
    { 1000, 30000, 4, 16000 },
    { 1000, 30000, 5, 30000 },
    { 1000, 30000, 6, 30000 },
    { 1000, 30000, 1000000, 30000 },
    { 1000, 30000, G_MAXUINT, 30000 },
    /* Degenerate settings stay sane. */
    { 5000, 5000, 3, 5000 },
    { 0, 100, 0, 1 },
    { 0, 100, 3, 8 },
    { 3600000, 3600000, 40, 3600000 },
};

START_TEST(test_backoff)
{
    const BackoffCase *c = &backoff_cases[_i];
    VlConnOptions options = {
        .backoff_min_ms = c->min_ms,
        .backoff_max_ms = c->max_ms,
    };

    ck_assert_uint_eq(vl_conn_backoff_ms(&options, c->attempt), c->expected);
}
END_TEST

START_TEST(test_not_connected_before_start)
{
    VlConnOptions options = { 5, 3, 10, 100 };
    g_autoptr(VlConn) conn = vl_conn_new("test:///default", &options, NULL, NULL);
    g_autoptr(json_object) json = NULL;
    json_object *field = NULL;

    ck_assert(!vl_conn_is_connected(conn));
    ck_assert_ptr_null(vl_conn_get_virt(conn));
    json = vl_conn_to_json(conn);
    ck_assert(json_object_object_get_ex(json, "connected", &field));
    ck_assert(!json_object_get_boolean(field));
    ck_assert(json_object_object_get_ex(json, "last_error", &field));
    ck_assert_ptr_null(field);
}
END_TEST

START_TEST(test_reconnect_after_close)
{
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new("test:///default", 10, 80);
    g_autoptr(virDomain) dom = NULL;
    virConnectPtr second;
    VlDomainInfo *info;

    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 0);
    ck_assert_ptr_null(vl_conn_get_last_error(rig->conn));

    vl_conn_handle_close(rig->conn, VIR_CONNECT_CLOSE_REASON_EOF);
    /* At once nobody may use the dying connection any more. */
    ck_assert(!vl_conn_is_connected(rig->conn));
    ck_assert_ptr_null(vl_conn_get_virt(rig->conn));

    ck_assert(vl_virt_test_rig_wait_connections(rig, 2));
    ck_assert_uint_eq(rig->n_disconnected, 1);
    ck_assert_str_eq(rig->last_reason,
                     "Connection to 'test:///default' closed: end of file");
    ck_assert(rig->last_lost);
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 1);
    ck_assert_str_eq(vl_conn_get_last_error(rig->conn),
                     "Connection to 'test:///default' closed: end of file");
    second = vl_conn_get_virt(rig->conn);
    ck_assert_ptr_nonnull(second);

    /* The events were registered again on the new connection. */
    dom = virDomainLookupByName(second, "test");
    ck_assert_ptr_nonnull(dom);
    ck_assert_int_eq(virDomainSuspend(dom), 0);
    ck_assert(vl_virt_test_wait_events(rig->table, "test", 1));
    info = vl_domain_table_lookup(rig->table, "test");
    ck_assert_str_eq(vl_domain_info_get_event(info, 0)->event,
                     "lifecycle suspended paused");
    ck_assert_str_eq(vl_domain_info_get_state(info), "paused");

    /* And again: the count goes on, and the table is re-seeded from
     * what libvirt says, not from what we had (the domain is still
     * paused: test:/// state lives while any connection, here the one
     * @dom holds, is open). */
    vl_domain_table_set_state(rig->table, "test", NULL, "stale");
    vl_conn_handle_close(rig->conn, VIR_CONNECT_CLOSE_REASON_KEEPALIVE);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 3));
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 2);
    ck_assert_str_eq(rig->last_reason,
                     "Connection to 'test:///default' closed: keepalive timeout");
    ck_assert_str_eq(vl_domain_info_get_state(vl_domain_table_lookup(rig->table,
                                                                     "test")),
                     "paused");
}
END_TEST

START_TEST(test_close_while_disconnected_is_ignored)
{
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new("test:///default", 10, 80);

    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    vl_conn_handle_close(rig->conn, VIR_CONNECT_CLOSE_REASON_EOF);
    /* A second report of the same loss must not double anything. */
    vl_conn_handle_close(rig->conn, VIR_CONNECT_CLOSE_REASON_ERROR);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 2));
    ck_assert_uint_eq(rig->n_disconnected, 1);
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 1);
}
END_TEST

static gboolean
three_failures(gpointer data)
{
    VlVirtTestRig *rig = data;

    return rig->retry_ms->len >= 3;
}

START_TEST(test_failed_attempts_back_off)
{
    g_autofree char *dir = g_dir_make_tmp("vl-conn-XXXXXX", NULL);
    g_autofree char *missing = g_strdup_printf("test://%s/missing.xml", dir);
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new(missing, 10, 40);
    VlConnOptions options = { 5, 3, 10, 40 };
    const char *last_error;

    ck_assert(vl_virt_test_wait(three_failures, rig));
    /* 10 ms doubling: the schedule the backoff table promises. */
    ck_assert_uint_eq(g_array_index(rig->retry_ms, guint, 0), 10);
    ck_assert_uint_eq(g_array_index(rig->retry_ms, guint, 1), 20);
    ck_assert_uint_eq(g_array_index(rig->retry_ms, guint, 2), 40);
    ck_assert(!vl_conn_is_connected(rig->conn));
    ck_assert_uint_eq(rig->n_connected, 0);
    last_error = vl_conn_get_last_error(rig->conn);
    ck_assert_ptr_nonnull(last_error);
    ck_assert_msg(g_str_has_prefix(last_error, "Cannot connect to 'test://"),
                  "%s", last_error);

    /* Pointing it somewhere that works connects at once. */
    vl_conn_reconfigure(rig->conn, "test:///default", &options);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    ck_assert_str_eq(vl_conn_get_uri(rig->conn), "test:///default");
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 0);
    ck_assert_ptr_null(vl_conn_get_last_error(rig->conn));
    vl_virt_test_rmdir(dir);
}
END_TEST

START_TEST(test_uri_change_reconnects)
{
    g_autofree char *dir = g_dir_make_tmp("vl-conn-XXXXXX", NULL);
    g_autofree char *node = vl_virt_test_write_node(dir);
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new("test:///default", 10, 80);
    VlConnOptions options = { 5, 3, 10, 80 };
    VlDomainInfo *info;

    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    ck_assert_ptr_null(vl_domain_table_lookup(rig->table, "vl-node-1"));

    /* Same URI: nothing happens. */
    vl_conn_reconfigure(rig->conn, "test:///default", &options);
    ck_assert(vl_conn_is_connected(rig->conn));
    ck_assert_uint_eq(rig->n_disconnected, 0);

    vl_conn_reconfigure(rig->conn, node, &options);
    ck_assert_uint_eq(rig->n_disconnected, 1);
    ck_assert_str_eq(rig->last_reason, "The URI changed");
    ck_assert(!rig->last_lost);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 2));
    ck_assert_str_eq(vl_conn_get_uri(rig->conn), node);
    ck_assert_uint_eq(vl_conn_get_reconnects(rig->conn), 0);

    info = vl_domain_table_lookup(rig->table, "vl-node-1");
    ck_assert_ptr_nonnull(info);
    ck_assert_str_eq(vl_domain_info_get_state(info), "running");
    ck_assert_str_eq(vl_domain_info_get_uuid(info),
                     "11111111-2222-3333-4444-555555555555");
    /* The old host's domain is not listed any more. */
    ck_assert_str_eq(vl_domain_info_get_state(vl_domain_table_lookup(rig->table,
                                                                     "test")),
                     "absent");
    vl_virt_test_rmdir(dir);
}
END_TEST

START_TEST(test_json_shape)
{
    g_autoptr(VlVirtTestRig) rig = vl_virt_test_rig_new("test:///default", 10, 80);
    g_autoptr(json_object) json = NULL;
    json_object *field = NULL;

    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    vl_conn_handle_close(rig->conn, VIR_CONNECT_CLOSE_REASON_EOF);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 2));

    json = vl_conn_to_json(rig->conn);
    ck_assert_uint_eq(json_object_object_length(json), 5);
    ck_assert(json_object_object_get_ex(json, "uri", &field));
    ck_assert_str_eq(json_object_get_string(field), "test:///default");
    ck_assert(json_object_object_get_ex(json, "connected", &field));
    ck_assert(json_object_is_type(field, json_type_boolean));
    ck_assert(json_object_get_boolean(field));
    ck_assert(json_object_object_get_ex(json, "since", &field));
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(field)));
    ck_assert(json_object_object_get_ex(json, "reconnects", &field));
    ck_assert(json_object_is_type(field, json_type_int));
    ck_assert_int_eq(json_object_get_int(field), 1);
    ck_assert(json_object_object_get_ex(json, "last_error", &field));
    ck_assert(json_object_is_type(field, json_type_string));
}
END_TEST

START_TEST(test_free_while_connecting)
{
    VlVirtTestRig *orphan = vl_virt_test_rig_new("test:///default", 10, 80);
    g_autoptr(VlVirtTestRig) rig = NULL;

    /*
     * The open is still running in its thread.  When it completes, its
     * callback must not touch the freed VlConn (ASan and valgrind would
     * catch it) and the orphaned connection is closed.  The next rig's
     * attempt starts after it, so waiting for that one usually (not
     * certainly: the thread pool may finish them out of order) lets the
     * orphan's callback run first.
     */
    vl_virt_test_rig_free(orphan);
    rig = vl_virt_test_rig_new("test:///default", 10, 80);
    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    ck_assert_uint_eq(rig->n_connected, 1);
}
END_TEST

static Suite *
conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc;

    tc = tcase_create("backoff");
    tcase_add_loop_test(tc, test_backoff, 0, G_N_ELEMENTS(backoff_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("reconnect");
    tcase_add_test(tc, test_not_connected_before_start);
    tcase_add_test(tc, test_reconnect_after_close);
    tcase_add_test(tc, test_close_while_disconnected_is_ignored);
    tcase_add_test(tc, test_failed_attempts_back_off);
    tcase_add_test(tc, test_uri_change_reconnects);
    tcase_add_test(tc, test_json_shape);
    tcase_add_test(tc, test_free_while_connecting);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    vl_virt_test_init();
    return vl_test_run_suite(conn_suite());
}
