/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h: the log writer the three main() layers install
 *
 * The libraries never log beyond g_debug(); the daemon and CLI install
 * this GLogWriterFunc once, at start-up.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * vl_log_setup:
 * @log_file: (nullable): append here instead of stderr
 * @verbose: also write debug messages
 * @error: (out) (optional): set when @log_file cannot be opened
 *
 * Installs a writer that prints "TIMESTAMP LEVEL: message" lines.
 */
gboolean vl_log_setup(const char *log_file, gboolean verbose, GError **error);

/* Reopens the log file (after logrotate), keeping the old one on failure. */
gboolean vl_log_reopen(GError **error);

G_END_DECLS
