/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlExecutor against test:///default: every action really changes the
 * domains (started, shut off, defined with a new identity), reports its
 * member transitions and exactly one outcome, and a failing action is a
 * failure with a message.
 */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libvirt/virterror.h>

#include "container-manager.h"
#include "executor.h"
#include "metadata.h"
#include "template.h"
#include "virt-test.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

typedef struct {
    virConnectPtr conn;
    VlExecutor *executor;
    VlContainerPolicy *policy;
    GPtrArray *reports;         /* "member state[ host]" */
    guint finished;
    VlContainerOutcome outcome;
    char *message;
    char *dir;                  /* for disk images */
    int lifecycle_id;
} Fixture;

static void
on_member_state(VlExecutor *executor G_GNUC_UNUSED, const char *container,
                const char *member, VlContainerMemberState state,
                const char *host, gpointer user_data)
{
    Fixture *fx = user_data;

    ck_assert_str_eq(container, "web");
    g_ptr_array_add(fx->reports,
                    g_strdup_printf("%s %s%s%s", member,
                                    vl_container_member_state_to_string(state),
                                    host ? " " : "", host ? host : ""));
}

static void
on_finished(VlExecutor *executor G_GNUC_UNUSED,
            const VlContainerDecision *decision, VlContainerOutcome outcome,
            const char *message, gpointer user_data)
{
    Fixture *fx = user_data;

    ck_assert_str_eq(decision->container, "web");
    fx->finished++;
    fx->outcome = outcome;
    g_free(fx->message);
    fx->message = g_strdup(message);
}

/* The daemon forwards lifecycle events to the executor; so do we. */
static int
on_lifecycle(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail, void *opaque)
{
    Fixture *fx = opaque;

    vl_executor_handle_lifecycle(fx->executor, virDomainGetName(dom), event,
                                 detail);
    return 0;
}

static Fixture *
fixture_new(void)
{
    Fixture *fx = g_new0(Fixture, 1);
    VlExecutorHandlers handlers = {
        .member_state = on_member_state,
        .finished = on_finished,
    };
    g_autofree char *fake = NULL;

    vl_virt_test_init();
    fx->conn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(fx->conn);
    fx->executor = vl_executor_new(&handlers, fx);
    fake = g_build_filename(g_getenv("VL_SRCDIR"), "tests", "fixtures",
                            "fake-qemu-img", NULL);
    vl_executor_set_qemu_img(fx->executor, fake);
    fx->policy = vl_container_policy_new();
    fx->policy->name = g_strdup("web");
    fx->policy->shutdown_timeout_s = 5;
    fx->reports = g_ptr_array_new_with_free_func(g_free);
    fx->dir = g_dir_make_tmp("vl-executor-XXXXXX", NULL);
    fx->lifecycle_id =
        virConnectDomainEventRegisterAny(fx->conn, NULL,
                                         VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                         fx, NULL);
    ck_assert_int_ge(fx->lifecycle_id, 0);
    return fx;
}

/* Leaves test:///default as found: with CK_FORK=no (valgrind) its state
 * outlives a test while any connection (a worker's) still holds it. */
static void
remove_test_domains(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    int i;

    for (i = 0; i < n; i++) {
        if (!g_str_equal(virDomainGetName(doms[i]), "test")) {
            if (virDomainIsActive(doms[i]) == 1)
                virDomainDestroy(doms[i]);
            if (virDomainIsPersistent(doms[i]) == 1)
                virDomainUndefine(doms[i]);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
}

static void
fixture_free(Fixture *fx)
{
    virConnectDomainEventDeregisterAny(fx->conn, fx->lifecycle_id);
    vl_executor_free(fx->executor);
    vl_container_policy_free(fx->policy);
    g_ptr_array_unref(fx->reports);
    g_free(fx->message);
    vl_virt_test_rmdir(fx->dir);
    g_free(fx->dir);
    remove_test_domains(fx->conn);
    virConnectClose(fx->conn);
    g_free(fx);
}

static gboolean
is_finished(gpointer data)
{
    return ((Fixture *)data)->finished > 0;
}

static VlContainerDecision *
decision(VlContainerAction action, const char *start, const char *define,
         const char *members)
{
    VlContainerDecision *d = g_new0(VlContainerDecision, 1);

    d->action = action;
    d->reason = VL_CONTAINER_REASON_OVERLOADED;
    d->container = g_strdup("web");
    d->start = g_strdup(start);
    d->define = g_strdup(define);
    d->members = members ? g_strsplit(members, ",", -1) : NULL;
    d->indicator = VL_INDICATOR_LAST;
    d->threshold = VL_CONTAINER_THRESHOLD_LAST;
    return d;
}

/* Submits @d, checks nothing is reported from inside submit(), waits. */
static void
run(Fixture *fx, VlContainerDecision *d, const char *const *hosts)
{
    fx->finished = 0;
    vl_executor_submit(fx->executor, fx->conn, fx->policy, d, hosts);
    ck_assert_uint_eq(fx->finished, 0);
    ck_assert_uint_eq(fx->reports->len, 0);
    ck_assert(vl_virt_test_wait(is_finished, fx));
    ck_assert_uint_eq(fx->finished, 1);
    vl_container_decision_free(d);
}

static char *
escape(const char *s)
{
    return g_markup_escape_text(s, -1);
}

static void
define(Fixture *fx, const char *name, const char *extra, gboolean start)
{
    g_autofree char *esc = escape(name);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'><name>%s</name><memory>8192</memory>"
        "<os><type>hvm</type></os><devices>%s</devices></domain>",
        esc, extra ? extra : "");
    g_autoptr(virDomain) dom = virDomainDefineXML(fx->conn, xml);

    ck_assert_msg(dom != NULL, "define '%s': %s", name, virGetLastErrorMessage());
    if (start)
        ck_assert_int_eq(virDomainCreate(dom), 0);
}

static int
state_of(Fixture *fx, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->conn, name);
    int state = -1;
    int reason = 0;

    if (!dom)
        return -1;
    ck_assert_int_eq(virDomainGetState(dom, &state, &reason, 0), 0);
    return state;
}

static void
assert_reports(Fixture *fx, const char *const *expected)
{
    guint i;

    for (i = 0; expected[i]; i++) {
        ck_assert_msg(i < fx->reports->len, "report %u missing: '%s'", i,
                      expected[i]);
        ck_assert_str_eq(g_ptr_array_index(fx->reports, i), expected[i]);
    }
    ck_assert_uint_eq(fx->reports->len, i);
}

/* ---- start, shut down, replace, combine --------------------------------- */

START_TEST(test_start_standby)
{
    Fixture *fx = fixture_new();
    static const char name[] = "web 2; 'q' \"x\"";
    g_autofree char *starting = g_strdup_printf("%s starting", name);
    g_autofree char *running = g_strdup_printf("%s running", name);
    const char *expected[] = { starting, running, NULL };

    define(fx, name, NULL, FALSE);
    ck_assert_int_eq(state_of(fx, name), VIR_DOMAIN_SHUTOFF);
    run(fx, decision(VL_CONTAINER_ACTION_START_STANDBY, name, NULL, NULL), NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_SUCCESS);
    ck_assert_ptr_null(fx->message);
    ck_assert_int_eq(state_of(fx, name), VIR_DOMAIN_RUNNING);
    assert_reports(fx, expected);
    ck_assert_ptr_null(vl_executor_get_step(fx->executor, "web"));
    fixture_free(fx);
}
END_TEST

START_TEST(test_shutdown_member)
{
    Fixture *fx = fixture_new();
    const char *expected[] = { "web-1 stopping", "web-1 off", NULL };

    define(fx, "web-1", NULL, TRUE);
    run(fx, decision(VL_CONTAINER_ACTION_SHUTDOWN_MEMBER, NULL, NULL, "web-1"),
        NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_SUCCESS);
    ck_assert_int_eq(state_of(fx, "web-1"), VIR_DOMAIN_SHUTOFF);
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

START_TEST(test_replace)
{
    Fixture *fx = fixture_new();
    const char *expected[] = { "web-b starting", "web-b running",
                               "web-a stopping", "web-a off", NULL };

    define(fx, "web-a", NULL, TRUE);
    define(fx, "web-b", NULL, FALSE);
    run(fx, decision(VL_CONTAINER_ACTION_REPLACE, "web-b", NULL, "web-a"), NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_SUCCESS);
    ck_assert_int_eq(state_of(fx, "web-a"), VIR_DOMAIN_SHUTOFF);
    ck_assert_int_eq(state_of(fx, "web-b"), VIR_DOMAIN_RUNNING);
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

START_TEST(test_combine)
{
    Fixture *fx = fixture_new();
    const char *expected[] = { "web-c starting", "web-c running",
                               "web-a stopping", "web-a off",
                               "web-b stopping", "web-b off", NULL };

    define(fx, "web-a", NULL, TRUE);
    define(fx, "web-b", NULL, TRUE);
    define(fx, "web-c", NULL, FALSE);
    run(fx, decision(VL_CONTAINER_ACTION_COMBINE, "web-c", NULL, "web-a,web-b"),
        NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_SUCCESS);
    ck_assert_int_eq(state_of(fx, "web-a"), VIR_DOMAIN_SHUTOFF);
    ck_assert_int_eq(state_of(fx, "web-b"), VIR_DOMAIN_SHUTOFF);
    ck_assert_int_eq(state_of(fx, "web-c"), VIR_DOMAIN_RUNNING);
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

/* A replacement that cannot start: nothing is shut down. */
START_TEST(test_replace_start_fails)
{
    Fixture *fx = fixture_new();

    define(fx, "web-a", NULL, TRUE);
    run(fx, decision(VL_CONTAINER_ACTION_REPLACE, "web-gone", NULL, "web-a"),
        NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_msg(g_str_has_prefix(fx->message, "Cannot find domain 'web-gone'"),
                  "%s", fx->message);
    ck_assert_int_eq(state_of(fx, "web-a"), VIR_DOMAIN_RUNNING);
    /* Starting was reported, then nothing (the domain does not exist). */
    ck_assert_uint_eq(fx->reports->len, 1);
    ck_assert_str_eq(g_ptr_array_index(fx->reports, 0), "web-gone starting");
    fixture_free(fx);
}
END_TEST

/* ---- define from the template -------------------------------------------- */

static char *
uuid_of(Fixture *fx, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->conn, name);
    char uuid[VIR_UUID_STRING_BUFLEN];

    ck_assert_ptr_nonnull(dom);
    ck_assert_int_eq(virDomainGetUUIDString(dom, uuid), 0);
    return g_strdup(uuid);
}

static char *
xml_of(Fixture *fx, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->conn, name);
    char *raw;
    char *copy;

    ck_assert_ptr_nonnull(dom);
    raw = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    copy = g_strdup(raw);
    free(raw);
    return copy;
}

static char *
tag_of(Fixture *fx, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(fx->conn, name);
    g_autoptr(GError) error = NULL;
    char *tag = NULL;

    ck_assert_ptr_nonnull(dom);
    ck_assert_msg(vl_container_manager_read_tag(dom, VIR_DOMAIN_XML_INACTIVE,
                                                &tag, &error),
                  "%s", error ? error->message : "");
    return tag;
}

static const char template_nic[] =
    "<interface type='network'><mac address='52:54:00:aa:bb:cc'/>"
    "<source network='default'/></interface>";

START_TEST(test_define_and_start)
{
    Fixture *fx = fixture_new();
    g_autofree char *tmpl_uuid = NULL;
    g_autofree char *new_uuid = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *tag = NULL;
    g_auto(GStrv) macs = NULL;
    const char *expected[] = { "web-3 off", "web-3 starting", "web-3 running",
                               NULL };

    define(fx, "tmpl-web", template_nic, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    tmpl_uuid = uuid_of(fx, "tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, "web-3", "web-3",
                     NULL), NULL);
    ck_assert_msg(fx->outcome == VL_CONTAINER_OUTCOME_SUCCESS, "%s", fx->message);
    ck_assert_int_eq(state_of(fx, "web-3"), VIR_DOMAIN_RUNNING);
    ck_assert_int_eq(state_of(fx, "tmpl-web"), VIR_DOMAIN_SHUTOFF);
    new_uuid = uuid_of(fx, "web-3");
    ck_assert_str_ne(new_uuid, tmpl_uuid);
    xml = xml_of(fx, "web-3");
    macs = vl_template_list_macs(xml, strlen(xml), NULL);
    ck_assert_uint_eq(g_strv_length(macs), 1);
    ck_assert_str_ne(macs[0], "52:54:00:aa:bb:cc");
    tag = tag_of(fx, "web-3");
    ck_assert_str_eq(tag, "web");
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

/* The standby ratio's definition: defined, left off. */
START_TEST(test_define_only)
{
    Fixture *fx = fixture_new();
    const char *expected[] = { "web-4 off", NULL };

    define(fx, "tmpl-web", NULL, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, NULL, "web-4",
                     NULL), NULL);
    ck_assert_msg(fx->outcome == VL_CONTAINER_OUTCOME_SUCCESS, "%s", fx->message);
    ck_assert_int_eq(state_of(fx, "web-4"), VIR_DOMAIN_SHUTOFF);
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

static char *
disk_xml(const char *path)
{
    g_autofree char *esc = escape(path);

    return g_strdup_printf("<disk type='file' device='disk'>"
                           "<driver name='qemu' type='raw'/>"
                           "<source file='%s'/><target dev='vda' bus='virtio'/>"
                           "</disk>", esc);
}

START_TEST(test_define_with_disk)
{
    Fixture *fx = fixture_new();
    g_autofree char *base = g_build_filename(fx->dir, "base.img", NULL);
    g_autofree char *overlay = g_build_filename(fx->dir, "web-5.qcow2", NULL);
    g_autofree char *argv_file = g_strdup_printf("%s.argv", overlay);
    g_autofree char *disk = disk_xml(base);
    g_autofree char *argv = NULL;
    g_autofree char *expected_argv = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xpath_source = NULL;

    define(fx, "tmpl-web", disk, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, NULL, "web-5",
                     NULL), NULL);
    ck_assert_msg(fx->outcome == VL_CONTAINER_OUTCOME_SUCCESS, "%s", fx->message);

    /* qemu-img got exactly this argv, no shell in between. */
    ck_assert(g_file_get_contents(argv_file, &argv, NULL, NULL));
    expected_argv = g_strdup_printf("create\n-f\nqcow2\n-b\n%s\n-F\nraw\n%s\n",
                                    base, overlay);
    ck_assert_str_eq(argv, expected_argv);
    ck_assert(g_file_test(overlay, G_FILE_TEST_IS_REGULAR));

    xml = xml_of(fx, "web-5");
    xpath_source = g_strdup_printf("<source file='%s'", overlay);
    ck_assert_msg(strstr(xml, xpath_source), "%s", xml);
    ck_assert_ptr_nonnull(strstr(xml, "type='qcow2'"));
    fixture_free(fx);
}
END_TEST

START_TEST(test_define_qemu_img_fails)
{
    Fixture *fx = fixture_new();
    g_autofree char *base = g_build_filename(fx->dir, "fail.img", NULL);
    g_autofree char *overlay = g_build_filename(fx->dir, "web-6.qcow2", NULL);
    g_autofree char *disk = disk_xml(base);
    g_autofree char *prefix = NULL;

    define(fx, "tmpl-web", disk, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, "web-6", "web-6",
                     NULL), NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    prefix = g_strdup_printf("qemu-img failed to create overlay '%s' of '%s': "
                             "qemu-img: %s: Could not open", overlay, base,
                             overlay);
    ck_assert_msg(g_str_has_prefix(fx->message, prefix), "%s", fx->message);
    /* Nothing left behind: no overlay, no domain. */
    ck_assert(!g_file_test(overlay, G_FILE_TEST_EXISTS));
    ck_assert_int_eq(state_of(fx, "web-6"), -1);
    ck_assert_uint_eq(fx->reports->len, 0);
    fixture_free(fx);
}
END_TEST

/* An overlay of that name exists: never overwritten. */
START_TEST(test_define_overlay_exists)
{
    Fixture *fx = fixture_new();
    g_autofree char *base = g_build_filename(fx->dir, "base.img", NULL);
    g_autofree char *overlay = g_build_filename(fx->dir, "web-7.qcow2", NULL);
    g_autofree char *disk = disk_xml(base);
    g_autofree char *content = NULL;
    g_autofree char *prefix = NULL;

    ck_assert(g_file_set_contents(overlay, "precious", -1, NULL));
    define(fx, "tmpl-web", disk, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, "web-7", "web-7",
                     NULL), NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    prefix = g_strdup_printf("Cannot create overlay '%s'", overlay);
    ck_assert_msg(g_str_has_prefix(fx->message, prefix), "%s", fx->message);
    ck_assert(g_file_get_contents(overlay, &content, NULL, NULL));
    ck_assert_str_eq(content, "precious");
    ck_assert_int_eq(state_of(fx, "web-7"), -1);
    fixture_free(fx);
}
END_TEST

START_TEST(test_define_name_taken)
{
    Fixture *fx = fixture_new();

    define(fx, "tmpl-web", NULL, FALSE);
    define(fx, "web-8", NULL, FALSE);
    fx->policy->template_domain = g_strdup("tmpl-web");
    run(fx, decision(VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE, NULL, "web-8",
                     NULL), NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_str_eq(fx->message,
                     "Cannot define 'web-8' from template 'tmpl-web': a domain of that name exists");
    fixture_free(fx);
}
END_TEST

/* ---- failures ------------------------------------------------------------ */

START_TEST(test_start_missing_domain)
{
    Fixture *fx = fixture_new();

    run(fx, decision(VL_CONTAINER_ACTION_START_STANDBY, "nope", NULL, NULL),
        NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_msg(g_str_has_prefix(fx->message, "Cannot find domain 'nope': "),
                  "%s", fx->message);
    fixture_free(fx);
}
END_TEST

/* test:/// cannot migrate: the member is reported moving, then as it is. */
START_TEST(test_migrate_fails)
{
    Fixture *fx = fixture_new();
    VlContainerDecision *d = decision(VL_CONTAINER_ACTION_MIGRATE_AWAY, NULL,
                                      NULL, "web-m");
    const char *expected[] = { "web-m migrating", "web-m running", NULL };

    define(fx, "web-m", NULL, TRUE);
    d->peer = g_strdup("test:///peer");
    run(fx, d, NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_msg(g_str_has_prefix(fx->message,
                                   "Cannot migrate domain 'web-m' to 'test:///peer'"),
                  "%s", fx->message);
    ck_assert_int_eq(state_of(fx, "web-m"), VIR_DOMAIN_RUNNING);
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

/* The migration hook point: what it does is the migration. */
static gboolean
fake_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data,
             GError **error G_GNUC_UNUSED)
{
    GPtrArray *calls = user_data;

    /* Called in a worker thread; the domain "leaves" this host. */
    ck_assert_int_eq(virDomainDestroy(dom), 0);
    g_ptr_array_add(calls, g_strdup_printf("%s -> %s", virDomainGetName(dom),
                                           dest_uri));
    return TRUE;
}

START_TEST(test_migrate_hook)
{
    Fixture *fx = fixture_new();
    g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func(g_free);
    VlContainerDecision *d = decision(VL_CONTAINER_ACTION_MIGRATE_AWAY, NULL,
                                      NULL, "web-m1,web-m2");
    const char *expected[] = { "web-m1 migrating", "web-m1 running qemu+tcp://b/system",
                               "web-m2 migrating", "web-m2 running qemu+tcp://b/system",
                               NULL };

    define(fx, "web-m1", NULL, TRUE);
    define(fx, "web-m2", NULL, TRUE);
    d->peer = g_strdup("qemu+tcp://b/system");
    vl_executor_set_migrate_func(fx->executor, fake_migrate, calls);
    run(fx, d, NULL);
    ck_assert_msg(fx->outcome == VL_CONTAINER_OUTCOME_SUCCESS, "%s", fx->message);
    ck_assert_uint_eq(calls->len, 2);
    ck_assert_str_eq(g_ptr_array_index(calls, 0), "web-m1 -> qemu+tcp://b/system");
    ck_assert_str_eq(g_ptr_array_index(calls, 1), "web-m2 -> qemu+tcp://b/system");
    assert_reports(fx, expected);
    ck_assert_uint_eq(vl_executor_get_migrations(fx->executor), 0);
    fixture_free(fx);
}
END_TEST

/* Where the default migration sends QEMU's stream, by destination. */
START_TEST(test_migration_uris)
{
    g_autoptr(VlExecutor) executor = vl_executor_new(&(VlExecutorHandlers){ 0 }, NULL);

    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, "qemu+tcp://b/system"));
    vl_executor_set_migration_uri(executor, "qemu+tcp://b/system", "tcp://198.19.0.2");
    vl_executor_set_migration_uri(executor, "qemu+tcp://a/system", "tcp://[fd00::1]");
    ck_assert_str_eq(vl_executor_get_migration_uri(executor, "qemu+tcp://b/system"),
                     "tcp://198.19.0.2");
    /* The same host written otherwise. */
    ck_assert_str_eq(vl_executor_get_migration_uri(executor, "qemu+tcp://B/system/"),
                     "tcp://198.19.0.2");
    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, "qemu+tcp://c/system"));
    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, NULL));
    vl_executor_set_migration_uri(executor, "qemu+tcp://b/system", NULL);
    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, "qemu+tcp://b/system"));
    vl_executor_clear_migration_uris(executor);
    ck_assert_ptr_null(vl_executor_get_migration_uri(executor, "qemu+tcp://a/system"));
}
END_TEST

START_TEST(test_bring_back_needs_home_uri)
{
    Fixture *fx = fixture_new();
    const char *hosts[] = { "test:///default", NULL };
    const char *expected[] = { "web-m migrating test:///default",
                               "web-m running test:///default", NULL };

    define(fx, "web-m", NULL, FALSE);
    run(fx, decision(VL_CONTAINER_ACTION_BRING_BACK, NULL, NULL, "web-m"), hosts);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_str_eq(fx->message,
                     "Cannot bring 'web-m' back from 'test:///default': '[containers] home_uri' is not set");
    assert_reports(fx, expected);
    fixture_free(fx);
}
END_TEST

START_TEST(test_not_connected)
{
    Fixture *fx = fixture_new();
    VlContainerDecision *d = decision(VL_CONTAINER_ACTION_START_STANDBY, "web-1",
                                      NULL, NULL);

    vl_executor_submit(fx->executor, NULL, fx->policy, d, NULL);
    ck_assert(vl_virt_test_wait(is_finished, fx));
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_str_eq(fx->message, "Not connected to libvirt");
    vl_container_decision_free(d);
    fixture_free(fx);
}
END_TEST

START_TEST(test_incomplete_decisions)
{
    Fixture *fx = fixture_new();
    VlContainerDecision *cases[] = {
        decision(VL_CONTAINER_ACTION_START_STANDBY, NULL, NULL, NULL),
        decision(VL_CONTAINER_ACTION_COMBINE, "web-c", NULL, "web-a"),
        decision(VL_CONTAINER_ACTION_MIGRATE_AWAY, NULL, NULL, "web-a"),
        decision(VL_CONTAINER_ACTION_BRING_BACK, NULL, NULL, "web-a"),
        decision(VL_CONTAINER_ACTION_NONE, NULL, NULL, NULL),
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *expected = g_strdup_printf(
            "Decision '%s' of container 'web' is incomplete",
            vl_container_action_to_string(cases[i]->action));

        run(fx, cases[i], NULL);
        ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
        ck_assert_str_eq(fx->message, expected);
    }
    ck_assert_uint_eq(fx->reports->len, 0);
    fixture_free(fx);
}
END_TEST

START_TEST(test_advised_never_runs)
{
    Fixture *fx = fixture_new();
    VlContainerDecision *d = decision(VL_CONTAINER_ACTION_START_STANDBY, "web-1",
                                      NULL, NULL);

    define(fx, "web-1", NULL, FALSE);
    d->advise = TRUE;
    run(fx, d, NULL);
    ck_assert_int_eq(fx->outcome, VL_CONTAINER_OUTCOME_FAILURE);
    ck_assert_int_eq(state_of(fx, "web-1"), VIR_DOMAIN_SHUTOFF);
    fixture_free(fx);
}
END_TEST

/* ---- lifetime --------------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean inside;
    gboolean release;
} Gate;

static gboolean
gated_migrate(virDomainPtr dom G_GNUC_UNUSED, const char *dest_uri G_GNUC_UNUSED,
              gpointer user_data, GError **error)
{
    Gate *gate = user_data;

    g_mutex_lock(&gate->lock);
    gate->inside = TRUE;
    g_main_context_wakeup(NULL);
    while (!gate->release)
        g_cond_wait(&gate->cond, &gate->lock);
    g_mutex_unlock(&gate->lock);
    g_set_error(error, VL_ERROR, VL_ERROR_FAILED, "released");
    return FALSE;
}

static gboolean
gate_inside(gpointer data)
{
    Gate *gate = data;
    gboolean inside;

    g_mutex_lock(&gate->lock);
    inside = gate->inside;
    g_mutex_unlock(&gate->lock);
    return inside;
}

/* Submits the migration of a new "web-m" to b and waits until the
 * migrate function holds it at @gate. */
static void
submit_gated(Fixture *fx, Gate *gate)
{
    VlContainerDecision *d = decision(VL_CONTAINER_ACTION_MIGRATE_AWAY, NULL,
                                      NULL, "web-m");

    define(fx, "web-m", NULL, TRUE);
    d->peer = g_strdup("qemu+tcp://b/system");
    vl_executor_submit(fx->executor, fx->conn, fx->policy, d, NULL);
    vl_container_decision_free(d);
    ck_assert(vl_virt_test_wait(gate_inside, gate));
}

/* Frees the executor (a new one takes its place), then lets the held
 * migration end. */
static void
free_then_release(Fixture *fx, Gate *gate)
{
    g_clear_pointer(&fx->executor, vl_executor_free);
    fx->executor = vl_executor_new(NULL, NULL);
    g_mutex_lock(&gate->lock);
    gate->release = TRUE;
    g_cond_broadcast(&gate->cond);
    g_mutex_unlock(&gate->lock);
}

/* Freed with a job in a worker thread: no handler is called later. */
START_TEST(test_free_with_job_running)
{
    Fixture *fx = fixture_new();
    static Gate gate;

    vl_executor_set_migrate_func(fx->executor, gated_migrate, &gate);
    submit_gated(fx, &gate);
    ck_assert(vl_executor_is_migrating(fx->executor, "web-m"));
    ck_assert(!vl_executor_is_migrating(fx->executor, "web-x"));
    ck_assert_uint_eq(vl_executor_get_migrations(fx->executor), 1);
    ck_assert_str_eq(vl_executor_get_step(fx->executor, "web"),
                     "step 1 of 1: migrating 'web-m' to 'qemu+tcp://b/system'");

    free_then_release(fx, &gate);
    /* Let the abandoned job's completion arrive, if it (wrongly) would. */
    vl_test_loop_run_until(is_finished, fx, 500);
    ck_assert_uint_eq(fx->finished, 0);
    ck_assert_uint_eq(fx->reports->len, 1);     /* "migrating", before */
    fixture_free(fx);
}
END_TEST

/* Reference-counted data for the migration: one reference per step's
 * thread, also for a thread the executor abandons. */
typedef struct {
    gint refs;
    gint ref_calls;
    Gate gate;
} RefData;

static gpointer
ref_data_ref(gpointer data)
{
    RefData *r = data;

    g_atomic_int_inc(&r->refs);
    g_atomic_int_inc(&r->ref_calls);
    return r;
}

static void
ref_data_unref(gpointer data)
{
    RefData *r = data;

    g_atomic_int_add(&r->refs, -1);
    g_main_context_wakeup(NULL);
}

static gboolean
refs_are_zero(gpointer data)
{
    return g_atomic_int_get(&((RefData *)data)->refs) == 0;
}

static gboolean
ref_migrate(virDomainPtr dom, const char *dest_uri, gpointer user_data,
            GError **error)
{
    RefData *r = user_data;
    gboolean ok;

    /* the step's own reference, besides the executor's */
    ck_assert_int_eq(g_atomic_int_get(&r->refs), 2);
    ok = gated_migrate(dom, dest_uri, &r->gate, error);
    /* released after the executor was freed: only this step's is left */
    ck_assert_int_eq(g_atomic_int_get(&r->refs), 1);
    return ok;
}

START_TEST(test_migrate_func_full_refs)
{
    Fixture *fx = fixture_new();
    static RefData r;

    r.refs = 1;                 /* the executor's, handed over below */
    vl_executor_set_migrate_func_full(fx->executor, ref_migrate, &r,
                                      ref_data_ref, ref_data_unref);
    submit_gated(fx, &r.gate);
    ck_assert_int_eq(g_atomic_int_get(&r.refs), 2);
    ck_assert_int_eq(g_atomic_int_get(&r.ref_calls), 1);

    /* the executor goes, its reference with it; the thread keeps its own
     * until it ends (ref_migrate() checks) */
    free_then_release(fx, &r.gate);
    ck_assert(vl_virt_test_wait(refs_are_zero, &r));
    ck_assert_uint_eq(fx->finished, 0);
    fixture_free(fx);
}
END_TEST

static Suite *
executor_suite(void)
{
    Suite *s = suite_create("executor");
    TCase *tc;

    tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_start_standby);
    tcase_add_test(tc, test_shutdown_member);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_combine);
    tcase_add_test(tc, test_replace_start_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("define");
    tcase_add_test(tc, test_define_and_start);
    tcase_add_test(tc, test_define_only);
    tcase_add_test(tc, test_define_with_disk);
    tcase_add_test(tc, test_define_qemu_img_fails);
    tcase_add_test(tc, test_define_overlay_exists);
    tcase_add_test(tc, test_define_name_taken);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_test(tc, test_start_missing_domain);
    tcase_add_test(tc, test_migrate_fails);
    tcase_add_test(tc, test_migrate_hook);
    tcase_add_test(tc, test_migration_uris);
    tcase_add_test(tc, test_bring_back_needs_home_uri);
    tcase_add_test(tc, test_not_connected);
    tcase_add_test(tc, test_incomplete_decisions);
    tcase_add_test(tc, test_advised_never_runs);
    tcase_add_test(tc, test_free_with_job_running);
    tcase_add_test(tc, test_migrate_func_full_refs);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(executor_suite());
}
