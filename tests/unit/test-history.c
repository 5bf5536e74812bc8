/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-history.c: the migration history file
 */
#include <config.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"
#include "history-priv.h"
#include "test-util.h"

#define MIB (1048576.0)

/* The golden line: key order, number format, escaping of the domain. */
static const char golden_line[] =
    "{\"v\":2,\"time\":1700000000,\"domain\":\"web \\\"1\\\";\\n\xc3\xbc\xc3\xb1\xc3\xad\","
    "\"memory_bytes\":1073741824,\"processed_bytes\":894435328,"
    "\"total_time_s\":38.8,\"memory_bps\":23907532.8,\"iterations\":3,"
    "\"downtime_ms\":362,\"dirty_rate_bps\":0,\"lanes\":1,\"channels\":0,"
    "\"predicted_time_s\":38.9078,\"load1\":1.52}";

#define LINE(time, domain, rest) \
    "{\"v\":1,\"time\":" #time ",\"domain\":\"" domain "\"," rest "}\n"
#define GOOD_REST \
    "\"memory_bytes\":1073741824,\"processed_bytes\":894435328," \
    "\"total_time_s\":38.8,\"memory_bps\":23907532.8,\"iterations\":3," \
    "\"downtime_ms\":362,\"dirty_rate_bps\":0,\"lanes\":1,\"channels\":0"

/* Good lines among bad ones; the last is cut short, as by a crash. */
static const char mixed_file[] =
    LINE(1, "a", GOOD_REST)
    "not json at all\n"
    "{}\n"
    "\n"
    "{\"v\":3,\"time\":2,\"domain\":\"from-the-future\"," GOOD_REST "}\n"
    LINE(3, "b", GOOD_REST ",\"predicted_time_s\":37,\"future_key\":[1,2]")
    LINE(4, "neg", "\"memory_bytes\":-5,\"processed_bytes\":1,"
         "\"total_time_s\":1,\"memory_bps\":1,\"iterations\":1,"
         "\"downtime_ms\":1,\"dirty_rate_bps\":0,\"lanes\":1,\"channels\":0")
    LINE(5, "nan", "\"memory_bytes\":5,\"processed_bytes\":1,"
         "\"total_time_s\":NaN,\"memory_bps\":1,\"iterations\":1,"
         "\"downtime_ms\":1,\"dirty_rate_bps\":0,\"lanes\":1,\"channels\":0")
    LINE(6, "lanes", "\"memory_bytes\":5,\"processed_bytes\":1,"
         "\"total_time_s\":1,\"memory_bps\":1,\"iterations\":1,"
         "\"downtime_ms\":1,\"dirty_rate_bps\":0,\"lanes\":99,\"channels\":0")
    "{\"v\":1,\"time\":7,\"domain\":\"two\"," GOOD_REST "} {}\n"
    "{\"v\":1,\"time\":8,\"domain\":\"bad-\xff-utf8\"," GOOD_REST "}\n"
    "{\"v\":1,\"time\":9,\"domain\":\"nul\\u0000byte\"," GOOD_REST "}\n"
    "[1,2,3]\n"
    LINE(10, "c", GOOD_REST)
    "{\"v\":1,\"time\":11,\"domain\":\"trunc\",\"memory_bytes\":10737";

static VlHistoryRecord *
sample_record(gint64 time, const char *domain, guint lanes, double bps)
{
    VlHistoryRecord *r = vl_history_record_new();

    r->time = time;
    r->domain = g_strdup(domain);
    r->memory_bytes = 1073741824;
    r->processed_bytes = 894435328;
    r->total_time_s = 38.8;
    r->memory_bps = bps;
    r->iterations = 3;
    r->downtime_ms = 362;
    r->dirty_rate_bps = 0;
    r->lanes = lanes;
    r->channels = lanes > 1 ? 2 * lanes : 0;
    return r;
}

typedef struct {
    char *dir;
    char *path;
} TmpHistory;

static TmpHistory
tmp_history(void)
{
    TmpHistory t;

    t.dir = g_dir_make_tmp("vl-history-XXXXXX", NULL);
    ck_assert_ptr_nonnull(t.dir);
    t.path = g_build_filename(t.dir, "history.jsonl", NULL);
    return t;
}

static void
tmp_history_clear(TmpHistory *t)
{
    const char *name;
    GDir *d = g_dir_open(t->dir, 0, NULL);

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(t->dir, name, NULL);

        if (g_rmdir(p) < 0)
            g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(t->dir);
    g_free(t->dir);
    g_free(t->path);
}

static gsize
file_size(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 0;
    return st.st_size;
}

START_TEST(test_golden_line)
{
    /* quotes, ';', a newline and non-ASCII: all must survive */
    g_autoptr(VlHistoryRecord) r =
        sample_record(1700000000, "web \"1\";\n\xc3\xbc\xc3\xb1\xc3\xad", 1,
                      23907532.8);
    g_autoptr(VlHistoryRecord) back = NULL;
    g_autofree char *line = NULL;

    r->predicted_time_s = 38.9078;
    r->load1 = 1.52;
    line = vl_history_record_to_line(r, NULL);
    ck_assert_str_eq(line, golden_line);

    back = vl_history_record_from_line(line, strlen(line), NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->domain, r->domain);
    ck_assert_int_eq(back->time, r->time);
    ck_assert_uint_eq(back->memory_bytes, r->memory_bytes);
    ck_assert_uint_eq(back->processed_bytes, r->processed_bytes);
    ck_assert(back->total_time_s == 38.8);
    ck_assert(back->memory_bps == 23907532.8);
    ck_assert_uint_eq(back->iterations, 3);
    ck_assert(back->downtime_ms == 362);
    ck_assert_uint_eq(back->lanes, 1);
    ck_assert_uint_eq(back->channels, 0);
    ck_assert(back->predicted_time_s == 38.9078);
    ck_assert(back->load1 == 1.52);
}
END_TEST

START_TEST(test_no_prediction)
{
    g_autoptr(VlHistoryRecord) r = sample_record(5, "x", 3, 6e7);
    g_autoptr(VlHistoryRecord) back = NULL;
    g_autofree char *line = vl_history_record_to_line(r, NULL);

    ck_assert(!strstr(line, "predicted"));
    ck_assert(!strstr(line, "move_overhead_s"));
    back = vl_history_record_from_line(line, strlen(line), NULL);
    ck_assert(isnan(back->predicted_time_s));
    ck_assert(isnan(back->move_overhead_s));
    ck_assert_uint_eq(back->channels, 6);
}
END_TEST

/* The optional fixed cost of a move: written last, read back, checked. */
START_TEST(test_move_overhead_key)
{
    g_autoptr(VlHistoryRecord) r = sample_record(5, "x", 3, 6e7);
    g_autoptr(VlHistoryRecord) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    static const char bad[] =
        "{\"v\":1,\"time\":5,\"domain\":\"x\",\"memory_bytes\":1,\"processed_bytes\":1,"
        "\"total_time_s\":1,\"memory_bps\":1,\"iterations\":1,\"downtime_ms\":1,"
        "\"dirty_rate_bps\":0,\"lanes\":1,\"channels\":0,\"move_overhead_s\":-2}";

    r->move_overhead_s = 2.75;
    line = vl_history_record_to_line(r, NULL);
    ck_assert(g_str_has_suffix(line, ",\"move_overhead_s\":2.75}"));
    back = vl_history_record_from_line(line, strlen(line), NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert(back->move_overhead_s == 2.75);

    ck_assert_ptr_null(vl_history_record_from_line(bad, strlen(bad), &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "'move_overhead_s'"));
    g_clear_error(&error);
    r->move_overhead_s = INFINITY;
    ck_assert_ptr_null(vl_history_record_to_line(r, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
}
END_TEST

/* One run recorded twice (virt-lanesd, then the CLI with its fixed
 * cost) loads as one record; other runs stay apart. */
START_TEST(test_same_run_merged)
{
    TmpHistory t = tmp_history();
    g_autoptr(VlHistory) h = NULL;
    g_autoptr(VlHistoryRecord) daemon = sample_record(1000, "web 1", 3, 6e7);
    g_autoptr(VlHistoryRecord) cli = sample_record(1002, "web 1", 3, 6e7);
    g_autoptr(VlHistoryRecord) later = sample_record(1100, "web 1", 3, 6e7);
    g_autoptr(VlHistoryRecord) other = sample_record(1003, "db", 3, 6e7);
    g_autoptr(VlHistoryRecord) more = sample_record(1004, "web 1", 3, 6e7);
    const VlHistoryRecord *r = NULL;

    cli->move_overhead_s = 2.5;
    cli->predicted_time_s = 40;
    more->total_time_s += 0.5;
    ck_assert(vl_history_append(t.path, daemon, 0, NULL));
    ck_assert(vl_history_append(t.path, other, 0, NULL));
    ck_assert(vl_history_append(t.path, cli, 0, NULL));
    ck_assert(vl_history_append(t.path, more, 0, NULL));
    ck_assert(vl_history_append(t.path, later, 0, NULL));
    h = vl_history_load(t.path, NULL);
    ck_assert_ptr_nonnull(h);
    /* daemon+cli, other, more (another job time), later (100 s on) */
    ck_assert_uint_eq(h->records->len, 4);
    ck_assert_uint_eq(h->bad_lines, 0);
    r = g_ptr_array_index(h->records, 0);
    ck_assert_int_eq(r->time, 1000);
    ck_assert(r->move_overhead_s == 2.5);
    ck_assert(r->predicted_time_s == 40);
    ck_assert_str_eq(((VlHistoryRecord *)g_ptr_array_index(h->records, 1))->domain, "db");
    ck_assert(isnan(((VlHistoryRecord *)g_ptr_array_index(h->records, 2))->move_overhead_s));
    ck_assert_int_eq(((VlHistoryRecord *)g_ptr_array_index(h->records, 3))->time, 1100);
    tmp_history_clear(&t);
}
END_TEST

/* The median of the most recent runs that carry a fixed cost. */
START_TEST(test_learned_overhead)
{
    static const double costs[] = { 40, NAN, 2.5, 3.5, NAN, 1.0, 6.0, 2.0 };
    g_autoptr(VlHistory) h = vl_history_new();
    double overhead = -1;
    guint count = 0;
    guint i;

    ck_assert(!vl_history_learned_overhead(h, 0, &overhead, &count));
    ck_assert(overhead == -1 && count == 0);
    for (i = 0; i < G_N_ELEMENTS(costs); i++) {
        VlHistoryRecord *r = sample_record(i, "d", 1, 1e7);

        r->move_overhead_s = costs[i];
        g_ptr_array_add(h->records, r);
    }
    /* last 3 with one: 1.0, 6.0, 2.0 -> 2.0 */
    ck_assert(vl_history_learned_overhead(h, 3, &overhead, &count));
    ck_assert_double_eq(overhead, 2.0);
    ck_assert_uint_eq(count, 3);
    /* last 4: 3.5, 1.0, 6.0, 2.0 -> (2.0 + 3.5) / 2 */
    ck_assert(vl_history_learned_overhead(h, 4, &overhead, &count));
    ck_assert_double_eq(overhead, 2.75);
    /* all six (the default window is 10): 40, 2.5, 3.5, 1, 6, 2 -> 3.0 */
    ck_assert(vl_history_learned_overhead(h, 0, &overhead, NULL));
    ck_assert_double_eq(overhead, 3.0);
}
END_TEST

/* Version 1 counted the base path when the policy listed it: its lane
 * count is unknown and never matches a lane count. */
START_TEST(test_version_1_lanes)
{
    static const char v1[] =
        "{\"v\":1,\"time\":3,\"domain\":\"old\"," GOOD_REST "}";
    static const char v2[] =
        "{\"v\":2,\"time\":4,\"domain\":\"new\"," GOOD_REST "}";
    static const char v2_load[] =
        "{\"v\":2,\"time\":5,\"domain\":\"new\"," GOOD_REST ",\"load1\":-1}";
    g_autoptr(VlHistoryRecord) old = vl_history_record_from_line(v1, strlen(v1), NULL);
    g_autoptr(VlHistoryRecord) cur = vl_history_record_from_line(v2, strlen(v2), NULL);
    g_autoptr(VlHistoryRecord) neg = NULL;
    g_autoptr(VlHistory) h = vl_history_new();
    g_autoptr(GError) error = NULL;
    double bps = -1;

    ck_assert_ptr_nonnull(old);
    ck_assert_ptr_nonnull(cur);
    ck_assert_uint_eq(old->lanes, VL_HISTORY_LANES_UNKNOWN);
    ck_assert_uint_eq(cur->lanes, 1);
    ck_assert(isnan(cur->load1));
    ck_assert(old->total_time_s == 38.8);       /* the rest is still read */

    g_ptr_array_add(h->records, g_steal_pointer(&old));
    ck_assert(!vl_history_learned_bps(h, 0, 0, &bps));
    ck_assert(!vl_history_learned_bps(h, 1, 0, &bps));
    ck_assert(!vl_history_learned_bps(h, VL_HISTORY_LANES_UNKNOWN, 0, &bps));
    ck_assert(bps == -1);
    g_ptr_array_add(h->records, g_steal_pointer(&cur));
    ck_assert(vl_history_learned_bps(h, 1, 0, &bps));
    ck_assert(bps == 23907532.8);

    neg = vl_history_record_from_line(v2_load, strlen(v2_load), &error);
    ck_assert_ptr_null(neg);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
}
END_TEST

START_TEST(test_append_and_load)
{
    TmpHistory t = tmp_history();
    g_autoptr(VlHistory) h = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    struct stat st;
    guint i;

    for (i = 0; i < 3; i++) {
        g_autoptr(VlHistoryRecord) r =
            sample_record(100 + i, "dom; rm -rf /", i + 1, 1e7 * (i + 1));

        /* three runs, not one recorded thrice (test_same_run_merged) */
        r->processed_bytes += i * 4096;
        ck_assert(vl_history_append(t.path, r, 0, &error));
    }
    ck_assert_int_eq(stat(t.path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert(g_file_get_contents(t.path, &text, NULL, NULL));
    ck_assert(g_str_has_suffix(text, "}\n"));

    h = vl_history_load(t.path, &error);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->records->len, 3);
    ck_assert_uint_eq(h->bad_lines, 0);
    for (i = 0; i < 3; i++) {
        VlHistoryRecord *r = g_ptr_array_index(h->records, i);

        ck_assert_int_eq(r->time, 100 + i);
        ck_assert_str_eq(r->domain, "dom; rm -rf /");
    }
    tmp_history_clear(&t);
}
END_TEST

START_TEST(test_rotation)
{
    TmpHistory t = tmp_history();
    g_autoptr(VlHistory) h = NULL;
    g_autofree char *old = g_strconcat(t.path, ".1", NULL);
    g_autofree char *line = NULL;
    gsize max;
    guint i;

    {
        g_autoptr(VlHistoryRecord) r = sample_record(0, "d", 1, 1e7);

        line = vl_history_record_to_line(r, NULL);
    }
    /* room for two lines per file */
    max = 2 * (strlen(line) + 1) + 10;
    for (i = 1; i <= 5; i++) {
        g_autoptr(VlHistoryRecord) r = sample_record(i, "d", 1, 1e7);

        r->processed_bytes += i * 4096;
        ck_assert(vl_history_append(t.path, r, max, NULL));
        ck_assert(file_size(t.path) <= max);
    }
    /* [1,2] -> rotated; [3,4] -> rotated over it; [5] */
    h = vl_history_load(t.path, NULL);
    ck_assert_uint_eq(h->records->len, 3);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(((VlHistoryRecord *)g_ptr_array_index(h->records, i))->time,
                         3 + i);
    ck_assert(file_size(old) > 0 && file_size(old) <= max);
    tmp_history_clear(&t);
}
END_TEST

START_TEST(test_corrupt_lines)
{
    TmpHistory t = tmp_history();
    g_autoptr(VlHistory) h = NULL;
    g_autoptr(VlHistory) h2 = NULL;
    g_autoptr(VlHistoryRecord) r = sample_record(12, "after-crash", 1, 2e7);
    VlHistoryRecord *b;

    ck_assert(g_file_set_contents(t.path, mixed_file, -1, NULL));
    h = vl_history_load(t.path, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->records->len, 3);
    /* every non-empty line but three: 11 bad */
    ck_assert_uint_eq(h->bad_lines, 11);
    ck_assert_str_eq(((VlHistoryRecord *)g_ptr_array_index(h->records, 0))->domain, "a");
    b = g_ptr_array_index(h->records, 1);
    ck_assert_str_eq(b->domain, "b");
    ck_assert(b->predicted_time_s == 37);       /* unknown key ignored */
    ck_assert_str_eq(((VlHistoryRecord *)g_ptr_array_index(h->records, 2))->domain, "c");

    /* appending after the torn line ends it first: only it stays lost */
    ck_assert(vl_history_append(t.path, r, 0, NULL));
    h2 = vl_history_load(t.path, NULL);
    ck_assert_uint_eq(h2->records->len, 4);
    ck_assert_uint_eq(h2->bad_lines, 11);
    ck_assert_str_eq(((VlHistoryRecord *)g_ptr_array_index(h2->records, 3))->domain,
                     "after-crash");
    tmp_history_clear(&t);
}
END_TEST

START_TEST(test_bad_records)
{
    TmpHistory t = tmp_history();
    g_autoptr(VlHistoryRecord) seed = sample_record(1, "ok", 1, 1e7);
    struct {
        const char *field;
        const char *domain;
        double total;
        double bps;
        guint lanes;
        guint channels;
        double predicted;
        double load1;
    } bad[] = {
        { "'domain'", NULL, 1, 1, 1, 0, NAN, NAN },
        { "'domain'", "", 1, 1, 1, 0, NAN, NAN },
        { "'domain'", "bad-\xff-utf8", 1, 1, 1, 0, NAN, NAN },
        { "'total_time_s'", "d", NAN, 1, 1, 0, NAN, NAN },
        { "'total_time_s'", "d", -1, 1, 1, 0, NAN, NAN },
        { "'memory_bps'", "d", 1, INFINITY, 1, 0, NAN, NAN },
        { "'lanes'", "d", 1, 1, 65, 0, NAN, NAN },
        /* "unknown" is for version 1 lines read back, never written */
        { "'lanes'", "d", 1, 1, VL_HISTORY_LANES_UNKNOWN, 0, NAN, NAN },
        { "'channels'", "d", 1, 1, 1, 256, NAN, NAN },
        { "'predicted_time_s'", "d", 1, 1, 1, 0, -3, NAN },
        { "'load1'", "d", 1, 1, 1, 0, NAN, -0.5 },
        { "'load1'", "d", 1, 1, 1, 0, NAN, INFINITY },
        { "'load1'", "d", 1, 1, 1, 0, NAN, 10001 },
    };
    g_autofree char *long_name = g_strnfill(2000, 'x');
    guint i;

    ck_assert(vl_history_append(t.path, seed, 0, NULL));
    for (i = 0; i <= G_N_ELEMENTS(bad); i++) {
        g_autoptr(VlHistoryRecord) r = sample_record(2, "d", 1, 1e7);
        g_autoptr(GError) error = NULL;
        gsize before = file_size(t.path);
        const char *field = "'domain'";

        g_free(r->domain);
        if (i < G_N_ELEMENTS(bad)) {
            r->domain = g_strdup(bad[i].domain);
            r->total_time_s = bad[i].total;
            r->memory_bps = bad[i].bps;
            r->lanes = bad[i].lanes;
            r->channels = bad[i].channels;
            r->predicted_time_s = bad[i].predicted;
            r->load1 = bad[i].load1;
            field = bad[i].field;
        } else {
            r->domain = g_strdup(long_name);
        }
        ck_assert_msg(!vl_history_append(t.path, r, 0, &error), "case %u", i);
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        ck_assert_msg(strstr(error->message, field), "case %u: '%s'", i,
                      error->message);
        ck_assert_uint_eq(file_size(t.path), before);
    }
    tmp_history_clear(&t);
}
END_TEST

START_TEST(test_bad_paths)
{
    TmpHistory t = tmp_history();
    g_autofree char *target = g_build_filename(t.dir, "target", NULL);
    g_autofree char *link = g_build_filename(t.dir, "link", NULL);
    g_autoptr(VlHistoryRecord) r = sample_record(1, "d", 1, 1e7);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlHistory) empty = NULL;
    VlHistory *h;

    /* a symlink is not followed: nothing lands in its target */
    ck_assert(g_file_set_contents(target, "", 0, NULL));
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert(!vl_history_append(link, r, 0, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert(strstr(error->message, link));
    ck_assert_uint_eq(file_size(target), 0);
    g_clear_error(&error);
    h = vl_history_load(link, &error);
    ck_assert_ptr_null(h);
    g_clear_error(&error);

    /* a directory is not a history file */
    ck_assert(!vl_history_append(t.dir, r, 0, &error));
    g_clear_error(&error);
    ck_assert_ptr_null(vl_history_load(t.dir, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    g_clear_error(&error);

    /* a missing one is an empty history */
    empty = vl_history_load(t.path, &error);
    ck_assert_ptr_nonnull(empty);
    ck_assert_uint_eq(empty->records->len, 0);
    ck_assert_uint_eq(empty->bad_lines, 0);
    tmp_history_clear(&t);
}
END_TEST

/* What a job took beyond its bytes: total - processed / rate. */
START_TEST(test_learned_job_overhead)
{
    /* sample_record(): 894435328 bytes in 38.8 s; at these rates the
     * bytes alone take 35.3, 37.0 and 38.3 s. */
    static const double mib_s[] = { 24.15, 23.05, 22.26 };
    g_autoptr(VlHistory) h = vl_history_new();
    VlHistoryRecord *r;
    double o = -1;
    guint i;

    ck_assert(!vl_history_learned_job_overhead(h, 0, &o));
    ck_assert(o == -1);

    /* A line without a rate says nothing of the setup. */
    r = sample_record(1, "d", 0, 0);
    g_ptr_array_add(h->records, r);
    ck_assert(!vl_history_learned_job_overhead(h, 0, &o));

    for (i = 0; i < G_N_ELEMENTS(mib_s); i++)
        g_ptr_array_add(h->records, sample_record(2 + i, "d", 0, mib_s[i] * MIB));
    ck_assert(vl_history_learned_job_overhead(h, 0, &o));
    /* the median of 3.48, 1.79 and 0.48 s */
    ck_assert_double_eq_tol(o, 38.8 - 894435328 / (23.05 * MIB), 1e-9);
    ck_assert_double_eq_tol(o, 1.79, 0.01);

    /* A rate below what the bytes and the time need gives a negative
     * overhead: ignored. */
    g_ptr_array_add(h->records, sample_record(9, "d", 2, 10 * MIB));
    ck_assert(vl_history_learned_job_overhead(h, 0, &o));
    ck_assert_double_eq_tol(o, 1.79, 0.01);

    /* Only the most recent runs count. */
    ck_assert(vl_history_learned_job_overhead(h, 1, &o));
    ck_assert_double_eq_tol(o, 38.8 - 894435328 / (22.26 * MIB), 1e-9);
}
END_TEST

START_TEST(test_learned_bps)
{
    /* memory_bps of the lab's runs, lab-recipe.md (MiB/s) */
    static const struct {
        guint lanes;
        double mib_s;
    } runs[] = {
        { 1, 10.0 },    /* an old, slow run: out of the recent window */
        { 1, 22.8 }, { 2, 43.5 }, { 3, 60.6 }, { 3, 64.4 }, { 1, 22.6 },
        { 3, 61.6 }, { 1, 23.5 }, { 3, 63.3 },
    };
    g_autoptr(VlHistory) h = vl_history_new();
    double bps = -1;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(runs); i++)
        g_ptr_array_add(h->records, sample_record(i, "d", runs[i].lanes,
                                                  runs[i].mib_s * MIB));

    ck_assert(vl_history_learned_bps(h, 1, 3, &bps));
    ck_assert(fabs(bps - 22.8 * MIB) < 1);          /* median of 3 */
    ck_assert(vl_history_learned_bps(h, 1, 0, &bps));
    ck_assert(fabs(bps - 22.7 * MIB) < 1);          /* of 4: (22.6+22.8)/2 */
    ck_assert(vl_history_learned_bps(h, 3, 10, &bps));
    ck_assert(fabs(bps - (61.6 + 63.3) / 2 * MIB) < 1);
    ck_assert(vl_history_learned_bps(h, 2, 10, &bps));
    ck_assert(fabs(bps - 43.5 * MIB) < 1);
    bps = -1;
    ck_assert(!vl_history_learned_bps(h, 5, 10, &bps));
    ck_assert(bps == -1);
}
END_TEST

START_TEST(test_prediction_error)
{
    static const double predicted[] = { NAN, 44, 40, 48, 42 };  /* actual 40 */
    g_autoptr(VlHistory) h = vl_history_new();
    double mape = 0;
    double p90 = 0;
    guint n = 0;
    guint i;

    ck_assert(!vl_history_prediction_error(h, 0, &mape, &p90, &n));
    for (i = 0; i < G_N_ELEMENTS(predicted); i++) {
        VlHistoryRecord *r = sample_record(i, "d", 1, 1e7);

        r->total_time_s = 40;
        r->predicted_time_s = predicted[i];
        g_ptr_array_add(h->records, r);
    }
    /* errors 0.1, 0, 0.2, 0.05: mean 0.0875, 90th percentile 0.2 */
    ck_assert(vl_history_prediction_error(h, 0, &mape, &p90, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert(fabs(mape - 0.0875) < 1e-12);
    ck_assert(fabs(p90 - 0.2) < 1e-12);
    /* the two most recent: 0.2 and 0.05 */
    ck_assert(vl_history_prediction_error(h, 2, &mape, &p90, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert(fabs(mape - 0.125) < 1e-12);
}
END_TEST

static Suite *
history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc;

    tc = tcase_create("line");
    tcase_add_test(tc, test_golden_line);
    tcase_add_test(tc, test_no_prediction);
    tcase_add_test(tc, test_move_overhead_key);
    tcase_add_test(tc, test_version_1_lanes);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_test(tc, test_append_and_load);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_corrupt_lines);
    tcase_add_test(tc, test_bad_records);
    tcase_add_test(tc, test_bad_paths);
    suite_add_tcase(s, tc);

    tc = tcase_create("learning");
    tcase_add_test(tc, test_learned_bps);
    tcase_add_test(tc, test_learned_job_overhead);
    tcase_add_test(tc, test_learned_overhead);
    tcase_add_test(tc, test_same_run_merged);
    tcase_add_test(tc, test_prediction_error);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return vl_test_run_suite(history_suite());
}
