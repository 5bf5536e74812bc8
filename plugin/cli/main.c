/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes: global options, then one sub-command from the table below
 * (each in its own cmd-*.c, see commands.h).
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"

typedef struct {
    const char *name;
    VlCmdFunc func;
    const char *summary;
} VlCliCommand;

/* Adding a sub-command is one line here (and its cmd-*.c in meson). */
static const VlCliCommand commands[] = {
    { "container", vl_cmd_container, "Tag or untag a container member: container add|remove DOMAIN NAME" },
    { "containers", vl_cmd_containers, "Show the virtual containers: containers [NAME]" },
    { "evacuate", vl_cmd_evacuate, "Move a container or this host's domains away in traffic order" },
    { "lanes", vl_cmd_lanes, "Show lanes; bring them up or down: lanes [list|up PEER|down]" },
    { "estimate", vl_cmd_estimate, "Predict a migration: estimate DOMAIN [--to HOST] [--lanes N]" },
    { "migrate", vl_cmd_migrate, "Migrate a domain over lanes: migrate DOMAIN DESTURI" },
    { "policy", vl_cmd_policy, "Check policy files: policy check FILE|DIR..." },
    { "status", vl_cmd_status, "Show the daemon, its libvirt connection and the domains" },
};

static char *opt_socket;
static char *opt_connect;
static gboolean opt_json;
static gboolean opt_verbose;
static gboolean opt_version;

static GOptionEntry option_entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
      "The daemon's socket (default: " VL_SOCKET_PATH ")", "PATH" },
    { "connect", 'c', 0, G_OPTION_ARG_STRING, &opt_connect,
      "libvirt URI for commands that connect (default: " VL_DEFAULT_URI ")", "URI" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Machine-readable output", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "More detail", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
      "Print the version and exit", NULL },
    { NULL }
};

static GOptionContext *
make_context(void)
{
    GOptionContext *octx = g_option_context_new("COMMAND [ARG…]");
    GString *summary = g_string_new("Commands:");
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(commands); i++)
        g_string_append_printf(summary, "\n  %-10s %s", commands[i].name,
                               commands[i].summary);
    g_string_append(summary, "\n\n'virt-lanes COMMAND --help' describes a command's own options.");
    g_option_context_set_summary(octx, summary->str);
    g_string_free(summary, TRUE);
    g_option_context_add_main_entries(octx, option_entries, NULL);
    /* Stop at the command: what follows is the command's business. */
    g_option_context_set_strict_posix(octx, TRUE);
    return octx;
}

static int
usage(GOptionContext *octx, const char *problem)
{
    g_autofree char *help = g_option_context_get_help(octx, TRUE, NULL);

    if (problem)
        fprintf(stderr, "virt-lanes: %s\n", problem);
    fputs(help, stderr);
    return 2;
}

static int
run(int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = make_context();
    g_autoptr(GError) error = NULL;
    g_autofree char *problem = NULL;
    g_autofree char *shown = NULL;
    VlCliOptions opts = { NULL };
    gsize i;

    if (!g_option_context_parse(octx, &argc, &argv, &error))
        return usage(octx, error->message);
    if (opt_version) {
        printf("virt-lanes %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (argc < 2)
        return usage(octx, "No command given");

    /* Messages from the libraries (g_debug with --verbose) go to stderr. */
    if (!vl_log_setup(NULL, opt_verbose, &error)) {
        fprintf(stderr, "virt-lanes: %s\n", error->message);
        return 1;
    }

    opts.socket_path = opt_socket ? opt_socket : VL_SOCKET_PATH;
    opts.uri = opt_connect ? opt_connect : VL_DEFAULT_URI;
    opts.json = opt_json;
    opts.verbose = opt_verbose;

    for (i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(commands[i].name, argv[1]))
            return commands[i].func(&opts, argc - 1, argv + 1);
    }

    shown = g_strescape(argv[1], NULL);
    problem = g_strdup_printf("Unknown command '%s'", shown);
    return usage(octx, problem);
}

int
main(int argc, char **argv)
{
    int ret = run(argc, argv);

    g_free(opt_socket);
    g_free(opt_connect);
    return ret;
}
