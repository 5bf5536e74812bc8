/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanesd: option parsing, start-up order and the main loop; the
 * logic lives in libvl-core (daemon.c).
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>

#include "daemon.h"
#include "daemonize.h"
#include "log.h"
#include "pidfile.h"
#include "vl-config.h"

static char *opt_uri;
static char *opt_socket;
static char *opt_config;
static char *opt_log_file;
static char *opt_pid_file;
static char *opt_policy_dir;
static char *opt_lane_journal;
static char *opt_script_dir;
static gboolean opt_verbose;
static gboolean opt_daemon;
static gboolean opt_check_config;
static gboolean opt_version;

static GOptionEntry option_entries[] = {
    { "uri", 'u', 0, G_OPTION_ARG_STRING, &opt_uri,
      "libvirt URI to connect to (default: " VL_DEFAULT_URI ")", "URI" },
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
      "Serve the IPC socket at PATH (default: " VL_SOCKET_PATH ")", "PATH" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
      "Read the configuration from FILE (default: " VL_CONFIG_FILE ")", "FILE" },
    { "log-file", 'l', 0, G_OPTION_ARG_FILENAME, &opt_log_file,
      "Append log messages to FILE instead of stderr", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "Log debug messages too", NULL },
    { "daemon", 'd', 0, G_OPTION_ARG_NONE, &opt_daemon,
      "Detach and run in the background", NULL },
    { "pid-file", 'p', 0, G_OPTION_ARG_FILENAME, &opt_pid_file,
      "Write and lock a pid file (default with --daemon: " VL_RUNSTATEDIR "/virt-lanesd.pid)",
      "FILE" },
    { "policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_policy_dir,
      "Read the policy from DIR (default: " VL_POLICYDIR ")", "DIR" },
    { "lane-journal", 0, 0, G_OPTION_ARG_FILENAME, &opt_lane_journal,
      "Record the lanes brought up in FILE (default: " VL_STATEDIR "/lanes.json)", "FILE" },
    { "script-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_script_dir,
      "Run lane-up, lane-down and lane-steer from DIR (default: " VL_SCRIPTDIR ")", "DIR" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &opt_check_config,
      "Check the configuration file and exit", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
      "Print the version and exit", NULL },
    { NULL }
};

typedef struct {
    GMainLoop *loop;
    VlDaemon *daemon;
} Context;

static void
log_message(GLogLevelFlags level, const char *message,
            gpointer user_data G_GNUC_UNUSED)
{
    g_log(G_LOG_DOMAIN, level, "%s", message);
}

static void
on_stopped(VlDaemon *daemon G_GNUC_UNUSED, gpointer data)
{
    Context *ctx = data;

    g_main_loop_quit(ctx->loop);
}

static gboolean
on_quit(gpointer data)
{
    Context *ctx = data;

    if (!ctx->daemon) {
        g_main_loop_quit(ctx->loop);
        return G_SOURCE_CONTINUE;
    }
    if (vl_daemon_is_stopping(ctx->daemon)) {
        g_message("Still taking lanes down; SIGKILL abandons them (the next start recovers them)");
        return G_SOURCE_CONTINUE;
    }
    g_message("Shutting down on a signal");
    /* Lanes come down first; the loop ends when they have. */
    vl_daemon_stop(ctx->daemon, on_stopped, ctx);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_reload(gpointer data)
{
    Context *ctx = data;
    g_autoptr(GError) error = NULL;

    /* After logrotate: the old file may have been moved away. */
    if (!vl_log_reopen(&error)) {
        g_warning("%s", error->message);
        g_clear_error(&error);
    }
    if (!vl_daemon_reload(ctx->daemon, &error))
        g_warning("Keeping the old configuration: %s", error->message);
    return G_SOURCE_CONTINUE;
}

/* --daemon changes to "/": resolve what the command line gave first. */
static void
make_absolute(char **path)
{
    char *abs;

    if (!*path || g_path_is_absolute(*path))
        return;
    abs = g_canonicalize_filename(*path, NULL);
    g_free(*path);
    *path = abs;
}

static int
run(int *argc, char ***argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VlConfig) config = NULL;
    g_autoptr(VlPidFile) pid_file = NULL;
    g_autoptr(VlDaemon) daemon = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autofree char *default_pid_file = NULL;
    const char *config_path;
    VlConfigOverrides overrides = { NULL };
    Context ctx = { NULL };
    int ready_fd = -1;
    guint sig_term = 0;
    guint sig_int = 0;
    guint sig_hup = 0;

    octx = g_option_context_new("- virt-lanes migration lanes and policy daemon");
    g_option_context_add_main_entries(octx, option_entries, NULL);
    if (!g_option_context_parse(octx, argc, argv, &error)) {
        fprintf(stderr, "virt-lanesd: %s\nTry 'virt-lanesd --help'.\n",
                error->message);
        return 2;
    }
    if (*argc > 1) {
        fprintf(stderr, "virt-lanesd: Unexpected argument '%s'\nTry 'virt-lanesd --help'.\n",
                (*argv)[1]);
        return 2;
    }
    if (opt_version) {
        printf("virt-lanesd %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (opt_uri && !*opt_uri) {
        fprintf(stderr, "virt-lanesd: The URI given with '--uri' is empty\n");
        return 2;
    }
    make_absolute(&opt_socket);
    make_absolute(&opt_config);
    make_absolute(&opt_log_file);
    make_absolute(&opt_pid_file);
    make_absolute(&opt_policy_dir);
    make_absolute(&opt_lane_journal);
    make_absolute(&opt_script_dir);

    /* Precedence: command line > configuration file > compiled default. */
    config_path = opt_config ? opt_config : VL_CONFIG_FILE;
    config = vl_config_load_file(config_path, opt_config == NULL, &error);
    if (!config) {
        fprintf(stderr, "virt-lanesd: %s\n", error->message);
        return 1;
    }
    if (opt_check_config) {
        printf("virt-lanesd: Configuration '%s' is valid\n", config_path);
        return 0;
    }
    overrides.uri = opt_uri;
    overrides.socket_path = opt_socket;
    overrides.log_file = opt_log_file;
    overrides.verbose = opt_verbose;
    overrides.pid_file = opt_pid_file;
    overrides.policy_dir = opt_policy_dir;
    overrides.lane_journal = opt_lane_journal;
    overrides.script_dir = opt_script_dir;
    if (opt_daemon && !opt_pid_file && !config->pid_file) {
        default_pid_file = g_build_filename(VL_RUNSTATEDIR, "virt-lanesd.pid", NULL);
        overrides.pid_file = default_pid_file;
    }
    vl_config_apply_overrides(config, &overrides);

    /* Before any thread exists: GLib's signal handling starts one. */
    if (opt_daemon) {
        ready_fd = vl_daemonize(&error);
        if (ready_fd < 0) {
            fprintf(stderr, "virt-lanesd: %s\n", error->message);
            return 1;
        }
    }

    if (!vl_log_setup(config->log_file, config->verbose, &error)) {
        fprintf(stderr, "virt-lanesd: %s\n", error->message);
        return 1;
    }

    if (!gvir_init_check(argc, argv, &error)) {
        g_warning("Cannot initialise libvirt: %s", error->message);
        fprintf(stderr, "virt-lanesd: Cannot initialise libvirt: %s\n",
                error->message);
        return 1;
    }
    gvir_event_register();

    if (config->pid_file) {
        g_autofree char *dir = g_path_get_dirname(config->pid_file);

        if (g_mkdir_with_parents(dir, 0700) < 0) {
            g_warning("Cannot create directory '%s': %s", dir, g_strerror(errno));
            fprintf(stderr, "virt-lanesd: Cannot create directory '%s': %s\n",
                    dir, g_strerror(errno));
            return 1;
        }
        pid_file = vl_pid_file_acquire(config->pid_file, &error);
        if (!pid_file) {
            g_warning("%s", error->message);
            fprintf(stderr, "virt-lanesd: %s\n", error->message);
            return 1;
        }
    }

    loop = g_main_loop_new(NULL, FALSE);
    ctx.loop = loop;
    sig_term = g_unix_signal_add(SIGTERM, on_quit, &ctx);
    sig_int = g_unix_signal_add(SIGINT, on_quit, &ctx);
    sig_hup = g_unix_signal_add(SIGHUP, on_reload, &ctx);

    daemon = vl_daemon_new(g_steal_pointer(&config), config_path,
                           opt_config != NULL, &overrides, log_message, NULL);
    ctx.daemon = daemon;
    if (!vl_daemon_start(daemon, &error)) {
        g_warning("%s", error->message);
        fprintf(stderr, "virt-lanesd: %s\n", error->message);
        g_source_remove(sig_hup);
        g_source_remove(sig_int);
        g_source_remove(sig_term);
        return 1;
    }

    g_message("virt-lanesd %s (pid %ld) serving on '%s'", PACKAGE_VERSION,
              (long)getpid(), vl_daemon_get_config(daemon)->socket_path);
    /* Without a log file, keep logging to stderr: a start script may
     * have redirected it (nobody reads a terminal's). */
    vl_daemonize_ready(ready_fd, TRUE,
                       vl_daemon_get_config(daemon)->log_file == NULL);

    g_main_loop_run(loop);

    /* Tear down in reverse order. */
    g_clear_pointer(&daemon, vl_daemon_free);
    g_source_remove(sig_hup);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    g_message("virt-lanesd stopped");
    return 0;
}

int
main(int argc, char **argv)
{
    int ret;

    /* A client that hangs up must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);

    ret = run(&argc, &argv);

    g_free(opt_uri);
    g_free(opt_socket);
    g_free(opt_config);
    g_free(opt_log_file);
    g_free(opt_pid_file);
    g_free(opt_policy_dir);
    g_free(opt_lane_journal);
    g_free(opt_script_dir);
    return ret;
}
