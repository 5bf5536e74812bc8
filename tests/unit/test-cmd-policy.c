/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cmd-policy: "virt-lanes policy check", run in process through
 * vl_cmd_policy() with stdout and stderr captured.
 */
#include <config.h>

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "test-util.h"
#include "vl-autoptr.h"

typedef struct {
    int ret;
    char *out;
    char *err;
} CmdResult;

static void
cmd_result_clear(CmdResult *res)
{
    g_clear_pointer(&res->out, g_free);
    g_clear_pointer(&res->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CmdResult, cmd_result_clear)

static char *
slurp_fd(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[4096];
    ssize_t n;

    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(s, buf, n);
    return g_string_free(s, FALSE);
}

static int
capture_fd(void)
{
    char path[] = "/tmp/vl-cmd-policy-XXXXXX";
    int fd = g_mkstemp(path);

    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

/* Runs vl_cmd_policy() on @argv (NULL-terminated) and checks that it
 * left @argv alone. */
static void
run_cmd(gboolean json, const char *const *argv, CmdResult *res)
{
    VlCliOptions opts = { NULL, NULL, json, FALSE };
    g_auto(GStrv) copy = g_strdupv((char **) argv);
    g_auto(GStrv) before = g_strdupv((char **) argv);
    int out = capture_fd();
    int err = capture_fd();
    int saved_out;
    int saved_err;

    fflush(stdout);
    fflush(stderr);
    saved_out = dup(STDOUT_FILENO);
    saved_err = dup(STDERR_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);

    res->ret = vl_cmd_policy(&opts, g_strv_length(copy), copy);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);

    res->out = slurp_fd(out);
    res->err = slurp_fd(err);
    close(out);
    close(err);

    ck_assert(g_strv_equal((const char *const *) copy, (const char *const *) before));
}

static char *
data_path(const char *rel)
{
    return vl_test_data_path(rel);
}

static const struct {
    const char *argv[5];
    const char *stderr_has;
} usage_cases[] = {
    { { NULL }, "virt-lanes policy: no sub-command given\n" },
    { { "policy", NULL }, "virt-lanes policy: no sub-command given (expected 'check')\n" },
    { { "policy", "frob", NULL }, "virt-lanes policy: unknown sub-command 'frob' (expected 'check')\n" },
    { { "policy", "fr\nob", NULL }, "virt-lanes policy: unknown sub-command 'fr\\nob' (expected 'check')\n" },
    { { "policy", "check", NULL }, "virt-lanes policy: 'check' needs at least one FILE or DIR\n" },
    { { "policy", "--bogus", "check", "x.json", NULL }, "virt-lanes policy: Unknown option --bogus\n" },
};

START_TEST(test_usage)
{
    g_auto(CmdResult) res = { 0 };

    run_cmd(FALSE, usage_cases[_i].argv, &res);
    ck_assert_int_eq(res.ret, 2);
    ck_assert_str_eq(res.out, "");
    ck_assert_msg(g_str_has_prefix(res.err, usage_cases[_i].stderr_has),
                  "stderr: %s", res.err);
    ck_assert(strstr(res.err, "Try 'virt-lanes policy --help'"));
}
END_TEST

START_TEST(test_check_files_ok)
{
    g_autofree char *full = data_path("policy/good/full.json");
    g_autofree char *empty = data_path("policy/good/empty-object.json");
    g_autofree char *defaults = data_path("policy/good/defaults.json");
    const char *argv[] = { "policy", "check", full, empty, defaults, NULL };
    g_autofree char *expected = g_strdup_printf("%s: OK (2 containers, migration policy: yes)\n"
                                                "%s: OK (0 containers, migration policy: no)\n"
                                                "%s: OK (1 container, migration policy: yes)\n",
                                                full, empty, defaults);
    g_auto(CmdResult) res = { 0 };

    run_cmd(FALSE, argv, &res);
    ck_assert_int_eq(res.ret, 0);
    ck_assert_str_eq(res.out, expected);
    ck_assert_str_eq(res.err, "");
}
END_TEST

START_TEST(test_check_mixed)
{
    g_autofree char *good = data_path("policy/good/full.json");
    g_autofree char *bad = data_path("policy/bad/thresholds-order.json");
    const char *odd = "/nonexistent/we b'\";x.json";
    const char *argv[] = { "policy", "check", bad, good, odd, NULL };
    g_autofree char *out = g_strdup_printf("%s: OK (2 containers, migration policy: yes)\n", good);
    g_autofree char *err = g_strdup_printf("%s: .containers[0].indicators.cpu.overloaded: must be above under_loaded (80 <= 90)\n"
                                           "Cannot open policy file '%s': No such file or directory\n",
                                           bad, odd);
    g_auto(CmdResult) res = { 0 };

    run_cmd(FALSE, argv, &res);
    ck_assert_int_eq(res.ret, 1);
    ck_assert_str_eq(res.out, out);
    ck_assert_str_eq(res.err, err);
}
END_TEST

START_TEST(test_check_dir)
{
    g_autofree char *tmp = g_dir_make_tmp("vl-cmd-policy-XXXXXX", NULL);
    g_autofree char *a = g_build_filename(tmp, "a.json", NULL);
    g_autofree char *b = g_build_filename(tmp, "b.json", NULL);
    const char *argv[] = { "policy", "check", tmp, NULL };
    g_autofree char *expected = g_strdup_printf("%s: OK (3 containers, migration policy: yes)\n", tmp);
    g_autofree char *refused = NULL;
    g_auto(CmdResult) res = { 0 };

    ck_assert_ptr_nonnull(tmp);
    ck_assert(g_file_set_contents(a, "{\"migration\": {}, \"containers\": [{\"name\": \"x\"}]}", -1, NULL));
    ck_assert(g_file_set_contents(b, "{\"containers\": [{\"name\": \"y\"}, {\"name\": \"z\"}]}", -1, NULL));
    chmod(tmp, 0755);
    chmod(a, 0644);
    chmod(b, 0644);

    run_cmd(FALSE, argv, &res);
    ck_assert_int_eq(res.ret, 0);
    ck_assert_str_eq(res.out, expected);
    ck_assert_str_eq(res.err, "");
    cmd_result_clear(&res);

    /* The daemon's rules apply: a directory others may write is refused. */
    chmod(tmp, 0777);
    run_cmd(FALSE, argv, &res);
    ck_assert_int_eq(res.ret, 1);
    ck_assert_str_eq(res.out, "");
    refused = g_strdup_printf("%s: refusing a policy directory that is group- or world-writable (mode 0777)\n",
                              tmp);
    ck_assert_str_eq(res.err, refused);

    unlink(a);
    unlink(b);
    rmdir(tmp);
}
END_TEST

START_TEST(test_check_json)
{
    g_autofree char *good = data_path("policy/good/full.json");
    g_autofree char *bad = data_path("policy/bad/non-integer.json");
    const char *argv[] = { "policy", "check", good, bad, NULL };
    g_autofree char *msg = g_strdup_printf("%s: .migration.max_lanes: must be an integer, not 1.5", bad);
    g_auto(CmdResult) res = { 0 };
    g_autoptr(json_object) root = NULL;
    json_object *item;
    json_object *v;

    run_cmd(TRUE, argv, &res);
    ck_assert_int_eq(res.ret, 1);
    ck_assert_str_eq(res.err, "");
    root = json_tokener_parse(res.out);
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_is_type(root, json_type_array));
    ck_assert_uint_eq(json_object_array_length(root), 2);

    item = json_object_array_get_idx(root, 0);
    ck_assert(json_object_object_get_ex(item, "path", &v));
    ck_assert_str_eq(json_object_get_string(v), good);
    ck_assert(json_object_object_get_ex(item, "ok", &v));
    ck_assert(json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(item, "containers", &v));
    ck_assert_int_eq(json_object_get_int(v), 2);
    ck_assert(json_object_object_get_ex(item, "migration_policy", &v));
    ck_assert(json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(item, "files", &v));
    ck_assert_uint_eq(json_object_array_length(v), 1);
    ck_assert(!json_object_object_get_ex(item, "error", NULL));

    item = json_object_array_get_idx(root, 1);
    ck_assert(json_object_object_get_ex(item, "ok", &v));
    ck_assert(!json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(item, "error", &v));
    ck_assert_str_eq(json_object_get_string(v), msg);
    ck_assert(!json_object_object_get_ex(item, "containers", NULL));
}
END_TEST

START_TEST(test_check_json_non_utf8_path)
{
    const char *argv[] = { "policy", "check", "/nonexistent/\xff.json", NULL };
    g_auto(CmdResult) res = { 0 };
    g_autoptr(json_object) root = NULL;
    json_object *v;

    run_cmd(TRUE, argv, &res);
    ck_assert_int_eq(res.ret, 1);
    ck_assert(g_utf8_validate(res.out, -1, NULL));
    root = json_tokener_parse(res.out);
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(root, 0), "path", &v));
    ck_assert_str_eq(json_object_get_string(v), "/nonexistent/\xef\xbf\xbd.json");
}
END_TEST

static Suite *
cmd_policy_suite(void)
{
    Suite *s = suite_create("cmd-policy");
    TCase *tc;

    tc = tcase_create("usage");
    tcase_add_loop_test(tc, test_usage, 0, G_N_ELEMENTS(usage_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, test_check_files_ok);
    tcase_add_test(tc, test_check_mixed);
    tcase_add_test(tc, test_check_dir);
    tcase_add_test(tc, test_check_json);
    tcase_add_test(tc, test_check_json_non_utf8_path);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(cmd_policy_suite());
}
