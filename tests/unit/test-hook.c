/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-hook.c: virt-lanes-hook's logic (argv and stdin into a
 * VlHookEvent, the daemon's verdict, and whole runs against an
 * in-process server).  The real binary is tested in tests/script.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "hook-input.h"
#include "hook-run.h"
#include "hook-verdict.h"
#include "ipc.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* ---- argv -------------------------------------------------------------- */

typedef struct {
    int argc;
    const char *argv[7];
    const char *why;
} BadArgv;

static const BadArgv bad_argvs[] = {
    { 1, { "hook" }, "no arguments" },
    { 2, { "hook", "web" }, "one argument" },
    { 4, { "hook", "web", "start", "begin" }, "three arguments" },
    { 6, { "hook", "web", "start", "begin", "-", "x" }, "five arguments" },
    { 5, { "hook", "", "start", "begin", "-" }, "empty name" },
    { 5, { "hook", "web", "", "begin", "-" }, "empty op" },
    { 5, { "hook", "web", "start", "", "-" }, "empty subop" },
    { 5, { "hook", "web", "start", "begin", "" }, "empty extra" },
    { 5, { "hook", "web", "bogus", "begin", "-" }, "unknown op" },
    { 5, { "hook", "web", "START", "begin", "-" }, "op in capitals" },
    { 5, { "hook", "web", "start;reboot", "begin", "-" }, "op with ';'" },
    { 5, { "hook", "web", "start\n", "begin", "-" }, "op with newline" },
    { 5, { "hook", "web", "start ", "begin", "-" }, "op with space" },
    { 5, { "hook", "web", "st\xffrt", "begin", "-" }, "op not UTF-8" },
    { 5, { "hook", "web", "begin", "start", "-" }, "op and subop swapped" },
    { 5, { "hook", "web", "start", "middle", "-" }, "unknown subop" },
    { 5, { "hook", "web", "start", "begin\"", "-" }, "subop with quote" },
};

START_TEST(test_argv_bad)
{
    const BadArgv *bad = &bad_argvs[_i];
    g_autoptr(VlHookEvent) ev = NULL;
    g_autoptr(GError) error = NULL;

    ev = vl_hook_input_from_argv(bad->argc, (char *const *) bad->argv, &error);
    ck_assert_msg(ev == NULL, "accepted: %s", bad->why);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID),
                  "%s: wrong error", bad->why);
    /* Outside bytes are escaped before they reach a log line. */
    ck_assert(g_utf8_validate(error->message, -1, NULL));
    ck_assert_ptr_null(strchr(error->message, '\n'));
}
END_TEST

static const char *const odd_names[] = {
    "web 1",
    "it's \"quoted\"",
    "a;reboot;b",
    "line1\nline2",
    "tab\there",
    "$(rm -rf /)`x`",
    "ünïcödé-名前",
    "-",
};

START_TEST(test_argv_names_pass_through)
{
    const char *argv[] = { "hook", odd_names[_i], "prepare", "begin", "-", NULL };
    g_autoptr(VlHookEvent) ev = NULL;
    g_autoptr(GError) error = NULL;

    ev = vl_hook_input_from_argv(5, (char *const *) argv, &error);
    ck_assert_msg(ev != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(ev->domain, odd_names[_i]);
    ck_assert_str_eq(ev->op, "prepare");
    ck_assert_str_eq(ev->subop, "begin");
    ck_assert_str_eq(ev->extra, "-");
    ck_assert(!ev->name_mangled);
    ck_assert_ptr_null(ev->xml);
}
END_TEST

START_TEST(test_argv_not_utf8)
{
    const char *argv[] = { "hook", "web\xff\xfe-1", "stopped", "end", "x\xc3", NULL };
    g_autoptr(VlHookEvent) ev = NULL;
    g_autoptr(GError) error = NULL;

    ev = vl_hook_input_from_argv(5, (char *const *) argv, &error);
    ck_assert_msg(ev != NULL, "%s", error ? error->message : "");
    ck_assert(ev->name_mangled);
    ck_assert(g_utf8_validate(ev->domain, -1, NULL));
    ck_assert(g_str_has_prefix(ev->domain, "web"));
    ck_assert(g_str_has_suffix(ev->domain, "-1"));
    ck_assert_ptr_nonnull(strstr(ev->domain, "\xef\xbf\xbd"));   /* U+FFFD */
    ck_assert(g_utf8_validate(ev->extra, -1, NULL));
}
END_TEST

START_TEST(test_argv_every_op)
{
    static const char *const ops[] = {
        "prepare", "start", "started", "stopped", "release",
        "migrate", "restore", "reconnect", "attach",
    };
    static const char *const subops[] = { "begin", "end", "-" };

    for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
        for (guint j = 0; j < G_N_ELEMENTS(subops); j++) {
            const char *argv[] = { "hook", "web", ops[i], subops[j], "-", NULL };
            g_autoptr(VlHookEvent) ev =
                vl_hook_input_from_argv(5, (char *const *) argv, NULL);

            ck_assert_msg(ev != NULL, "%s %s", ops[i], subops[j]);
        }
    }
}
END_TEST

/* ---- stdin ------------------------------------------------------------- */

static gint64
deadline_in(guint ms)
{
    return g_get_monotonic_time() + (gint64) ms * 1000;
}

/* A pipe whose write end gets @data and is then closed. */
static int
pipe_with(const char *data, gsize len)
{
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_uint_le(len, 65536);      /* fits the pipe buffer */
    ck_assert_int_eq(write(fds[1], data, len), (ssize_t) len);
    close(fds[1]);
    return fds[0];
}

START_TEST(test_stdin_small)
{
    const char *xml = "<domain type='kvm'>\n  <name>web</name>\n</domain>\n";
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    int fd = pipe_with(xml, strlen(xml));

    ck_assert(vl_hook_input_read_xml(ev, fd, VL_HOOK_XML_LIMIT,
                                     deadline_in(5000), &error));
    ck_assert_str_eq(ev->xml, xml);
    ck_assert_uint_eq(ev->xml_size, strlen(xml));
    ck_assert(!ev->xml_truncated);
    close(fd);
}
END_TEST

START_TEST(test_stdin_empty)
{
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    int fd = pipe_with("", 0);

    ck_assert(vl_hook_input_read_xml(ev, fd, VL_HOOK_XML_LIMIT,
                                     deadline_in(5000), &error));
    ck_assert_ptr_null(ev->xml);
    ck_assert_uint_eq(ev->xml_size, 0);
    ck_assert(!ev->xml_truncated);
    close(fd);
}
END_TEST

START_TEST(test_stdin_regular_file)
{
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("vl-hook-XXXXXX", &path, &error);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "<domain/>", 9), 9);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert(vl_hook_input_read_xml(ev, fd, VL_HOOK_XML_LIMIT,
                                     deadline_in(5000), &error));
    ck_assert_str_eq(ev->xml, "<domain/>");
    close(fd);
    g_unlink(path);
}
END_TEST

START_TEST(test_stdin_truncated)
{
    g_autofree char *data = g_strnfill(1000, 'x');
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    int fd = pipe_with(data, 1000);

    ck_assert(vl_hook_input_read_xml(ev, fd, 100, deadline_in(5000), NULL));
    ck_assert_uint_eq(strlen(ev->xml), 100);
    ck_assert_uint_eq(ev->xml_size, 1000);
    ck_assert(ev->xml_truncated);
    close(fd);
}
END_TEST

START_TEST(test_stdin_exact_limit)
{
    g_autofree char *data = g_strnfill(100, 'x');
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    int fd = pipe_with(data, 100);

    ck_assert(vl_hook_input_read_xml(ev, fd, 100, deadline_in(5000), NULL));
    ck_assert_uint_eq(strlen(ev->xml), 100);
    ck_assert(!ev->xml_truncated);
    close(fd);
}
END_TEST

START_TEST(test_stdin_cut_on_char_boundary)
{
    /* "abcd" then 'é' (2 bytes) straddling a limit of 5. */
    const char *data = "abcd\xc3\xa9" "fgh";
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    int fd = pipe_with(data, strlen(data));

    ck_assert(vl_hook_input_read_xml(ev, fd, 5, deadline_in(5000), NULL));
    ck_assert_str_eq(ev->xml, "abcd");
    ck_assert_uint_eq(ev->xml_size, strlen(data));
    ck_assert(ev->xml_truncated);
    close(fd);
}
END_TEST

START_TEST(test_stdin_not_utf8)
{
    const char data[] = "<a>\xff</a>\0<b/>";
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    int fd = pipe_with(data, sizeof(data) - 1);

    ck_assert(vl_hook_input_read_xml(ev, fd, VL_HOOK_XML_LIMIT,
                                     deadline_in(5000), NULL));
    /* Valid UTF-8 without NULs; the byte count is what was written. */
    ck_assert(g_utf8_validate(ev->xml, -1, NULL));
    ck_assert(g_str_has_prefix(ev->xml, "<a>"));
    ck_assert(g_str_has_suffix(ev->xml, "<b/>"));
    ck_assert_uint_eq(ev->xml_size, sizeof(data) - 1);
    close(fd);
}
END_TEST

typedef struct {
    int fd;
    gsize len;
    gsize written;
} Writer;

static gpointer
writer_thread(gpointer data)
{
    Writer *w = data;
    char chunk[65536];

    memset(chunk, 'y', sizeof(chunk));
    while (w->written < w->len) {
        ssize_t n = write(w->fd, chunk, MIN(sizeof(chunk), w->len - w->written));

        if (n <= 0)
            break;
        w->written += n;
    }
    close(w->fd);
    return NULL;
}

START_TEST(test_stdin_huge_is_drained)
{
    /* 3 MiB through a pipe: the writer (libvirtd) only finishes if the
     * hook keeps reading past its limit. */
    Writer w = { .len = 3 * 1024 * 1024 };
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    GThread *thread = NULL;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    w.fd = fds[1];
    thread = g_thread_new("writer", writer_thread, &w);
    ck_assert(vl_hook_input_read_xml(ev, fds[0], VL_HOOK_XML_LIMIT,
                                     deadline_in(20000), &error));
    g_thread_join(thread);
    ck_assert_uint_eq(w.written, w.len);
    ck_assert_uint_eq(ev->xml_size, w.len);
    ck_assert_uint_eq(strlen(ev->xml), VL_HOOK_XML_LIMIT);
    ck_assert(ev->xml_truncated);
    close(fds[0]);
}
END_TEST

START_TEST(test_stdin_never_closed)
{
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "<dom", 4), 4);
    ck_assert(!vl_hook_input_read_xml(ev, fds[0], VL_HOOK_XML_LIMIT,
                                      deadline_in(100), &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_TIMEOUT));
    /* What came is kept and marked incomplete. */
    ck_assert_str_eq(ev->xml, "<dom");
    ck_assert_uint_eq(ev->xml_size, 4);
    ck_assert(ev->xml_truncated);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(test_stdin_closed_fd)
{
    g_autoptr(VlHookEvent) ev = vl_hook_event_new();
    g_autoptr(GError) error = NULL;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    ck_assert(!vl_hook_input_read_xml(ev, fds[0], VL_HOOK_XML_LIMIT,
                                      deadline_in(1000), &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_null(ev->xml);
    ck_assert_uint_eq(ev->xml_size, 0);
}
END_TEST

/* ---- verdict ----------------------------------------------------------- */

typedef struct {
    const char *reply;
    VlHookVerdict verdict;
    gboolean error;
    const char *reason;         /* expected for REFUSE */
} VerdictCase;

#define ENV "\"version\":1,\"type\":\"reply\","

static const VerdictCase verdict_cases[] = {
    { "{" ENV "\"ok\":true}", VL_HOOK_VERDICT_CONTINUE, FALSE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"continue\"}", VL_HOOK_VERDICT_CONTINUE, FALSE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\",\"reason\":\"Lanes down\"}",
      VL_HOOK_VERDICT_REFUSE, FALSE, "Lanes down" },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\"}",
      VL_HOOK_VERDICT_REFUSE, FALSE, "Refused by virt-lanesd" },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\",\"reason\":\"\"}",
      VL_HOOK_VERDICT_REFUSE, FALSE, "Refused by virt-lanesd" },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\",\"reason\":\"a\\nb\\u0007c\"}",
      VL_HOOK_VERDICT_REFUSE, FALSE, "a b c" },
    { "{" ENV "\"ok\":false,\"error\":\"Broken\",\"verdict\":\"refuse\"}",
      VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"REFUSE\"}", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"maybe\"}", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":1}", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":null}", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\",\"reason\":5}",
      VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"ok\":true,\"verdict\":\"refuse\",\"xml\":\"<domain/>\"}",
      VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "{" ENV "\"verdict\":\"refuse\"}", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
    { "[1]", VL_HOOK_VERDICT_CONTINUE, TRUE, NULL },
};

START_TEST(test_verdict)
{
    const VerdictCase *vc = &verdict_cases[_i];
    g_autoptr(json_object) reply = json_tokener_parse(vc->reply);
    g_autoptr(GError) error = NULL;
    g_autofree char *reason = NULL;
    VlHookVerdict verdict;

    ck_assert_msg(reply != NULL, "fixture: %s", vc->reply);
    verdict = vl_hook_verdict_from_reply(reply, &reason, &error);
    ck_assert_msg(verdict == vc->verdict, "%s", vc->reply);
    ck_assert_msg((error != NULL) == vc->error, "%s: error %s", vc->reply,
                  error ? error->message : "(none)");
    if (vc->reason)
        ck_assert_str_eq(reason, vc->reason);
}
END_TEST

START_TEST(test_verdict_long_reason)
{
    g_autoptr(json_object) reply = vl_ipc_reply_new_ok();
    g_autoptr(GString) text = g_string_new(NULL);
    g_autofree char *reason = NULL;

    for (int i = 0; i < 400; i++)
        g_string_append(text, "é");     /* 800 bytes */
    json_object_object_add(reply, "verdict", json_object_new_string("refuse"));
    json_object_object_add(reply, "reason", json_object_new_string(text->str));
    ck_assert_int_eq(vl_hook_verdict_from_reply(reply, &reason, NULL),
                     VL_HOOK_VERDICT_REFUSE);
    ck_assert_uint_le(strlen(reason), VL_HOOK_REASON_MAX);
    ck_assert_uint_ge(strlen(reason), VL_HOOK_REASON_MAX - 1);
    ck_assert(g_utf8_validate(reason, -1, NULL));
}
END_TEST

START_TEST(test_refusable_ops)
{
    ck_assert(vl_hook_op_honours_refusal("prepare"));
    ck_assert(vl_hook_op_honours_refusal("start"));
    ck_assert(vl_hook_op_honours_refusal("started"));
    ck_assert(vl_hook_op_honours_refusal("migrate"));
    ck_assert(vl_hook_op_honours_refusal("restore"));
    ck_assert(!vl_hook_op_honours_refusal("stopped"));
    ck_assert(!vl_hook_op_honours_refusal("release"));
    ck_assert(!vl_hook_op_honours_refusal("reconnect"));
    ck_assert(!vl_hook_op_honours_refusal("attach"));
    ck_assert(!vl_hook_op_honours_refusal(NULL));
}
END_TEST

/* ---- whole runs against an in-process server ------------------------- */

#define SECRET "s3cr3t-VNC-passwd"
#define RUN_XML "<domain><graphics type='vnc' passwd='" SECRET "'/></domain>"

typedef enum {
    SERVE_CONTINUE,
    SERVE_REFUSE,
    SERVE_HOLD,
} ServeMode;

typedef struct {
    char *dir;
    char *path;
    ServeMode mode;
    guint handled;
    VlHookEvent *seen;
    VlIpcRequest *held;
    GString *log;
} RunFixture;

static RunFixture rf;

static void
serve(VlIpcRequest *request, gpointer user_data G_GNUC_UNUSED)
{
    json_object *reply = NULL;

    rf.handled++;
    g_clear_pointer(&rf.seen, vl_hook_event_free);
    rf.seen = vl_hook_event_from_json(vl_ipc_request_get_message(request), NULL);
    if (rf.mode == SERVE_HOLD) {
        rf.held = request;
        return;
    }
    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "verdict",
                           json_object_new_string(rf.mode == SERVE_REFUSE ?
                                                  "refuse" : "continue"));
    if (rf.mode == SERVE_REFUSE)
        json_object_object_add(reply, "reason",
                               json_object_new_string("No lanes for 'web'"));
    vl_ipc_request_reply(request, reply);
}

static void
collect_log(int priority, const char *message, gpointer user_data)
{
    GString *log = user_data;

    g_string_append_printf(log, "<%d>%s\n", priority, message);
}

static void
run_setup(void)
{
    memset(&rf, 0, sizeof(rf));
    rf.dir = g_dir_make_tmp("vl-hook-XXXXXX", NULL);
    ck_assert_ptr_nonnull(rf.dir);
    rf.path = g_build_filename(rf.dir, "vl.sock", NULL);
    rf.log = g_string_new(NULL);
}

static void
run_teardown(void)
{
    if (rf.held)
        vl_ipc_request_reply(rf.held, vl_ipc_reply_new_ok());
    g_clear_pointer(&rf.seen, vl_hook_event_free);
    g_string_free(rf.log, TRUE);
    g_unlink(rf.path);
    g_rmdir(rf.dir);
    g_free(rf.path);
    g_free(rf.dir);
}

typedef struct {
    VlHookConfig config;
    const char *const *argv;
    const char *xml;
    int code;
    char *err;                  /* what went to err_fd */
    gint done;
} Run;

static gpointer
run_thread(gpointer data)
{
    Run *run = data;
    int in[2];
    int err[2];
    int argc = 0;
    g_autoptr(GString) errtext = g_string_new(NULL);
    char buf[256];
    ssize_t n;

    while (run->argv[argc])
        argc++;
    g_assert(pipe(in) == 0 && pipe(err) == 0);
    if (run->xml)
        g_assert(write(in[1], run->xml, strlen(run->xml)) == (ssize_t) strlen(run->xml));
    close(in[1]);
    run->config.err_fd = err[1];
    run->code = vl_hook_run(&run->config, argc, (char *const *) run->argv, in[0]);
    close(err[1]);
    while ((n = read(err[0], buf, sizeof(buf))) > 0)
        g_string_append_len(errtext, buf, n);
    close(err[0]);
    close(in[0]);
    run->err = g_string_free(g_steal_pointer(&errtext), FALSE);
    g_atomic_int_set(&run->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
run_done(gpointer data)
{
    return g_atomic_int_get(&((Run *) data)->done) != 0;
}

/* Runs the hook in a thread while this thread's loop serves. */
static void
run_hook(Run *run, const char *const *argv, const char *xml)
{
    GThread *thread = NULL;

    vl_hook_config_init(&run->config);
    run->config.socket_path = rf.path;
    run->config.timeout_ms = 300;
    run->config.stdin_timeout_ms = 2000;
    run->config.log = collect_log;
    run->config.log_data = rf.log;
    run->argv = argv;
    run->xml = xml;
    thread = g_thread_new("hook", run_thread, run);
    ck_assert(vl_test_loop_run_until(run_done, run, 20000));
    g_thread_join(thread);
}

static VlIpcServer *
run_server(ServeMode mode)
{
    VlIpcServer *server = vl_ipc_server_new(rf.path, serve, NULL, NULL);

    ck_assert_ptr_nonnull(server);
    rf.mode = mode;
    return server;
}

START_TEST(test_run_continue)
{
    g_autoptr(VlIpcServer) server = run_server(SERVE_CONTINUE);
    const char *argv[] = { "hook", "web;1 \"x\"\n", "migrate", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 0);
    ck_assert_str_eq(run.err, "");
    ck_assert_uint_eq(rf.handled, 1);
    ck_assert_ptr_nonnull(rf.seen);
    ck_assert_str_eq(rf.seen->domain, "web;1 \"x\"\n");
    ck_assert_str_eq(rf.seen->op, "migrate");
    ck_assert_str_eq(rf.seen->subop, "begin");
    ck_assert_str_eq(rf.seen->xml, RUN_XML);
    ck_assert_uint_eq(rf.seen->xml_size, strlen(RUN_XML));
    ck_assert(!rf.seen->xml_truncated);
    g_free(run.err);
}
END_TEST

START_TEST(test_run_refuse_honoured)
{
    g_autoptr(VlIpcServer) server = run_server(SERVE_REFUSE);
    const char *argv[] = { "hook", "web", "prepare", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 1);
    ck_assert_str_eq(run.err, "virt-lanes: No lanes for 'web'\n");
    ck_assert_ptr_nonnull(strstr(rf.log->str, "refused"));
    g_free(run.err);
}
END_TEST

START_TEST(test_run_refuse_ignored)
{
    static const char *const ops[] = { "stopped", "release", "reconnect", "attach" };
    g_autoptr(VlIpcServer) server = run_server(SERVE_REFUSE);

    for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
        const char *argv[] = { "hook", "web", ops[i], "end", "-", NULL };
        Run run = { 0 };

        run_hook(&run, argv, RUN_XML);
        ck_assert_msg(run.code == 0, "%s refused", ops[i]);
        ck_assert_str_eq(run.err, "");
        g_free(run.err);
    }
    ck_assert_uint_eq(rf.handled, G_N_ELEMENTS(ops));
    /* Recorded, so an admin can see the policy wanted otherwise. */
    ck_assert_ptr_nonnull(strstr(rf.log->str, "refusal ignored"));
}
END_TEST

START_TEST(test_run_no_daemon)
{
    const char *argv[] = { "hook", "web", "prepare", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 0);
    ck_assert_str_eq(run.err, "");
    ck_assert_ptr_nonnull(strstr(rf.log->str, "not consulted"));
    ck_assert_ptr_null(strstr(rf.log->str, SECRET));
    g_free(run.err);
}
END_TEST

START_TEST(test_run_daemon_hangs)
{
    g_autoptr(VlIpcServer) server = run_server(SERVE_HOLD);
    const char *argv[] = { "hook", "web", "migrate", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 0);
    ck_assert_uint_eq(rf.handled, 1);
    ck_assert_ptr_nonnull(strstr(rf.log->str, "Timed out"));
    ck_assert_ptr_null(strstr(rf.log->str, SECRET));
    g_free(run.err);
}
END_TEST

START_TEST(test_run_bad_argv)
{
    g_autoptr(VlIpcServer) server = run_server(SERVE_REFUSE);
    const char *argv[] = { "hook", "web", "bogus", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 0);
    ck_assert_uint_eq(rf.handled, 0);
    ck_assert_ptr_nonnull(strstr(rf.log->str, "Ignoring call"));
    g_free(run.err);
}
END_TEST

START_TEST(test_run_empty_stdin)
{
    g_autoptr(VlIpcServer) server = run_server(SERVE_CONTINUE);
    const char *argv[] = { "hook", "web", "release", "end", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, NULL);
    ck_assert_int_eq(run.code, 0);
    ck_assert_uint_eq(rf.handled, 1);
    ck_assert_ptr_null(rf.seen->xml);
    ck_assert_uint_eq(rf.seen->xml_size, 0);
    g_free(run.err);
}
END_TEST

START_TEST(test_run_logs_never_hold_xml)
{
    /* Every failure path that logs, with the secret in the XML and a
     * name that needs escaping. */
    g_autoptr(VlIpcServer) server = run_server(SERVE_HOLD);
    const char *argv[] = { "hook", "a\nb\xff", "migrate", "begin", "-", NULL };
    Run run = { 0 };

    run_hook(&run, argv, RUN_XML);
    ck_assert_int_eq(run.code, 0);
    ck_assert(rf.seen->name_mangled);
    ck_assert_ptr_null(strstr(rf.log->str, SECRET));
    /* One log line per message: the newline in the name is escaped. */
    ck_assert_ptr_nonnull(strstr(rf.log->str, "a\\nb"));
    g_free(run.err);
}
END_TEST

static Suite *
hook_suite(void)
{
    Suite *s = suite_create("hook");
    TCase *tc = NULL;

    tc = tcase_create("argv");
    tcase_add_loop_test(tc, test_argv_bad, 0, G_N_ELEMENTS(bad_argvs));
    tcase_add_loop_test(tc, test_argv_names_pass_through, 0,
                        G_N_ELEMENTS(odd_names));
    tcase_add_test(tc, test_argv_not_utf8);
    tcase_add_test(tc, test_argv_every_op);
    suite_add_tcase(s, tc);

    tc = tcase_create("stdin");
    tcase_add_test(tc, test_stdin_small);
    tcase_add_test(tc, test_stdin_empty);
    tcase_add_test(tc, test_stdin_regular_file);
    tcase_add_test(tc, test_stdin_truncated);
    tcase_add_test(tc, test_stdin_exact_limit);
    tcase_add_test(tc, test_stdin_cut_on_char_boundary);
    tcase_add_test(tc, test_stdin_not_utf8);
    tcase_add_test(tc, test_stdin_huge_is_drained);
    tcase_add_test(tc, test_stdin_never_closed);
    tcase_add_test(tc, test_stdin_closed_fd);
    suite_add_tcase(s, tc);

    tc = tcase_create("verdict");
    tcase_add_loop_test(tc, test_verdict, 0, G_N_ELEMENTS(verdict_cases));
    tcase_add_test(tc, test_verdict_long_reason);
    tcase_add_test(tc, test_refusable_ops);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_checked_fixture(tc, run_setup, run_teardown);
    tcase_add_test(tc, test_run_continue);
    tcase_add_test(tc, test_run_refuse_honoured);
    tcase_add_test(tc, test_run_refuse_ignored);
    tcase_add_test(tc, test_run_no_daemon);
    tcase_add_test(tc, test_run_daemon_hangs);
    tcase_add_test(tc, test_run_bad_argv);
    tcase_add_test(tc, test_run_empty_stdin);
    tcase_add_test(tc, test_run_logs_never_hold_xml);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(hook_suite());
}
