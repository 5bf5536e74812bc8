/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * script-run.h: running an admin-replaceable script, bounded
 *
 * The daemon runs the scripts of its script directory (lane-up,
 * lane-down, lane-steer) through here and nowhere else:
 *
 * - argv only, never a shell;
 * - a cleared environment plus an allow-list: PATH (the daemon's, or a
 *   fixed system PATH) and LC_ALL=C;
 * - stdin /dev/null, stdout discarded, stderr captured (first 64 KiB);
 * - its own process group, killed (SIGKILL to the group) when the
 *   timeout passes;
 * - the directory and the script must be owned by root or the effective
 *   user and not be group- or world-writable (checked on opened fds).
 *
 * Failure is VL_ERROR_SCRIPT "Script 'lane-up' for 'lane1' failed with
 * exit code 1: <first stderr line>" (or "was killed by signal N"), or
 * VL_ERROR_TIMEOUT "Script 'lane-up' for 'lane1' did not finish within
 * 2.5 s and was killed".  The stderr line is made safe for one log line
 * (control characters escaped, at most 200 bytes, invalid UTF-8
 * replaced).
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

/* Bytes of stderr kept; the rest is read and dropped. */
#define VL_SCRIPT_STDERR_MAX (64 * 1024)

typedef struct _VlScriptRunner VlScriptRunner;

/* @script_dir: copied.  Nothing is checked until a script runs. */
VlScriptRunner *vl_script_runner_new(const char *script_dir);
void vl_script_runner_free(VlScriptRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlScriptRunner, vl_script_runner_free)

const char *vl_script_runner_get_dir(VlScriptRunner *runner);

/**
 * vl_script_runner_run_async:
 * @script: a file name inside the script directory ("lane-up"); no '/'
 * @subject: what the run is about, named in errors ("lane1")
 * @args: (array zero-terminated=1): the arguments after argv[0]
 * @timeout_ms: kill the script's process group after this long (> 0)
 * @cancellable: (nullable): cancelling kills the script too
 *
 * Runs SCRIPT_DIR/@script @args...
 */
void vl_script_runner_run_async(VlScriptRunner *runner,
                                const char *script,
                                const char *subject,
                                const char *const *args,
                                guint timeout_ms,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);

/* @stderr_text: (out) (optional) (transfer full): what the script wrote
 * on stderr (also on success). */
gboolean vl_script_runner_run_finish(VlScriptRunner *runner,
                                     GAsyncResult *result,
                                     char **stderr_text,
                                     GError **error);

G_END_DECLS
