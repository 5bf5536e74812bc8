/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipc.c: the daemon's UNIX-socket protocol (see ipc.h)
 *
 * Everything that arrives here comes from another process, so nothing
 * is trusted: lengths are bounded before anything is allocated for
 * them, JSON is parsed strictly and every field is type-checked.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"
#include "ipc-priv.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Bytes read per recv(); replies and requests are usually far smaller. */
#define VL_IPC_CHUNK 65536

/* ---- messages ------------------------------------------------------ */

json_object *
vl_ipc_message_new(const char *type)
{
    json_object *msg = json_object_new_object();

    g_return_val_if_fail(type != NULL, NULL);

    json_object_object_add(msg, "version",
                           json_object_new_int(VL_IPC_PROTOCOL_VERSION));
    json_object_object_add(msg, "type", json_object_new_string(type));
    return msg;
}

json_object *
vl_ipc_reply_new_ok(void)
{
    json_object *msg = vl_ipc_message_new("reply");

    json_object_object_add(msg, "ok", json_object_new_boolean(TRUE));
    return msg;
}

json_object *
vl_ipc_reply_new_error(const char *fmt, ...)
{
    json_object *msg = vl_ipc_message_new("reply");
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, fmt);
    text = g_strdup_vprintf(fmt, args);
    va_end(args);

    /* The text may quote outside input: keep the line valid JSON. */
    if (!g_utf8_validate(text, -1, NULL)) {
        char *valid = g_utf8_make_valid(text, -1);

        g_free(text);
        text = valid;
    }

    json_object_object_add(msg, "ok", json_object_new_boolean(FALSE));
    json_object_object_add(msg, "error", json_object_new_string(text));
    return msg;
}

char *
vl_ipc_message_to_line(json_object *msg, gsize *len)
{
    const char *json = NULL;
    size_t json_len = 0;
    char *line = NULL;

    g_return_val_if_fail(msg != NULL, NULL);

    /* PLAIN never emits a raw newline: json-c escapes them in strings. */
    json = json_object_to_json_string_length(msg,
                                             JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE,
                                             &json_len);
    line = g_malloc(json_len + 2);
    memcpy(line, json, json_len);
    line[json_len] = '\n';
    line[json_len + 1] = '\0';
    if (len)
        *len = json_len + 1;
    return line;
}

/* A string field without embedded NULs, in valid UTF-8. */
static gboolean
vl_ipc_string_is_clean(json_object *obj)
{
    const char *s = json_object_get_string(obj);
    int len = json_object_get_string_len(obj);

    return strlen(s) == (size_t) len && g_utf8_validate_len(s, len, NULL);
}

json_object *
vl_ipc_message_parse(const char *line, gsize len, GError **error)
{
    g_autoptr(json_tokener) tok = NULL;
    g_autoptr(json_object) msg = NULL;
    enum json_tokener_error jerr;
    json_object *version = NULL;
    json_object *type = NULL;
    size_t end;

    g_return_val_if_fail(line != NULL || len == 0, NULL);

    /* The limit counts the newline, which the caller has removed. */
    if (len >= VL_IPC_MAX_MESSAGE) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message of %zu bytes exceeds the limit of %d bytes",
                    (size_t) len + 1, VL_IPC_MAX_MESSAGE);
        return NULL;
    }
    if (len == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC, "Message is empty");
        return NULL;
    }
    /* json-c would stop at a NUL and call the rest "trailing": say why. */
    if (memchr(line, '\0', len)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message contains a NUL byte");
        return NULL;
    }
    if (memchr(line, '\n', len)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message contains a newline");
        return NULL;
    }

    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    msg = json_tokener_parse_ex(tok, line, (int) len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message is incomplete JSON");
        return NULL;
    }
    if (jerr != json_tokener_success) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message is not valid JSON: %s",
                    json_tokener_error_desc(jerr));
        return NULL;
    }
    for (end = json_tokener_get_parse_end(tok); end < len; end++) {
        if (!g_ascii_isspace(line[end])) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Message has trailing data after the JSON object");
            return NULL;
        }
    }

    if (!json_object_is_type(msg, json_type_object)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message is not a JSON object");
        return NULL;
    }
    if (!json_object_object_get_ex(msg, "version", &version)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message has no 'version'");
        return NULL;
    }
    if (!json_object_is_type(version, json_type_int)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message 'version' is not an integer");
        return NULL;
    }
    if (json_object_get_int64(version) != VL_IPC_PROTOCOL_VERSION) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message has unsupported protocol version '%" PRId64 "', expected '%d'",
                    json_object_get_int64(version), VL_IPC_PROTOCOL_VERSION);
        return NULL;
    }
    if (!json_object_object_get_ex(msg, "type", &type) ||
        !json_object_is_type(type, json_type_string)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message has no string 'type'");
        return NULL;
    }
    if (json_object_get_string_len(type) == 0 ||
        !vl_ipc_string_is_clean(type)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message 'type' is empty or contains a NUL byte");
        return NULL;
    }

    return g_steal_pointer(&msg);
}

const char *
vl_ipc_message_get_type(json_object *msg)
{
    json_object *type = NULL;

    if (!msg || !json_object_object_get_ex(msg, "type", &type) ||
        !json_object_is_type(type, json_type_string))
        return NULL;
    return json_object_get_string(type);
}

/* ---- the hook event -------------------------------------------------- */

/* libvirt's QEMU hook operations (docs/hooks.rst, libvirt 9.0). */
static const char *const vl_hook_ops[] = {
    "prepare", "start", "started", "stopped", "release",
    "migrate", "restore", "reconnect", "attach", NULL,
};

static const char *const vl_hook_subops[] = {
    "begin", "end", "-", NULL,
};

gboolean
vl_hook_op_is_known(const char *op)
{
    return op && g_strv_contains(vl_hook_ops, op);
}

gboolean
vl_hook_subop_is_known(const char *subop)
{
    return subop && g_strv_contains(vl_hook_subops, subop);
}

VlHookEvent *
vl_hook_event_new(void)
{
    return g_new0(VlHookEvent, 1);
}

void
vl_hook_event_free(VlHookEvent *event)
{
    if (!event)
        return;
    g_free(event->domain);
    g_free(event->op);
    g_free(event->subop);
    g_free(event->extra);
    if (event->xml) {
        /* It may hold secrets (migrate): do not leave them in the heap. */
        explicit_bzero(event->xml, strlen(event->xml));
        g_free(event->xml);
    }
    g_free(event);
}

static json_object *
vl_ipc_json_string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *
vl_hook_event_to_json(const VlHookEvent *event)
{
    json_object *msg = NULL;

    g_return_val_if_fail(event != NULL, NULL);

    msg = vl_ipc_message_new("hook");
    json_object_object_add(msg, "domain", vl_ipc_json_string_or_null(event->domain));
    json_object_object_add(msg, "op", vl_ipc_json_string_or_null(event->op));
    json_object_object_add(msg, "subop", vl_ipc_json_string_or_null(event->subop));
    json_object_object_add(msg, "extra", vl_ipc_json_string_or_null(event->extra));
    json_object_object_add(msg, "xml", vl_ipc_json_string_or_null(event->xml));
    json_object_object_add(msg, "xml_size",
                           json_object_new_int64((int64_t) event->xml_size));
    json_object_object_add(msg, "xml_truncated",
                           json_object_new_boolean(event->xml_truncated));
    json_object_object_add(msg, "name_mangled",
                           json_object_new_boolean(event->name_mangled));
    return msg;
}

static const char *const vl_hook_event_keys[] = {
    "version", "type", "domain", "op", "subop", "extra", "xml",
    "xml_size", "xml_truncated", "name_mangled", NULL,
};

/* A required, non-empty, clean string field; returns a copy. */
static char *
vl_hook_event_get_string(json_object *msg, const char *key, GError **error)
{
    json_object *val = NULL;

    if (!json_object_object_get_ex(msg, key, &val) ||
        !json_object_is_type(val, json_type_string)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field '%s' is missing or not a string", key);
        return NULL;
    }
    if (json_object_get_string_len(val) == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field '%s' is empty", key);
        return NULL;
    }
    if (!vl_ipc_string_is_clean(val)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field '%s' contains a NUL byte or invalid UTF-8",
                    key);
        return NULL;
    }
    return g_strdup(json_object_get_string(val));
}

static gboolean
vl_hook_event_get_boolean(json_object *msg, const char *key,
                          gboolean *out, GError **error)
{
    json_object *val = NULL;

    if (!json_object_object_get_ex(msg, key, &val) ||
        !json_object_is_type(val, json_type_boolean)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field '%s' is missing or not a boolean", key);
        return FALSE;
    }
    *out = json_object_get_boolean(val);
    return TRUE;
}

VlHookEvent *
vl_hook_event_from_json(json_object *msg, GError **error)
{
    g_autoptr(VlHookEvent) event = NULL;
    const char *type = NULL;
    json_object *val = NULL;
    int64_t size;

    if (!msg || !json_object_is_type(msg, json_type_object)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event is not a JSON object");
        return NULL;
    }
    type = vl_ipc_message_get_type(msg);
    if (g_strcmp0(type, "hook") != 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Message is not a hook event");
        return NULL;
    }

    json_object_object_foreach(msg, key, v) {
        (void) v;
        if (!g_strv_contains(vl_hook_event_keys, key)) {
            g_autofree char *escaped = g_strescape(key, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Hook event has unknown field '%s'", escaped);
            return NULL;
        }
    }

    event = vl_hook_event_new();
    if (!(event->domain = vl_hook_event_get_string(msg, "domain", error)) ||
        !(event->op = vl_hook_event_get_string(msg, "op", error)) ||
        !(event->subop = vl_hook_event_get_string(msg, "subop", error)) ||
        !(event->extra = vl_hook_event_get_string(msg, "extra", error)))
        return NULL;

    if (!vl_hook_op_is_known(event->op)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event has unknown op '%s'", event->op);
        return NULL;
    }
    if (!vl_hook_subop_is_known(event->subop)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event has unknown subop '%s'", event->subop);
        return NULL;
    }

    /* "xml" may be absent or null when libvirtd wrote nothing. */
    if (json_object_object_get_ex(msg, "xml", &val) && val) {
        if (!json_object_is_type(val, json_type_string)) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Hook event field 'xml' is not a string");
            return NULL;
        }
        if (!vl_ipc_string_is_clean(val)) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Hook event field 'xml' contains a NUL byte or invalid UTF-8");
            return NULL;
        }
        event->xml = g_strdup(json_object_get_string(val));
    }

    if (!json_object_object_get_ex(msg, "xml_size", &val) ||
        !json_object_is_type(val, json_type_int)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field 'xml_size' is missing or not an integer");
        return NULL;
    }
    size = json_object_get_int64(val);
    if (size < 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Hook event field 'xml_size' is negative ('%" PRId64 "')",
                    size);
        return NULL;
    }
    event->xml_size = (gsize) size;

    if (!vl_hook_event_get_boolean(msg, "xml_truncated",
                                   &event->xml_truncated, error) ||
        !vl_hook_event_get_boolean(msg, "name_mangled",
                                   &event->name_mangled, error))
        return NULL;

    return g_steal_pointer(&event);
}

/* ---- client ------------------------------------------------------------ */

static gboolean
vl_ipc_fill_sockaddr(struct sockaddr_un *addr, const char *path, GError **error)
{
    size_t len = strlen(path);

    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (len == 0 || len >= sizeof(addr->sun_path)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Socket path '%s' is empty or longer than %zu bytes",
                    path, sizeof(addr->sun_path) - 1);
        return FALSE;
    }
    memcpy(addr->sun_path, path, len);
    return TRUE;
}

/* Milliseconds left until @deadline (monotonic µs), rounded up. */
static int
vl_ipc_remaining_ms(gint64 deadline)
{
    gint64 left = deadline - g_get_monotonic_time();

    if (left <= 0)
        return 0;
    return (int) MIN((left + 999) / 1000, G_MAXINT);
}

/*
 * Waits for @events on @fd until @deadline.  Returns FALSE with
 * VL_ERROR_TIMEOUT when the deadline passes first.
 */
static gboolean
vl_ipc_wait(int fd, short events, gint64 deadline, const char *what,
            GError **error)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = events };
        int left = vl_ipc_remaining_ms(deadline);
        int r;

        if (left == 0) {
            g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                        "Timed out while %s", what);
            return FALSE;
        }
        r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int errsv = errno;

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Cannot poll the daemon socket: %s", g_strerror(errsv));
            return FALSE;
        }
        if (r > 0)
            return TRUE;
    }
}

static gboolean
vl_ipc_connect(int fd, const char *socket_path, gint64 deadline, GError **error)
{
    struct sockaddr_un addr;
    int err = 0;
    socklen_t errlen = sizeof(err);

    if (!vl_ipc_fill_sockaddr(&addr, socket_path, error))
        return FALSE;

    for (;;) {
        if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0)
            return TRUE;
        err = errno;
        if (err == EAGAIN) {
            /* AF_UNIX: the listen backlog is full and poll() cannot tell
             * us when it drains; retry in short steps until the deadline. */
            int left = vl_ipc_remaining_ms(deadline);

            if (left == 0) {
                g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                            "Timed out while connecting to '%s'", socket_path);
                return FALSE;
            }
            poll(NULL, 0, MIN(left, 10));
            continue;
        }
        if (err == EINPROGRESS || err == EINTR)
            break;
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Cannot connect to '%s': %s", socket_path, g_strerror(err));
        return FALSE;
    }

    if (!vl_ipc_wait(fd, POLLOUT, deadline, "connecting to the daemon", error))
        return FALSE;
    err = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
        err = errno;
    if (err != 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Cannot connect to '%s': %s", socket_path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

static gboolean
vl_ipc_send_all(int fd, const char *buf, gsize len, gint64 deadline,
                GError **error)
{
    gsize off = 0;

    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!vl_ipc_wait(fd, POLLOUT, deadline, "sending to the daemon",
                             error))
                return FALSE;
            continue;
        }
        if (n < 0) {
            int errsv = errno;

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Cannot send to the daemon: %s", g_strerror(errsv));
            return FALSE;
        }
        off += n;
    }
    return TRUE;
}

/* Reads one line (without its newline) of at most VL_IPC_MAX_MESSAGE bytes. */
static GByteArray *
vl_ipc_recv_line(int fd, gint64 deadline, GError **error)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    guint8 chunk[4096];

    for (;;) {
        gsize want = MIN(sizeof(chunk), VL_IPC_MAX_MESSAGE - buf->len);
        ssize_t n;
        guint8 *nl = NULL;

        if (want == 0) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Reply exceeds the limit of %d bytes",
                        VL_IPC_MAX_MESSAGE);
            return NULL;
        }
        n = recv(fd, chunk, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!vl_ipc_wait(fd, POLLIN, deadline,
                             "waiting for the daemon's reply", error))
                return NULL;
            continue;
        }
        if (n < 0) {
            int errsv = errno;

            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Cannot receive from the daemon: %s", g_strerror(errsv));
            return NULL;
        }
        if (n == 0) {
            g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                        "Daemon closed the connection without a complete reply");
            return NULL;
        }
        nl = memchr(chunk, '\n', n);
        if (nl) {
            /* Exactly one reply is expected: anything after it is dropped. */
            g_byte_array_append(buf, chunk, nl - chunk);
            return g_steal_pointer(&buf);
        }
        g_byte_array_append(buf, chunk, n);
    }
}

/* The reply envelope of one line from the daemon, checked. */
static json_object *
vl_ipc_reply_parse(const char *line, gsize len, GError **error)
{
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) local = NULL;
    json_object *ok = NULL;
    json_object *err = NULL;

    reply = vl_ipc_message_parse(line, len, &local);
    if (!reply) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Invalid reply from the daemon: %s", local->message);
        return NULL;
    }
    if (g_strcmp0(vl_ipc_message_get_type(reply), "reply") != 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Invalid reply from the daemon: 'type' is not 'reply'");
        return NULL;
    }
    if (!json_object_object_get_ex(reply, "ok", &ok) ||
        !json_object_is_type(ok, json_type_boolean)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Invalid reply from the daemon: no boolean 'ok'");
        return NULL;
    }
    if (!json_object_get_boolean(ok) &&
        (!json_object_object_get_ex(reply, "error", &err) ||
         !json_object_is_type(err, json_type_string))) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Invalid reply from the daemon: no string 'error' in an error reply");
        return NULL;
    }

    /* An error reply ("ok": false) is a valid reply: the caller reads it. */
    return g_steal_pointer(&reply);
}

json_object *
vl_ipc_call(const char *socket_path,
            json_object *request,
            guint timeout_ms,
            GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
    g_auto(VlFd) fd = -1;
    g_autofree char *line = NULL;
    g_autoptr(GByteArray) reply_line = NULL;
    gsize len = 0;

    g_return_val_if_fail(socket_path != NULL, NULL);
    g_return_val_if_fail(request != NULL, NULL);

    line = vl_ipc_message_to_line(request, &len);
    if (len > VL_IPC_MAX_MESSAGE) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Request of %zu bytes exceeds the limit of %d bytes",
                    (size_t) len, VL_IPC_MAX_MESSAGE);
        return NULL;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int errsv = errno;

        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Cannot create a socket: %s", g_strerror(errsv));
        return NULL;
    }

    if (!vl_ipc_connect(fd, socket_path, deadline, error) ||
        !vl_ipc_send_all(fd, line, len, deadline, error) ||
        !(reply_line = vl_ipc_recv_line(fd, deadline, error)))
        return NULL;

    return vl_ipc_reply_parse((const char *) reply_line->data,
                              reply_line->len, error);
}

/* ---- server ------------------------------------------------------------ */

typedef gboolean (*VlIpcFdFunc)(GIOCondition revents, gpointer data);

/* A GSource watching one fd whose events change (IN, then OUT, ...). */
typedef struct {
    GSource base;
    gpointer tag;
} VlIpcFdSource;

static gboolean
vl_ipc_fd_source_dispatch(GSource *source, GSourceFunc callback,
                          gpointer user_data)
{
    VlIpcFdSource *fdsource = (VlIpcFdSource *) source;
    GIOCondition revents = g_source_query_unix_fd(source, fdsource->tag);

    return ((VlIpcFdFunc) (void (*)(void)) callback)(revents, user_data);
}

static GSourceFuncs vl_ipc_fd_source_funcs = {
    .dispatch = vl_ipc_fd_source_dispatch,
};

static GSource *
vl_ipc_fd_source_new(int fd, GIOCondition events, VlIpcFdFunc func,
                     gpointer data, GMainContext *context)
{
    GSource *source = g_source_new(&vl_ipc_fd_source_funcs,
                                   sizeof(VlIpcFdSource));

    ((VlIpcFdSource *) source)->tag = g_source_add_unix_fd(source, fd, events);
    g_source_set_callback(source, (GSourceFunc) (void (*)(void)) func,
                          data, NULL);
    g_source_set_name(source, "vl-ipc");
    g_source_attach(source, context);
    return source;
}

typedef struct {
    gint refs;
    VlIpcServer *server;        /* NULL once closed */
    int fd;                     /* -1 once closed */
    GSource *source;
    GByteArray *in;
    GByteArray *out;
    gsize out_off;
    gboolean busy;              /* a request is with the handler */
    gboolean closing;           /* close once @out is flushed */
    gboolean eof;               /* the peer shut its writing side */
    pid_t pid;
    uid_t uid;
} VlIpcConn;

struct _VlIpcServer {
    char *path;
    int fd;
    dev_t dev;
    ino_t ino;
    GSource *source;
    GMainContext *context;
    VlIpcHandler handler;
    gpointer user_data;
    GList *conns;               /* (element-type VlIpcConn): one ref each */
};

typedef struct _VlIpcLocalCall VlIpcLocalCall;

struct _VlIpcRequest {
    VlIpcConn *conn;            /* one ref; NULL for a local request */
    VlIpcLocalCall *local;      /* one ref; NULL for a socket request */
    json_object *msg;
    pid_t pid;
    uid_t uid;
};

static void vl_ipc_local_answer(VlIpcRequest *request, json_object *reply);

static void
vl_ipc_conn_unref(VlIpcConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->refs))
        return;
    g_byte_array_unref(conn->in);
    g_byte_array_unref(conn->out);
    g_free(conn);
}

/* Closes the socket and drops the server's reference; requests still
 * held by a handler keep the struct alive and reply into nothing. */
static void
vl_ipc_conn_close(VlIpcConn *conn)
{
    VlIpcServer *server = conn->server;

    if (conn->fd < 0)
        return;
    if (conn->source) {
        g_source_destroy(conn->source);
        g_clear_pointer(&conn->source, g_source_unref);
    }
    close(conn->fd);
    conn->fd = -1;
    conn->server = NULL;
    if (server) {
        server->conns = g_list_remove(server->conns, conn);
        vl_ipc_conn_unref(conn);
    }
}

/* Stop reading once a full message is buffered behind a busy request:
 * a pipelining peer cannot make us buffer without bound. */
static gboolean
vl_ipc_conn_wants_input(VlIpcConn *conn)
{
    return !conn->closing && !conn->eof && conn->in->len < VL_IPC_MAX_MESSAGE;
}

static void
vl_ipc_conn_update_events(VlIpcConn *conn)
{
    GIOCondition events = 0;

    if (conn->fd < 0 || !conn->source)
        return;
    if (conn->out_off < conn->out->len)
        events |= G_IO_OUT;
    if (vl_ipc_conn_wants_input(conn))
        events |= G_IO_IN;
    g_source_modify_unix_fd(conn->source,
                            ((VlIpcFdSource *) conn->source)->tag, events);
}

static void
vl_ipc_conn_queue(VlIpcConn *conn, json_object *msg)
{
    gsize len = 0;
    g_autofree char *line = vl_ipc_message_to_line(msg, &len);

    g_byte_array_append(conn->out, (const guint8 *) line, len);
}

/* Answers a bad line with an error and closes after the answer is out. */
static void
vl_ipc_conn_fail(VlIpcConn *conn, const char *message)
{
    g_autoptr(json_object) reply = vl_ipc_reply_new_error("%s", message);

    g_debug("IPC peer %d: %s", (int) conn->pid, message);
    vl_ipc_conn_queue(conn, reply);
    conn->closing = TRUE;
}

static void
vl_ipc_conn_process(VlIpcConn *conn)
{
    while (conn->fd >= 0 && !conn->busy && !conn->closing) {
        guint8 *nl = memchr(conn->in->data, '\n', conn->in->len);
        g_autoptr(GError) error = NULL;
        json_object *msg = NULL;
        VlIpcRequest *request = NULL;
        gsize len;

        if (!nl) {
            if (conn->in->len >= VL_IPC_MAX_MESSAGE) {
                g_autofree char *text =
                    g_strdup_printf("Message exceeds the limit of %d bytes",
                                    VL_IPC_MAX_MESSAGE);

                vl_ipc_conn_fail(conn, text);
            }
            return;
        }
        len = nl - conn->in->data;
        msg = vl_ipc_message_parse((const char *) conn->in->data, len, &error);
        g_byte_array_remove_range(conn->in, 0, len + 1);
        if (!msg) {
            vl_ipc_conn_fail(conn, error->message);
            return;
        }

        request = g_new0(VlIpcRequest, 1);
        g_atomic_int_inc(&conn->refs);
        request->conn = conn;
        request->msg = msg;
        request->pid = conn->pid;
        request->uid = conn->uid;
        conn->busy = TRUE;
        /* The handler may reply at once (busy drops again) or later. */
        conn->server->handler(request, conn->server->user_data);
    }
}

static gboolean
vl_ipc_conn_dispatch(GIOCondition revents, gpointer data)
{
    VlIpcConn *conn = data;

    g_atomic_int_inc(&conn->refs);

    /* HUP on a stream socket means both directions are shut: the peer
     * is gone and wants no reply; a pending request replies into nothing. */
    if (revents & (G_IO_NVAL | G_IO_ERR | G_IO_HUP)) {
        vl_ipc_conn_close(conn);
        goto out;
    }

    if (revents & G_IO_OUT && conn->out_off < conn->out->len) {
        ssize_t n = send(conn->fd, conn->out->data + conn->out_off,
                         conn->out->len - conn->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            vl_ipc_conn_close(conn);
            goto out;
        }
        if (n > 0)
            conn->out_off += n;
        if (conn->out_off == conn->out->len) {
            g_byte_array_set_size(conn->out, 0);
            conn->out_off = 0;
        }
    }

    if (revents & G_IO_IN && vl_ipc_conn_wants_input(conn)) {
        guint8 chunk[VL_IPC_CHUNK];
        gsize want = MIN(sizeof(chunk), VL_IPC_MAX_MESSAGE - conn->in->len);
        ssize_t n = recv(conn->fd, chunk, want, MSG_DONTWAIT);

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            vl_ipc_conn_close(conn);
            goto out;
        }
        if (n == 0)
            conn->eof = TRUE;       /* half-closed: still answer what came */
        if (n > 0)
            g_byte_array_append(conn->in, chunk, n);
    }

    vl_ipc_conn_process(conn);
    /* After EOF and the last answer there is nothing more to do. */
    if (conn->eof && !conn->busy)
        conn->closing = TRUE;
    if (conn->closing && conn->out->len == 0) {
        vl_ipc_conn_close(conn);
        goto out;
    }
    vl_ipc_conn_update_events(conn);

 out:
    vl_ipc_conn_unref(conn);
    return G_SOURCE_CONTINUE;
}

static gboolean
vl_ipc_server_accept(GIOCondition revents G_GNUC_UNUSED, gpointer data)
{
    VlIpcServer *server = data;
    struct ucred cred;
    socklen_t credlen = sizeof(cred);
    VlIpcConn *conn = NULL;
    int fd;

    fd = accept4(server->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        /* EAGAIN: another wakeup took it; EMFILE etc.: try again later. */
        g_debug("IPC accept failed: %s", g_strerror(errno));
        return G_SOURCE_CONTINUE;
    }

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
        credlen != sizeof(cred)) {
        g_debug("IPC peer credentials unavailable: %s", g_strerror(errno));
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    if (cred.uid != geteuid()) {
        g_debug("IPC peer pid %d uid %u refused: not uid %u",
                (int) cred.pid, (unsigned) cred.uid, (unsigned) geteuid());
        close(fd);
        return G_SOURCE_CONTINUE;
    }

    conn = g_new0(VlIpcConn, 1);
    conn->refs = 1;
    conn->server = server;
    conn->fd = fd;
    conn->in = g_byte_array_new();
    conn->out = g_byte_array_new();
    conn->pid = cred.pid;
    conn->uid = cred.uid;
    conn->source = vl_ipc_fd_source_new(fd, G_IO_IN, vl_ipc_conn_dispatch,
                                        conn, server->context);
    server->conns = g_list_prepend(server->conns, conn);
    return G_SOURCE_CONTINUE;
}

json_object *
vl_ipc_request_get_message(VlIpcRequest *request)
{
    g_return_val_if_fail(request != NULL, NULL);
    return request->msg;
}

pid_t
vl_ipc_request_get_peer_pid(VlIpcRequest *request)
{
    g_return_val_if_fail(request != NULL, -1);
    return request->pid;
}

uid_t
vl_ipc_request_get_peer_uid(VlIpcRequest *request)
{
    g_return_val_if_fail(request != NULL, (uid_t) -1);
    return request->uid;
}

void
vl_ipc_request_reply(VlIpcRequest *request, json_object *reply)
{
    VlIpcConn *conn = NULL;

    g_return_if_fail(request != NULL);
    g_return_if_fail(reply != NULL);

    if (request->local) {
        vl_ipc_local_answer(request, reply);
        return;
    }
    conn = request->conn;
    if (conn->fd >= 0) {
        vl_ipc_conn_queue(conn, reply);
        conn->busy = FALSE;
        /* Writing and any pipelined next request happen on the loop. */
        vl_ipc_conn_update_events(conn);
    }
    json_object_put(reply);
    json_object_put(request->msg);
    vl_ipc_conn_unref(conn);
    g_free(request);
}

/*
 * Makes @path free for bind(): a leftover socket is removed unless a
 * live server still answers on it; anything that is not a socket is
 * left alone, because unlinking it could destroy an admin's file.
 */
static gboolean
vl_ipc_server_clear_path(const char *path, const struct sockaddr_un *addr,
                         GError **error)
{
    struct stat st;
    g_auto(VlFd) probe = -1;

    if (lstat(path, &st) < 0) {
        int errsv = errno;

        if (errsv == ENOENT)
            return TRUE;
        vl_error_set_from_errno(error, errsv, "Cannot inspect '%s'", path);
        return FALSE;
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Refusing to replace '%s': it exists and is not a socket",
                    path);
        return FALSE;
    }

    /* Non-blocking, so a live daemon with a full backlog (EAGAIN) cannot
     * stall us; a stale socket refuses at once. */
    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe >= 0 &&
        (connect(probe, (const struct sockaddr *) addr, sizeof(*addr)) == 0 ||
         errno == EAGAIN)) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Socket '%s' is in use by another running daemon", path);
        return FALSE;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        vl_error_set_from_errno(error, errno, "Cannot remove stale socket '%s'",
                                path);
        return FALSE;
    }
    return TRUE;
}

VlIpcServer *
vl_ipc_server_new(const char *socket_path,
                  VlIpcHandler handler,
                  gpointer user_data,
                  GError **error)
{
    g_autoptr(VlIpcServer) server = NULL;
    g_autofree char *dir = NULL;
    struct sockaddr_un addr;
    struct stat st;

    g_return_val_if_fail(socket_path != NULL, NULL);
    g_return_val_if_fail(handler != NULL, NULL);

    if (!vl_ipc_fill_sockaddr(&addr, socket_path, error))
        return NULL;

    dir = g_path_get_dirname(socket_path);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create directory '%s'", dir);
        return NULL;
    }

    if (!vl_ipc_server_clear_path(socket_path, &addr, error))
        return NULL;

    server = g_new0(VlIpcServer, 1);
    server->fd = -1;
    server->path = g_strdup(socket_path);
    server->handler = handler;
    server->user_data = user_data;
    server->context = g_main_context_ref_thread_default();

    server->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (server->fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot create a socket");
        return NULL;
    }
    if (bind(server->fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot bind to '%s'", socket_path);
        return NULL;
    }
    /* Nobody can connect before listen(), so the window between bind()
     * and chmod() is harmless; the peer uid check is the real guard. */
    if (chmod(socket_path, 0600) < 0 || lstat(socket_path, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot set the mode of '%s'",
                                socket_path);
        unlink(socket_path);
        return NULL;
    }
    server->dev = st.st_dev;
    server->ino = st.st_ino;
    if (listen(server->fd, 64) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot listen on '%s'",
                                socket_path);
        unlink(socket_path);
        return NULL;
    }

    server->source = vl_ipc_fd_source_new(server->fd, G_IO_IN,
                                          vl_ipc_server_accept, server,
                                          server->context);
    return g_steal_pointer(&server);
}

void
vl_ipc_server_free(VlIpcServer *server)
{
    struct stat st;

    if (!server)
        return;

    while (server->conns)
        vl_ipc_conn_close(server->conns->data);

    if (server->source) {
        g_source_destroy(server->source);
        g_source_unref(server->source);
    }
    if (server->fd >= 0) {
        /* Only remove the socket we made, not a successor's. */
        if (server->ino != 0 && lstat(server->path, &st) == 0 &&
            st.st_dev == server->dev && st.st_ino == server->ino)
            unlink(server->path);
        close(server->fd);
    }
    if (server->context)
        g_main_context_unref(server->context);
    g_free(server->path);
    g_free(server);
}

/* ---- in-process client ---------------------------------------------------- */

struct _VlIpcLocal {
    gint refs;
    GMainContext *context;
    VlIpcHandler handler;
    gpointer user_data;
    gboolean closed;            /* main context only */
    guint pending;              /* main context only */
};

/* One call: the waiting thread and the main context each hold a
 * reference (the main context's passes to the request). */
struct _VlIpcLocalCall {
    gint refs;
    VlIpcLocal *local;          /* one ref */
    char *line;                 /* the request, one line */
    gsize len;
    GMutex lock;
    GCond cond;
    gboolean done;              /* under lock */
    char *reply_line;           /* under lock */
    gsize reply_len;
};

VlIpcLocal *
vl_ipc_local_new(VlIpcHandler handler, gpointer user_data)
{
    VlIpcLocal *local = NULL;

    g_return_val_if_fail(handler != NULL, NULL);

    local = g_new0(VlIpcLocal, 1);
    local->refs = 1;
    local->context = g_main_context_ref_thread_default();
    local->handler = handler;
    local->user_data = user_data;
    return local;
}

VlIpcLocal *
vl_ipc_local_ref(VlIpcLocal *local)
{
    g_return_val_if_fail(local != NULL, NULL);
    g_atomic_int_inc(&local->refs);
    return local;
}

void
vl_ipc_local_unref(VlIpcLocal *local)
{
    if (!local || !g_atomic_int_dec_and_test(&local->refs))
        return;
    g_main_context_unref(local->context);
    g_free(local);
}

void
vl_ipc_local_close(VlIpcLocal *local)
{
    g_return_if_fail(local != NULL);
    local->closed = TRUE;
}

guint
vl_ipc_local_get_pending(VlIpcLocal *local)
{
    g_return_val_if_fail(local != NULL, 0);
    return local->pending;
}

static void
vl_ipc_local_call_unref(gpointer data)
{
    VlIpcLocalCall *call = data;

    if (!call || !g_atomic_int_dec_and_test(&call->refs))
        return;
    vl_ipc_local_unref(call->local);
    g_mutex_clear(&call->lock);
    g_cond_clear(&call->cond);
    g_free(call->line);
    g_free(call->reply_line);
    g_free(call);
}

/* Hands @reply (borrowed) to the waiting thread, as one line. */
static void
vl_ipc_local_finish(VlIpcLocalCall *call, json_object *reply)
{
    gsize len = 0;
    char *line = vl_ipc_message_to_line(reply, &len);

    g_mutex_lock(&call->lock);
    call->reply_line = line;
    call->reply_len = len;
    call->done = TRUE;
    g_cond_broadcast(&call->cond);
    g_mutex_unlock(&call->lock);
}

static void
vl_ipc_local_answer(VlIpcRequest *request, json_object *reply)
{
    VlIpcLocalCall *call = request->local;

    vl_ipc_local_finish(call, reply);
    call->local->pending--;
    json_object_put(reply);
    json_object_put(request->msg);
    vl_ipc_local_call_unref(call);
    g_free(request);
}

/* On the main context: what the server does with a line it read. */
static gboolean
vl_ipc_local_dispatch(gpointer data)
{
    VlIpcLocalCall *call = data;
    VlIpcLocal *local = call->local;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) refusal = NULL;
    VlIpcRequest *request = NULL;
    json_object *msg = NULL;

    if (local->closed) {
        refusal = vl_ipc_reply_new_error("The daemon is shutting down");
        vl_ipc_local_finish(call, refusal);
        return G_SOURCE_REMOVE;
    }
    msg = vl_ipc_message_parse(call->line, call->len, &error);
    if (!msg) {
        refusal = vl_ipc_reply_new_error("%s", error->message);
        vl_ipc_local_finish(call, refusal);
        return G_SOURCE_REMOVE;
    }
    request = g_new0(VlIpcRequest, 1);
    g_atomic_int_inc(&call->refs);
    request->local = call;
    request->msg = msg;
    request->pid = getpid();
    request->uid = geteuid();
    local->pending++;
    local->handler(request, local->user_data);
    return G_SOURCE_REMOVE;
}

json_object *
vl_ipc_local_call(VlIpcLocal *local, json_object *request, guint timeout_ms,
                  GError **error)
{
    g_autoptr(GSource) source = NULL;
    g_autofree char *line = NULL;
    g_autofree char *reply_line = NULL;
    VlIpcLocalCall *call = NULL;
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
    const char *type = vl_ipc_message_get_type(request);
    gsize len = 0;
    gsize reply_len = 0;
    gboolean done;

    g_return_val_if_fail(local != NULL && request != NULL, NULL);
    g_return_val_if_fail(!g_main_context_is_owner(local->context), NULL);

    line = vl_ipc_message_to_line(request, &len);
    if (len > VL_IPC_MAX_MESSAGE) {
        g_set_error(error, VL_ERROR, VL_ERROR_IPC,
                    "Request of %zu bytes exceeds the limit of %d bytes",
                    (size_t) len, VL_IPC_MAX_MESSAGE);
        return NULL;
    }
    call = g_new0(VlIpcLocalCall, 1);
    call->refs = 2;
    call->local = vl_ipc_local_ref(local);
    call->line = g_steal_pointer(&line);
    /* Without the newline, as the server hands a line to the parser. */
    call->len = len - 1;
    g_mutex_init(&call->lock);
    g_cond_init(&call->cond);

    source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, vl_ipc_local_dispatch, call,
                          vl_ipc_local_call_unref);
    g_source_attach(source, local->context);

    g_mutex_lock(&call->lock);
    while (!call->done && g_cond_wait_until(&call->cond, &call->lock, deadline))
        ;
    done = call->done;
    if (done) {
        reply_line = g_steal_pointer(&call->reply_line);
        reply_len = call->reply_len;
    }
    g_mutex_unlock(&call->lock);
    vl_ipc_local_call_unref(call);

    if (!done) {
        g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                    "The daemon did not answer '%s' within %u ms",
                    type ? type : "?", timeout_ms);
        return NULL;
    }
    return vl_ipc_reply_parse(reply_line, reply_len > 0 ? reply_len - 1 : 0, error);
}
