/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * 'virt-lanes container add|remove DOMAIN NAME' in process against
 * test:///default (the CLI's connection and the test's share the driver's
 * state): the tag lands in the live and persistent definitions as the
 * domain allows, awkward names work, bad input changes nothing.
 */
#include <config.h>

#include <string.h>

#include <libvirt/virterror.h>

#include "commands.h"
#include "container-manager.h"
#include "virt-test.h"
#include "vl-virt-autoptr.h"

static const VlCliOptions opts = {
    .socket_path = "/nonexistent",
    .uri = "test:///default",
};

static int
run(const char *sub, const char *domain, const char *name)
{
    char *argv[] = { (char *)"container", (char *)sub, (char *)domain,
                     (char *)name, NULL };
    int argc = 0;

    while (argv[argc])
        argc++;
    return vl_cmd_container(&opts, argc, argv);
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

static virConnectPtr
open_conn(void)
{
    virConnectPtr conn;

    vl_virt_test_init();
    conn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(conn);
    return conn;
}

static void
define(virConnectPtr conn, const char *name, gboolean persistent,
       gboolean start)
{
    g_autofree char *esc = g_markup_escape_text(name, -1);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'><name>%s</name><memory>8192</memory>"
        "<os><type>hvm</type></os></domain>", esc);
    g_autoptr(virDomain) dom = persistent ? virDomainDefineXML(conn, xml)
                                          : virDomainCreateXML(conn, xml, 0);

    ck_assert_ptr_nonnull(dom);
    if (persistent && start)
        ck_assert_int_eq(virDomainCreate(dom), 0);
}

/* The tag in the live (@inactive FALSE) or persistent definition. */
static char *
tag(virConnectPtr conn, const char *name, gboolean inactive)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);
    g_autoptr(GError) error = NULL;
    char *t = NULL;

    ck_assert_ptr_nonnull(dom);
    ck_assert_msg(vl_container_manager_read_tag(dom,
                                                inactive ? VIR_DOMAIN_XML_INACTIVE : 0,
                                                &t, &error),
                  "%s", error ? error->message : "");
    return t;
}

static void
assert_tag(virConnectPtr conn, const char *name, gboolean inactive,
           const char *expected)
{
    g_autofree char *t = tag(conn, name, inactive);

    ck_assert_pstr_eq(t, expected);
}

START_TEST(test_add_remove_running)
{
    virConnectPtr conn = open_conn();
    static const char name[] = "web 1; 'q' \"x\" <y>";

    define(conn, name, TRUE, TRUE);
    ck_assert_int_eq(run("add", name, "web"), 0);
    assert_tag(conn, name, FALSE, "web");
    assert_tag(conn, name, TRUE, "web");

    /* Moving to another container replaces the tag. */
    ck_assert_int_eq(run("add", name, "db.2_x-y"), 0);
    assert_tag(conn, name, FALSE, "db.2_x-y");
    assert_tag(conn, name, TRUE, "db.2_x-y");

    /* Removing it from a container it is not in: refused, unchanged. */
    ck_assert_int_eq(run("remove", name, "web"), 1);
    assert_tag(conn, name, TRUE, "db.2_x-y");
    ck_assert_int_eq(run("remove", name, "db.2_x-y"), 0);
    assert_tag(conn, name, FALSE, NULL);
    assert_tag(conn, name, TRUE, NULL);
    ck_assert_int_eq(run("remove", name, "db.2_x-y"), 1);
    remove_test_domains(conn);
    virConnectClose(conn);
}
END_TEST

/* Off: only the definition can hold it; transient: only the live one. */
START_TEST(test_inactive_and_transient)
{
    virConnectPtr conn = open_conn();

    define(conn, "off-1", TRUE, FALSE);
    ck_assert_int_eq(run("add", "off-1", "web"), 0);
    assert_tag(conn, "off-1", TRUE, "web");
    assert_tag(conn, "off-1", FALSE, "web");    /* the same XML when off */

    define(conn, "transient-1", FALSE, TRUE);
    ck_assert_int_eq(run("add", "transient-1", "web"), 0);
    assert_tag(conn, "transient-1", FALSE, "web");
    ck_assert_int_eq(run("remove", "transient-1", "web"), 0);
    assert_tag(conn, "transient-1", FALSE, NULL);
    remove_test_domains(conn);
    virConnectClose(conn);
}
END_TEST

START_TEST(test_bad_input)
{
    virConnectPtr conn = open_conn();
    char *too_many[] = { (char *)"container", (char *)"add", (char *)"test",
                         (char *)"web", (char *)"x", NULL };
    char *too_few[] = { (char *)"container", (char *)"add", (char *)"test", NULL };
    VlCliOptions bad_uri = opts;

    define(conn, "good", TRUE, FALSE);
    /* Usage errors: 2, nothing touched. */
    ck_assert_int_eq(run("tag", "good", "web"), 2);
    ck_assert_int_eq(run("add", "good", "web farm"), 2);
    ck_assert_int_eq(run("add", "good", "we'b"), 2);
    ck_assert_int_eq(run("add", "good", ""), 2);
    ck_assert_int_eq(run("add", "", "web"), 2);
    ck_assert_int_eq(run("add", "good",
                         "a2345678901234567890123456789012345678901234567890123456789012345"),
                     2);
    ck_assert_int_eq(vl_cmd_container(&opts, 5, too_many), 2);
    ck_assert_int_eq(vl_cmd_container(&opts, 3, too_few), 2);
    assert_tag(conn, "good", TRUE, NULL);

    /* Runtime errors: 1. */
    ck_assert_int_eq(run("add", "no such domain", "web"), 1);
    ck_assert_int_eq(run("remove", "good", "web"), 1);
    bad_uri.uri = "nosuchdriver:///x";
    {
        char *argv[] = { (char *)"container", (char *)"add", (char *)"good",
                         (char *)"web", NULL };

        ck_assert_int_eq(vl_cmd_container(&bad_uri, 4, argv), 1);
    }
    assert_tag(conn, "good", TRUE, NULL);
    remove_test_domains(conn);
    virConnectClose(conn);
}
END_TEST

static Suite *
cmd_container_suite(void)
{
    Suite *s = suite_create("cmd-container");
    TCase *tc = tcase_create("tag");

    tcase_add_test(tc, test_add_remove_running);
    tcase_add_test(tc, test_inactive_and_transient);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(cmd_container_suite());
}
