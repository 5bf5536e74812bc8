/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include "domains.h"
#include "timestamp.h"
#include "virt-test.h"
#include "vl-autoptr.h"

START_TEST(test_ring_keeps_last_64)
{
    g_autoptr(VlDomainTable) table = vl_domain_table_new();
    VlDomainInfo *info;
    guint i;

    for (i = 0; i < VL_DOMAIN_EVENTS_MAX + 6; i++) {
        g_autofree char *what = g_strdup_printf("migration-iteration %u", i);

        vl_domain_table_record(table, "web-1", NULL, VL_EVENT_SOURCE_LIBVIRT,
                               what);
    }

    info = vl_domain_table_lookup(table, "web-1");
    ck_assert_ptr_nonnull(info);
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), 64);
    /* The six oldest are gone; the rest are in order. */
    for (i = 0; i < VL_DOMAIN_EVENTS_MAX; i++) {
        g_autofree char *expected = g_strdup_printf("migration-iteration %u",
                                                    i + 6);

        ck_assert_str_eq(vl_domain_info_get_event(info, i)->event, expected);
    }
}
END_TEST

START_TEST(test_ring_before_full)
{
    g_autoptr(VlDomainTable) table = vl_domain_table_new();
    VlDomainInfo *info;

    vl_domain_table_record(table, "a", NULL, VL_EVENT_SOURCE_HOOK, "prepare begin");
    vl_domain_table_record(table, "a", NULL, VL_EVENT_SOURCE_QEMU, "qemu MIGRATION setup");
    info = vl_domain_table_lookup(table, "a");
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), 2);
    ck_assert_str_eq(vl_domain_info_get_event(info, 0)->event, "prepare begin");
    ck_assert_int_eq(vl_domain_info_get_event(info, 0)->source, VL_EVENT_SOURCE_HOOK);
    ck_assert_str_eq(vl_domain_info_get_event(info, 1)->event, "qemu MIGRATION setup");
    ck_assert_int_eq(vl_domain_info_get_event(info, 1)->source, VL_EVENT_SOURCE_QEMU);
    ck_assert(vl_domain_info_get_event(info, 0)->time_us <=
              vl_domain_info_get_event(info, 1)->time_us);
    ck_assert_ptr_null(vl_domain_table_lookup(table, "b"));
}
END_TEST

START_TEST(test_state_and_uuid)
{
    g_autoptr(VlDomainTable) table = vl_domain_table_new();
    VlDomainInfo *info;

    vl_domain_table_record(table, "a", NULL, VL_EVENT_SOURCE_HOOK, "prepare begin");
    info = vl_domain_table_lookup(table, "a");
    /* Known only from the hook so far. */
    ck_assert_str_eq(vl_domain_info_get_state(info), "unknown");
    ck_assert_ptr_null(vl_domain_info_get_uuid(info));

    vl_domain_table_set_state(table, "a", "6695eb01-f6a4-8304-79aa-97f2502e193f",
                              "running");
    info = vl_domain_table_lookup(table, "a");
    ck_assert_str_eq(vl_domain_info_get_state(info), "running");
    ck_assert_str_eq(vl_domain_info_get_uuid(info),
                     "6695eb01-f6a4-8304-79aa-97f2502e193f");
    /* A NULL uuid keeps the known one. */
    vl_domain_table_set_state(table, "a", NULL, "paused");
    ck_assert_str_eq(vl_domain_info_get_uuid(info),
                     "6695eb01-f6a4-8304-79aa-97f2502e193f");
    ck_assert_uint_eq(vl_domain_table_size(table), 1);
}
END_TEST

START_TEST(test_json)
{
    g_autoptr(VlDomainTable) table = vl_domain_table_new();
    g_autoptr(json_object) array = NULL;
    json_object *dom;
    json_object *events;
    json_object *ev;
    json_object *field;
    /* Names come from admins: spaces, quotes, ';' and UTF-8 stay intact. */
    const char *odd = "b web 'x\";1\xc3\xa9";

    vl_domain_table_record(table, odd, NULL, VL_EVENT_SOURCE_HOOK, "stopped end");
    vl_domain_table_set_state(table, "a", "6695eb01-f6a4-8304-79aa-97f2502e193f",
                              "running");
    vl_domain_table_record(table, "a", NULL, VL_EVENT_SOURCE_LIBVIRT,
                           "lifecycle resumed migrated");

    array = vl_domain_table_to_json(table);
    ck_assert(json_object_is_type(array, json_type_array));
    ck_assert_uint_eq(json_object_array_length(array), 2);

    /* Sorted by name. */
    dom = json_object_array_get_idx(array, 0);
    ck_assert(json_object_object_get_ex(dom, "name", &field));
    ck_assert_str_eq(json_object_get_string(field), "a");
    ck_assert(json_object_object_get_ex(dom, "uuid", &field));
    ck_assert_str_eq(json_object_get_string(field),
                     "6695eb01-f6a4-8304-79aa-97f2502e193f");
    ck_assert(json_object_object_get_ex(dom, "state", &field));
    ck_assert_str_eq(json_object_get_string(field), "running");
    ck_assert(json_object_object_get_ex(dom, "events", &events));
    ck_assert_uint_eq(json_object_array_length(events), 1);
    ev = json_object_array_get_idx(events, 0);
    ck_assert_uint_eq(json_object_object_length(ev), 3);
    ck_assert(json_object_object_get_ex(ev, "time", &field));
    ck_assert(vl_virt_test_is_timestamp(json_object_get_string(field)));
    ck_assert(json_object_object_get_ex(ev, "source", &field));
    ck_assert_str_eq(json_object_get_string(field), "libvirt");
    ck_assert(json_object_object_get_ex(ev, "event", &field));
    ck_assert_str_eq(json_object_get_string(field), "lifecycle resumed migrated");

    dom = json_object_array_get_idx(array, 1);
    ck_assert(json_object_object_get_ex(dom, "name", &field));
    ck_assert_str_eq(json_object_get_string(field), odd);
    /* Unknown uuid: present, null. */
    ck_assert(json_object_object_get_ex(dom, "uuid", &field));
    ck_assert_ptr_null(field);
    ck_assert(json_object_object_get_ex(dom, "events", &events));
    ev = json_object_array_get_idx(events, 0);
    ck_assert(json_object_object_get_ex(ev, "source", &field));
    ck_assert_str_eq(json_object_get_string(field), "hook");
}
END_TEST

START_TEST(test_timestamp_format)
{
    g_autofree char *a = vl_timestamp_format(0);
    g_autofree char *b = vl_timestamp_format(G_GINT64_CONSTANT(1700000000123456));
    g_autofree char *c = vl_timestamp_format(-1000);
    g_autofree char *now = vl_timestamp_format(g_get_real_time());

    ck_assert_str_eq(a, "1970-01-01T00:00:00.000Z");
    /* Milliseconds are truncated, not rounded. */
    ck_assert_str_eq(b, "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq(c, "1969-12-31T23:59:59.999Z");
    ck_assert(vl_virt_test_is_timestamp(now));
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(vl_domain_state_to_string(VIR_DOMAIN_RUNNING), "running");
    ck_assert_str_eq(vl_domain_state_to_string(VIR_DOMAIN_PAUSED), "paused");
    ck_assert_str_eq(vl_domain_state_to_string(VIR_DOMAIN_SHUTOFF), "shutoff");
    ck_assert_str_eq(vl_domain_state_to_string(VIR_DOMAIN_PMSUSPENDED), "pmsuspended");
    ck_assert_str_eq(vl_domain_state_to_string(99), "unknown");
    ck_assert_str_eq(vl_event_source_to_string(VL_EVENT_SOURCE_QEMU), "qemu");
}
END_TEST

static Suite *
domains_suite(void)
{
    Suite *s = suite_create("domains");
    TCase *tc;

    tc = tcase_create("ring");
    tcase_add_test(tc, test_ring_keeps_last_64);
    tcase_add_test(tc, test_ring_before_full);
    tcase_add_test(tc, test_state_and_uuid);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_timestamp_format);
    tcase_add_test(tc, test_state_names);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(domains_suite());
}
