/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The containers' state file: parse (strict, errors with file and JSON
 * path), write (atomic, 0600), round trip, a missing file, a file that
 * is not a regular one, setting a bad file aside.
 */
#include <config.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "burst-state.h"
#include "test-util.h"
#include "vl-error.h"

static char *tmpdir;

static void
tmpdir_setup(void)
{
    tmpdir = g_dir_make_tmp("vl-burst-XXXXXX", NULL);
    ck_assert_ptr_nonnull(tmpdir);
}

static void
tmpdir_teardown(void)
{
    g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

static VlBurstState *
parse(const char *text, GError **error)
{
    return vl_burst_state_parse("state.json", text, strlen(text), error);
}

START_TEST(test_parse_good)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlBurstState) state = parse(
        "{\"version\": 1,"
        " \"members\": [{\"name\": \"web 1; 'q'\", \"container\": \"web\","
        "               \"peer\": \"qemu+tcp://b/system\", \"since\": 1700000000}],"
        " \"containers\": [{\"name\": \"web\", \"cooldown_until\": 1700000300,"
        "                  \"last_action\": \"migrate_away\","
        "                  \"last_action_time\": 1700000000}, {\"name\": \"db\"}]}",
        &error);
    const VlBurstMember *m;
    const VlBurstContainer *c;

    ck_assert_msg(state != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(state->members->len, 1);
    m = g_ptr_array_index(state->members, 0);
    ck_assert_str_eq(m->member, "web 1; 'q'");
    ck_assert_str_eq(m->container, "web");
    ck_assert_str_eq(m->peer, "qemu+tcp://b/system");
    ck_assert_int_eq(m->since, 1700000000);
    ck_assert_uint_eq(state->containers->len, 2);
    c = g_ptr_array_index(state->containers, 0);
    ck_assert_int_eq(c->cooldown_until, 1700000300);
    ck_assert_str_eq(c->last_action, "migrate_away");
    ck_assert_int_eq(c->last_action_time, 1700000000);
    c = g_ptr_array_index(state->containers, 1);
    ck_assert_str_eq(c->name, "db");
    ck_assert_int_eq(c->cooldown_until, 0);
    ck_assert_ptr_null(c->last_action);
}
END_TEST

typedef struct {
    const char *text;
    const char *message;
} BadCase;

static const BadCase bad_cases[] = {
    { "", NULL },       /* json-reader's own message: only the code is checked */
    { "[]", "state.json: the top-level value must be an object, not an array" },
    { "{\"members\": []}", "state.json: missing key 'version'" },
    { "{\"version\": 2}", "state.json: .version: must be between 1 and 1, not 2" },
    { "{\"version\": 1, \"extra\": 1}", "state.json: unknown key 'extra'" },
    { "{\"version\": 1, \"members\": [{\"name\": \"a\", \"container\": \"web\"}]}",
      "state.json: .members[0]: missing key 'peer'" },
    { "{\"version\": 1, \"members\": [{\"name\": \"a\", \"container\": \"w b\", \"peer\": \"qemu:///system\"}]}",
      NULL },
    { "{\"version\": 1, \"members\": [{\"name\": \"a\", \"container\": \"web\", \"peer\": \"not a uri\"}]}",
      NULL },
    { "{\"version\": 1, \"members\": [{\"name\": \"a\", \"container\": \"web\", \"peer\": \"qemu:///system\"},"
      " {\"name\": \"a\", \"container\": \"web\", \"peer\": \"qemu:///system\"}]}",
      "state.json: .members[1].name: member 'a' is listed twice" },
    { "{\"version\": 1, \"members\": [{\"name\": \"a\", \"container\": \"web\", \"peer\": \"qemu:///system\", \"since\": -1}]}",
      NULL },
    { "{\"version\": 1, \"containers\": [{\"name\": \"web\"}, {\"name\": \"web\"}]}",
      "state.json: .containers[1].name: container 'web' is listed twice" },
    { "{\"version\": 1, \"containers\": [{\"name\": \"web\", \"cooldown_until\": \"soon\"}]}",
      NULL },
};

START_TEST(test_parse_bad)
{
    const BadCase *c = &bad_cases[_i];
    g_autoptr(GError) error = NULL;
    g_autoptr(VlBurstState) state = parse(c->text, &error);

    ck_assert_ptr_null(state);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_POLICY));
    ck_assert_msg(g_str_has_prefix(error->message, "state.json"), "%s",
                  error->message);
    if (c->message)
        ck_assert_str_eq(error->message, c->message);
}
END_TEST

START_TEST(test_round_trip)
{
    g_autoptr(VlBurstState) state = vl_burst_state_new();
    g_autoptr(VlBurstState) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(tmpdir, "sub", "state.json", NULL);
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *text = NULL;
    const VlBurstMember *m;
    const VlBurstContainer *c;
    struct stat st;

    vl_burst_state_add_member(state, "web \"2\"\\x", "web", "qemu+tcp://b/system",
                              1700000001);
    vl_burst_state_add_container(state, "web", 1700000300, "bring_back", 1700000002);
    vl_burst_state_add_container(state, "db", 0, NULL, 0);
    /* The directory does not exist yet: it is made. */
    ck_assert_msg(vl_burst_state_save(state, path, &error), "%s",
                  error ? error->message : "");
    ck_assert_int_eq(g_stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert(!g_file_test(tmp, G_FILE_TEST_EXISTS));
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    /* One line. */
    ck_assert(g_str_has_suffix(text, "}\n"));
    ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);

    back = vl_burst_state_load(path, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(back->members->len, 1);
    m = g_ptr_array_index(back->members, 0);
    ck_assert_str_eq(m->member, "web \"2\"\\x");
    ck_assert_str_eq(m->peer, "qemu+tcp://b/system");
    ck_assert_int_eq(m->since, 1700000001);
    ck_assert_uint_eq(back->containers->len, 2);
    c = g_ptr_array_index(back->containers, 0);
    ck_assert_int_eq(c->cooldown_until, 1700000300);
    ck_assert_str_eq(c->last_action, "bring_back");
    c = g_ptr_array_index(back->containers, 1);
    ck_assert_ptr_null(c->last_action);

    /* Saved again over the old file: replaced whole. */
    g_ptr_array_set_size(state->members, 0);
    ck_assert(vl_burst_state_save(state, path, &error));
    g_clear_pointer(&back, vl_burst_state_free);
    back = vl_burst_state_load(path, &error);
    ck_assert_uint_eq(back->members->len, 0);
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_load_missing)
{
    g_autofree char *path = g_build_filename(tmpdir, "none.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlBurstState) state = vl_burst_state_load(path, &error);

    ck_assert_ptr_nonnull(state);
    ck_assert_uint_eq(state->members->len, 0);
    ck_assert_uint_eq(state->containers->len, 0);
}
END_TEST

START_TEST(test_load_not_regular)
{
    g_autofree char *fifo = g_build_filename(tmpdir, "fifo.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlBurstState) state = NULL;

    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    state = vl_burst_state_load(fifo, &error);
    ck_assert_ptr_null(state);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "is not a regular file"));

    g_clear_error(&error);
    state = vl_burst_state_load(tmpdir, &error);
    ck_assert_ptr_null(state);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
}
END_TEST

START_TEST(test_set_aside)
{
    g_autofree char *path = g_build_filename(tmpdir, "state.json", NULL);
    g_autofree char *moved = NULL;
    g_autofree char *expected = g_strconcat(path, ".corrupt", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlBurstState) state = NULL;

    ck_assert(g_file_set_contents(path, "{\"version\": 1,", -1, NULL));
    state = vl_burst_state_load(path, &error);
    ck_assert_ptr_null(state);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_POLICY));
    ck_assert_msg(g_str_has_prefix(error->message, path), "%s", error->message);
    g_clear_error(&error);

    ck_assert(vl_burst_state_set_aside(path, &moved, &error));
    ck_assert_str_eq(moved, expected);
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
    ck_assert(g_file_test(expected, G_FILE_TEST_IS_REGULAR));
    /* Nothing left to set aside. */
    ck_assert(!vl_burst_state_set_aside(path, NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
}
END_TEST

static Suite *
burst_state_suite(void)
{
    Suite *s = suite_create("burst-state");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_good);
    tcase_add_loop_test(tc, test_parse_bad, 0, G_N_ELEMENTS(bad_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_load_missing);
    tcase_add_test(tc, test_load_not_regular);
    tcase_add_test(tc, test_set_aside);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(burst_state_suite());
}
