/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <stdlib.h>

#include "test-util.h"

static gboolean
on_timeout(gpointer data)
{
    gboolean *expired = data;

    *expired = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean
vl_test_loop_run_until(VlTestCondition cond, gpointer data, guint timeout_ms)
{
    gboolean expired = FALSE;
    guint id = g_timeout_add(timeout_ms, on_timeout, &expired);
    gboolean ok;

    while (!(ok = cond(data)) && !expired)
        g_main_context_iteration(NULL, TRUE);

    if (!expired)
        g_source_remove(id);
    return ok;
}

char *
vl_test_data_path(const char *relpath)
{
    const char *srcdir = g_getenv("abs_srcdir");

    if (!srcdir)
        srcdir = ".";
    return g_build_filename(srcdir, "tests", "data", relpath, NULL);
}

int
vl_test_run_suite(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
