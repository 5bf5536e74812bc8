/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemonize.h: --daemon, in the manner of virtlogd
 *
 * The parent does not return from vl_daemonize(): it waits until the
 * child reports that it is serving (exit 0) or has failed (exit 1), so
 * that "virt-lanesd --daemon && virt-lanes status" works and start-up
 * errors reach the caller's terminal.  Call it before any thread exists
 * (before g_unix_signal_add() and the first GTask).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * vl_daemonize:
 * @error: (out) (optional): VL_ERROR_IO when fork or setsid fails
 *
 * In the child (a new session, cwd "/", stdin and stdout on /dev/null,
 * stderr kept until vl_daemonize_ready()): returns the descriptor to
 * report readiness on.  Returns -1 on failure, in the original process.
 */
int vl_daemonize(GError **error);

/*
 * Tells the waiting parent to exit 0 (@ok) or 1 and closes @fd.  When
 * @keep_stderr is FALSE, stderr goes to /dev/null as well: after this
 * point nobody may be reading it any more.
 */
void vl_daemonize_ready(int fd, gboolean ok, gboolean keep_stderr);

G_END_DECLS
