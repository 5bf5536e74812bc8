/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-audit.c: the container audit log (JSON lines, O_APPEND) and its
 * reader
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "policy-helper.h"
#include "test-util.h"
#include "vl-error.h"

static char *
temp_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("vl-audit-XXXXXX", &error);

    ck_assert_msg(dir != NULL, "%s", error ? error->message : "");
    return dir;
}

static void
remove_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_remove(path);
    }
    g_rmdir(dir);
}

static VlAuditRecord *
sample_record(void)
{
    VlAuditRecord *r = vl_audit_record_new();

    r->time_us = G_GINT64_CONSTANT(1735725600123456); /* 2025-01-01T10:00:00.123456Z */
    r->container = g_strdup("web");
    r->member = g_strdup("web-3");
    r->members = g_strsplit("web-1,web-2", ",", -1);
    r->start = g_strdup("web-3");
    r->values[VL_INDICATOR_CPU] = 81.5;
    r->values[VL_INDICATOR_NET_RX] = 0.1;
    r->indicator = VL_INDICATOR_CPU;
    r->crossed = g_strdup("overloaded");
    r->limit = 75;
    r->action = g_strdup("start_standby");
    r->reason = g_strdup("overloaded");
    r->mode = VL_CONTAINER_MODE_ENFORCE;
    r->outcome = g_strdup("decided");
    return r;
}

static void
assert_same(const VlAuditRecord *a, const VlAuditRecord *b)
{
    int i;

    ck_assert_int_eq(a->time_us, b->time_us);
    ck_assert_str_eq(a->container, b->container);
    ck_assert_pstr_eq(a->member, b->member);
    ck_assert_pstr_eq(a->start, b->start);
    ck_assert_int_eq(a->members == NULL, b->members == NULL);
    if (a->members)
        ck_assert(g_strv_equal((const char *const *) a->members,
                               (const char *const *) b->members));
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        ck_assert_int_eq(isnan(a->values[i]), isnan(b->values[i]));
        if (!isnan(a->values[i]))
            ck_assert_double_eq_tol(a->values[i], b->values[i], 1e-9);
    }
    ck_assert_int_eq(a->indicator, b->indicator);
    ck_assert_pstr_eq(a->crossed, b->crossed);
    if (a->crossed)
        ck_assert_double_eq_tol(a->limit, b->limit, 1e-9);
    ck_assert_str_eq(a->action, b->action);
    ck_assert_pstr_eq(a->reason, b->reason);
    ck_assert_int_eq(a->mode, b->mode);
    ck_assert_str_eq(a->outcome, b->outcome);
}

START_TEST(test_line_format)
{
    g_autoptr(VlAuditRecord) r = sample_record();
    g_autofree char *json = vl_audit_record_to_json(r);

    ck_assert_str_eq(json,
        "{\"time\":\"2025-01-01T10:00:00.123456Z\",\"container\":\"web\","
        "\"member\":\"web-3\",\"members\":[\"web-1\",\"web-2\"],"
        "\"start\":\"web-3\",\"indicators\":{\"cpu\":81.5,\"net_rx\":0.1,"
        "\"net_tx\":null,\"block_io\":null,\"memory\":null},"
        "\"threshold\":{\"indicator\":\"cpu\",\"crossed\":\"overloaded\","
        "\"limit\":75},\"action\":\"start_standby\",\"reason\":\"overloaded\","
        "\"mode\":\"enforce\",\"outcome\":\"decided\"}");
}
END_TEST

START_TEST(test_roundtrip)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autoptr(VlAudit) audit = NULL;
    g_autoptr(VlAuditRecord) a = sample_record();
    g_autoptr(VlAuditRecord) b = vl_audit_record_new();
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    struct stat st;
    mode_t mask;

    b->time_us = 0;
    b->container = g_strdup("db");
    b->action = g_strdup("none");
    b->mode = VL_CONTAINER_MODE_ADVISE;
    b->outcome = g_strdup("advised");

    audit = vl_audit_open(path, &error);
    ck_assert_msg(audit != NULL, "%s", error ? error->message : "");
    ck_assert(vl_audit_append(audit, a, &error));
    ck_assert(vl_audit_append(audit, b, &error));
    ck_assert_int_eq(stat(path, &st), 0);
    mask = umask(0);
    umask(mask);
    ck_assert_int_eq(st.st_mode & 0777, 0640 & ~mask);

    records = vl_audit_read_file(path, &error);
    ck_assert_msg(records != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(records->len, 2);
    assert_same(a, g_ptr_array_index(records, 0));
    assert_same(b, g_ptr_array_index(records, 1));

    g_clear_pointer(&audit, vl_audit_free);
    remove_dir(dir);
}
END_TEST

/* Two writers on one file (daemon restart, logrotate): whole lines. */
START_TEST(test_append_two_writers)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autoptr(VlAudit) one = vl_audit_open(path, NULL);
    g_autoptr(VlAudit) two = vl_audit_open(path, NULL);
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    guint i;

    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_nonnull(two);
    for (i = 0; i < 20; i++) {
        g_autoptr(VlAuditRecord) r = sample_record();

        g_free(r->container);
        r->container = g_strdup_printf("c%u", i);
        ck_assert(vl_audit_append(i % 2 ? two : one, r, NULL));
    }
    records = vl_audit_read_file(path, &error);
    ck_assert_msg(records != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(records->len, 20);
    for (i = 0; i < 20; i++) {
        g_autofree char *name = g_strdup_printf("c%u", i);
        VlAuditRecord *r = g_ptr_array_index(records, i);

        ck_assert_str_eq(r->container, name);
    }
    g_clear_pointer(&one, vl_audit_free);
    g_clear_pointer(&two, vl_audit_free);
    remove_dir(dir);
}
END_TEST

/* Admin-chosen names: quotes, newlines, ';', spaces, bad UTF-8. */
START_TEST(test_hostile_names)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autoptr(VlAudit) audit = vl_audit_open(path, NULL);
    g_autoptr(VlAuditRecord) r = sample_record();
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    VlAuditRecord *back;

    g_free(r->container);
    r->container = g_strdup("we\"b;\n rm -rf /");
    g_free(r->member);
    r->member = g_strdup("bad\xff\xfe utf8");
    ck_assert(vl_audit_append(audit, r, &error));

    ck_assert(g_file_get_contents(path, &contents, NULL, NULL));
    /* one line, valid UTF-8 */
    ck_assert_ptr_eq(strchr(contents, '\n'), contents + strlen(contents) - 1);
    ck_assert(g_utf8_validate(contents, -1, NULL));

    records = vl_audit_read_file(path, &error);
    ck_assert_msg(records != NULL, "%s", error ? error->message : "");
    back = g_ptr_array_index(records, 0);
    ck_assert_str_eq(back->container, "we\"b;\n rm -rf /");
    ck_assert_str_eq(back->member, "bad\xef\xbf\xbd\xef\xbf\xbd utf8");
    g_clear_pointer(&audit, vl_audit_free);
    remove_dir(dir);
}
END_TEST

/* NaN and infinities are not JSON: null, read back as unknown. */
START_TEST(test_non_finite)
{
    g_autoptr(VlAuditRecord) r = sample_record();
    g_autofree char *json = NULL;

    r->values[VL_INDICATOR_CPU] = INFINITY;
    r->values[VL_INDICATOR_MEMORY] = -INFINITY;
    r->limit = NAN;
    json = vl_audit_record_to_json(r);
    ck_assert_ptr_nonnull(strstr(json, "\"cpu\":null"));
    ck_assert_ptr_nonnull(strstr(json, "\"memory\":null"));
    ck_assert_ptr_nonnull(strstr(json, "\"limit\":null"));
    ck_assert_ptr_null(strstr(json, "nan"));
    ck_assert_ptr_null(strstr(json, "inf"));
}
END_TEST

typedef struct {
    const char *name;
    const char *contents;
    const char *message;    /* after "Invalid audit log 'PATH' " */
} BadCase;

#define GOOD "{\"time\":\"2025-01-01T00:00:00Z\",\"container\":\"c\"," \
             "\"indicators\":{},\"action\":\"none\",\"mode\":\"enforce\"," \
             "\"outcome\":\"decided\"}"

static const BadCase bad_cases[] = {
    { "not JSON", GOOD "\nhello\n", "line 2: not one JSON object" },
    { "an array", "[1]\n", "line 1: not one JSON object" },
    { "two values on a line", GOOD GOOD "\n", "line 1: not one JSON object" },
    { "an unfinished object", "{\"time\":\n", "line 1: not one JSON object" },
    { "trailing comma (strict)", "{\"a\":1,}\n", "line 1: not one JSON object" },
    { "no container", "{\"time\":\"2025-01-01T00:00:00Z\",\"indicators\":{},"
      "\"action\":\"none\",\"mode\":\"enforce\",\"outcome\":\"x\"}\n",
      "line 1: bad 'container'" },
    { "a bad mode", "{\"time\":\"2025-01-01T00:00:00Z\",\"container\":\"c\","
      "\"indicators\":{},\"action\":\"none\",\"mode\":\"maybe\","
      "\"outcome\":\"x\"}\n", "line 1: bad 'mode'" },
    { "a bad time", "{\"time\":\"yesterday\",\"container\":\"c\","
      "\"indicators\":{},\"action\":\"none\",\"mode\":\"enforce\","
      "\"outcome\":\"x\"}\n", "line 1: bad 'time'" },
    { "a number as a name", "{\"time\":\"2025-01-01T00:00:00Z\","
      "\"container\":5,\"indicators\":{},\"action\":\"none\","
      "\"mode\":\"enforce\",\"outcome\":\"x\"}\n", "line 1: bad 'container'" },
    { "a string as a value", "{\"time\":\"2025-01-01T00:00:00Z\","
      "\"container\":\"c\",\"indicators\":{\"cpu\":\"high\"},"
      "\"action\":\"none\",\"mode\":\"enforce\",\"outcome\":\"x\"}\n",
      "line 1: bad 'indicators'" },
    { "an unknown threshold indicator", "{\"time\":\"2025-01-01T00:00:00Z\","
      "\"container\":\"c\",\"indicators\":{},\"threshold\":{\"indicator\":"
      "\"gpu\",\"crossed\":\"overloaded\",\"limit\":1},\"action\":\"none\","
      "\"mode\":\"enforce\",\"outcome\":\"x\"}\n", "line 1: bad 'threshold'" },
    { "invalid UTF-8", GOOD "\n{\"time\":\"\xff\"}\n",
      "line 2: not one JSON object" },
};

START_TEST(test_read_bad)
{
    const BadCase *c = &bad_cases[_i];
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autofree char *message = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;

    ck_assert(g_file_set_contents(path, c->contents, -1, NULL));
    records = vl_audit_read_file(path, &error);
    ck_assert_msg(records == NULL, "%s: accepted", c->name);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    message = g_strdup_printf("Invalid audit log '%s' %s", path, c->message);
    ck_assert_str_eq(error->message, message);
    remove_dir(dir);
}
END_TEST

START_TEST(test_read_good_minimal)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    VlAuditRecord *r;

    /* no final newline, optional keys absent: still fine */
    ck_assert(g_file_set_contents(path, GOOD "\n" GOOD, -1, NULL));
    records = vl_audit_read_file(path, &error);
    ck_assert_msg(records != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(records->len, 2);
    r = g_ptr_array_index(records, 1);
    ck_assert_ptr_null(r->member);
    ck_assert_ptr_null(r->members);
    ck_assert_int_eq(r->indicator, VL_INDICATOR_LAST);
    ck_assert(isnan(r->values[VL_INDICATOR_CPU]));
    remove_dir(dir);
}
END_TEST

START_TEST(test_open_refuses)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    g_autofree char *missing = g_build_filename(dir, "no", "such", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlAudit) audit = NULL;
    int reader;

    /* a directory */
    audit = vl_audit_open(dir, &error);
    ck_assert_ptr_null(audit);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    g_clear_error(&error);

    /* a FIFO without a reader: refused at once, never blocks */
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    audit = vl_audit_open(fifo, &error);
    ck_assert_ptr_null(audit);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    g_clear_error(&error);

    /* with a reader the open succeeds, and the type check refuses it */
    reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(reader, 0);
    audit = vl_audit_open(fifo, &error);
    close(reader);
    ck_assert_ptr_null(audit);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "is not a regular file"));
    g_clear_error(&error);

    /* a missing directory */
    audit = vl_audit_open(missing, &error);
    ck_assert_ptr_null(audit);
    ck_assert(g_str_has_prefix(error->message, "Cannot open audit log '"));
    g_clear_error(&error);

    ck_assert_ptr_null(vl_audit_read_file(missing, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    remove_dir(dir);
}
END_TEST

/* logrotate moves the file away; reopen writes to a new one. */
START_TEST(test_reopen)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "audit.log", NULL);
    g_autofree char *old = g_build_filename(dir, "audit.log.1", NULL);
    g_autoptr(VlAudit) audit = vl_audit_open(path, NULL);
    g_autoptr(VlAuditRecord) r = sample_record();
    g_autoptr(GPtrArray) a = NULL;
    g_autoptr(GPtrArray) b = NULL;
    g_autoptr(GError) error = NULL;

    ck_assert(vl_audit_append(audit, r, NULL));
    ck_assert_int_eq(rename(path, old), 0);
    ck_assert(vl_audit_reopen(audit, &error));
    ck_assert(vl_audit_append(audit, r, NULL));
    ck_assert(vl_audit_append(audit, r, NULL));
    a = vl_audit_read_file(old, NULL);
    b = vl_audit_read_file(path, NULL);
    ck_assert_uint_eq(a->len, 1);
    ck_assert_uint_eq(b->len, 2);

    /* a failed reopen keeps writing where it did */
    ck_assert_int_eq(g_remove(path), 0);
    ck_assert_int_eq(g_mkdir(path, 0700), 0);
    ck_assert(!vl_audit_reopen(audit, &error));
    ck_assert(vl_audit_append(audit, r, NULL));
    g_rmdir(path);
    g_clear_pointer(&audit, vl_audit_free);
    remove_dir(dir);
}
END_TEST

static Suite *
audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc;

    tc = tcase_create("write");
    tcase_add_test(tc, test_line_format);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_append_two_writers);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_non_finite);
    tcase_add_test(tc, test_open_refuses);
    tcase_add_test(tc, test_reopen);
    suite_add_tcase(s, tc);

    tc = tcase_create("read");
    tcase_add_loop_test(tc, test_read_bad, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_read_good_minimal);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(audit_suite());
}
