/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes-hook: the libvirt QEMU hook of virt-lanes
 *
 * Installed as /etc/libvirt/hooks/qemu.d/virt-lanes.  libvirtd runs it
 * for every QEMU domain operation and waits for it with no timeout.
 *
 * argv     exactly NAME OP SUBOP EXTRA.  OP is one of prepare start
 *          started stopped release migrate restore reconnect attach;
 *          SUBOP is begin, end or "-".  NAME and EXTRA are forwarded byte
 *          for byte (spaces, quotes, ';', newlines are data); bytes that
 *          are not UTF-8 become U+FFFD and the event is flagged
 *          name_mangled.  Any other argv (count, empty argument, unknown
 *          OP/SUBOP) is recorded and ignored: exit 0, daemon not called.
 * stdin    the domain XML (for migrate the migratable XML, with secrets).
 *          Read to EOF so libvirtd never blocks writing it; the first
 *          1 MiB is kept and forwarded, the rest is read and counted
 *          (xml_size, xml_truncated).  Reading stops after 2 s even if
 *          the writer never closes; when the hook exits, libvirtd gets
 *          EPIPE on its input pipe, which it ignores as "child closed
 *          stdin early" (virCommandProcessIO).
 * daemon   one "hook" request (see ipc.h) over the UNIX socket
 *          VL_SOCKET_PATH (/run/virt-lanes/virt-lanesd.sock), bounded by
 *          3 s for connect + send + reply together.  The reply may carry
 *          only "verdict": "continue" | "refuse" and "reason".
 * stdout   never written: empty stdout tells libvirtd "XML unchanged".
 * exit     1 only when the daemon answers "refuse" for prepare, start,
 *          started, migrate or restore (libvirtd then aborts the
 *          operation); the reason goes to stderr, which libvirtd logs.
 *          0 in every other case: no daemon, a hung or garbage-speaking
 *          daemon, bad argv, stdin closed or huge, a refusal for an
 *          operation libvirtd cannot stop (stopped, release, reconnect,
 *          where a failure would kill QEMU, attach).
 * bound    at most about 5 s in all (2 s stdin + 3 s daemon).
 * syslog   ident "virt-lanes-hook", facility LOG_DAEMON: what went wrong
 *          and refusals, with the domain name escaped; never the XML.
 * env      VL_HOOK_SOCKET overrides the socket path and
 *          VL_HOOK_LOG_STDERR=1 copies log lines to stderr; both are for
 *          tests only.  libvirtd clears the environment of hooks, so in
 *          production the compiled defaults always apply.
 *
 * It links libvl-common only, never libvirt: calling back into libvirtd
 * from a hook deadlocks it.
 */
#include <config.h>

#include <signal.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "hook-run.h"

static void
on_log(int priority, const char *message, gpointer user_data G_GNUC_UNUSED)
{
    syslog(priority, "%s", message);
}

/* GLib's default handler prints some levels on stdout, which libvirtd
 * would read as replacement XML: route everything to syslog instead. */
static GLogWriterOutput
on_glib_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
            gpointer user_data G_GNUC_UNUSED)
{
    const char *message = NULL;
    gsize i;

    if (level & G_LOG_LEVEL_DEBUG)
        return G_LOG_WRITER_HANDLED;
    for (i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
            message = fields[i].value;
    }
    if (message)
        syslog(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ?
               LOG_ERR : LOG_WARNING, "%s", message);
    return G_LOG_WRITER_HANDLED;
}

int
main(int argc, char **argv)
{
    VlHookConfig config;
    const char *socket_env = getenv("VL_HOOK_SOCKET");
    int options = LOG_PID;
    int code;

    /* A daemon that hangs up mid-write must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    g_log_set_writer_func(on_glib_log, NULL, NULL);

    vl_hook_config_init(&config);
    if (socket_env && *socket_env)
        config.socket_path = socket_env;
    config.log = on_log;
    if (g_strcmp0(getenv("VL_HOOK_LOG_STDERR"), "1") == 0)
        options |= LOG_PERROR;

    openlog("virt-lanes-hook", options, LOG_DAEMON);
    code = vl_hook_run(&config, argc, argv, STDIN_FILENO);
    closelog();
    return code;
}
