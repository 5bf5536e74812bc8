/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-policy: the policy loader.
 *
 * Golden bad cases live in tests/data/policy/bad: NAME.json is read with
 * vl_policy_load_file(), a directory NAME.d is copied to a fresh
 * temporary directory (so the checkout's umask does not matter) and
 * read with vl_policy_load_dir().  NAME.err holds the exact message,
 * with the directory part of the paths removed.  Regenerate with
 * VL_TEST_REGENERATE=1 and review the diff.
 *
 * The shipped policies (every .json file in policies/ and
 * policies/examples/) are found by globbing the source tree at run
 * time, so a new example is tested without touching this file.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-reader.h"
#include "policy-priv.h"
#include "policy.h"
#include "test-util.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* Filled in main() before the suite is built. */
static GPtrArray *bad_cases;    /* "bom.json", "two-migrations.d", ... */
static GPtrArray *shipped;      /* absolute paths of the shipped policies */

/* ---- helpers -------------------------------------------------------- */

static char *
source_path(const char *relpath)
{
    const char *srcdir = g_getenv("abs_srcdir");

    return g_build_filename(srcdir ? srcdir : ".", relpath, NULL);
}

static char *
read_text(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents(path, &text, NULL, &error))
        ck_abort_msg("Cannot read '%s': %s", path, error->message);
    return g_steal_pointer(&text);
}

static void
write_text(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, -1, &error))
        ck_abort_msg("Cannot write '%s': %s", path, error->message);
    ck_assert_int_eq(chmod(path, 0644), 0);
}

static char *
replace_all(const char *text, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(text, from, -1);

    return g_strjoinv(to, parts);
}

static char *
make_tmpdir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("vl-policy-XXXXXX", &error);

    ck_assert_msg(dir != NULL, "g_dir_make_tmp: %s", error ? error->message : "");
    ck_assert_int_eq(chmod(dir, 0755), 0);
    return dir;
}

static void
remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) dir = NULL;
        const char *name;

        chmod(path, 0700);
        dir = g_dir_open(path, 0, NULL);
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            remove_tree(child);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Copies @src to @dst with modes 0755 and 0644, whatever the checkout's. */
static void
copy_tree(const char *src, const char *dst)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) error = NULL;
    const char *name;

    if (!g_file_test(src, G_FILE_TEST_IS_DIR)) {
        g_autofree char *text = read_text(src);

        write_text(dst, text);
        return;
    }
    ck_assert_int_eq(g_mkdir(dst, 0755), 0);
    ck_assert_int_eq(chmod(dst, 0755), 0);
    dir = g_dir_open(src, 0, &error);
    ck_assert_msg(dir != NULL, "%s", error ? error->message : "");
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *s = g_build_filename(src, name, NULL);
        g_autofree char *d = g_build_filename(dst, name, NULL);

        copy_tree(s, d);
    }
}

/* The temporary directory of a test, removed again by its teardown. */
static char *tmpdir;

static void
tmpdir_setup(void)
{
    tmpdir = make_tmpdir();
}

static void
tmpdir_teardown(void)
{
    if (tmpdir)
        remove_tree(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

static VlPolicy *
load_string(const char *text, GError **error)
{
    return vl_policy_load_data("t.json", text, strlen(text), error);
}

/* ---- golden bad policies -------------------------------------------- */

static const struct {
    const char *name;
    const char *entry;      /* NULL: the directory itself */
    mode_t mode;
} mode_tweaks[] = {
    { "dir-world-writable.d", NULL, 0777 },
    { "file-group-writable.d", "b.json", 0664 },
};

static void
apply_mode_tweaks(const char *name, const char *copy)
{
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(mode_tweaks); i++) {
        g_autofree char *path = NULL;

        if (!g_str_equal(mode_tweaks[i].name, name))
            continue;
        path = mode_tweaks[i].entry ?
            g_build_filename(copy, mode_tweaks[i].entry, NULL) : g_strdup(copy);
        ck_assert_int_eq(chmod(path, mode_tweaks[i].mode), 0);
    }
}

START_TEST(test_bad_golden)
{
    const char *name = g_ptr_array_index(bad_cases, _i);
    g_autofree char *bad_dir = vl_test_data_path("policy/bad");
    g_autofree char *src = g_build_filename(bad_dir, name, NULL);
    g_autofree char *stem = NULL;
    g_autofree char *err_path = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;

    if (g_str_has_suffix(name, ".d")) {
        g_autofree char *copy = g_build_filename(tmpdir, name, NULL);

        copy_tree(src, copy);
        apply_mode_tweaks(name, copy);
        policy = vl_policy_load_dir(copy, &error);
        prefix = g_strconcat(tmpdir, G_DIR_SEPARATOR_S, NULL);
        stem = g_strndup(name, strlen(name) - strlen(".d"));
    } else {
        policy = vl_policy_load_file(src, &error);
        prefix = g_strconcat(bad_dir, G_DIR_SEPARATOR_S, NULL);
        stem = g_strndup(name, strlen(name) - strlen(".json"));
    }

    ck_assert_msg(policy == NULL, "'%s' was accepted", name);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_POLICY),
                  "'%s': unexpected error code %d: %s", name, error->code,
                  error->message);

    msg = replace_all(error->message, prefix, "");
    /* Admins grep for the file: every message starts with it. */
    ck_assert_msg(g_str_has_prefix(msg, name), "'%s' does not start with '%s'",
                  msg, name);
    ck_assert_msg(!strchr(msg, '\n'), "'%s' spans several lines", msg);
    ck_assert_msg(!g_str_has_suffix(msg, "."), "'%s' ends with a period", msg);

    err_path = g_strdup_printf("%s/%s.err", bad_dir, stem);
    if (g_getenv("VL_TEST_REGENERATE")) {
        g_autofree char *text = g_strconcat(msg, "\n", NULL);

        write_text(err_path, text);
        return;
    }
    expected = read_text(err_path);
    g_strchomp(expected);
    ck_assert_str_eq(msg, expected);
}
END_TEST

/* Every .err has its case and every case its .err (a renamed case
 * would otherwise leave a stale golden file behind). */
START_TEST(test_bad_err_files_match)
{
    g_autofree char *bad_dir = vl_test_data_path("policy/bad");
    g_autoptr(GDir) dir = g_dir_open(bad_dir, 0, NULL);
    const char *name;
    guint n_err = 0;

    ck_assert_ptr_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *stem = NULL;
        g_autofree char *as_file = NULL;
        g_autofree char *as_dir = NULL;

        if (!g_str_has_suffix(name, ".err"))
            continue;
        n_err++;
        stem = g_strndup(name, strlen(name) - strlen(".err"));
        as_file = g_strconcat(stem, ".json", NULL);
        as_dir = g_strconcat(stem, ".d", NULL);
        ck_assert_msg(g_ptr_array_find_with_equal_func(bad_cases, as_file, g_str_equal, NULL) ||
                      g_ptr_array_find_with_equal_func(bad_cases, as_dir, g_str_equal, NULL),
                      "'%s' has no case", name);
    }
    ck_assert_uint_eq(n_err, bad_cases->len);
    ck_assert_uint_ge(bad_cases->len, 25);
}
END_TEST

/* ---- strict JSON ---------------------------------------------------- */

static const struct {
    const char *text;
    const char *message;
} syntax_cases[] = {
    { "", "t.json:1:1: no JSON value (the file is empty)" },
    { " \n\t", "t.json:2:2: no JSON value (the file is empty)" },
    { "{", "t.json:1:2: unexpected end of file" },
    { "{\"a\"", "t.json:1:5: unexpected end of file" },
    { "{\"a\" 1}", "t.json:1:6: expected ':' after key 'a', found '1'" },
    { "{1: 2}", "t.json:1:2: expected a key in double quotes, found '1'" },
    { "{'a': 2}", "t.json:1:2: keys must be in double quotes" },
    { "{\"a\": 'b'}", "t.json:1:7: strings must be in double quotes" },
    { "[1 2]", "t.json:1:4: expected ',' or ']' after an array element, found '2'" },
    { "[1,]", "t.json:1:3: trailing comma before ']'" },
    { "{\r\n\"a\": tru}", "t.json:2:6: 'tru' is not a JSON value (strings need double quotes; true, false and null are lower case)" },
    { "[True]", "t.json:1:2: 'True' is not a JSON value (strings need double quotes; true, false and null are lower case)" },
    { "[Infinity]", "t.json:1:2: 'Infinity' is not a JSON value (strings need double quotes; true, false and null are lower case)" },
    { "[-]", "t.json:1:2: invalid number (a digit must follow '-')" },
    { "[-Infinity]", "t.json:1:2: invalid number (a digit must follow '-')" },
    { "[1.]", "t.json:1:2: invalid number (a digit must follow '.')" },
    { "[1e]", "t.json:1:2: invalid number (the exponent has no digits)" },
    { "[-01]", "t.json:1:2: invalid number (no leading zeros in JSON)" },
    { "[+1]", "t.json:1:2: expected a value, found '+'" },
    { "[.5]", "t.json:1:2: expected a value, found '.'" },
    { "[9223372036854775808]", "t.json:1:2: integer 9223372036854775808 does not fit in 64 bits" },
    { "[\"\\x\"]", "t.json:1:3: invalid escape '\\x' in a string" },
    { "[\"\\u12\"]", "t.json:1:3: invalid '\\u' escape (4 hex digits must follow)" },
    { "[\"\\udc00\"]", "t.json:1:3: unpaired surrogate '\\udc00' in a string" },
    { "[\"\\ud800\\u0041\"]", "t.json:1:3: unpaired surrogate '\\ud800' in a string" },
    { "[\"a\x01\"]", "t.json:1:4: control character U+0001 must be escaped in a string" },
    { "[\"abc", "t.json:1:2: unterminated string" },
    { "// c\n{}", "t.json:1:1: comments are not allowed in JSON" },
    { "{} x", "t.json:1:4: unexpected data after the top-level value" },
    { "[1]\n]", "t.json:2:1: unexpected data after the top-level value" },
    { "{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}", "t.json:1:24: duplicate key 'c' in .b" },
    { "{\"a\": [{\"x y\": {\"q\": 1, \"q\": 1}}]}", "t.json:1:25: duplicate key 'q' in .a[0][\"x y\"]" },
    { "{\"\\u00e9\": 1, \"\xc3\xa9\": 2}", "t.json:1:15: duplicate key '\xc3\xa9' in the top-level object" },
    { "[\"\xc3\xa9\xc3\xa9\", \xc3\xa9]", "t.json:1:8: expected a value, found '\xc3\xa9'" },
    { "\xff", "t.json:1:1: expected a value, found '\\xff'" },
};

START_TEST(test_syntax)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = load_string(syntax_cases[_i].text, &error);

    ck_assert_ptr_null(policy);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_POLICY));
    ck_assert_str_eq(error->message, syntax_cases[_i].message);
}
END_TEST

START_TEST(test_nesting_limit)
{
    g_autoptr(GString) ok = g_string_new(NULL);
    g_autoptr(GString) deep = g_string_new(NULL);
    g_autoptr(json_object) value = NULL;
    g_autoptr(GError) error = NULL;
    guint i;

    for (i = 0; i < VL_JSON_MAX_DEPTH; i++)
        g_string_append_c(ok, '[');
    for (i = 0; i < VL_JSON_MAX_DEPTH; i++)
        g_string_append_c(ok, ']');
    value = vl_json_parse("t.json", ok->str, ok->len, &error);
    ck_assert_ptr_nonnull(value);
    ck_assert_ptr_null(error);

    for (i = 0; i <= VL_JSON_MAX_DEPTH; i++)
        g_string_append_c(deep, '[');
    ck_assert_ptr_null(vl_json_parse("t.json", deep->str, deep->len, &error));
    ck_assert_str_eq(error->message, "t.json:1:21: nesting deeper than 20 levels");
}
END_TEST

START_TEST(test_parse_values)
{
    /* What the scanner lets through, json-c must build faithfully. */
    static const char text[] =
        "{\"s\": \"\\ud83d\\ude00 \\\"q\\\" \\/ \\b\\f\\n\\r\\t\", \"i\": -9223372036854775808,"
        " \"d\": -1.5e-3, \"z\": -0, \"t\": true, \"n\": null, \"k\\u0041\": 1}";
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) root = vl_json_parse("t.json", text, strlen(text), &error);
    json_object *v = NULL;

    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "s", &v));
    ck_assert_str_eq(json_object_get_string(v), "\xf0\x9f\x98\x80 \"q\" / \b\f\n\r\t");
    ck_assert(json_object_object_get_ex(root, "i", &v));
    ck_assert(json_object_get_int64(v) == G_MININT64);
    ck_assert(json_object_object_get_ex(root, "d", &v));
    ck_assert(json_object_get_double(v) == -1.5e-3);
    ck_assert(json_object_object_get_ex(root, "kA", &v));
    /* A top-level number ends the text without a delimiter. */
    g_clear_pointer(&root, json_object_put);
    root = vl_json_parse("t.json", "42", 2, &error);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(json_object_get_int(root), 42);
}
END_TEST

START_TEST(test_offset_to_line)
{
    static const char text[] = "ab\n\xc3\xa9x\r\n\ty";
    guint line = 0;
    guint column = 0;

    vl_json_offset_to_line(text, strlen(text), 0, &line, &column);
    ck_assert_uint_eq(line, 1);
    ck_assert_uint_eq(column, 1);
    vl_json_offset_to_line(text, strlen(text), 5, &line, &column);
    ck_assert_uint_eq(line, 2);
    ck_assert_uint_eq(column, 2);   /* é is one character of two bytes */
    vl_json_offset_to_line(text, strlen(text), 9, &line, &column);
    ck_assert_uint_eq(line, 3);
    ck_assert_uint_eq(column, 2);
    vl_json_offset_to_line(text, strlen(text), 1000, &line, &column);
    ck_assert_uint_eq(line, 3);
    ck_assert_uint_eq(column, 3);
}
END_TEST

START_TEST(test_quote)
{
    g_autofree char *a = vl_json_quote("web\n'1'\t\x01");
    g_autofree char *b = vl_json_quote("caf\xc3\xa9 \xff");
    g_autofree char *c = vl_json_quote(NULL);
    g_autofree char *long_value = g_strnfill(100, 'x');
    g_autofree char *d = vl_json_quote(long_value);
    g_autofree char *expected = g_strconcat(long_value + 36, "...", NULL);

    ck_assert_str_eq(a, "web\\n'1'\\t\\x01");
    ck_assert_str_eq(b, "caf\xc3\xa9 \\xff");
    ck_assert_str_eq(c, "");
    ck_assert_str_eq(d, expected);
}
END_TEST

/* ---- string checks -------------------------------------------------- */

typedef char *(*CheckFunc)(const char *value);

static const struct {
    CheckFunc check;
    const char *value;
    gboolean ok;
} check_cases[] = {
    { vl_policy_check_container_name, "web", TRUE },
    { vl_policy_check_container_name, "A.b_c-9", TRUE },
    { vl_policy_check_container_name, "0123456789012345678901234567890123456789012345678901234567890123", TRUE },
    { vl_policy_check_container_name, "01234567890123456789012345678901234567890123456789012345678901234", FALSE },
    { vl_policy_check_container_name, "", FALSE },
    { vl_policy_check_container_name, "my web", FALSE },
    { vl_policy_check_container_name, "web;rm", FALSE },
    { vl_policy_check_container_name, "web/1", FALSE },
    { vl_policy_check_container_name, "caf\xc3\xa9", FALSE },
    { vl_policy_check_domain_name, "web 1 'quoted'; x", TRUE },
    { vl_policy_check_domain_name, "caf\xc3\xa9", TRUE },
    { vl_policy_check_domain_name, "", FALSE },
    { vl_policy_check_domain_name, "web\n1", FALSE },
    { vl_policy_check_domain_name, "web\t1", FALSE },
    { vl_policy_check_domain_name, "web\x7f", FALSE },
    { vl_policy_check_glob, "web-*", TRUE },
    { vl_policy_check_glob, "", FALSE },
    { vl_policy_check_uri, "qemu:///system", TRUE },
    { vl_policy_check_uri, "test:///default", TRUE },
    { vl_policy_check_uri, "qemu+ssh://root@host-b:2222/system?keyfile=/k", TRUE },
    { vl_policy_check_uri, "qemu+tcp://[fd00::2]/system", TRUE },
    { vl_policy_check_uri, "", FALSE },
    { vl_policy_check_uri, "host-b", FALSE },
    { vl_policy_check_uri, "/system", FALSE },
    { vl_policy_check_uri, "1qemu:///system", FALSE },
    { vl_policy_check_uri, "qemu://host b/system", FALSE },
    { vl_policy_check_uri, "qemu:///system\n", FALSE },
    { vl_policy_check_uri, "qemu:", FALSE },
    { vl_policy_check_uri, "qemu+ssh:", FALSE },
    { vl_policy_check_uri, "qe_mu:///system", FALSE },
    { vl_policy_check_uri, ":///system", FALSE },
    { vl_policy_check_interface_name, "lane1", TRUE },
    { vl_policy_check_interface_name, "a", TRUE },
    { vl_policy_check_interface_name, "vl-web-3.100", TRUE },
    { vl_policy_check_interface_name, "123456789012345", TRUE },
    { vl_policy_check_interface_name, "1234567890123456", FALSE },
    { vl_policy_check_interface_name, "", FALSE },
    { vl_policy_check_interface_name, ".", FALSE },
    { vl_policy_check_interface_name, "..", FALSE },
    { vl_policy_check_interface_name, "...", TRUE },
    { vl_policy_check_interface_name, "lane/1", FALSE },
    { vl_policy_check_interface_name, "eth0:1", FALSE },
    { vl_policy_check_interface_name, "lane 1", FALSE },
    { vl_policy_check_interface_name, "lane\t1", FALSE },
    { vl_policy_check_interface_name, "lane\v1", FALSE },
    { vl_policy_check_interface_name, "-lane", FALSE },
    { vl_policy_check_address, "198.18.0.1", TRUE },
    { vl_policy_check_address, "fd00::1", TRUE },
    { vl_policy_check_address, "::ffff:198.18.0.1", TRUE },
    { vl_policy_check_address, "198.18.0.1/32", FALSE },
    { vl_policy_check_address, "198.18.0", FALSE },
    { vl_policy_check_address, "198.18.0.256", FALSE },
    { vl_policy_check_address, " 198.18.0.1", FALSE },
    { vl_policy_check_address, "host-b", FALSE },
    { vl_policy_check_address, "", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/30", TRUE },
    { vl_policy_check_address_prefix, "198.18.11.0/30", TRUE },
    { vl_policy_check_address_prefix, "198.18.11.1/1", TRUE },
    { vl_policy_check_address_prefix, "198.18.11.1/32", TRUE },
    { vl_policy_check_address_prefix, "fd00:11::1/64", TRUE },
    { vl_policy_check_address_prefix, "fd00:11::1/128", TRUE },
    { vl_policy_check_address_prefix, "198.18.11.1", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/0", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/33", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/+3", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/ 3", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/0030", FALSE },
    { vl_policy_check_address_prefix, "198.18.11.1/30/1", FALSE },
    { vl_policy_check_address_prefix, "fd00:11::1/129", FALSE },
    { vl_policy_check_address_prefix, "host/30", FALSE },
    { vl_policy_check_address_prefix, "/30", FALSE },
};

START_TEST(test_checks)
{
    g_autofree char *why = check_cases[_i].check(check_cases[_i].value);

    if (check_cases[_i].ok)
        ck_assert_msg(why == NULL, "'%s' refused: %s", check_cases[_i].value, why);
    else
        ck_assert_msg(why != NULL && !strchr(why, '\n'),
                      "'%s' accepted (or a multi-line reason)", check_cases[_i].value);
}
END_TEST

/* ---- good policies -------------------------------------------------- */

static VlPolicy *
load_good(const char *name)
{
    g_autofree char *rel = g_strconcat("policy/good/", name, NULL);
    g_autofree char *path = vl_test_data_path(rel);
    g_autoptr(GError) error = NULL;
    VlPolicy *policy = vl_policy_load_file(path, &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    return policy;
}

static void
assert_migration_defaults(const VlMigrationPolicy *m)
{
    ck_assert_double_eq(m->threshold_s, 60);
    ck_assert_double_eq(m->lane_up_max_s, 5);
    ck_assert_ptr_null(m->migration_address);
    ck_assert_uint_eq(m->max_lanes, 4);
    ck_assert_uint_eq(m->channels_per_lane, 2);
    ck_assert_uint_eq(m->max_downtime_ms, 300);
    ck_assert_ptr_nonnull(m->downtime_ladder);
    ck_assert_uint_eq(m->downtime_ladder->len, 0);
    ck_assert(!m->allow_auto_converge);
    ck_assert(!m->allow_postcopy);
    ck_assert(m->incoming_lanes);
    ck_assert_int_eq(m->when_hopeless, VL_HOPELESS_CONTINUE);
    ck_assert_double_eq(m->max_bandwidth_mbit, 0);
    ck_assert_ptr_nonnull(m->peers);
    ck_assert_uint_eq(m->peers->len, 0);
}

static void
assert_container_defaults(const VlContainerPolicy *c)
{
    guint i;

    ck_assert_ptr_null(c->description);
    ck_assert_int_eq(c->mode, VL_CONTAINER_MODE_ENFORCE);
    ck_assert_ptr_nonnull(c->member_globs);
    ck_assert_uint_eq(g_strv_length(c->member_globs), 0);
    ck_assert_uint_eq(c->min_active, 1);
    ck_assert_uint_eq(c->max_active, 1);
    ck_assert_ptr_nonnull(c->standby);
    ck_assert_uint_eq(g_strv_length(c->standby), 0);
    ck_assert_ptr_null(c->template_domain);
    ck_assert_ptr_nonnull(c->peers);
    ck_assert_uint_eq(g_strv_length(c->peers), 0);
    ck_assert_double_eq(c->active_standby_ratio, 0);
    for (i = 0; i < VL_INDICATOR_LAST; i++)
        ck_assert(!c->indicators[i].enabled);
    ck_assert_uint_eq(c->cooldown_s, 300);
    ck_assert_uint_eq(c->shutdown_timeout_s, 120);
    ck_assert(!c->destroy_on_timeout);
    ck_assert_ptr_nonnull(c->affinities);
    ck_assert_uint_eq(c->affinities->len, 0);
}

START_TEST(test_good_defaults)
{
    g_autoptr(VlPolicy) policy = load_good("defaults.json");
    VlContainerPolicy *c;

    ck_assert_uint_eq(g_strv_length(policy->files), 1);
    ck_assert(g_str_has_suffix(policy->files[0], "/good/defaults.json"));
    /* An empty "migration" object still sets it. */
    ck_assert_str_eq(policy->migration_file, policy->files[0]);
    assert_migration_defaults(policy->migration);
    ck_assert_uint_eq(policy->containers->len, 1);
    c = g_ptr_array_index(policy->containers, 0);
    ck_assert_str_eq(c->name, "A.b_c-9");
    assert_container_defaults(c);
}
END_TEST

START_TEST(test_good_empty_object)
{
    g_autoptr(VlPolicy) policy = load_good("empty-object.json");

    ck_assert_uint_eq(g_strv_length(policy->files), 1);
    ck_assert_ptr_null(policy->migration_file);
    assert_migration_defaults(policy->migration);
    ck_assert_uint_eq(policy->containers->len, 0);
}
END_TEST

/* The migration object of good/full.json, field by field. */
static void
assert_full_migration(const VlMigrationPolicy *m)
{
    const VlPeerConfig *peer;
    const VlLaneConfig *lane;
    const VlDowntimeStep *step;

    ck_assert_double_eq(m->threshold_s, 12.5);
    ck_assert_double_eq(m->lane_up_max_s, 0.25);
    ck_assert_str_eq(m->migration_address, "fd00::1");
    ck_assert_uint_eq(m->max_lanes, 8);
    ck_assert_uint_eq(m->channels_per_lane, 3);
    ck_assert_uint_eq(m->max_downtime_ms, 50);
    ck_assert_uint_eq(m->downtime_ladder->len, 3);
    step = &g_array_index(m->downtime_ladder, VlDowntimeStep, 0);
    ck_assert_uint_eq(step->after_iteration, 1);
    ck_assert_uint_eq(step->downtime_ms, 100);
    step = &g_array_index(m->downtime_ladder, VlDowntimeStep, 1);
    ck_assert_uint_eq(step->after_iteration, 5);
    ck_assert_uint_eq(step->downtime_ms, 100);
    step = &g_array_index(m->downtime_ladder, VlDowntimeStep, 2);
    ck_assert_uint_eq(step->after_iteration, 9);
    ck_assert_uint_eq(step->downtime_ms, 2000);
    ck_assert(m->allow_auto_converge);
    ck_assert(m->allow_postcopy);
    ck_assert(!m->incoming_lanes);
    ck_assert_int_eq(m->when_hopeless, VL_HOPELESS_ABORT);
    ck_assert_double_eq(m->max_bandwidth_mbit, 800.5);

    ck_assert_uint_eq(m->peers->len, 2);
    peer = g_ptr_array_index(m->peers, 0);
    ck_assert_str_eq(peer->name, "host-b");
    ck_assert_str_eq(peer->uri, "qemu+ssh://root@[fd00::2]/system");
    ck_assert_str_eq(peer->migration_address, "fd00::2");
    ck_assert_double_eq(peer->base_bandwidth_mbit, 1000);
    ck_assert_uint_eq(peer->lanes->len, 2);
    lane = g_ptr_array_index(peer->lanes, 0);
    ck_assert_str_eq(lane->interface, "lane1");
    ck_assert_str_eq(lane->address, "fd00:11::1/64");
    ck_assert_str_eq(lane->peer_address, "fd00:11::2");
    ck_assert_double_eq(lane->bandwidth_mbit, 200);
    lane = g_ptr_array_index(peer->lanes, 1);
    ck_assert_str_eq(lane->interface, "lane2");
    ck_assert_str_eq(lane->address, "198.18.12.1/30");
    ck_assert_str_eq(lane->peer_address, "198.18.12.2");
    ck_assert_double_eq(lane->bandwidth_mbit, 0.5);
    peer = g_ptr_array_index(m->peers, 1);
    ck_assert_str_eq(peer->name, "host-c");
    ck_assert_ptr_null(peer->migration_address);
    ck_assert_double_eq(peer->base_bandwidth_mbit, 0);
    ck_assert_uint_eq(peer->lanes->len, 0);
}

START_TEST(test_good_full)
{
    g_autoptr(VlPolicy) policy = load_good("full.json");
    VlMigrationPolicy *m = policy->migration;
    VlContainerPolicy *c;
    VlAffinity *aff;
    const VlIndicatorThresholds *t;

    ck_assert_ptr_nonnull(policy->migration_file);
    assert_full_migration(m);

    ck_assert_uint_eq(policy->containers->len, 2);
    c = g_ptr_array_index(policy->containers, 0);
    ck_assert_str_eq(c->name, "web");
    ck_assert_str_eq(c->description, "web tier");
    ck_assert_int_eq(c->mode, VL_CONTAINER_MODE_ADVISE);
    ck_assert_uint_eq(g_strv_length(c->member_globs), 2);
    ck_assert_str_eq(c->member_globs[0], "web-*");
    ck_assert_str_eq(c->member_globs[1], "front-?");
    ck_assert_uint_eq(c->min_active, 2);
    ck_assert_uint_eq(c->max_active, 5);
    ck_assert_uint_eq(g_strv_length(c->standby), 2);
    ck_assert_str_eq(c->standby[0], "web-s1");
    ck_assert_str_eq(c->standby[1], "web s2");
    ck_assert_str_eq(c->template_domain, "tmpl-web");
    ck_assert_uint_eq(g_strv_length(c->peers), 2);
    ck_assert_str_eq(c->peers[0], "qemu+tcp://198.19.0.2/system");
    ck_assert_str_eq(c->peers[1], "test:///default");
    ck_assert_double_eq(c->active_standby_ratio, 2.5);

    t = &c->indicators[VL_INDICATOR_CPU];
    ck_assert(t->enabled);
    ck_assert_double_eq(t->substantially_under_loaded, 0);
    ck_assert_double_eq(t->under_loaded, 20.5);
    ck_assert_double_eq(t->overloaded, 80);
    ck_assert_double_eq(t->substantially_overloaded, 100);
    ck_assert_uint_eq(t->hold_s, 45);
    t = &c->indicators[VL_INDICATOR_BLOCK_IO];
    ck_assert(t->enabled);
    ck_assert_double_eq(t->substantially_under_loaded, 1);
    ck_assert_double_eq(t->under_loaded, 2);
    ck_assert_double_eq(t->overloaded, 3);
    ck_assert_double_eq(t->substantially_overloaded, 1000000);
    ck_assert_uint_eq(t->hold_s, 60);
    ck_assert(!c->indicators[VL_INDICATOR_NET_RX].enabled);
    ck_assert(!c->indicators[VL_INDICATOR_NET_TX].enabled);
    ck_assert(!c->indicators[VL_INDICATOR_MEMORY].enabled);

    ck_assert_uint_eq(c->cooldown_s, 0);
    ck_assert_uint_eq(c->shutdown_timeout_s, 3600);
    ck_assert(c->destroy_on_timeout);
    ck_assert_uint_eq(c->affinities->len, 2);
    aff = g_ptr_array_index(c->affinities, 0);
    ck_assert_str_eq(aff->a, "web-1");
    ck_assert_str_eq(aff->b, "db-1");
    ck_assert_double_eq(aff->weight, 0.25);
    aff = g_ptr_array_index(c->affinities, 1);
    ck_assert_double_eq(aff->weight, 1);

    c = g_ptr_array_index(policy->containers, 1);
    ck_assert_str_eq(c->name, "db");
    assert_container_defaults(c);
    ck_assert_ptr_eq(vl_policy_find_container(policy, "db"), c);
    ck_assert_ptr_null(vl_policy_find_container(policy, "DB"));
}
END_TEST

/* A copy holds every field and owns its strings and arrays: it outlives
 * the policy it came from (a reload while a move runs). */
START_TEST(test_migration_copy)
{
    g_autoptr(VlMigrationPolicy) copy = NULL;
    g_autoptr(VlMigrationPolicy) defaults = vl_migration_policy_new();
    g_autoptr(VlMigrationPolicy) copy_defaults = NULL;

    {
        g_autoptr(VlPolicy) policy = load_good("full.json");

        copy = vl_migration_policy_copy(policy->migration);
        ck_assert_ptr_ne(copy->peers, policy->migration->peers);
        ck_assert_ptr_ne(copy->migration_address, policy->migration->migration_address);
    }
    assert_full_migration(copy);
    copy_defaults = vl_migration_policy_copy(defaults);
    ck_assert_ptr_null(copy_defaults->migration_address);
    ck_assert_uint_eq(copy_defaults->peers->len, 0);
    ck_assert_uint_eq(copy_defaults->downtime_ladder->len, 0);
    ck_assert_uint_eq(copy_defaults->max_lanes, defaults->max_lanes);
}
END_TEST

START_TEST(test_max_active_default)
{
    static const struct {
        const char *text;
        guint max_active;
    } cases[] = {
        { "{\"containers\": [{\"name\": \"a\", \"min_active\": 3}]}", 3 },
        { "{\"containers\": [{\"name\": \"a\", \"standby\": [\"x\", \"y\"]}]}", 3 },
        { "{\"containers\": [{\"name\": \"a\", \"min_active\": 0, \"standby\": [\"x\"]}]}", 1 },
        { "{\"containers\": [{\"name\": \"a\", \"min_active\": 1024, \"standby\": [\"x\"]}]}", 1024 },
        { "{\"containers\": [{\"name\": \"a\", \"min_active\": 0, \"max_active\": 0}]}", 0 },
        /* A template alone never grows the container. */
        { "{\"containers\": [{\"name\": \"a\", \"template\": \"t\"}]}", 1 },
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VlPolicy) policy = load_string(cases[i].text, &error);
        VlContainerPolicy *c;

        ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
        c = g_ptr_array_index(policy->containers, 0);
        ck_assert_uint_eq(c->max_active, cases[i].max_active);
    }
}
END_TEST

START_TEST(test_host_load)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = load_string(
        "{\"containers\": [{\"name\": \"a\", \"peers\": [\"qemu+tcp://b/system\"],"
        " \"host_load\": {\"memory\": {\"under_loaded\": 0, \"overloaded\": 100}}},"
        " {\"name\": \"b\"}]}", &error);
    VlContainerPolicy *c;

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    c = g_ptr_array_index(policy->containers, 0);
    ck_assert(c->host_load.enabled);
    ck_assert_uint_eq(c->host_load.hold_s, 60);
    ck_assert(!c->host_load.indicators[VL_HOST_INDICATOR_CPU].enabled);
    ck_assert(c->host_load.indicators[VL_HOST_INDICATOR_MEMORY].enabled);
    ck_assert_double_eq(c->host_load.indicators[VL_HOST_INDICATOR_MEMORY].under_loaded, 0);
    ck_assert_double_eq(c->host_load.indicators[VL_HOST_INDICATOR_MEMORY].overloaded, 100);
    /* Absent: never moved for the host's sake. */
    c = g_ptr_array_index(policy->containers, 1);
    ck_assert(!c->host_load.enabled);
    ck_assert_str_eq(vl_host_indicator_to_string(VL_HOST_INDICATOR_CPU), "cpu");
    ck_assert_str_eq(vl_host_indicator_to_string(VL_HOST_INDICATOR_MEMORY), "memory");
}
END_TEST

/* Bounds are inclusive where docs/policy.md says "between". */
START_TEST(test_bounds_inclusive)
{
    static const char *const ok[] = {
        "{\"migration\": {\"threshold_s\": 1, \"max_lanes\": 1, \"channels_per_lane\": 1, \"max_downtime_ms\": 1, \"lane_up_max_s\": 0.001}}",
        "{\"migration\": {\"threshold_s\": 86400, \"max_lanes\": 15, \"channels_per_lane\": 16, \"max_downtime_ms\": 60000, \"lane_up_max_s\": 600}}",
        "{\"migration\": {\"max_lanes\": 16, \"channels_per_lane\": 15}}",
        "{\"migration\": {\"downtime_ladder\": [{\"after_iteration\": 10000, \"downtime_ms\": 60000}]}}",
        "{\"containers\": [{\"name\": \"a\", \"cooldown_s\": 86400, \"shutdown_timeout_s\": 1, \"active_standby_ratio\": 1000}]}",
        "{\"containers\": [{\"name\": \"a\", \"indicators\": {\"memory\": {\"substantially_under_loaded\": 0, \"under_loaded\": 0.5, \"overloaded\": 99.5, \"substantially_overloaded\": 100, \"hold_s\": 86400}}}]}",
        "{\"containers\": [{\"name\": \"a\", \"affinities\": [{\"a\": \"x\", \"b\": \"y\", \"weight\": 1000000}]}]}",
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VlPolicy) policy = load_string(ok[i], &error);

        ck_assert_msg(policy != NULL, "case %zu: %s", i, error ? error->message : "");
    }
}
END_TEST

/* ---- shipped policies ----------------------------------------------- */

START_TEST(test_shipped_loads)
{
    const char *path = g_ptr_array_index(shipped, _i);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = vl_policy_load_file(path, &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
}
END_TEST

START_TEST(test_shipped_default_matches_compiled)
{
    g_autofree char *path = source_path("policies/default.json");
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = vl_policy_load_file(path, &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(policy->migration_file, path);
    assert_migration_defaults(policy->migration);
    ck_assert_uint_eq(policy->containers->len, 0);
}
END_TEST

START_TEST(test_shipped_examples_as_dir)
{
    g_autofree char *src = source_path("policies/examples");
    g_autofree char *copy = g_build_filename(tmpdir, "examples", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    VlPeerConfig *peer;
    guint i;

    copy_tree(src, copy);
    policy = vl_policy_load_dir(copy, &error);
    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_nonnull(vl_policy_find_container(policy, "web"));
    ck_assert_ptr_nonnull(vl_policy_find_container(policy, "batch"));

    /* The lab: two hosts, two spare lanes of 200 Mbit/s besides lane0. */
    ck_assert(g_str_has_suffix(policy->migration_file, "/lanes-two-hosts.json"));
    ck_assert_uint_eq(policy->migration->peers->len, 1);
    peer = g_ptr_array_index(policy->migration->peers, 0);
    ck_assert_uint_eq(peer->lanes->len, 2);
    for (i = 0; i < peer->lanes->len; i++) {
        VlLaneConfig *lane = g_ptr_array_index(peer->lanes, i);
        g_autofree char *ifname = g_strdup_printf("lane%u", i + 1);

        ck_assert_str_eq(lane->interface, ifname);
        ck_assert(g_str_has_prefix(lane->address, "198.18.") ||
                  g_str_has_prefix(lane->address, "198.19."));
        ck_assert_double_eq(lane->bandwidth_mbit, 200);
    }
}
END_TEST

/* Records every key path of @value: ".a.b", "[]" for array elements and
 * "*" for the name of an indicator (of the domains or the host). */
static void
collect_keys(json_object *value, const char *path, GHashTable *seen)
{
    if (json_object_is_type(value, json_type_array)) {
        g_autofree char *child = g_strconcat(path, "[]", NULL);
        gsize i;

        for (i = 0; i < json_object_array_length(value); i++)
            collect_keys(json_object_array_get_idx(value, i), child, seen);
        return;
    }
    if (!json_object_is_type(value, json_type_object))
        return;

    json_object_object_foreach(value, key, member) {
        g_autofree char *child = g_strconcat(path, ".", key, NULL);

        g_hash_table_add(seen, g_strdup(child));
        if ((g_str_equal(path, ".containers[].indicators") ||
             (g_str_equal(path, ".containers[].host_load") &&
              !g_str_equal(key, "hold_s"))) &&
            !g_str_equal(key, "description")) {
            g_autofree char *any = g_strconcat(path, ".*", NULL);

            collect_keys(member, any, seen);
        } else {
            collect_keys(member, child, seen);
        }
    }
}

START_TEST(test_examples_cover_schema)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free, NULL);
    g_auto(GStrv) keys = vl_policy_schema_keys();
    guint i;
    GStrv key;

    for (i = 0; i < shipped->len; i++) {
        const char *path = g_ptr_array_index(shipped, i);
        g_autofree char *text = read_text(path);
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) root = vl_json_parse(path, text, strlen(text), &error);

        ck_assert_msg(root != NULL, "%s", error ? error->message : "");
        collect_keys(root, "", seen);
    }

    ck_assert_uint_gt(g_strv_length(keys), 40);
    for (key = keys; *key; key++)
        ck_assert_msg(g_hash_table_contains(seen, *key),
                      "no shipped policy shows '%s'", *key);
}
END_TEST

START_TEST(test_docs_cover_schema)
{
    static const char *const docs[] = { "docs/policy.md", "policies/README.md" };
    g_auto(GStrv) keys = vl_policy_schema_keys();
    gsize i;
    GStrv key;

    for (i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autofree char *path = source_path(docs[i]);
        g_autofree char *text = read_text(path);

        for (key = keys; *key; key++) {
            const char *leaf = strrchr(*key, '.') + 1;
            g_autofree char *quoted = g_strdup_printf("`%s`", leaf);

            ck_assert_msg(strstr(text, quoted) != NULL, "%s does not document %s",
                          docs[i], *key);
        }
    }
}
END_TEST

/* ---- directories ---------------------------------------------------- */

START_TEST(test_dir_merge)
{
    g_autofree char *src = vl_test_data_path("policy/good/merge.d");
    g_autofree char *copy = g_build_filename(tmpdir, "merge.d", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    static const char *const order[] = { "upper", "alpha", "beta", "zeta" };
    static const char *const files[] = { "B.json", "a.json", "b.json" };
    gsize i;

    copy_tree(src, copy);
    policy = vl_policy_load_dir(copy, &error);
    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");

    /* Byte order of the names ('B' < 'a'); README, dot files and
     * *.json.orig are not policies. */
    ck_assert_uint_eq(g_strv_length(policy->files), G_N_ELEMENTS(files));
    for (i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *expected = g_build_filename(copy, files[i], NULL);

        ck_assert_str_eq(policy->files[i], expected);
    }
    ck_assert_uint_eq(policy->containers->len, G_N_ELEMENTS(order));
    for (i = 0; i < G_N_ELEMENTS(order); i++) {
        VlContainerPolicy *c = g_ptr_array_index(policy->containers, i);

        ck_assert_str_eq(c->name, order[i]);
        ck_assert_ptr_eq(vl_policy_find_container(policy, order[i]), c);
    }
    ck_assert_str_eq(policy->migration_file, policy->files[0]);
    ck_assert_uint_eq(policy->migration->max_lanes, 2);
    ck_assert_uint_eq(policy->migration->channels_per_lane, 2);
}
END_TEST

START_TEST(test_dir_empty)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = vl_policy_load_dir(tmpdir, &error);

    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(g_strv_length(policy->files), 0);
    ck_assert_uint_eq(policy->containers->len, 0);
    ck_assert_ptr_null(policy->migration_file);
    assert_migration_defaults(policy->migration);
}
END_TEST

START_TEST(test_dir_all_or_nothing)
{
    g_autofree char *a = g_build_filename(tmpdir, "a.json", NULL);
    g_autofree char *b = g_build_filename(tmpdir, "b.json", NULL);
    g_autofree char *c = g_build_filename(tmpdir, "c.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;
    g_autofree char *expected = NULL;

    write_text(a, "{\"migration\": {\"max_lanes\": 2}, \"containers\": [{\"name\": \"web\"}]}");
    write_text(b, "{\"containers\": [{\"name\": \"db\", \"min_active\": 1.5}]}");
    write_text(c, "{\"containers\": [{\"name\": \"batch\"}]}");

    policy = vl_policy_load_dir(tmpdir, &error);
    ck_assert_ptr_null(policy);
    expected = g_strdup_printf("%s: .containers[0].min_active: must be an integer, not 1.5", b);
    ck_assert_str_eq(error->message, expected);

    /* Nothing survives from the failed load: fixed, it loads whole. */
    g_clear_error(&error);
    write_text(b, "{\"containers\": [{\"name\": \"db\", \"min_active\": 2}]}");
    policy = vl_policy_load_dir(tmpdir, &error);
    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(policy->containers->len, 3);
    ck_assert_uint_eq(g_strv_length(policy->files), 3);
}
END_TEST

START_TEST(test_dir_missing)
{
    g_autofree char *path = g_build_filename(tmpdir, "nowhere", NULL);
    g_autofree char *expected = g_strdup_printf("Cannot open policy directory '%s': No such file or directory",
                                                path);
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_policy_load_dir(path, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_str_eq(error->message, expected);
}
END_TEST

START_TEST(test_dir_is_file)
{
    g_autofree char *path = g_build_filename(tmpdir, "a.json", NULL);
    g_autofree char *expected = g_strdup_printf("Cannot open policy directory '%s': Not a directory",
                                                path);
    g_autoptr(GError) error = NULL;

    write_text(path, "{}");
    ck_assert_ptr_null(vl_policy_load_dir(path, &error));
    ck_assert_str_eq(error->message, expected);
}
END_TEST

START_TEST(test_file_is_dir)
{
    g_autofree char *expected = g_strdup_printf("%s: not a regular file", tmpdir);
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_policy_load_file(tmpdir, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_POLICY));
    ck_assert_str_eq(error->message, expected);
}
END_TEST

START_TEST(test_file_missing)
{
    g_autoptr(GError) error = NULL;

    ck_assert_ptr_null(vl_policy_load_file("/nonexistent/web.json", &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_str_eq(error->message,
                     "Cannot open policy file '/nonexistent/web.json': No such file or directory");
}
END_TEST

START_TEST(test_fifo_does_not_block)
{
    g_autofree char *fifo = g_build_filename(tmpdir, "pipe.json", NULL);
    g_autofree char *expected = g_strdup_printf("%s: not a regular file", fifo);
    g_autoptr(GError) error = NULL;

    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    ck_assert_int_eq(chmod(fifo, 0644), 0);
    /* With no writer, a blocking open would hang until the timeout. */
    ck_assert_ptr_null(vl_policy_load_dir(tmpdir, &error));
    ck_assert_str_eq(error->message, expected);
    g_clear_error(&error);
    ck_assert_ptr_null(vl_policy_load_file(fifo, &error));
    ck_assert_str_eq(error->message, expected);
}
END_TEST

START_TEST(test_file_too_large)
{
    g_autofree char *path = g_build_filename(tmpdir, "big.json", NULL);
    g_autofree char *expected = g_strdup_printf("%s: larger than 1048576 bytes, too large for a policy",
                                                path);
    g_autoptr(GString) text = g_string_new("{\"description\": \"");
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;

    while (text->len < 1024 * 1024 - 2)
        g_string_append_c(text, 'x');
    g_string_append(text, "\"}");
    write_text(path, text->str);
    ck_assert_uint_eq(text->len, 1024 * 1024);
    policy = vl_policy_load_file(path, &error);
    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    g_clear_pointer(&policy, vl_policy_free);

    g_string_insert_c(text, 1, ' ');
    write_text(path, text->str);
    ck_assert_ptr_null(vl_policy_load_file(path, &error));
    ck_assert_str_eq(error->message, expected);
}
END_TEST

START_TEST(test_symlink_followed)
{
    g_autofree char *outside = g_build_filename(tmpdir, "outside.txt", NULL);
    g_autofree char *dir = g_build_filename(tmpdir, "d", NULL);
    g_autofree char *link = g_build_filename(dir, "web.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy = NULL;

    write_text(outside, "{\"containers\": [{\"name\": \"web\"}]}");
    ck_assert_int_eq(g_mkdir(dir, 0755), 0);
    ck_assert_int_eq(chmod(dir, 0755), 0);
    ck_assert_int_eq(symlink(outside, link), 0);

    /* The checks apply to the file the link leads to. */
    policy = vl_policy_load_dir(dir, &error);
    ck_assert_msg(policy != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(policy->containers->len, 1);
    g_clear_pointer(&policy, vl_policy_free);

    ck_assert_int_eq(chmod(outside, 0666), 0);
    ck_assert_ptr_null(vl_policy_load_dir(dir, &error));
    ck_assert(strstr(error->message, "group- or world-writable (mode 0666)"));
}
END_TEST

START_TEST(test_foreign_owner)
{
    g_autofree char *file = g_build_filename(tmpdir, "a.json", NULL);
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;

    if (geteuid() != 0) {
        /* Only root can hand a file to someone else. */
        return;
    }
    write_text(file, "{}");
    ck_assert_int_eq(chown(file, 65534, 65534), 0);
    ck_assert_ptr_null(vl_policy_load_dir(tmpdir, &error));
    expected = g_strdup_printf("%s: refusing a policy file owned by uid 65534 (only root may own it)",
                               file);
    ck_assert_str_eq(error->message, expected);
    g_clear_error(&error);
    g_clear_pointer(&expected, g_free);

    ck_assert_int_eq(unlink(file), 0);
    ck_assert_int_eq(chown(tmpdir, 65534, 65534), 0);
    ck_assert_ptr_null(vl_policy_load_dir(tmpdir, &error));
    expected = g_strdup_printf("%s: refusing a policy directory owned by uid 65534 (only root may own it)",
                               tmpdir);
    ck_assert_str_eq(error->message, expected);
}
END_TEST

/* ---- small API ------------------------------------------------------ */

START_TEST(test_free_null_and_half_built)
{
    VlPolicy *policy = vl_policy_new();
    VlContainerPolicy *c = vl_container_policy_new();
    VlPeerConfig *peer = vl_peer_config_new();
    VlMigrationPolicy *m = vl_migration_policy_new();

    vl_policy_free(NULL);
    vl_migration_policy_free(NULL);
    vl_peer_config_free(NULL);
    vl_lane_config_free(NULL);
    vl_container_policy_free(NULL);
    vl_affinity_free(NULL);

    /* Half-built: some members already gone or never set. */
    g_clear_pointer(&policy->files, g_strfreev);
    g_clear_pointer(&policy->containers, g_ptr_array_unref);
    vl_policy_free(policy);

    c->name = g_strdup("web");
    g_clear_pointer(&c->standby, g_strfreev);
    g_ptr_array_add(c->affinities, vl_affinity_new());
    vl_container_policy_free(c);

    g_ptr_array_add(peer->lanes, vl_lane_config_new());
    vl_peer_config_free(peer);

    g_clear_pointer(&m->downtime_ladder, g_array_unref);
    g_ptr_array_add(m->peers, vl_peer_config_new());
    vl_migration_policy_free(m);
}
END_TEST

START_TEST(test_new_defaults)
{
    g_autoptr(VlPolicy) policy = vl_policy_new();
    g_autoptr(VlContainerPolicy) c = vl_container_policy_new();
    g_autoptr(VlAffinity) aff = vl_affinity_new();

    ck_assert_uint_eq(g_strv_length(policy->files), 0);
    ck_assert_uint_eq(policy->containers->len, 0);
    ck_assert_ptr_null(policy->migration_file);
    assert_migration_defaults(policy->migration);
    ck_assert_ptr_null(c->name);
    assert_container_defaults(c);
    ck_assert_double_eq(aff->weight, 1);
}
END_TEST

START_TEST(test_strings)
{
    static const char *const keys[] = { "cpu", "net_rx", "net_tx", "block_io", "memory" };
    VlIndicator ind = VL_INDICATOR_LAST;
    guint i;

    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        ck_assert_str_eq(vl_indicator_to_string(i), keys[i]);
        ck_assert(vl_indicator_from_string(keys[i], &ind));
        ck_assert_int_eq(ind, i);
    }
    ck_assert(!vl_indicator_from_string("disk", &ind));
    ck_assert(!vl_indicator_from_string(NULL, &ind));
    ck_assert_str_eq(vl_container_mode_to_string(VL_CONTAINER_MODE_ENFORCE), "enforce");
    ck_assert_str_eq(vl_container_mode_to_string(VL_CONTAINER_MODE_ADVISE), "advise");
    ck_assert_str_eq(vl_hopeless_action_to_string(VL_HOPELESS_CONTINUE), "continue");
    ck_assert_str_eq(vl_hopeless_action_to_string(VL_HOPELESS_ABORT), "abort");
}
END_TEST

START_TEST(test_match_domain)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy =
        load_string("{\"containers\": [{\"name\": \"web\", \"members\": {\"name_globs\": [\"web-*\", \"db-?\"]}}, {\"name\": \"none\"}]}",
                    &error);
    VlContainerPolicy *web = vl_policy_find_container(policy, "web");

    ck_assert_ptr_nonnull(web);
    ck_assert(vl_container_policy_match_domain(web, "web-1"));
    ck_assert(vl_container_policy_match_domain(web, "web-"));
    ck_assert(vl_container_policy_match_domain(web, "db-7"));
    ck_assert(!vl_container_policy_match_domain(web, "db-17"));
    ck_assert(!vl_container_policy_match_domain(web, "xweb-1"));
    ck_assert(!vl_container_policy_match_domain(web, NULL));
    ck_assert(!vl_container_policy_match_domain(vl_policy_find_container(policy, "none"),
                                                "web-1"));
    ck_assert(!vl_container_policy_match_domain(NULL, "web-1"));
    ck_assert_ptr_null(vl_policy_find_container(NULL, "web"));
    ck_assert_ptr_null(vl_policy_find_container(policy, NULL));
}
END_TEST

START_TEST(test_schema_keys_accepted)
{
    /* Each schema key, misspelt, is refused with a suggestion of it:
     * the schema list and the parser's key lists are the same lists. */
    g_autoptr(GError) error = NULL;
    g_autoptr(VlPolicy) policy =
        load_string("{\"containers\": [{\"name\": \"a\", \"indicators\": {\"cpu\": {\"hold_sec\": 1}}}]}",
                    &error);

    ck_assert_ptr_null(policy);
    ck_assert_str_eq(error->message,
                     "t.json: .containers[0].indicators.cpu: unknown key 'hold_sec' (did you mean 'hold_s'?)");
}
END_TEST

/* ---- the suite ------------------------------------------------------ */

static GPtrArray *
list_sorted(const char *dir, gboolean (*want)(const char *dir, const char *name))
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        if (want(dir, name))
            g_ptr_array_add(out, g_strdup(name));
    }
    return out;
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static gboolean
is_bad_case(const char *dir, const char *name)
{
    return g_str_has_suffix(name, ".json") || g_str_has_suffix(name, ".d");
}

static gboolean
is_json(const char *dir, const char *name)
{
    return g_str_has_suffix(name, ".json");
}

static void
collect_cases(void)
{
    g_autofree char *bad_dir = vl_test_data_path("policy/bad");
    static const char *const policy_dirs[] = { "policies", "policies/examples" };
    gsize i;
    guint j;

    bad_cases = list_sorted(bad_dir, is_bad_case);
    g_ptr_array_sort(bad_cases, compare_strings);

    shipped = g_ptr_array_new_with_free_func(g_free);
    for (i = 0; i < G_N_ELEMENTS(policy_dirs); i++) {
        g_autofree char *dir = source_path(policy_dirs[i]);
        g_autoptr(GPtrArray) names = list_sorted(dir, is_json);

        g_ptr_array_sort(names, compare_strings);
        for (j = 0; j < names->len; j++)
            g_ptr_array_add(shipped, g_build_filename(dir, g_ptr_array_index(names, j), NULL));
    }
}

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc;

    tc = tcase_create("bad-golden");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_loop_test(tc, test_bad_golden, 0, bad_cases->len);
    tcase_add_test(tc, test_bad_err_files_match);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict-json");
    tcase_add_loop_test(tc, test_syntax, 0, G_N_ELEMENTS(syntax_cases));
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_parse_values);
    tcase_add_test(tc, test_offset_to_line);
    tcase_add_test(tc, test_quote);
    suite_add_tcase(s, tc);

    tc = tcase_create("checks");
    tcase_add_loop_test(tc, test_checks, 0, G_N_ELEMENTS(check_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("good");
    tcase_add_test(tc, test_good_defaults);
    tcase_add_test(tc, test_good_empty_object);
    tcase_add_test(tc, test_good_full);
    tcase_add_test(tc, test_migration_copy);
    tcase_add_test(tc, test_max_active_default);
    tcase_add_test(tc, test_bounds_inclusive);
    tcase_add_test(tc, test_host_load);
    tcase_add_test(tc, test_schema_keys_accepted);
    suite_add_tcase(s, tc);

    tc = tcase_create("shipped");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_loop_test(tc, test_shipped_loads, 0, shipped->len);
    tcase_add_test(tc, test_shipped_default_matches_compiled);
    tcase_add_test(tc, test_shipped_examples_as_dir);
    tcase_add_test(tc, test_examples_cover_schema);
    tcase_add_test(tc, test_docs_cover_schema);
    suite_add_tcase(s, tc);

    tc = tcase_create("dir");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_dir_merge);
    tcase_add_test(tc, test_dir_empty);
    tcase_add_test(tc, test_dir_all_or_nothing);
    tcase_add_test(tc, test_dir_missing);
    tcase_add_test(tc, test_dir_is_file);
    tcase_add_test(tc, test_file_is_dir);
    tcase_add_test(tc, test_file_missing);
    tcase_add_test(tc, test_fifo_does_not_block);
    tcase_add_test(tc, test_file_too_large);
    tcase_add_test(tc, test_symlink_followed);
    tcase_add_test(tc, test_foreign_owner);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_free_null_and_half_built);
    tcase_add_test(tc, test_new_defaults);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_match_domain);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    int ret;

    collect_cases();
    ret = vl_test_run_suite(policy_suite());
    g_ptr_array_unref(bad_cases);
    g_ptr_array_unref(shipped);
    return ret;
}
