/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>

#include "test-util.h"
#include "vl-error.h"

START_TEST(test_errno_message)
{
    g_autoptr(GError) error = NULL;

    vl_error_set_from_errno(&error, ENOENT, "Cannot open '%s'", "/nowhere");
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_str_eq(error->message,
                     "Cannot open '/nowhere': No such file or directory");
}
END_TEST

START_TEST(test_errno_null_error)
{
    /* Callers may pass NULL when they do not care; that must not crash. */
    vl_error_set_from_errno(NULL, EPERM, "Ignored '%s'", "x");
}
END_TEST

static Suite *
error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("errno");

    tcase_add_test(tc, test_errno_message);
    tcase_add_test(tc, test_errno_null_error);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(error_suite());
}
