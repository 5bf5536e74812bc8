/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <libvirt/libvirt.h>
#include <string.h>

#include "test-util.h"
#include "virt-error.h"
#include "vl-virt-autoptr.h"

/* Keeps libvirt's default error printer off stderr. */
static void
quiet_errors(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

START_TEST(test_message_survives_resetting_arguments)
{
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_nonnull(conn);
    dom = virDomainLookupByName(conn, "no such domain");
    ck_assert_ptr_null(dom);

    /* virConnectGetType() resets libvirt's last error when it is entered,
     * as every public libvirt function does; the reason must survive. */
    vl_error_set_from_virt(&error, "Cannot find '%s' on '%s'",
                           "no such domain", virConnectGetType(conn));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_LIBVIRT));
    ck_assert_msg(g_str_has_prefix(error->message,
                                   "Cannot find 'no such domain' on 'TEST': "),
                  "%s", error->message);
    ck_assert_msg(strstr(error->message, "Domain not found") != NULL,
                  "libvirt's reason is missing: %s", error->message);
}
END_TEST

START_TEST(test_without_libvirt_error)
{
    g_autoptr(GError) error = NULL;

    virResetLastError();
    vl_error_set_from_virt(&error, "Nothing failed in '%s'", "x");
    ck_assert_str_eq(error->message, "Nothing failed in 'x'");
    vl_error_set_from_virt(NULL, "Ignored '%s'", "y");
}
END_TEST

static Suite *
virt_error_suite(void)
{
    Suite *s = suite_create("virt-error");
    TCase *tc = tcase_create("message");

    tcase_add_test(tc, test_message_survives_resetting_arguments);
    tcase_add_test(tc, test_without_libvirt_error);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    if (virInitialize() < 0)
        return 1;
    virSetErrorFunc(NULL, quiet_errors);
    return vl_test_run_suite(virt_error_suite());
}
