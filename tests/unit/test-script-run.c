/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VlScriptRunner with throwaway scripts: exit codes and stderr become
 * the error, a hang is killed with everything it started, the
 * environment is cleared, untrusted directories and files are refused.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "script-run.h"
#include "test-util.h"
#include "vl-error.h"

static char *dir;
static VlScriptRunner *runner;

static void
setup(void)
{
    dir = g_dir_make_tmp("vl-script-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(chmod(dir, 0755), 0);
    runner = vl_script_runner_new(dir);
}

static void
teardown(void)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_remove(p);
    }
    g_rmdir(dir);
    g_clear_pointer(&dir, g_free);
    g_clear_pointer(&runner, vl_script_runner_free);
}

static char *
path_of(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void
write_script(const char *name, const char *body, int mode)
{
    g_autofree char *p = path_of(name);
    g_autofree char *text = g_strconcat("#!/bin/sh\n", body, NULL);

    ck_assert(g_file_set_contents(p, text, -1, NULL));
    ck_assert_int_eq(chmod(p, mode), 0);
}

typedef struct {
    gboolean done;
    gboolean ok;
    GError *error;
    char *err_text;
} Run;

static void
on_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
    Run *r = user_data;

    r->ok = vl_script_runner_run_finish(runner, result, &r->err_text, &r->error);
    r->done = TRUE;
}

static gboolean
is_done(gpointer data)
{
    return ((Run *) data)->done;
}

static void
run_clear(Run *r)
{
    g_clear_error(&r->error);
    g_clear_pointer(&r->err_text, g_free);
}

static void
run(Run *r, const char *script, const char *const *args, guint timeout_ms,
    GCancellable *cancellable)
{
    memset(r, 0, sizeof(*r));
    vl_script_runner_run_async(runner, script, "lane1", args, timeout_ms, cancellable,
                               on_done, r);
    ck_assert(!r->done);
    ck_assert(vl_test_loop_run_until(is_done, r, 20000));
}

START_TEST(test_success_and_argv)
{
    g_autofree char *out = path_of("out");
    g_autofree char *body = g_strdup_printf("for a in \"$@\"; do printf '[%%s]' \"$a\"; done >'%s'\n"
                                            "echo 'chatter on stdout'\n"
                                            "echo 'a warning' >&2\n", out);
    g_autofree char *got = NULL;
    const char *const args[] = { "--interface", "a b;c'd\"e", "", "\n", NULL };
    Run r;

    write_script("ok", body, 0755);
    run(&r, "ok", args, 5000, NULL);
    ck_assert_msg(r.ok, "%s", r.error ? r.error->message : "");
    ck_assert_str_eq(r.err_text, "a warning\n");
    /* Every argument arrives as one, untouched: no shell in between. */
    ck_assert(g_file_get_contents(out, &got, NULL, NULL));
    ck_assert_str_eq(got, "[--interface][a b;c'd\"e][][\n]");
    run_clear(&r);
}
END_TEST

START_TEST(test_failure_names_script_code_and_line)
{
    Run r;

    write_script("lane-up", "echo >&2\necho '  lane-up: no interface lane1' >&2\n"
                 "echo 'second line' >&2\nexit 3\n", 0755);
    run(&r, "lane-up", NULL, 5000, NULL);
    ck_assert(!r.ok);
    ck_assert(g_error_matches(r.error, VL_ERROR, VL_ERROR_SCRIPT));
    ck_assert_str_eq(r.error->message,
                     "Script 'lane-up' for 'lane1' failed with exit code 3: lane-up: no interface lane1");
    run_clear(&r);

    write_script("quiet", "exit 1\n", 0755);
    run(&r, "quiet", NULL, 5000, NULL);
    ck_assert_str_eq(r.error->message,
                     "Script 'quiet' for 'lane1' failed with exit code 1: no message on stderr");
    run_clear(&r);

    /* Control characters and invalid UTF-8 stay on one line. */
    write_script("odd", "printf 'bad\\033[31m\\377 thing\\r\\n' >&2\nexit 1\n", 0755);
    run(&r, "odd", NULL, 5000, NULL);
    ck_assert_str_eq(r.error->message,
                     "Script 'odd' for 'lane1' failed with exit code 1: bad\\x1b[31m\xef\xbf\xbd thing\\x0d");
    run_clear(&r);

    write_script("suicide", "echo dying >&2\nkill -9 $$\n", 0755);
    run(&r, "suicide", NULL, 5000, NULL);
    ck_assert_str_eq(r.error->message,
                     "Script 'suicide' for 'lane1' was killed by signal 9: dying");
    run_clear(&r);
}
END_TEST

/* Whether the pid in @pid_file still runs (a zombie waiting for init
 * to reap it counts as gone). */
static gboolean
pid_alive(const char *pid_file)
{
    g_autofree char *text = NULL;
    g_autofree char *stat_path = NULL;
    g_autofree char *stat = NULL;
    const char *paren;
    gint64 pid;

    if (!g_file_get_contents(pid_file, &text, NULL, NULL))
        return FALSE;
    pid = g_ascii_strtoll(text, NULL, 10);
    ck_assert_int_gt(pid, 1);
    stat_path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/stat", pid);
    if (!g_file_get_contents(stat_path, &stat, NULL, NULL))
        return FALSE;
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Whether the pid in @pid_file is still alive after up to @ms of polling. */
static gboolean
pid_still_alive_after(const char *pid_file, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) ms * 1000;

    while (pid_alive(pid_file)) {
        if (g_get_monotonic_time() > deadline)
            return TRUE;
        g_usleep(10 * 1000);
    }
    return FALSE;
}

START_TEST(test_hang_is_killed_with_children)
{
    g_autofree char *child = path_of("child.pid");
    g_autofree char *body = g_strdup_printf("sleep 60 &\necho $! >'%s'\n"
                                            "echo 'stuck' >&2\nsleep 60\n", child);
    gint64 t0;
    Run r;

    write_script("hang", body, 0755);
    t0 = g_get_monotonic_time();
    run(&r, "hang", NULL, 300, NULL);
    ck_assert_int_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
    ck_assert(!r.ok);
    ck_assert(g_error_matches(r.error, VL_ERROR, VL_ERROR_TIMEOUT));
    ck_assert_str_eq(r.error->message,
                     "Script 'hang' for 'lane1' did not finish within 0.3 s and was killed");
    ck_assert_str_eq(r.err_text, "stuck\n");
    /* The background child went with the process group.  SIGKILL is
     * delivered asynchronously, so give it a bounded moment to die. */
    ck_assert(!pid_still_alive_after(child, 2000));
    run_clear(&r);
}
END_TEST

START_TEST(test_cancel_kills)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    gint64 t0;
    Run r;

    write_script("slow", "sleep 60\n", 0755);
    memset(&r, 0, sizeof(r));
    t0 = g_get_monotonic_time();
    vl_script_runner_run_async(runner, "slow", "lane1", NULL, 60000, cancellable,
                               on_done, &r);
    g_timeout_add_once(100, (GSourceOnceFunc) g_cancellable_cancel, cancellable);
    ck_assert(vl_test_loop_run_until(is_done, &r, 20000));
    ck_assert_int_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
    ck_assert(g_error_matches(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    run_clear(&r);
}
END_TEST

START_TEST(test_stderr_is_bounded)
{
    Run r;

    /* 1 MiB on stderr: read to the end, only the first 64 KiB kept. */
    write_script("spam", "head -c 1048576 /dev/zero | tr '\\0' 'e' >&2\nexit 1\n", 0755);
    run(&r, "spam", NULL, 10000, NULL);
    ck_assert(!r.ok);
    ck_assert_uint_eq(strlen(r.err_text), VL_SCRIPT_STDERR_MAX);
    ck_assert_uint_lt(strlen(r.error->message), 400);
    ck_assert_ptr_nonnull(strstr(r.error->message, "eee..."));
    run_clear(&r);
}
END_TEST

START_TEST(test_environment_cleared)
{
    g_autofree char *out = path_of("env");
    g_autofree char *body = g_strdup_printf("env | sort >'%s'\n", out);
    g_autofree char *got = NULL;
    g_autofree char *want = NULL;
    Run r;

    g_setenv("VL_SECRET_TEST", "leak", TRUE);
    write_script("env", body, 0755);
    run(&r, "env", NULL, 5000, NULL);
    ck_assert(r.ok);
    ck_assert(g_file_get_contents(out, &got, NULL, NULL));
    /* sh itself adds PWD (and may add SHLVL, _); nothing else passes. */
    ck_assert_ptr_null(strstr(got, "VL_SECRET_TEST"));
    ck_assert_ptr_null(strstr(got, "HOME="));
    want = g_strdup_printf("PATH=%s\n", g_getenv("PATH"));
    ck_assert_ptr_nonnull(strstr(got, want));
    ck_assert_ptr_nonnull(strstr(got, "LC_ALL=C\n"));
    g_unsetenv("VL_SECRET_TEST");
    run_clear(&r);
}
END_TEST

START_TEST(test_untrusted_refused)
{
    g_autofree char *marker = path_of("ran");
    g_autofree char *body = g_strdup_printf("touch '%s'\n", marker);
    Run r;

    /* A script others may write is never run. */
    write_script("lane-up", body, 0757);
    run(&r, "lane-up", NULL, 5000, NULL);
    ck_assert(g_error_matches(r.error, VL_ERROR, VL_ERROR_SCRIPT));
    ck_assert_ptr_nonnull(strstr(r.error->message, "group- or world-writable (mode 0757)"));
    ck_assert(!g_file_test(marker, G_FILE_TEST_EXISTS));
    run_clear(&r);

    /* Nor one in a directory others may write. */
    write_script("lane-up", body, 0755);
    ck_assert_int_eq(chmod(dir, 0775), 0);
    run(&r, "lane-up", NULL, 5000, NULL);
    ck_assert_ptr_nonnull(strstr(r.error->message, "Refusing script directory"));
    ck_assert(!g_file_test(marker, G_FILE_TEST_EXISTS));
    run_clear(&r);
    ck_assert_int_eq(chmod(dir, 0755), 0);

    write_script("noexec", body, 0644);
    run(&r, "noexec", NULL, 5000, NULL);
    ck_assert_ptr_nonnull(strstr(r.error->message, "is not executable"));
    run_clear(&r);

    run(&r, "missing", NULL, 5000, NULL);
    ck_assert(g_error_matches(r.error, VL_ERROR, VL_ERROR_SCRIPT));
    ck_assert_ptr_nonnull(strstr(r.error->message, "Cannot open script"));
    ck_assert(!g_file_test(marker, G_FILE_TEST_EXISTS));
    run_clear(&r);
}
END_TEST

static Suite *
script_run_suite(void)
{
    Suite *s = suite_create("script-run");
    TCase *tc = tcase_create("run");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_success_and_argv);
    tcase_add_test(tc, test_failure_names_script_code_and_line);
    tcase_add_test(tc, test_hang_is_killed_with_children);
    tcase_add_test(tc, test_cancel_kills);
    tcase_add_test(tc, test_stderr_is_bounded);
    tcase_add_test(tc, test_environment_cleared);
    tcase_add_test(tc, test_untrusted_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(script_run_suite());
}
