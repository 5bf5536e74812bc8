/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Events from test:///default into the domain table, in process.  The
 * tests drive domains through the rig's own connection: test:///default
 * state lives only while some connection to it is open (and a fresh
 * state has the one running domain "test"), so each test starts clean.
 */
#include <config.h>

#include "events.h"
#include "virt-test.h"
#include "vl-virt-autoptr.h"

#define TEST_NS "https://virt-lanes.example/ns/test/1"

static VlVirtTestRig *
connected_rig(void)
{
    VlVirtTestRig *rig = vl_virt_test_rig_new("test:///default", 10, 100);

    ck_assert(vl_virt_test_rig_wait_connections(rig, 1));
    return rig;
}

/* Waits for event number @n (1-based) of @name and checks it and the
 * state it leaves. */
static void
expect_event(VlVirtTestRig *rig, const char *name, guint n,
             const char *event, const char *state)
{
    VlDomainInfo *info;

    ck_assert_msg(vl_virt_test_wait_events(rig->table, name, n),
                  "no event %u ('%s') for '%s'", n, event, name);
    info = vl_domain_table_lookup(rig->table, name);
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), n);
    ck_assert_str_eq(vl_domain_info_get_event(info, n - 1)->event, event);
    ck_assert_int_eq(vl_domain_info_get_event(info, n - 1)->source,
                     VL_EVENT_SOURCE_LIBVIRT);
    ck_assert_str_eq(vl_domain_info_get_state(info), state);
}

START_TEST(test_seeded_from_domain_list)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();
    VlDomainInfo *info = vl_domain_table_lookup(rig->table, "test");

    ck_assert_ptr_nonnull(info);
    ck_assert_str_eq(vl_domain_info_get_state(info), "running");
    ck_assert_str_eq(vl_domain_info_get_uuid(info),
                     "6695eb01-f6a4-8304-79aa-97f2502e193f");
    /* Seeding is not an event. */
    ck_assert_uint_eq(vl_domain_info_get_n_events(info), 0);
}
END_TEST

START_TEST(test_lifecycle_in_order)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();
    g_autoptr(virDomain) dom = NULL;
    g_auto(GStrv) events = NULL;
    VlDomainInfo *info;
    guint i;

    dom = virDomainLookupByName(vl_conn_get_virt(rig->conn), "test");
    ck_assert_ptr_nonnull(dom);

    ck_assert_int_eq(virDomainSuspend(dom), 0);
    expect_event(rig, "test", 1, "lifecycle suspended paused", "paused");
    ck_assert_int_eq(virDomainResume(dom), 0);
    expect_event(rig, "test", 2, "lifecycle resumed unpaused", "running");
    ck_assert_int_eq(virDomainDestroy(dom), 0);
    expect_event(rig, "test", 3, "lifecycle stopped destroyed", "shutoff");
    ck_assert_int_eq(virDomainCreate(dom), 0);
    expect_event(rig, "test", 4, "lifecycle started booted", "running");

    /* Issued back to back, they still arrive in order. */
    ck_assert_int_eq(virDomainSuspend(dom), 0);
    ck_assert_int_eq(virDomainResume(dom), 0);
    ck_assert_int_eq(virDomainDestroy(dom), 0);
    ck_assert(vl_virt_test_wait_events(rig->table, "test", 7));
    events = vl_virt_test_events(rig->table, "test");
    ck_assert_str_eq(events[4], "lifecycle suspended paused");
    ck_assert_str_eq(events[5], "lifecycle resumed unpaused");
    ck_assert_str_eq(events[6], "lifecycle stopped destroyed");
    ck_assert_ptr_null(events[7]);

    info = vl_domain_table_lookup(rig->table, "test");
    ck_assert_str_eq(vl_domain_info_get_state(info), "shutoff");
    for (i = 1; i < 7; i++)
        ck_assert(vl_domain_info_get_event(info, i - 1)->time_us <=
                  vl_domain_info_get_event(info, i)->time_us);
}
END_TEST

START_TEST(test_define_start_undefine)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();
    g_autoptr(virDomain) dom = NULL;
    /* An admin's name: spaces, quotes, ';' and UTF-8 must survive. */
    const char *name = "web 'a\";b\xc3\xa9";
    g_autofree char *escaped = g_markup_escape_text(name, -1);
    g_autofree char *xml = g_strdup_printf("<domain type='test'><name>%s</name>"
                                           "<memory>8192</memory>"
                                           "<os><type>hvm</type></os></domain>",
                                           escaped);
    VlDomainInfo *info;

    dom = virDomainDefineXML(vl_conn_get_virt(rig->conn), xml);
    ck_assert_ptr_nonnull(dom);
    expect_event(rig, name, 1, "lifecycle defined added", "shutoff");
    info = vl_domain_table_lookup(rig->table, name);
    ck_assert_ptr_nonnull(vl_domain_info_get_uuid(info));

    ck_assert_int_eq(virDomainCreate(dom), 0);
    expect_event(rig, name, 2, "lifecycle started booted", "running");
    ck_assert_int_eq(virDomainDestroy(dom), 0);
    expect_event(rig, name, 3, "lifecycle stopped destroyed", "shutoff");
    ck_assert_int_eq(virDomainUndefine(dom), 0);
    expect_event(rig, name, 4, "lifecycle undefined removed", "absent");
}
END_TEST

START_TEST(test_metadata_change)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();
    g_autoptr(virDomain) dom = NULL;

    dom = virDomainLookupByName(vl_conn_get_virt(rig->conn), "test");
    ck_assert_ptr_nonnull(dom);

    ck_assert_int_eq(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                          "<container name='web'/>", "lanes",
                                          TEST_NS, VIR_DOMAIN_AFFECT_LIVE), 0);
    expect_event(rig, "test", 1, "metadata-change element", "running");
    ck_assert_int_eq(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_TITLE,
                                          "Web server", NULL, NULL,
                                          VIR_DOMAIN_AFFECT_LIVE), 0);
    expect_event(rig, "test", 2, "metadata-change title", "running");
}
END_TEST

static int
count_lifecycle(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom G_GNUC_UNUSED,
                int event G_GNUC_UNUSED, int detail G_GNUC_UNUSED, void *opaque)
{
    guint *count = opaque;

    (*count)++;
    return 0;
}

static gboolean
count_positive(gpointer data)
{
    return *(guint *)data > 0;
}

START_TEST(test_detach_stops_recording)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();
    g_autoptr(virDomain) dom = NULL;
    virConnectPtr vconn = vl_conn_get_virt(rig->conn);
    guint probe_count = 0;
    int probe;

    vl_events_detach(rig->events);
    /* A callback of our own proves the event was dispatched at all. */
    probe = virConnectDomainEventRegisterAny(vconn, NULL,
                                             VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(count_lifecycle),
                                             &probe_count, NULL);
    ck_assert_int_ge(probe, 0);

    dom = virDomainLookupByName(vconn, "test");
    ck_assert_int_eq(virDomainSuspend(dom), 0);
    ck_assert(vl_virt_test_wait(count_positive, &probe_count));
    ck_assert_uint_eq(vl_domain_info_get_n_events(vl_domain_table_lookup(rig->table,
                                                                         "test")), 0);
    virConnectDomainEventDeregisterAny(vconn, probe);

    /* Attaching again resumes recording and re-seeds the state. */
    ck_assert(vl_events_attach(rig->events, vconn, NULL));
    ck_assert_str_eq(vl_domain_info_get_state(vl_domain_table_lookup(rig->table,
                                                                     "test")),
                     "paused");
    ck_assert_int_eq(virDomainResume(dom), 0);
    expect_event(rig, "test", 1, "lifecycle resumed unpaused", "running");
}
END_TEST

START_TEST(test_no_qemu_monitor_on_test_driver)
{
    g_autoptr(VlVirtTestRig) rig = connected_rig();

    /* Tolerated: test:/// has no QEMU monitor; the rest still works. */
    ck_assert(!vl_events_has_qemu_monitor(rig->events));
}
END_TEST

typedef struct {
    int event;
    int detail;
    const char *text;
} LifecycleCase;

static const LifecycleCase lifecycle_cases[] = {
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, "lifecycle started booted" },
    { VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, "lifecycle started migrated" },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "lifecycle stopped destroyed" },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, "lifecycle stopped migrated" },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, "lifecycle stopped failed" },
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, "lifecycle suspended migrated" },
    { VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED, "lifecycle suspended postcopy_failed" },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, "lifecycle resumed migrated" },
    { VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED, "lifecycle resumed postcopy_failed" },
    { VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT, "lifecycle defined from_snapshot" },
    { VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_RENAMED, "lifecycle undefined renamed" },
    { VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST, "lifecycle shutdown host" },
    { VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_DISK, "lifecycle pmsuspended disk" },
    { VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED, "lifecycle crashed crashloaded" },
    /* Values from a newer libvirt print as numbers rather than lie. */
    { VIR_DOMAIN_EVENT_STOPPED, 42, "lifecycle stopped 42" },
    { 42, 7, "lifecycle 42 7" },
    { -1, -1, "lifecycle -1 -1" },
};

START_TEST(test_lifecycle_names)
{
    const LifecycleCase *c = &lifecycle_cases[_i];
    g_autofree char *text = vl_events_lifecycle_to_string(c->event, c->detail);

    ck_assert_str_eq(text, c->text);
}
END_TEST

typedef struct {
    const char *event;
    const char *details;
    const char *text;
} QemuCase;

static const QemuCase qemu_cases[] = {
    { "MIGRATION", "{\"status\":\"setup\"}", "qemu MIGRATION setup" },
    { "MIGRATION", "{\"status\": \"pre-switchover\", \"extra\": 1}",
      "qemu MIGRATION pre-switchover" },
    { "MIGRATION", "{\"status\":\"completed\"}", "qemu MIGRATION completed" },
    /* Whatever is not a short token stays out of the record. */
    { "MIGRATION", "{\"status\":\"two words\"}", "qemu MIGRATION ?" },
    { "MIGRATION", "{\"status\":\"line\\nbreak\"}", "qemu MIGRATION ?" },
    { "MIGRATION", "{\"status\":7}", "qemu MIGRATION ?" },
    { "MIGRATION", "{\"state\":\"setup\"}", "qemu MIGRATION ?" },
    { "MIGRATION", "[\"setup\"]", "qemu MIGRATION ?" },
    { "MIGRATION", "{not json", "qemu MIGRATION ?" },
    { "MIGRATION", NULL, "qemu MIGRATION ?" },
    { "MIGRATION", "{\"status\":\"\"}", "qemu MIGRATION ?" },
    { "MIGRATION", "{\"status\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
      "qemu MIGRATION ?" },
    { "BAD EVENT", "{\"status\":\"setup\"}", "qemu ? setup" },
    { NULL, NULL, "qemu ? ?" },
};

START_TEST(test_qemu_names)
{
    const QemuCase *c = &qemu_cases[_i];
    g_autofree char *text = vl_events_qemu_to_string(c->event, c->details);

    ck_assert_str_eq(text, c->text);
}
END_TEST

static Suite *
events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *tc;

    tc = tcase_create("test-driver");
    tcase_add_test(tc, test_seeded_from_domain_list);
    tcase_add_test(tc, test_lifecycle_in_order);
    tcase_add_test(tc, test_define_start_undefine);
    tcase_add_test(tc, test_metadata_change);
    tcase_add_test(tc, test_detach_stops_recording);
    tcase_add_test(tc, test_no_qemu_monitor_on_test_driver);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_loop_test(tc, test_lifecycle_names, 0, G_N_ELEMENTS(lifecycle_cases));
    tcase_add_loop_test(tc, test_qemu_names, 0, G_N_ELEMENTS(qemu_cases));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    vl_virt_test_init();
    return vl_test_run_suite(events_suite());
}
