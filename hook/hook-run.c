/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-run.c: one run of virt-lanes-hook
 *
 * libvirtd waits for the hook with no timeout of its own, so every step
 * here is bounded, and every failure ends in exit 0 ("carry on"): only
 * an explicit refusal from the daemon may stop a guest.
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "hook-input.h"
#include "hook-run.h"
#include "hook-verdict.h"
#include "ipc.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Longest domain name quoted in a log line. */
#define VL_HOOK_LOG_NAME_MAX 128

void
vl_hook_config_init(VlHookConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->socket_path = VL_SOCKET_PATH;
    config->timeout_ms = VL_HOOK_TIMEOUT_MS;
    config->stdin_timeout_ms = VL_HOOK_STDIN_TIMEOUT_MS;
    config->xml_limit = VL_HOOK_XML_LIMIT;
    config->err_fd = STDERR_FILENO;
}

static void vl_hook_logf(const VlHookConfig *config, int priority,
                         const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
vl_hook_logf(const VlHookConfig *config, int priority, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list args;

    if (!config->log)
        return;
    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    config->log(priority, msg, config->log_data);
}

/* A domain name fit for one log line: escaped and bounded. */
static char *
vl_hook_log_name(const char *name)
{
    g_autofree char *esc = g_strescape(name ? name : "", NULL);

    if (strlen(esc) > VL_HOOK_LOG_NAME_MAX)
        return g_strdup_printf("%.*s...", VL_HOOK_LOG_NAME_MAX, esc);
    return g_steal_pointer(&esc);
}

static void
vl_hook_write_all(int fd, const char *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= n;
    }
}

/* Drains stdin after bad argv so libvirtd's writer is never left hanging. */
static void
vl_hook_drain(int in_fd, gint64 deadline)
{
    g_autoptr(VlHookEvent) scratch = vl_hook_event_new();

    vl_hook_input_read_xml(scratch, in_fd, 0, deadline, NULL);
}

int
vl_hook_run(const VlHookConfig *config, int argc, char *const *argv, int in_fd)
{
    gint64 stdin_deadline = g_get_monotonic_time() +
                            (gint64) config->stdin_timeout_ms * 1000;
    g_autoptr(VlHookEvent) event = NULL;
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    g_autofree char *reason = NULL;
    gsize line_len = 0;
    VlHookVerdict verdict;

    event = vl_hook_input_from_argv(argc, argv, &error);
    if (!event) {
        vl_hook_logf(config, LOG_WARNING, "Ignoring call: %s", error->message);
        vl_hook_drain(in_fd, stdin_deadline);
        return 0;
    }
    name = vl_hook_log_name(event->domain);

    if (!vl_hook_input_read_xml(event, in_fd, config->xml_limit,
                                stdin_deadline, &error)) {
        vl_hook_logf(config, LOG_WARNING, "Domain '%s' %s %s: %s",
                     name, event->op, event->subop, error->message);
        g_clear_error(&error);
    }
    if (event->xml_truncated)
        vl_hook_logf(config, LOG_NOTICE,
                     "Domain '%s' %s %s: forwarding %zu of %zu bytes of XML",
                     name, event->op, event->subop,
                     event->xml ? strlen(event->xml) : (size_t) 0,
                     (size_t) event->xml_size);
    if (event->name_mangled)
        vl_hook_logf(config, LOG_NOTICE,
                     "Domain '%s' %s %s: name or extra argument is not UTF-8",
                     name, event->op, event->subop);

    request = vl_hook_event_to_json(event);
    /* Escaping can grow odd XML past the message limit: send it without. */
    g_free(vl_ipc_message_to_line(request, &line_len));
    if (line_len > VL_IPC_MAX_MESSAGE) {
        json_object_object_add(request, "xml", NULL);
        json_object_object_add(request, "xml_truncated",
                               json_object_new_boolean(TRUE));
        vl_hook_logf(config, LOG_NOTICE,
                     "Domain '%s' %s %s: XML too large once encoded, not forwarded",
                     name, event->op, event->subop);
    }

    reply = vl_ipc_call(config->socket_path, request, config->timeout_ms, &error);
    if (!reply) {
        vl_hook_logf(config, LOG_WARNING,
                     "Domain '%s' %s %s: virt-lanesd not consulted: %s",
                     name, event->op, event->subop, error->message);
        return 0;
    }

    verdict = vl_hook_verdict_from_reply(reply, &reason, &error);
    if (error) {
        vl_hook_logf(config, LOG_WARNING, "Domain '%s' %s %s: %s, continuing",
                     name, event->op, event->subop, error->message);
        return 0;
    }
    if (verdict != VL_HOOK_VERDICT_REFUSE)
        return 0;

    if (!vl_hook_op_honours_refusal(event->op)) {
        vl_hook_logf(config, LOG_WARNING,
                     "Domain '%s' %s %s: refusal ignored, libvirtd cannot stop it: %s",
                     name, event->op, event->subop, reason);
        return 0;
    }

    vl_hook_logf(config, LOG_NOTICE, "Domain '%s' %s %s: refused: %s",
                 name, event->op, event->subop, reason);
    {
        g_autofree char *line = g_strdup_printf("virt-lanes: %s\n", reason);

        vl_hook_write_all(config->err_fd, line, strlen(line));
    }
    return 1;
}
