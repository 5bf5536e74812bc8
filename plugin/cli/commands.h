/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * commands.h: the virt-lanes CLI's sub-commands
 *
 * main.c parses the global options (--socket, --connect, --json,
 * --verbose) and dispatches to one vl_cmd_* per cmd-*.c file.  Each
 * parses its own arguments (GOptionContext), writes results to stdout
 * and diagnostics to stderr, and returns the exit code: 0 success,
 * 1 runtime failure, 2 usage error.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    const char *socket_path; /* the daemon's socket */
    const char *uri;         /* libvirt URI, for commands that connect */
    gboolean json;           /* machine-readable output */
    gboolean verbose;
} VlCliOptions;

/* @argv[0] is the sub-command's name. */
typedef int (*VlCmdFunc)(const VlCliOptions *opts, int argc, char **argv);

int vl_cmd_status(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_policy(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_evacuate(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_containers(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_container(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_migrate(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_lanes(const VlCliOptions *opts, int argc, char **argv);
int vl_cmd_estimate(const VlCliOptions *opts, int argc, char **argv);

G_END_DECLS
