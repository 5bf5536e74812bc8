/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>
#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*VlTestCondition)(gpointer data);

/**
 * vl_test_loop_run_until:
 * @cond: checked after every main-context iteration
 * @data: passed to @cond
 * @timeout_ms: hard limit
 *
 * Iterates the default main context until @cond returns TRUE or the
 * timeout passes; never sleeps blindly.  Returns the last value of @cond.
 */
gboolean vl_test_loop_run_until(VlTestCondition cond, gpointer data,
                                guint timeout_ms);

/* Path of a file under the source tree's tests/data, e.g. "policy/ok.json". */
char *vl_test_data_path(const char *relpath);

/* Runs @suite with Check's default runner; returns the process exit code. */
int vl_test_run_suite(Suite *suite);

G_END_DECLS
