/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cmd-estimate.c: the text form of "virt-lanes estimate": a golden
 * table for a full reply (tests/data/estimate/reply.{json,out}; rewrite
 * the .out with VL_TEST_REGENERATE=1 and review the diff), and replies
 * with fields missing or of the wrong type, which print "?" rather than
 * crash.
 */
#include <config.h>

#include <string.h>

#include "cmd-estimate-priv.h"
#include "test-util.h"
#include "vl-autoptr.h"

START_TEST(test_golden_table)
{
    g_autofree char *in_path = vl_test_data_path("estimate/reply.json");
    g_autofree char *out_path = vl_test_data_path("estimate/reply.out");
    g_autofree char *expected = NULL;
    g_autoptr(json_object) reply = json_object_from_file(in_path);
    g_autoptr(GString) out = g_string_new(NULL);

    ck_assert_ptr_nonnull(reply);
    vl_cmd_estimate_format(reply, out);
    if (g_getenv("VL_TEST_REGENERATE"))
        ck_assert(g_file_set_contents(out_path, out->str, -1, NULL));
    ck_assert(g_file_get_contents(out_path, &expected, NULL, NULL));
    ck_assert_str_eq(out->str, expected);
    /* No raw control character reaches the terminal. */
    ck_assert_ptr_null(strchr(out->str, '\033'));
}
END_TEST

START_TEST(test_broken_replies)
{
    static const char *const replies[] = {
        "{}",
        "{\"ok\": true, \"inputs\": 3, \"rows\": {}, \"notes\": [1, null]}",
        "{\"inputs\": {\"curve\": [1, {\"seconds\": \"x\"}], \"dirty_age_s\": 5},"
        " \"rows\": [1, {\"lanes\": \"one\"}]}",
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(replies); i++) {
        g_autoptr(json_object) reply = json_tokener_parse(replies[i]);
        g_autoptr(GString) out = g_string_new(NULL);

        ck_assert_ptr_nonnull(reply);
        vl_cmd_estimate_format(reply, out);
        ck_assert_ptr_nonnull(strstr(out->str, "Domain '?'"));
        ck_assert_ptr_nonnull(strstr(out->str, "lanes  links  channels"));
    }
}
END_TEST

static Suite *
cmd_estimate_suite(void)
{
    Suite *s = suite_create("cmd-estimate");
    TCase *tc = tcase_create("format");

    tcase_add_test(tc, test_golden_table);
    tcase_add_test(tc, test_broken_replies);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(cmd_estimate_suite());
}
