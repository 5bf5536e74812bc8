/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-run.h: one run of virt-lanes-hook, from argv to exit code
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bound on the daemon call (connect + send + reply). */
#define VL_HOOK_TIMEOUT_MS 3000
/* Bound on reading the XML from stdin. */
#define VL_HOOK_STDIN_TIMEOUT_MS 2000

/* Receives one finished line (no newline, never the XML) and a syslog
 * priority (LOG_WARNING, LOG_NOTICE, ...). */
typedef void (*VlHookLogFunc)(int priority, const char *message,
                              gpointer user_data);

typedef struct {
    const char *socket_path;    /* borrowed */
    guint timeout_ms;
    guint stdin_timeout_ms;
    gsize xml_limit;
    int err_fd;                 /* where a refusal's reason goes (stderr) */
    VlHookLogFunc log;          /* nullable: then nothing is recorded */
    gpointer log_data;
} VlHookConfig;

/* Fills @config with the compiled defaults (VL_SOCKET_PATH, stderr, ...). */
void vl_hook_config_init(VlHookConfig *config);

/**
 * vl_hook_run:
 * @config: (transfer none): paths, bounds and the log sink
 * @argc: as passed to main()
 * @argv: (transfer none): "PROG NAME OP SUBOP EXTRA"
 * @in_fd: the domain XML (stdin)
 *
 * Reads the XML, sends the event to the daemon and applies its verdict.
 * Never writes to stdout.  Returns the exit code: 1 only when the daemon
 * refused an operation libvirtd honours a refusal for (the reason is
 * written to @config->err_fd), 0 in every other case.
 */
int vl_hook_run(const VlHookConfig *config, int argc, char *const *argv,
                int in_fd);

G_END_DECLS
