/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ipc.c: the daemon socket protocol, from envelope parsing to a
 * real client and server talking over a socket in a temporary directory.
 *
 * The server runs on this thread's default main context; blocking work
 * (vl_ipc_call, raw peers) runs in a helper thread, which wakes the
 * context when it is done so the loop never waits for its timeout.
 */
#include <config.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"
#include "ipc-priv.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* ---- envelope ---------------------------------------------------------- */

START_TEST(test_message_new)
{
    g_autoptr(json_object) msg = vl_ipc_message_new("status");
    json_object *v = NULL;

    ck_assert(json_object_object_get_ex(msg, "version", &v));
    ck_assert_int_eq(json_object_get_int(v), VL_IPC_PROTOCOL_VERSION);
    ck_assert_str_eq(vl_ipc_message_get_type(msg), "status");
}
END_TEST

START_TEST(test_reply_ok_and_error)
{
    g_autoptr(json_object) ok = vl_ipc_reply_new_ok();
    g_autoptr(json_object) bad = vl_ipc_reply_new_error("No domain '%s'", "a\"b");
    json_object *v = NULL;

    ck_assert_str_eq(vl_ipc_message_get_type(ok), "reply");
    ck_assert(json_object_object_get_ex(ok, "ok", &v));
    ck_assert(json_object_get_boolean(v));
    ck_assert(!json_object_object_get_ex(ok, "error", NULL));

    ck_assert(json_object_object_get_ex(bad, "ok", &v));
    ck_assert(!json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(bad, "error", &v));
    ck_assert_str_eq(json_object_get_string(v), "No domain 'a\"b'");
}
END_TEST

START_TEST(test_reply_error_invalid_utf8)
{
    /* Outside bytes quoted into an error must not break the JSON line. */
    g_autoptr(json_object) bad = vl_ipc_reply_new_error("Bad '%s'", "\xff\xfe");
    g_autoptr(json_object) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    gsize len = 0;

    line = vl_ipc_message_to_line(bad, &len);
    back = vl_ipc_message_parse(line, len - 1, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
}
END_TEST

START_TEST(test_line_round_trip)
{
    g_autoptr(json_object) msg = vl_ipc_message_new("hook");
    g_autoptr(json_object) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    gsize len = 0;

    json_object_object_add(msg, "s",
                           json_object_new_string("line1\nline2 \"q\" ; é \t/"));
    json_object_object_add(msg, "n", json_object_new_int64(G_MAXINT64));
    line = vl_ipc_message_to_line(msg, &len);

    ck_assert_uint_eq(len, strlen(line));
    ck_assert_int_eq(line[len - 1], '\n');
    /* Framing: the only newline is the terminator. */
    ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);

    back = vl_ipc_message_parse(line, len - 1, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    ck_assert(json_object_equal(msg, back));
}
END_TEST

START_TEST(test_parse_not_nul_terminated)
{
    /* The parser must honour @len and never read past it. */
    const char buf[] = "{\"version\":1,\"type\":\"ping\"}GARBAGE";
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GError) error = NULL;

    msg = vl_ipc_message_parse(buf, strlen("{\"version\":1,\"type\":\"ping\"}"),
                               &error);
    ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(vl_ipc_message_get_type(msg), "ping");
}
END_TEST

START_TEST(test_parse_trailing_space)
{
    const char *line = "{\"version\":1,\"type\":\"ping\"} \r";
    g_autoptr(json_object) msg = vl_ipc_message_parse(line, strlen(line), NULL);

    ck_assert_ptr_nonnull(msg);
}
END_TEST

typedef struct {
    const char *bytes;
    gsize len;                  /* 0: strlen(bytes) */
    const char *why;
} BadLine;

#define BAD(s, why) { s, 0, why }
#define BADN(s, why) { s, sizeof(s) - 1, why }

static const BadLine bad_lines[] = {
    BAD("", "empty"),
    BAD("   ", "blank"),
    BAD("not json", "not JSON"),
    BAD("[1,2]", "array"),
    BAD("\"string\"", "string"),
    BAD("42", "number"),
    BAD("null", "null"),
    BAD("true", "boolean"),
    BAD("{", "incomplete"),
    BAD("{\"version\":1,\"type\":\"x\"", "unterminated"),
    BAD("{\"version\":1,\"type\":\"x\"} x", "trailing garbage"),
    BAD("{\"version\":1,\"type\":\"x\"}{}", "two objects"),
    BAD("{\"version\":1,\"type\":\"x\",}", "trailing comma (strict)"),
    BAD("{'version':1,'type':'x'}", "single quotes (strict)"),
    BAD("{version:1,type:\"x\"}", "unquoted keys"),
    BAD("{\"version\":1,\"type\":\"x\"} // c", "comment"),
    BAD("{\"type\":\"x\"}", "no version"),
    BAD("{\"version\":\"1\",\"type\":\"x\"}", "string version"),
    BAD("{\"version\":1.0,\"type\":\"x\"}", "double version"),
    BAD("{\"version\":true,\"type\":\"x\"}", "boolean version"),
    BAD("{\"version\":null,\"type\":\"x\"}", "null version"),
    BAD("{\"version\":2,\"type\":\"x\"}", "future version"),
    BAD("{\"version\":0,\"type\":\"x\"}", "version zero"),
    BAD("{\"version\":-1,\"type\":\"x\"}", "negative version"),
    BAD("{\"version\":4294967297,\"type\":\"x\"}", "version wraps to 1 in 32 bits"),
    BAD("{\"version\":1}", "no type"),
    BAD("{\"version\":1,\"type\":5}", "number type"),
    BAD("{\"version\":1,\"type\":null}", "null type"),
    BAD("{\"version\":1,\"type\":[\"x\"]}", "array type"),
    BAD("{\"version\":1,\"type\":\"\"}", "empty type"),
    BAD("{\"version\":1,\"type\":\"a\\u0000b\"}", "escaped NUL in type"),
    BAD("{\"version\":1,\"type\":\"\xff\"}", "invalid UTF-8"),
    BAD("{\"version\":1,\"type\":\"\xc3\"}", "truncated UTF-8"),
    BADN("{\"version\":1,\"type\":\"x\"}\0", "raw NUL after the object"),
    BADN("{\"version\":1,\0\"type\":\"x\"}", "raw NUL inside"),
    BAD("{\"version\":1,\n\"type\":\"x\"}", "raw newline inside"),
    BAD("{\"version\":1,\"type\":\"x\",\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "too deep"),
};

START_TEST(test_parse_bad)
{
    const BadLine *bad = &bad_lines[_i];
    gsize len = bad->len ? bad->len : strlen(bad->bytes);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) msg = NULL;

    msg = vl_ipc_message_parse(bad->bytes, len, &error);
    ck_assert_msg(msg == NULL, "accepted: %s", bad->why);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_IPC),
                  "wrong error for: %s", bad->why);
    /* House rule: capital first, no trailing period. */
    ck_assert(g_ascii_isupper(error->message[0]));
    ck_assert(!g_str_has_suffix(error->message, "."));
}
END_TEST

START_TEST(test_parse_oversized)
{
    /* A valid object one byte too long (the limit counts the newline). */
    gsize len = VL_IPC_MAX_MESSAGE;
    g_autofree char *buf = g_malloc(len);
    const char *head = "{\"version\":1,\"type\":\"x\",\"pad\":\"";
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) msg = NULL;

    memset(buf, 'a', len);
    memcpy(buf, head, strlen(head));
    buf[len - 2] = '"';
    buf[len - 1] = '}';
    msg = vl_ipc_message_parse(buf, len, &error);
    ck_assert_ptr_null(msg);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    ck_assert_ptr_nonnull(strstr(error->message, "exceeds"));
    g_clear_error(&error);

    /* One byte shorter fits exactly. */
    buf[len - 3] = '"';
    buf[len - 2] = '}';
    msg = vl_ipc_message_parse(buf, len - 1, &error);
    ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
}
END_TEST

/* ---- hook event ------------------------------------------------------- */

static VlHookEvent *
make_event(void)
{
    VlHookEvent *ev = vl_hook_event_new();

    ev->domain = g_strdup("web 1 \"quoted\"; rm -rf /\nnext");
    ev->op = g_strdup("migrate");
    ev->subop = g_strdup("begin");
    ev->extra = g_strdup("-");
    ev->xml = g_strdup("<domain type='kvm'><name>web</name></domain>\n");
    ev->xml_size = strlen(ev->xml);
    return ev;
}

START_TEST(test_hook_round_trip)
{
    g_autoptr(VlHookEvent) ev = make_event();
    g_autoptr(VlHookEvent) back = NULL;
    g_autoptr(json_object) msg = NULL;
    g_autoptr(json_object) parsed = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    gsize len = 0;

    ev->xml_truncated = TRUE;
    ev->xml_size = 5 * 1024 * 1024;
    ev->name_mangled = TRUE;
    msg = vl_hook_event_to_json(ev);
    ck_assert_str_eq(vl_ipc_message_get_type(msg), "hook");
    line = vl_ipc_message_to_line(msg, &len);
    parsed = vl_ipc_message_parse(line, len - 1, &error);
    ck_assert_msg(parsed != NULL, "%s", error ? error->message : "");
    back = vl_hook_event_from_json(parsed, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");

    ck_assert_str_eq(back->domain, ev->domain);
    ck_assert_str_eq(back->op, "migrate");
    ck_assert_str_eq(back->subop, "begin");
    ck_assert_str_eq(back->extra, "-");
    ck_assert_str_eq(back->xml, ev->xml);
    ck_assert_uint_eq(back->xml_size, 5 * 1024 * 1024);
    ck_assert(back->xml_truncated);
    ck_assert(back->name_mangled);
}
END_TEST

START_TEST(test_hook_null_xml)
{
    g_autoptr(VlHookEvent) ev = make_event();
    g_autoptr(VlHookEvent) back = NULL;
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&ev->xml, g_free);
    ev->xml_size = 0;
    msg = vl_hook_event_to_json(ev);
    back = vl_hook_event_from_json(msg, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_null(back->xml);
    ck_assert_uint_eq(back->xml_size, 0);
    ck_assert(!back->xml_truncated);
    ck_assert(!back->name_mangled);
}
END_TEST

static const char *const all_ops[] = {
    "prepare", "start", "started", "stopped", "release",
    "migrate", "restore", "reconnect", "attach",
};

START_TEST(test_hook_every_op)
{
    g_autoptr(VlHookEvent) ev = make_event();
    g_autoptr(VlHookEvent) back = NULL;
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GError) error = NULL;

    g_free(ev->op);
    ev->op = g_strdup(all_ops[_i]);
    g_free(ev->subop);
    ev->subop = g_strdup(_i % 2 ? "end" : "-");
    msg = vl_hook_event_to_json(ev);
    back = vl_hook_event_from_json(msg, &error);
    ck_assert_msg(back != NULL, "%s: %s", all_ops[_i], error ? error->message : "");
    ck_assert_str_eq(back->op, all_ops[_i]);
    ck_assert(vl_hook_op_is_known(all_ops[_i]));
}
END_TEST

typedef struct {
    const char *key;
    const char *json;           /* NULL: remove the key */
} BadField;

static const BadField bad_fields[] = {
    { "type", "\"status\"" },
    { "domain", NULL },
    { "domain", "\"\"" },
    { "domain", "5" },
    { "domain", "null" },
    { "domain", "\"a\\u0000b\"" },
    { "op", NULL },
    { "op", "\"bogus\"" },
    { "op", "\"Prepare\"" },
    { "op", "\"prepare \"" },
    { "op", "\"\"" },
    { "op", "[\"prepare\"]" },
    { "subop", NULL },
    { "subop", "\"middle\"" },
    { "subop", "\"\"" },
    { "subop", "true" },
    { "extra", NULL },
    { "extra", "\"\"" },
    { "extra", "1" },
    { "xml", "5" },
    { "xml", "{}" },
    { "xml", "\"<a>\\u0000</a>\"" },
    { "xml_size", NULL },
    { "xml_size", "-1" },
    { "xml_size", "\"10\"" },
    { "xml_size", "1.5" },
    { "xml_size", "null" },
    { "xml_truncated", NULL },
    { "xml_truncated", "\"yes\"" },
    { "xml_truncated", "1" },
    { "name_mangled", NULL },
    { "name_mangled", "0" },
    { "unexpected", "1" },
};

START_TEST(test_hook_bad_field)
{
    const BadField *bad = &bad_fields[_i];
    g_autoptr(VlHookEvent) ev = make_event();
    g_autoptr(VlHookEvent) back = NULL;
    g_autoptr(json_object) msg = vl_hook_event_to_json(ev);
    g_autoptr(GError) error = NULL;

    if (bad->json) {
        json_object *val = json_tokener_parse(bad->json);

        ck_assert_msg(val != NULL || strcmp(bad->json, "null") == 0,
                      "fixture: %s", bad->json);
        json_object_object_add(msg, bad->key, val);
    } else {
        json_object_object_del(msg, bad->key);
    }

    back = vl_hook_event_from_json(msg, &error);
    ck_assert_msg(back == NULL, "accepted %s=%s", bad->key,
                  bad->json ? bad->json : "(missing)");
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
}
END_TEST

START_TEST(test_hook_not_object)
{
    g_autoptr(json_object) arr = json_object_new_array();
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_hook_event_from_json(arr, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    g_clear_error(&error);
    ck_assert_ptr_null(vl_hook_event_from_json(NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
}
END_TEST

START_TEST(test_hook_op_lists)
{
    ck_assert(!vl_hook_op_is_known(NULL));
    ck_assert(!vl_hook_op_is_known(""));
    ck_assert(!vl_hook_op_is_known("begin"));
    ck_assert(vl_hook_subop_is_known("begin"));
    ck_assert(vl_hook_subop_is_known("end"));
    ck_assert(vl_hook_subop_is_known("-"));
    ck_assert(!vl_hook_subop_is_known("prepare"));
    ck_assert(!vl_hook_subop_is_known(NULL));
}
END_TEST

/* ---- client and server over a socket ------------------------------- */

typedef enum {
    MODE_REPLY,                 /* answer at once, echoing "id" */
    MODE_HOLD,                  /* keep the request, answer later */
} ServerMode;

typedef struct {
    char *dir;
    char *path;
    ServerMode mode;
    GPtrArray *held;            /* VlIpcRequest, not yet answered */
    guint handled;
    pid_t last_pid;
    uid_t last_uid;
} Fixture;

static Fixture fx;

static void
on_request(VlIpcRequest *request, gpointer user_data)
{
    Fixture *f = user_data;
    json_object *msg = vl_ipc_request_get_message(request);
    json_object *id = NULL;
    json_object *reply = NULL;

    f->handled++;
    f->last_pid = vl_ipc_request_get_peer_pid(request);
    f->last_uid = vl_ipc_request_get_peer_uid(request);

    if (f->mode == MODE_HOLD) {
        g_ptr_array_add(f->held, request);
        return;
    }
    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "echo",
                           json_object_new_string(vl_ipc_message_get_type(msg)));
    if (json_object_object_get_ex(msg, "id", &id))
        json_object_object_add(reply, "id", json_object_get(id));
    vl_ipc_request_reply(request, reply);
}

static void
setup_dir(void)
{
    g_autoptr(GError) error = NULL;

    memset(&fx, 0, sizeof(fx));
    fx.dir = g_dir_make_tmp("vl-ipc-XXXXXX", &error);
    ck_assert_msg(fx.dir != NULL, "%s", error ? error->message : "");
    fx.path = g_build_filename(fx.dir, "run", "vl.sock", NULL);
    fx.held = g_ptr_array_new();
}

static void
teardown_dir(void)
{
    g_autofree char *run = g_build_filename(fx.dir, "run", NULL);

    /* Answer anything left so nothing leaks under valgrind. */
    for (guint i = 0; i < fx.held->len; i++)
        vl_ipc_request_reply(fx.held->pdata[i], vl_ipc_reply_new_ok());
    g_ptr_array_unref(fx.held);
    g_unlink(fx.path);
    g_rmdir(run);
    g_rmdir(fx.dir);
    g_free(fx.path);
    g_free(fx.dir);
}

/* Work done off the main thread while the main loop serves. */
typedef struct {
    const char *path;
    json_object *request;       /* borrowed */
    guint timeout_ms;
    json_object *reply;
    GError *error;
    gint done;
    VlIpcLocal *local;          /* set: the in-process client instead */
} Call;

static gpointer
call_thread(gpointer data)
{
    Call *call = data;

    if (call->local)
        call->reply = vl_ipc_local_call(call->local, call->request,
                                        call->timeout_ms, &call->error);
    else
        call->reply = vl_ipc_call(call->path, call->request, call->timeout_ms,
                                  &call->error);
    g_atomic_int_set(&call->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
flag_is_set(gpointer data)
{
    return g_atomic_int_get((gint *) data) != 0;
}

/* Runs vl_ipc_call in a thread while this thread's loop serves. */
static void
call_with_loop(Call *call)
{
    GThread *thread = g_thread_new("call", call_thread, call);

    ck_assert(vl_test_loop_run_until(flag_is_set, &call->done, 20000));
    g_thread_join(thread);
}

static void
call_clear(Call *call)
{
    g_clear_pointer(&call->reply, json_object_put);
    g_clear_error(&call->error);
}

static gboolean
reply_ok(json_object *reply)
{
    json_object *ok = NULL;

    return reply && json_object_object_get_ex(reply, "ok", &ok) &&
           json_object_get_boolean(ok);
}

static VlIpcServer *
start_server(void)
{
    g_autoptr(GError) error = NULL;
    VlIpcServer *server = vl_ipc_server_new(fx.path, on_request, &fx, &error);

    ck_assert_msg(server != NULL, "%s", error ? error->message : "");
    return server;
}

START_TEST(test_call_ping)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { fx.path, req, 5000 };
    json_object *echo = NULL;

    call_with_loop(&call);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(reply_ok(call.reply));
    ck_assert(json_object_object_get_ex(call.reply, "echo", &echo));
    ck_assert_str_eq(json_object_get_string(echo), "ping");
    ck_assert_int_eq(fx.last_pid, getpid());
    ck_assert_uint_eq(fx.last_uid, geteuid());
    call_clear(&call);
}
END_TEST

START_TEST(test_call_error_reply_returned)
{
    /* ok:false is a valid reply: vl_ipc_call hands it to the caller. */
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) req = vl_ipc_message_new("status");
    Call call = { fx.path, req, 5000 };
    json_object *err = NULL;

    fx.mode = MODE_HOLD;
    {
        GThread *thread = g_thread_new("call", call_thread, &call);

        ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
        vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                             vl_ipc_reply_new_error("No such thing '%s'", "x"));
        ck_assert(vl_test_loop_run_until(flag_is_set, &call.done, 20000));
        g_thread_join(thread);
    }
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(!reply_ok(call.reply));
    ck_assert(json_object_object_get_ex(call.reply, "error", &err));
    ck_assert_str_eq(json_object_get_string(err), "No such thing 'x'");
    call_clear(&call);
}
END_TEST

START_TEST(test_server_modes)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autofree char *run = g_build_filename(fx.dir, "run", NULL);
    struct stat st;

    ck_assert_int_eq(lstat(fx.path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(lstat(run, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0700);

    /* Freeing the server removes its own socket. */
    g_clear_pointer(&server, vl_ipc_server_free);
    ck_assert_int_eq(lstat(fx.path, &st), -1);
}
END_TEST

static void
make_stale_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    close(fd);
}

START_TEST(test_server_replaces_stale_socket)
{
    g_autoptr(VlIpcServer) server = NULL;
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { fx.path, req, 5000 };

    make_stale_socket(fx.path);
    server = start_server();
    call_with_loop(&call);
    ck_assert(reply_ok(call.reply));
    call_clear(&call);
}
END_TEST

START_TEST(test_server_refuses_non_socket)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_path_get_dirname(fx.path);
    g_autofree char *contents = NULL;
    VlIpcServer *server = NULL;

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
    ck_assert(g_file_set_contents(fx.path, "precious", -1, NULL));
    server = vl_ipc_server_new(fx.path, on_request, &fx, &error);
    ck_assert_ptr_null(server);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    ck_assert(g_file_get_contents(fx.path, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "precious");
}
END_TEST

START_TEST(test_server_refuses_live_socket)
{
    g_autoptr(VlIpcServer) first = start_server();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { fx.path, req, 5000 };
    VlIpcServer *second = NULL;

    second = vl_ipc_server_new(fx.path, on_request, &fx, &error);
    ck_assert_ptr_null(second);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    /* The first server is untouched and still answers. */
    call_with_loop(&call);
    ck_assert(reply_ok(call.reply));
    call_clear(&call);
}
END_TEST

START_TEST(test_call_async_reply)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) req = vl_ipc_message_new("hook");
    Call call = { fx.path, req, 10000 };
    GThread *thread = NULL;

    fx.mode = MODE_HOLD;
    thread = g_thread_new("call", call_thread, &call);
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    ck_assert_uint_eq(fx.held->len, 1);
    /* The client is still waiting: the reply has not been sent. */
    ck_assert_int_eq(g_atomic_int_get(&call.done), 0);

    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_ok());
    ck_assert(vl_test_loop_run_until(flag_is_set, &call.done, 20000));
    g_thread_join(thread);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(reply_ok(call.reply));
    call_clear(&call);
}
END_TEST

START_TEST(test_call_timeout)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) req = vl_ipc_message_new("hook");
    Call call = { fx.path, req, 200 };
    Call again = { fx.path, req, 5000 };

    fx.mode = MODE_HOLD;
    call_with_loop(&call);
    ck_assert_ptr_null(call.reply);
    ck_assert_msg(g_error_matches(call.error, VL_ERROR, VL_ERROR_TIMEOUT),
                  "%s", call.error ? call.error->message : "");

    /* Let the server see the hang-up, then answer into nothing. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    ck_assert_uint_eq(fx.held->len, 1);
    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_ok());

    /* The server is unharmed. */
    fx.mode = MODE_REPLY;
    call_with_loop(&again);
    ck_assert(reply_ok(again.reply));
    call_clear(&call);
    call_clear(&again);
}
END_TEST

START_TEST(test_call_no_daemon)
{
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *file = g_build_filename(fx.dir, "plain", NULL);

    reply = vl_ipc_call(fx.path, req, 1000, &error);
    ck_assert_ptr_null(reply);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    g_clear_error(&error);

    /* A path that is not a socket. */
    ck_assert(g_file_set_contents(file, "", -1, NULL));
    reply = vl_ipc_call(file, req, 1000, &error);
    ck_assert_ptr_null(reply);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    g_clear_error(&error);
    g_unlink(file);

    /* A path too long for sun_path. */
    {
        g_autofree char *longpath = g_strnfill(200, 'x');

        reply = vl_ipc_call(longpath, req, 1000, &error);
        ck_assert_ptr_null(reply);
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    }
}
END_TEST

/* ---- raw peers ---------------------------------------------------------- */

static int
raw_listen(const char *path, int backlog)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    return fd;
}

static int
raw_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 10 };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    /* Bound every blocking call so a broken server fails the test. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static gboolean
raw_write(int fd, const void *buf, gsize len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= n;
    }
    return TRUE;
}

/* One line without its newline; NULL at EOF or on error. */
static char *
raw_read_line(int fd)
{
    g_autoptr(GString) s = g_string_new(NULL);
    char c;

    for (;;) {
        ssize_t n = recv(fd, &c, 1, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        if (c == '\n')
            return g_string_free(g_steal_pointer(&s), FALSE);
        g_string_append_c(s, c);
    }
}

/* A raw client script run in a thread; results are checked afterwards. */
typedef struct {
    const char *path;
    const char *send;           /* sent as is */
    gsize send_len;
    guint nlines;               /* lines to read back */
    char *lines[4];
    gboolean check_eof;         /* then expect the server to close */
    gboolean eof_after;         /* EOF observed after the lines */
    gint done;
} RawClient;

static gpointer
raw_client_thread(gpointer data)
{
    RawClient *rc = data;
    int fd = raw_connect(rc->path);
    char c;

    if (fd >= 0) {
        raw_write(fd, rc->send, rc->send_len ? rc->send_len : strlen(rc->send));
        for (guint i = 0; i < rc->nlines; i++)
            rc->lines[i] = raw_read_line(fd);
        if (rc->check_eof)
            rc->eof_after = recv(fd, &c, 1, 0) == 0;
        close(fd);
    }
    g_atomic_int_set(&rc->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static void
raw_client_run(RawClient *rc)
{
    GThread *thread = g_thread_new("raw", raw_client_thread, rc);

    ck_assert(vl_test_loop_run_until(flag_is_set, &rc->done, 20000));
    g_thread_join(thread);
}

static void
raw_client_clear(RawClient *rc)
{
    for (guint i = 0; i < G_N_ELEMENTS(rc->lines); i++)
        g_clear_pointer(&rc->lines[i], g_free);
}

/* Parses a reply line and returns its "ok"; fails the test if invalid. */
static gboolean
line_reply_ok(const char *line, const char *want_id)
{
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GError) error = NULL;
    json_object *ok = NULL;
    json_object *id = NULL;

    ck_assert_ptr_nonnull(line);
    msg = vl_ipc_message_parse(line, strlen(line), &error);
    ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(vl_ipc_message_get_type(msg), "reply");
    ck_assert(json_object_object_get_ex(msg, "ok", &ok));
    if (want_id) {
        ck_assert(json_object_object_get_ex(msg, "id", &id));
        ck_assert_str_eq(json_object_get_string(id), want_id);
    }
    if (!json_object_get_boolean(ok))
        ck_assert(json_object_object_get_ex(msg, "error", NULL));
    return json_object_get_boolean(ok);
}

START_TEST(test_server_sequential_requests)
{
    g_autoptr(VlIpcServer) server = start_server();
    RawClient rc = {
        .path = fx.path,
        .send = "{\"version\":1,\"type\":\"ping\",\"id\":\"a\"}\n"
                "{\"version\":1,\"type\":\"ping\",\"id\":\"b\"}\n"
                "{\"version\":1,\"type\":\"ping\",\"id\":\"c\"}\n",
        .nlines = 3,
    };

    raw_client_run(&rc);
    ck_assert(line_reply_ok(rc.lines[0], "a"));
    ck_assert(line_reply_ok(rc.lines[1], "b"));
    ck_assert(line_reply_ok(rc.lines[2], "c"));
    ck_assert_uint_eq(fx.handled, 3);
    raw_client_clear(&rc);
}
END_TEST

START_TEST(test_server_sequential_async)
{
    /* Pipelined requests wait for the async answer of the one before. */
    g_autoptr(VlIpcServer) server = start_server();
    RawClient rc = {
        .path = fx.path,
        .send = "{\"version\":1,\"type\":\"hook\",\"id\":\"a\"}\n"
                "{\"version\":1,\"type\":\"hook\",\"id\":\"b\"}\n",
        .nlines = 2,
    };
    GThread *thread = NULL;

    fx.mode = MODE_HOLD;
    thread = g_thread_new("raw", raw_client_thread, &rc);
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    while (g_main_context_iteration(NULL, FALSE))
        ;
    /* Only the first is with the handler until it is answered. */
    ck_assert_uint_eq(fx.handled, 1);
    fx.mode = MODE_REPLY;
    {
        VlIpcRequest *first = g_ptr_array_steal_index(fx.held, 0);
        json_object *reply = vl_ipc_reply_new_ok();

        json_object_object_add(reply, "id", json_object_new_string("a"));
        vl_ipc_request_reply(first, reply);
    }
    ck_assert(vl_test_loop_run_until(flag_is_set, &rc.done, 20000));
    g_thread_join(thread);
    ck_assert(line_reply_ok(rc.lines[0], "a"));
    ck_assert(line_reply_ok(rc.lines[1], "b"));
    ck_assert_uint_eq(fx.handled, 2);
    raw_client_clear(&rc);
}
END_TEST

START_TEST(test_server_malformed_line)
{
    g_autoptr(VlIpcServer) server = start_server();
    RawClient rc = {
        .path = fx.path,
        .send = "this is not json\n{\"version\":1,\"type\":\"ping\"}\n",
        .nlines = 1,
        .check_eof = TRUE,
    };

    raw_client_run(&rc);
    ck_assert(!line_reply_ok(rc.lines[0], NULL));
    /* Closed after the error: the valid line behind it is never served. */
    ck_assert(rc.eof_after);
    ck_assert_uint_eq(fx.handled, 0);
    raw_client_clear(&rc);
}
END_TEST

START_TEST(test_server_bad_version)
{
    g_autoptr(VlIpcServer) server = start_server();
    RawClient rc = {
        .path = fx.path,
        .send = "{\"version\":99,\"type\":\"ping\"}\n",
        .nlines = 1,
        .check_eof = TRUE,
    };

    raw_client_run(&rc);
    ck_assert(!line_reply_ok(rc.lines[0], NULL));
    ck_assert(rc.eof_after);
    ck_assert_uint_eq(fx.handled, 0);
    raw_client_clear(&rc);
}
END_TEST

START_TEST(test_server_oversized_request)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autofree char *big = g_malloc(VL_IPC_MAX_MESSAGE);
    RawClient rc = {
        .path = fx.path,
        .send = big,
        .send_len = VL_IPC_MAX_MESSAGE,
        .nlines = 1,
        .check_eof = TRUE,
    };

    /* The limit counts the newline, so this many bytes without one is over. */
    memset(big, 'a', VL_IPC_MAX_MESSAGE);
    raw_client_run(&rc);
    ck_assert(!line_reply_ok(rc.lines[0], NULL));
    ck_assert_ptr_nonnull(strstr(rc.lines[0], "exceeds"));
    ck_assert(rc.eof_after);
    ck_assert_uint_eq(fx.handled, 0);
    raw_client_clear(&rc);
}
END_TEST

START_TEST(test_server_half_close)
{
    /* A client that shuts its write side after the request still gets
     * the answer. */
    g_autoptr(VlIpcServer) server = start_server();
    const char *req = "{\"version\":1,\"type\":\"ping\",\"id\":\"h\"}\n";
    int fd = raw_connect(fx.path);
    g_autofree char *line = NULL;

    ck_assert_int_ge(fd, 0);
    ck_assert(raw_write(fd, req, strlen(req)));
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    while (g_main_context_iteration(NULL, FALSE))
        ;
    line = raw_read_line(fd);
    ck_assert(line_reply_ok(line, "h"));
    close(fd);
}
END_TEST

START_TEST(test_server_peer_closes_early)
{
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) ping = vl_ipc_message_new("ping");
    const char *req = "{\"version\":1,\"type\":\"hook\"}\n";
    Call again = { fx.path, ping, 5000 };
    int fd = raw_connect(fx.path);

    fx.mode = MODE_HOLD;
    ck_assert_int_ge(fd, 0);
    ck_assert(raw_write(fd, req, strlen(req)));
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    close(fd);
    /* The server notices the hang-up before the handler answers. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_ok());
    while (g_main_context_iteration(NULL, FALSE))
        ;

    fx.mode = MODE_REPLY;
    call_with_loop(&again);
    ck_assert(reply_ok(again.reply));
    call_clear(&again);
}
END_TEST

START_TEST(test_server_peer_closes_before_dispatch)
{
    /* Answer before the loop has seen the hang-up: the write fails. */
    g_autoptr(VlIpcServer) server = start_server();
    g_autoptr(json_object) ping = vl_ipc_message_new("ping");
    const char *req = "{\"version\":1,\"type\":\"hook\"}\n";
    Call again = { fx.path, ping, 5000 };
    int fd = raw_connect(fx.path);

    fx.mode = MODE_HOLD;
    ck_assert(raw_write(fd, req, strlen(req)));
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    close(fd);
    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_ok());
    while (g_main_context_iteration(NULL, FALSE))
        ;

    fx.mode = MODE_REPLY;
    call_with_loop(&again);
    ck_assert(reply_ok(again.reply));
    call_clear(&again);
}
END_TEST

START_TEST(test_server_free_with_pending)
{
    VlIpcServer *server = start_server();
    g_autoptr(json_object) req = vl_ipc_message_new("hook");
    Call call = { fx.path, req, 10000 };
    GThread *thread = NULL;

    fx.mode = MODE_HOLD;
    thread = g_thread_new("call", call_thread, &call);
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    vl_ipc_server_free(server);
    /* The client sees the close at once, not at its timeout. */
    g_thread_join(thread);
    ck_assert(g_error_matches(call.error, VL_ERROR, VL_ERROR_IPC));
    /* Answering after the server is gone only frees. */
    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_ok());
    call_clear(&call);
}
END_TEST

/* A fake daemon in a thread that answers one request with fixed bytes. */
typedef struct {
    int listen_fd;
    const char *answer;
    gsize answer_len;
    gboolean read_request;
} FakeDaemon;

static gpointer
fake_daemon_thread(gpointer data)
{
    FakeDaemon *fd = data;
    struct timeval tv = { .tv_sec = 10 };
    int conn = accept(fd->listen_fd, NULL, NULL);
    g_autofree char *line = NULL;

    if (conn < 0)
        return NULL;
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    line = raw_read_line(conn);
    fd->read_request = line != NULL;
    if (fd->answer_len)
        raw_write(conn, fd->answer, fd->answer_len);
    close(conn);
    return NULL;
}

#define ANSWER(s) { s, sizeof(s) - 1 }

static const struct {
    const char *bytes;
    gsize len;
} garbage_answers[] = {
    ANSWER("this is not json\n"),
    ANSWER("\n"),
    ANSWER("[]\n"),
    ANSWER("{\"version\":2,\"type\":\"reply\",\"ok\":true}\n"),
    ANSWER("{\"version\":1,\"type\":\"hook\",\"ok\":true}\n"),
    ANSWER("{\"version\":1,\"type\":\"reply\"}\n"),
    ANSWER("{\"version\":1,\"type\":\"reply\",\"ok\":\"yes\"}\n"),
    ANSWER("{\"version\":1,\"type\":\"reply\",\"ok\":false}\n"),
    ANSWER("{\"version\":1,\"type\":\"reply\",\"ok\":true}"),      /* no newline, then EOF */
    ANSWER("{\"version\":1,\"type\":\"reply\",\"ok\":true}\0\n"),
    ANSWER("\xff\xfe\n"),
    { "", 0 },                                                    /* close without answer */
};

START_TEST(test_call_garbage_reply)
{
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    FakeDaemon fd = {
        .listen_fd = raw_listen(fx.path, 4),
        .answer = garbage_answers[_i].bytes,
        .answer_len = garbage_answers[_i].len,
    };
    GThread *thread = g_thread_new("fake", fake_daemon_thread, &fd);

    reply = vl_ipc_call(fx.path, req, 10000, &error);
    g_thread_join(thread);
    close(fd.listen_fd);
    ck_assert(fd.read_request);
    ck_assert_msg(reply == NULL, "accepted answer %d", _i);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_IPC),
                  "answer %d: %s", _i, error ? error->message : "");
}
END_TEST

START_TEST(test_call_oversized_reply)
{
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = VL_IPC_MAX_MESSAGE + 4096;
    g_autofree char *big = g_malloc(len);
    FakeDaemon fd = {
        .listen_fd = raw_listen(fx.path, 4),
        .answer = big,
        .answer_len = len,
    };
    GThread *thread = NULL;

    memset(big, ' ', len);
    big[len - 1] = '\n';
    thread = g_thread_new("fake", fake_daemon_thread, &fd);
    reply = vl_ipc_call(fx.path, req, 10000, &error);
    g_thread_join(thread);
    close(fd.listen_fd);
    ck_assert_ptr_null(reply);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    ck_assert_ptr_nonnull(strstr(error->message, "exceeds"));
}
END_TEST

START_TEST(test_call_timeout_backlog_full)
{
    /* A daemon that never accepts: connect() itself cannot finish. */
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    int lfd = raw_listen(fx.path, 0);
    int fillers[16];
    guint nfill = 0;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    g_strlcpy(addr.sun_path, fx.path, sizeof(addr.sun_path));
    for (nfill = 0; nfill < G_N_ELEMENTS(fillers); nfill++) {
        fillers[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fillers[nfill], (struct sockaddr *) &addr,
                    sizeof(addr)) < 0) {
            close(fillers[nfill]);
            break;
        }
    }
    ck_assert_uint_lt(nfill, G_N_ELEMENTS(fillers));

    reply = vl_ipc_call(fx.path, req, 200, &error);
    ck_assert_ptr_null(reply);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_TIMEOUT),
                  "%s", error ? error->message : "");
    for (guint i = 0; i < nfill; i++)
        close(fillers[i]);
    close(lfd);
}
END_TEST

START_TEST(test_server_refuses_busy_socket)
{
    /* A live daemon whose backlog is full is still in use; probing it
     * must neither block nor replace its socket. */
    g_autoptr(GError) error = NULL;
    VlIpcServer *server = NULL;
    int lfd = raw_listen(fx.path, 0);
    int fillers[16];
    guint nfill = 0;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct stat st;

    g_strlcpy(addr.sun_path, fx.path, sizeof(addr.sun_path));
    for (nfill = 0; nfill < G_N_ELEMENTS(fillers); nfill++) {
        fillers[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fillers[nfill], (struct sockaddr *) &addr,
                    sizeof(addr)) < 0) {
            close(fillers[nfill]);
            break;
        }
    }
    ck_assert_uint_lt(nfill, G_N_ELEMENTS(fillers));

    server = vl_ipc_server_new(fx.path, on_request, &fx, &error);
    ck_assert_ptr_null(server);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
    ck_assert_int_eq(lstat(fx.path, &st), 0);
    for (guint i = 0; i < nfill; i++)
        close(fillers[i]);
    close(lfd);
}
END_TEST

START_TEST(test_call_timeout_send_blocked)
{
    /* A daemon that accepted nothing and reads nothing: a big request
     * fills the socket buffer and the send phase must time out. */
    g_autoptr(json_object) req = vl_ipc_message_new("hook");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *pad = g_strnfill(3 * 1024 * 1024, 'x');
    int lfd = raw_listen(fx.path, 4);

    json_object_object_add(req, "pad", json_object_new_string(pad));
    reply = vl_ipc_call(fx.path, req, 200, &error);
    ck_assert_ptr_null(reply);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_TIMEOUT),
                  "%s", error ? error->message : "");
    close(lfd);
}
END_TEST

START_TEST(test_call_request_too_big)
{
    g_autoptr(json_object) req = vl_ipc_message_new("hook");
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *pad = g_strnfill(VL_IPC_MAX_MESSAGE, 'x');

    json_object_object_add(req, "pad", json_object_new_string(pad));
    reply = vl_ipc_call(fx.path, req, 200, &error);
    ck_assert_ptr_null(reply);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IPC));
}
END_TEST

/*
 * Connects as another uid from one thread only: the raw syscall changes
 * the calling thread's credentials (glibc's wrapper would change the
 * whole process), and SO_PEERCRED records the connecting task's euid.
 * No fork(), so the test stays clean under valgrind.
 */
static gpointer
other_uid_call_thread(gpointer data)
{
    Call *call = data;

    if (syscall(SYS_setresgid, -1, 65534, -1) == 0 &&
        syscall(SYS_setresuid, -1, 65534, -1) == 0) {
        call->reply = vl_ipc_call(call->path, call->request, call->timeout_ms,
                                  &call->error);
    } else {
        g_set_error(&call->error, VL_ERROR, VL_ERROR_FAILED, "setresuid failed");
    }
    g_atomic_int_set(&call->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

START_TEST(test_server_refuses_other_uid)
{
    g_autoptr(VlIpcServer) server = NULL;
    g_autofree char *run = g_build_filename(fx.dir, "run", NULL);
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { fx.path, req, 5000 };
    GThread *thread = NULL;

    if (geteuid() != 0)
        return;     /* switching uid needs root; the suite runs as root in CI */

    server = start_server();
    /* Let the other uid reach the socket: the uid check is what remains. */
    ck_assert_int_eq(chmod(fx.dir, 0755), 0);
    ck_assert_int_eq(chmod(run, 0755), 0);
    ck_assert_int_eq(chmod(fx.path, 0666), 0);

    thread = g_thread_new("other-uid", other_uid_call_thread, &call);
    ck_assert(vl_test_loop_run_until(flag_is_set, &call.done, 20000));
    g_thread_join(thread);
    ck_assert_ptr_null(call.reply);
    ck_assert_msg(g_error_matches(call.error, VL_ERROR, VL_ERROR_IPC),
                  "%s", call.error ? call.error->message : "");
    ck_assert_uint_eq(fx.handled, 0);
    /* This thread kept root. */
    ck_assert_uint_eq(geteuid(), 0);
    call_clear(&call);
}
END_TEST

/* ---- the in-process client ------------------------------------------------ */

/* A request from another thread reaches the handler on this thread's
 * context and its reply comes back whole: the same envelope, the
 * handler's fields, this process as the peer. */
START_TEST(test_local_round_trip)
{
    g_autoptr(VlIpcLocal) local = vl_ipc_local_new(on_request, &fx);
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { NULL, req, 5000 };
    json_object *v = NULL;

    json_object_object_add(req, "id", json_object_new_string("a \"b\" ;\n"));
    call.local = local;
    call_with_loop(&call);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(reply_ok(call.reply));
    ck_assert(json_object_object_get_ex(call.reply, "echo", &v));
    ck_assert_str_eq(json_object_get_string(v), "ping");
    ck_assert(json_object_object_get_ex(call.reply, "id", &v));
    ck_assert_str_eq(json_object_get_string(v), "a \"b\" ;\n");
    ck_assert_uint_eq(fx.handled, 1);
    ck_assert_int_eq(fx.last_pid, getpid());
    ck_assert_uint_eq(fx.last_uid, geteuid());
    ck_assert_uint_eq(vl_ipc_local_get_pending(local), 0);
    call_clear(&call);
}
END_TEST

/* The handler may answer later; the caller waits for it, and only it. */
START_TEST(test_local_async_reply)
{
    g_autoptr(VlIpcLocal) local = vl_ipc_local_new(on_request, &fx);
    g_autoptr(json_object) req = vl_ipc_message_new("lanes-up");
    Call call = { NULL, req, 10000 };
    GThread *thread = NULL;

    call.local = local;
    fx.mode = MODE_HOLD;
    thread = g_thread_new("call", call_thread, &call);
    ck_assert(vl_test_loop_run_until(flag_is_set, &fx.handled, 20000));
    ck_assert_uint_eq(vl_ipc_local_get_pending(local), 1);
    ck_assert_int_eq(g_atomic_int_get(&call.done), 0);

    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0),
                         vl_ipc_reply_new_error("Lane '%s' is busy", "lane1"));
    ck_assert(vl_test_loop_run_until(flag_is_set, &call.done, 20000));
    g_thread_join(thread);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(!reply_ok(call.reply));
    ck_assert_uint_eq(vl_ipc_local_get_pending(local), 0);
    call_clear(&call);
}
END_TEST

/* No answer in time: VL_ERROR_TIMEOUT; the late answer goes nowhere and
 * the client serves the next call. */
START_TEST(test_local_timeout)
{
    g_autoptr(VlIpcLocal) local = vl_ipc_local_new(on_request, &fx);
    g_autoptr(json_object) req = vl_ipc_message_new("lanes-down");
    Call call = { NULL, req, 200 };
    Call again = { NULL, req, 5000 };

    call.local = local;
    again.local = local;
    fx.mode = MODE_HOLD;
    call_with_loop(&call);
    ck_assert_ptr_null(call.reply);
    ck_assert_msg(g_error_matches(call.error, VL_ERROR, VL_ERROR_TIMEOUT),
                  "%s", call.error ? call.error->message : "");
    ck_assert_ptr_nonnull(strstr(call.error->message, "'lanes-down'"));
    ck_assert_uint_eq(fx.held->len, 1);
    vl_ipc_request_reply(g_ptr_array_steal_index(fx.held, 0), vl_ipc_reply_new_ok());
    ck_assert_uint_eq(vl_ipc_local_get_pending(local), 0);

    fx.mode = MODE_REPLY;
    call_with_loop(&again);
    ck_assert(reply_ok(again.reply));
    call_clear(&call);
    call_clear(&again);
}
END_TEST

/* Closed (the daemon going away): refused without calling the handler. */
START_TEST(test_local_closed)
{
    g_autoptr(VlIpcLocal) local = vl_ipc_local_new(on_request, &fx);
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { NULL, req, 5000 };
    json_object *v = NULL;

    call.local = local;
    vl_ipc_local_close(local);
    call_with_loop(&call);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(!reply_ok(call.reply));
    ck_assert(json_object_object_get_ex(call.reply, "error", &v));
    ck_assert_str_eq(json_object_get_string(v), "The daemon is shutting down");
    ck_assert_uint_eq(fx.handled, 0);
    call_clear(&call);
}
END_TEST

/* A request the server would refuse (a wrong version) is refused here
 * too, before the handler sees it. */
START_TEST(test_local_bad_version)
{
    g_autoptr(VlIpcLocal) local = vl_ipc_local_new(on_request, &fx);
    g_autoptr(json_object) req = vl_ipc_message_new("ping");
    Call call = { NULL, req, 5000 };

    json_object_object_add(req, "version", json_object_new_int(2));
    call.local = local;
    call_with_loop(&call);
    ck_assert_msg(call.reply != NULL, "%s", call.error->message);
    ck_assert(!reply_ok(call.reply));
    ck_assert_uint_eq(fx.handled, 0);
    call_clear(&call);
}
END_TEST

static Suite *
ipc_suite(void)
{
    Suite *s = suite_create("ipc");
    TCase *tc = NULL;

    tc = tcase_create("envelope");
    tcase_add_test(tc, test_message_new);
    tcase_add_test(tc, test_reply_ok_and_error);
    tcase_add_test(tc, test_reply_error_invalid_utf8);
    tcase_add_test(tc, test_line_round_trip);
    tcase_add_test(tc, test_parse_not_nul_terminated);
    tcase_add_test(tc, test_parse_trailing_space);
    tcase_add_loop_test(tc, test_parse_bad, 0, G_N_ELEMENTS(bad_lines));
    tcase_add_test(tc, test_parse_oversized);
    suite_add_tcase(s, tc);

    tc = tcase_create("hook-event");
    tcase_add_test(tc, test_hook_round_trip);
    tcase_add_test(tc, test_hook_null_xml);
    tcase_add_loop_test(tc, test_hook_every_op, 0, G_N_ELEMENTS(all_ops));
    tcase_add_loop_test(tc, test_hook_bad_field, 0, G_N_ELEMENTS(bad_fields));
    tcase_add_test(tc, test_hook_not_object);
    tcase_add_test(tc, test_hook_op_lists);
    suite_add_tcase(s, tc);

    tc = tcase_create("client-server");
    tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
    tcase_add_test(tc, test_call_ping);
    tcase_add_test(tc, test_call_error_reply_returned);
    tcase_add_test(tc, test_server_modes);
    tcase_add_test(tc, test_server_replaces_stale_socket);
    tcase_add_test(tc, test_server_refuses_non_socket);
    tcase_add_test(tc, test_server_refuses_live_socket);
    tcase_add_test(tc, test_call_async_reply);
    tcase_add_test(tc, test_call_timeout);
    tcase_add_test(tc, test_call_no_daemon);
    tcase_add_test(tc, test_server_sequential_requests);
    tcase_add_test(tc, test_server_sequential_async);
    tcase_add_test(tc, test_server_malformed_line);
    tcase_add_test(tc, test_server_bad_version);
    tcase_add_test(tc, test_server_oversized_request);
    tcase_add_test(tc, test_server_half_close);
    tcase_add_test(tc, test_server_peer_closes_early);
    tcase_add_test(tc, test_server_peer_closes_before_dispatch);
    tcase_add_test(tc, test_server_free_with_pending);
    tcase_add_loop_test(tc, test_call_garbage_reply, 0,
                        G_N_ELEMENTS(garbage_answers));
    tcase_add_test(tc, test_call_oversized_reply);
    tcase_add_test(tc, test_call_timeout_backlog_full);
    tcase_add_test(tc, test_call_timeout_send_blocked);
    tcase_add_test(tc, test_server_refuses_busy_socket);
    tcase_add_test(tc, test_call_request_too_big);
    tcase_add_test(tc, test_server_refuses_other_uid);
    suite_add_tcase(s, tc);

    tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
    tcase_add_test(tc, test_local_round_trip);
    tcase_add_test(tc, test_local_async_reply);
    tcase_add_test(tc, test_local_timeout);
    tcase_add_test(tc, test_local_closed);
    tcase_add_test(tc, test_local_bad_version);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(ipc_suite());
}
