/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real virt-lanesd and virt-lanes binaries as subprocesses, against
 * test:///default: start-up, status over the socket, SIGHUP reloads,
 * SIGTERM, --daemon with its pid file, and the CLI's exit codes.  The
 * tests wait on the daemon's log lines (stderr) and on process exit,
 * through the main loop; nothing sleeps.
 */
#include <config.h>

#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ipc.h"
#include "virt-test.h"
#include "vl-autoptr.h"

typedef struct {
    GSubprocess *proc;
    GDataInputStream *err;
    GCancellable *cancel;
    GString *log;
    gboolean exited;
    gboolean log_eof;
} Daemon;

static char *
binary(const char *relpath)
{
    const char *builddir = g_getenv("VL_BUILDDIR");

    ck_assert_msg(builddir != NULL, "VL_BUILDDIR is not set (run through meson test)");
    return g_build_filename(builddir, relpath, NULL);
}

static void
on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    Daemon *d;

    line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source),
                                                result, NULL, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;     /* the Daemon is gone */
    d = user_data;
    if (!line) {
        d->log_eof = TRUE;
        return;
    }
    g_string_append(d->log, line);
    g_string_append_c(d->log, '\n');
    g_data_input_stream_read_line_async(d->err, G_PRIORITY_DEFAULT, d->cancel,
                                        on_line, d);
}

static void
on_exited(GObject *source G_GNUC_UNUSED, GAsyncResult *result G_GNUC_UNUSED,
        gpointer user_data)
{
    gboolean *exited = user_data;

    *exited = TRUE;
}

/* Starts virt-lanesd with @args (NULL-terminated) in the foreground. */
static Daemon *
daemon_start(const char *const *args)
{
    Daemon *d = g_new0(Daemon, 1);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(argv, binary("plugin/daemon/virt-lanesd"));
    for (; *args; args++)
        g_ptr_array_add(argv, g_strdup(*args));
    g_ptr_array_add(argv, NULL);

    d->log = g_string_new(NULL);
    d->cancel = g_cancellable_new();
    d->proc = g_subprocess_newv((const char *const *)argv->pdata,
                                G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    ck_assert_msg(d->proc != NULL, "%s", error ? error->message : "");
    d->err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(d->proc));
    g_data_input_stream_read_line_async(d->err, G_PRIORITY_DEFAULT, d->cancel,
                                        on_line, d);
    /* The flag outlives the Daemon only if the test leaks it. */
    g_subprocess_wait_async(d->proc, NULL, on_exited, &d->exited);
    return d;
}

static gboolean
daemon_exited(gpointer data)
{
    Daemon *d = data;

    return d->exited;
}

/* Exited, and everything it wrote to stderr has been read. */
static gboolean
daemon_finished(gpointer data)
{
    Daemon *d = data;

    return d->exited && d->log_eof;
}

typedef struct {
    Daemon *d;
    const char *text;
} LogWait;

static gboolean
log_has(gpointer data)
{
    LogWait *w = data;

    return strstr(w->d->log->str, w->text) != NULL || w->d->exited;
}

/* Waits for @text in the daemon's log; fails showing the log. */
static void
daemon_expect_log(Daemon *d, const char *text)
{
    LogWait w = { d, text };

    vl_virt_test_wait(log_has, &w);
    ck_assert_msg(strstr(d->log->str, text) != NULL,
                  "no '%s' in the daemon's log:\n%s", text, d->log->str);
}

static void
daemon_signal(Daemon *d, int signum)
{
    g_subprocess_send_signal(d->proc, signum);
}

static int
daemon_wait_exit(Daemon *d)
{
    ck_assert_msg(vl_virt_test_wait(daemon_finished, d),
                  "virt-lanesd did not exit; log:\n%s", d->log->str);
    ck_assert_msg(g_subprocess_get_if_exited(d->proc),
                  "virt-lanesd was killed by a signal; log:\n%s", d->log->str);
    return g_subprocess_get_exit_status(d->proc);
}

static void
daemon_free(Daemon *d)
{
    if (!d->exited) {
        g_subprocess_force_exit(d->proc);
        vl_virt_test_wait(daemon_exited, d);
    }
    g_cancellable_cancel(d->cancel);
    g_object_unref(d->err);
    g_object_unref(d->cancel);
    g_object_unref(d->proc);
    g_string_free(d->log, TRUE);
    g_free(d);
}

/* Runs a program to completion; returns its exit status. */
static int
run_tool(const char *relpath, const char *const *args, char **out, char **err)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(argv, binary(relpath));
    for (; *args; args++)
        g_ptr_array_add(argv, g_strdup(*args));
    g_ptr_array_add(argv, NULL);

    proc = g_subprocess_newv((const char *const *)argv->pdata,
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    ck_assert_msg(proc != NULL, "%s", error ? error->message : "");
    /* Bounded by the tool's own timeouts (the CLI's IPC deadline). */
    ck_assert(g_subprocess_communicate_utf8(proc, NULL, NULL, out, err, &error));
    ck_assert(g_subprocess_get_if_exited(proc));
    return g_subprocess_get_exit_status(proc);
}

static json_object *
status_over_ipc(const char *socket_path)
{
    g_autoptr(json_object) request = vl_ipc_message_new("status");
    g_autoptr(GError) error = NULL;
    json_object *reply = vl_ipc_call(socket_path, request, 5000, &error);

    ck_assert_msg(reply != NULL, "%s", error ? error->message : "");
    return reply;
}

static json_object *
path_get(json_object *obj, const char *a, const char *b)
{
    json_object *x = NULL;
    json_object *y = NULL;

    ck_assert_msg(json_object_object_get_ex(obj, a, &x), "no '%s'", a);
    if (!b)
        return x;
    ck_assert_msg(json_object_object_get_ex(x, b, &y), "no '%s.%s'", a, b);
    return y;
}

static gboolean
has_domain(json_object *status, const char *name)
{
    json_object *domains = path_get(status, "domains", NULL);
    size_t i;

    for (i = 0; i < json_object_array_length(domains); i++) {
        json_object *dom = json_object_array_get_idx(domains, i);

        if (g_str_equal(json_object_get_string(path_get(dom, "name", NULL)), name))
            return TRUE;
    }
    return FALSE;
}

/* ---- tests -------------------------------------------------------- */

START_TEST(test_cli_status_json)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    const char *args[] = { "--uri", "test:///default", "--socket", sock, NULL };
    const char *cli_json[] = { "--socket", sock, "status", "--json", NULL };
    const char *cli_text[] = { "--socket", sock, "status", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(json_object) status = NULL;
    Daemon *d = daemon_start(args);

    daemon_expect_log(d, "Connected to 'test:///default'");

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", cli_json, &out, &err), 0);
    status = json_tokener_parse(out);
    ck_assert_msg(status != NULL, "not JSON: %s", out);
    ck_assert(json_object_get_boolean(path_get(status, "ok", NULL)));
    ck_assert(json_object_get_boolean(path_get(status, "connection", "connected")));
    ck_assert_str_eq(json_object_get_string(path_get(status, "connection", "uri")),
                     "test:///default");
    ck_assert_str_eq(json_object_get_string(path_get(status, "daemon", "pid")),
                     g_subprocess_get_identifier(d->proc));
    ck_assert_str_eq(json_object_get_string(path_get(status, "daemon", "socket")), sock);
    ck_assert(has_domain(status, "test"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", cli_text, &out, &err), 0);
    ck_assert_msg(strstr(out, "test:///default, connected since") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "  test  running  6695eb01-f6a4-8304-79aa-97f2502e193f\n"),
                  "%s", out);
    ck_assert_str_eq(err, "");

    daemon_signal(d, SIGTERM);
    ck_assert_int_eq(daemon_wait_exit(d), 0);
    daemon_free(d);
    vl_virt_test_rmdir(dir);
}
END_TEST

START_TEST(test_sighup_reload)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *conf = g_build_filename(dir, "virt-lanesd.conf", NULL);
    g_autofree char *node = vl_virt_test_write_node(dir);
    g_autofree char *good = g_strdup_printf("[daemon]\nuri = %s\n", node);
    g_autofree char *expected = NULL;
    g_autofree char *connected = NULL;
    const char *args[] = { "--config", conf, "--socket", sock, NULL };
    g_autoptr(json_object) status = NULL;
    Daemon *d;

    /* The URI comes from the file, so a reload may change it. */
    ck_assert(g_file_set_contents(conf, "[daemon]\nuri = test:///default\n", -1, NULL));
    d = daemon_start(args);
    daemon_expect_log(d, "Connected to 'test:///default'");

    ck_assert(g_file_set_contents(conf, "[daemon]\nuri = test:///other\nbogus = 1\n",
                                  -1, NULL));
    daemon_signal(d, SIGHUP);
    expected = g_strdup_printf("warning: Keeping the old configuration: %s:3: "
                               "Unknown key 'bogus' in group 'daemon'", conf);
    daemon_expect_log(d, expected);
    ck_assert(!d->exited);

    status = status_over_ipc(sock);
    ck_assert(json_object_get_boolean(path_get(status, "connection", "connected")));
    ck_assert_str_eq(json_object_get_string(path_get(status, "connection", "uri")),
                     "test:///default");
    ck_assert_int_eq(json_object_get_int(path_get(status, "connection", "reconnects")), 0);
    g_clear_pointer(&status, json_object_put);

    /* A good file is applied: the new URI is connected to. */
    ck_assert(g_file_set_contents(conf, good, -1, NULL));
    daemon_signal(d, SIGHUP);
    connected = g_strdup_printf("Connected to '%s'", node);
    daemon_expect_log(d, connected);
    status = status_over_ipc(sock);
    ck_assert_str_eq(json_object_get_string(path_get(status, "connection", "uri")), node);
    ck_assert(has_domain(status, "vl-node-1"));

    daemon_signal(d, SIGTERM);
    ck_assert_int_eq(daemon_wait_exit(d), 0);
    daemon_free(d);
    vl_virt_test_rmdir(dir);
}
END_TEST

START_TEST(test_sigterm_exits_and_removes_socket)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    const char *args[] = { "--uri", "test:///default", "--socket", sock, NULL };
    Daemon *d = daemon_start(args);

    daemon_expect_log(d, "Connected to 'test:///default'");
    ck_assert(g_file_test(sock, G_FILE_TEST_EXISTS));

    daemon_signal(d, SIGTERM);
    ck_assert_int_eq(daemon_wait_exit(d), 0);
    ck_assert(!g_file_test(sock, G_FILE_TEST_EXISTS));
    ck_assert_msg(strstr(d->log->str, "virt-lanesd stopped"), "%s", d->log->str);
    daemon_free(d);

    /* SIGINT (Ctrl-C in a terminal) is the same clean exit. */
    d = daemon_start(args);
    daemon_expect_log(d, "Connected to 'test:///default'");
    daemon_signal(d, SIGINT);
    ck_assert_int_eq(daemon_wait_exit(d), 0);
    ck_assert(!g_file_test(sock, G_FILE_TEST_EXISTS));
    daemon_free(d);
    vl_virt_test_rmdir(dir);
}
END_TEST

START_TEST(test_cli_without_daemon)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "none.sock", NULL);
    g_autofree char *prefix = g_strdup_printf("virt-lanes: Cannot reach virt-lanesd at '%s': ",
                                              sock);
    const char *args[] = { "--socket", sock, "status", NULL };
    const char *json_args[] = { "--socket", sock, "--json", "status", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", args, &out, &err), 1);
    ck_assert_msg(g_str_has_prefix(err, prefix), "%s", err);
    ck_assert_str_eq(out, "");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", json_args, &out, &err), 1);
    ck_assert_msg(g_str_has_prefix(err, prefix), "%s", err);
    ck_assert_str_eq(out, "");
    vl_virt_test_rmdir(dir);
}
END_TEST

typedef struct {
    const char *args[5];
    int status;
    const char *err;
} UsageCase;

static const UsageCase usage_cases[] = {
    { { "frobnicate", NULL }, 2, "virt-lanes: Unknown command 'frobnicate'\nUsage:" },
    { { "--frobnicate", "status", NULL }, 2, "virt-lanes: Unknown option --frobnicate\nUsage:" },
    { { NULL }, 2, "virt-lanes: No command given\nUsage:" },
    { { "status", "extra", NULL }, 2, "virt-lanes status: Unexpected argument 'extra'" },
    { { "status", "--frobnicate", NULL }, 2, "virt-lanes status: Unknown option --frobnicate" },
    { { "bad\nname;'x", NULL }, 2, "virt-lanes: Unknown command 'bad\\nname;'x'\nUsage:" },
};

START_TEST(test_cli_usage)
{
    const UsageCase *c = &usage_cases[_i];
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", c->args, &out, &err), c->status);
    ck_assert_msg(g_str_has_prefix(err, c->err), "%s", err);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_versions)
{
    const char *args[] = { "--version", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    ck_assert_int_eq(run_tool("plugin/cli/virt-lanes", args, &out, &err), 0);
    ck_assert_str_eq(out, "virt-lanes " PACKAGE_VERSION "\n");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", args, &out, &err), 0);
    ck_assert_str_eq(out, "virt-lanesd " PACKAGE_VERSION "\n");
}
END_TEST

START_TEST(test_daemon_bad_argv_and_config)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *conf = g_build_filename(dir, "virt-lanesd.conf", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
    g_autofree char *expected = NULL;
    const char *bogus[] = { "--frobnicate", NULL };
    const char *extra[] = { "extra", NULL };
    const char *check[] = { "--config", conf, "--check-config", NULL };
    const char *absent[] = { "--config", missing, "--check-config", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", bogus, &out, &err), 2);
    ck_assert_msg(g_str_has_prefix(err, "virt-lanesd: Unknown option --frobnicate"), "%s", err);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", extra, &out, &err), 2);
    ck_assert_msg(g_str_has_prefix(err, "virt-lanesd: Unexpected argument 'extra'"), "%s", err);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert(g_file_set_contents(conf, "[daemon]\nuri = test:///default\n", -1, NULL));
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", check, &out, &err), 0);
    ck_assert_str_eq(err, "");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert(g_file_set_contents(conf, "[libvirt]\n\nkeepalive_count = 101\n", -1, NULL));
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", check, &out, &err), 1);
    expected = g_strdup_printf("virt-lanesd: %s:3: Value '101' of key 'keepalive_count' "
                               "in group 'libvirt' must be an integer from 0 to 100\n", conf);
    ck_assert_str_eq(err, expected);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", absent, &out, &err), 1);
    ck_assert_msg(strstr(err, missing) != NULL, "%s", err);
    vl_virt_test_rmdir(dir);
}
END_TEST

typedef struct {
    int fd;
    gint locked;
} LockWait;

static gpointer
lock_thread(gpointer data)
{
    LockWait *w = data;

    /* Blocks until the holder's descriptor is closed, i.e. it exited. */
    if (flock(w->fd, LOCK_EX) == 0)
        g_atomic_int_set(&w->locked, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gboolean
lock_taken(gpointer data)
{
    LockWait *w = data;

    return g_atomic_int_get(&w->locked);
}

START_TEST(test_daemon_mode_and_pid_file)
{
    g_autofree char *dir = g_dir_make_tmp("vl-bin-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *sock2 = g_build_filename(dir, "sock2", NULL);
    g_autofree char *pid_path = g_build_filename(dir, "virt-lanesd.pid", NULL);
    g_autofree char *log_path = g_build_filename(dir, "virt-lanesd.log", NULL);
    const char *args[] = { "--daemon", "--uri", "test:///default", "--socket", sock,
                           "--pid-file", pid_path, "--log-file", log_path, NULL };
    const char *args2[] = { "--daemon", "--uri", "test:///default", "--socket", sock2,
                            "--pid-file", pid_path, "--log-file", log_path, NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *pid_text = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *log_text = NULL;
    g_autoptr(json_object) status = NULL;
    LockWait wait = { -1, 0 };
    GThread *locker;
    gint64 pid = 0;

    /* The parent returns only once the child serves. */
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", args, &out, &err), 0);
    ck_assert_str_eq(err, "");
    ck_assert(g_file_get_contents(pid_path, &pid_text, NULL, NULL));
    ck_assert(g_ascii_string_to_signed(g_strchomp(pid_text), 10, 2, G_MAXINT, &pid, NULL));
    status = status_over_ipc(sock);
    ck_assert_int_eq(json_object_get_int64(path_get(status, "daemon", "pid")), pid);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    /* A second instance on the same pid file is refused, socket untouched. */
    ck_assert_int_eq(run_tool("plugin/daemon/virt-lanesd", args2, &out, &err), 1);
    expected = g_strdup_printf("virt-lanesd: Another virt-lanesd (pid %" G_GINT64_FORMAT
                               ") holds pid file '%s'\n", pid, pid_path);
    ck_assert_str_eq(err, expected);
    ck_assert(!g_file_test(sock2, G_FILE_TEST_EXISTS));

    /*
     * It is not our child.  The daemon holds the pid file's lock until it
     * has torn everything down, so taking the lock is the signal that it
     * is done (pidfds would do, but valgrind does not know them).
     */
    wait.fd = open(pid_path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(wait.fd, 0);
    locker = g_thread_new("flock", lock_thread, &wait);
    ck_assert_int_eq(kill((pid_t)pid, SIGTERM), 0);
    ck_assert(vl_virt_test_wait(lock_taken, &wait));
    g_thread_join(locker);
    close(wait.fd);

    ck_assert(!g_file_test(pid_path, G_FILE_TEST_EXISTS));
    ck_assert(!g_file_test(sock, G_FILE_TEST_EXISTS));
    ck_assert(g_file_get_contents(log_path, &log_text, NULL, NULL));
    ck_assert_msg(strstr(log_text, "serving on") && strstr(log_text, "virt-lanesd stopped"),
                  "%s", log_text);
    vl_virt_test_rmdir(dir);
}
END_TEST

static Suite *
binaries_suite(void)
{
    Suite *s = suite_create("virt-lanesd");
    TCase *tc;

    tc = tcase_create("daemon");
    tcase_add_test(tc, test_cli_status_json);
    tcase_add_test(tc, test_sighup_reload);
    tcase_add_test(tc, test_sigterm_exits_and_removes_socket);
    tcase_add_test(tc, test_daemon_mode_and_pid_file);
    tcase_add_test(tc, test_daemon_bad_argv_and_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_test(tc, test_cli_without_daemon);
    tcase_add_loop_test(tc, test_cli_usage, 0, G_N_ELEMENTS(usage_cases));
    tcase_add_test(tc, test_versions);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(binaries_suite());
}
