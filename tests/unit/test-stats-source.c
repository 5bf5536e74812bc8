/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The statistics sources: the replay of a recording (parser, replay,
 * extrapolation, bad input) and the ops-table plumbing.
 */
#include <config.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "stats-source.h"
#include "test-util.h"
#include "vl-error.h"

static VlStatsSource *
replay(const char *text, GError **error)
{
    return vl_stats_source_new_replay_data("rec", text, strlen(text), error);
}

static const VlDomainStats *
find(VlStatsBatch *batch, const char *name)
{
    guint i;

    for (i = 0; i < batch->stats->len; i++) {
        const VlDomainStats *s = &g_array_index(batch->stats, VlDomainStats, i);

        if (g_str_equal(s->name, name))
            return s;
    }
    ck_abort_msg("no record of '%s'", name);
    return NULL;
}

static const char two_samples[] =
    "# a recording\n"
    "@sample 0\n"
    "Domain: 'web 1; \"x\"'\n"
    "  state.state=1\n"
    "  cpu.time=1000000000\n"
    "  vcpu.current=2\n"
    "  net.count=1\n"
    "  net.0.rx.bytes=500\n"
    "  net.0.tx.bytes=700\n"
    "Domain: 'web-2'\n"
    "  state.state=1\n"
    "  cpu.time=5\n"
    "\n"
    "@sample 10.5\n"
    "Domain: 'web 1; \"x\"'\n"
    "  state.state=1\n"
    "  cpu.time=4000000000\n"
    "  vcpu.current=2\n"
    "  net.count=1\n"
    "  net.0.rx.bytes=400\n"
    "  net.0.tx.bytes=1700\n"
    "  vcpu.0.name=a string\n";

START_TEST(test_replay_in_order)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay(two_samples, &error);
    g_autoptr(VlStatsBatch) first = NULL;
    g_autoptr(VlStatsBatch) second = NULL;
    const VlDomainStats *s;

    ck_assert_msg(source != NULL, "%s", error ? error->message : "");
    ck_assert(!vl_stats_source_needs_connection(source));
    ck_assert_str_eq(vl_stats_source_get_description(source), "replay of 'rec'");

    first = vl_stats_source_collect(source, NULL, &error);
    ck_assert_ptr_nonnull(first);
    ck_assert_uint_eq(first->stats->len, 2);
    s = find(first, "web 1; \"x\"");
    ck_assert_int_eq(s->timestamp_ns, 0);
    ck_assert_int_eq(s->id, -1);
    ck_assert_int_eq(s->state, 1);
    ck_assert_uint_eq(s->cpu_time_ns, 1000000000);
    ck_assert_uint_eq(s->vcpus, 2);
    ck_assert_uint_eq(s->net_rx_bytes, 500);
    ck_assert_uint_eq(s->net_tx_bytes, 700);
    s = find(first, "web-2");
    ck_assert_uint_eq(s->cpu_time_ns, 5);
    ck_assert(!(s->have & VL_DOMAIN_STATS_HAVE_VCPUS));

    second = vl_stats_source_collect(source, NULL, &error);
    ck_assert_uint_eq(second->stats->len, 1);
    s = find(second, "web 1; \"x\"");
    ck_assert_int_eq(s->timestamp_ns, 10500000000);
    ck_assert_uint_eq(s->cpu_time_ns, 4000000000);
    ck_assert_uint_eq(s->net_rx_bytes, 400);
}
END_TEST

/* Beyond the recording, every counter keeps its last step; what shrank
 * or is not a number stays. */
START_TEST(test_replay_extrapolates)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay(two_samples, &error);
    guint k;

    ck_assert_ptr_nonnull(source);
    for (k = 0; k < 2; k++)
        vl_stats_batch_free(vl_stats_source_collect(source, NULL, &error));
    for (k = 1; k <= 3; k++) {
        g_autoptr(VlStatsBatch) batch = vl_stats_source_collect(source, NULL,
                                                                &error);
        const VlDomainStats *s = find(batch, "web 1; \"x\"");

        ck_assert_uint_eq(batch->stats->len, 1);
        ck_assert_int_eq(s->timestamp_ns, 10500000000 + (gint64)k * 10500000000);
        ck_assert_uint_eq(s->cpu_time_ns, 4000000000 + k * 3000000000ULL);
        ck_assert_uint_eq(s->net_tx_bytes, 1700 + k * 1000);
        ck_assert_uint_eq(s->net_rx_bytes, 400);       /* went down: stays */
        ck_assert_uint_eq(s->vcpus, 2);                /* unchanged */
        ck_assert_int_eq(s->state, 1);
    }
}
END_TEST

START_TEST(test_replay_one_sample)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = NULL;
    guint k;

    source = replay("@sample 7\nDomain: 'a'\ncpu.time=9\nballoon.rss=-3\n",
                    &error);
    ck_assert_msg(source != NULL, "%s", error ? error->message : "");
    for (k = 0; k < 3; k++) {
        g_autoptr(VlStatsBatch) batch = vl_stats_source_collect(source, NULL,
                                                                &error);
        const VlDomainStats *s = find(batch, "a");

        ck_assert_int_eq(s->timestamp_ns, (7 + (gint64)k) * 1000000000);
        ck_assert_uint_eq(s->cpu_time_ns, 9);
        /* A negative counter is recorded as such, and so not counted. */
        ck_assert(!(s->have & VL_DOMAIN_STATS_HAVE_BALLOON_RSS));
    }
}
END_TEST

START_TEST(test_replay_empty_samples)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay("@sample 0\n@sample 1\n", &error);
    g_autoptr(VlStatsBatch) batch = NULL;

    ck_assert_ptr_nonnull(source);
    batch = vl_stats_source_collect(source, NULL, &error);
    ck_assert_uint_eq(batch->stats->len, 0);
}
END_TEST

/* The host's record: counters at each sample, extrapolated beyond. */
START_TEST(test_replay_host)
{
    static const char text[] =
        "@sample 0\n"
        "Domain: 'a'\n"
        "  state.state=1\n"
        "Host:\n"
        "  cpu.kernel=1000\n"
        "  cpu.user=3000\n"
        "  cpu.idle=6000\n"
        "  memory.total=1000\n"
        "  memory.free=600\n"
        "@sample 10\n"
        "Host:\n"
        "  cpu.kernel=2000\n"
        "  cpu.user=10000\n"
        "  cpu.idle=8000\n"
        "  cpu.iowait=0\n"
        "  memory.total=1000\n"
        "  memory.free=100\n"
        "  memory.cached=50\n"
        "Domain: 'a'\n"
        "  state.state=1\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay(text, &error);
    g_autoptr(VlStatsBatch) b0 = NULL;
    g_autoptr(VlStatsBatch) b1 = NULL;
    g_autoptr(VlStatsBatch) b2 = NULL;

    ck_assert_msg(source != NULL, "%s", error ? error->message : "");
    b0 = vl_stats_source_collect(source, NULL, &error);
    b1 = vl_stats_source_collect(source, NULL, &error);
    b2 = vl_stats_source_collect(source, NULL, &error);

    ck_assert(b0->host.cpu_known);
    ck_assert_uint_eq(b0->host.cpu_busy_ns, 4000);
    ck_assert_uint_eq(b0->host.cpu_total_ns, 10000);
    ck_assert(b0->host.memory_known);
    ck_assert_uint_eq(b0->host.memory_used_kib, 400);
    ck_assert_int_eq(b0->host.timestamp_ns, 0);

    ck_assert_uint_eq(b1->host.cpu_busy_ns, 12000);
    ck_assert_uint_eq(b1->host.cpu_total_ns, 20000);
    ck_assert_uint_eq(b1->host.memory_used_kib, 850);
    ck_assert_int_eq(b1->host.timestamp_ns, 10 * G_GINT64_CONSTANT(1000000000));
    ck_assert_uint_eq(b1->stats->len, 1);

    /* Beyond: the counters go on growing as in the last interval. */
    ck_assert_uint_eq(b2->host.cpu_busy_ns, 20000);
    ck_assert_uint_eq(b2->host.cpu_total_ns, 30000);
    ck_assert_uint_eq(b2->host.memory_used_kib, 850);
    ck_assert_int_eq(b2->host.timestamp_ns, 20 * G_GINT64_CONSTANT(1000000000));
}
END_TEST

/* A recording without a Host record: the host is unknown. */
START_TEST(test_replay_no_host)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay(two_samples, &error);
    g_autoptr(VlStatsBatch) batch = NULL;

    ck_assert_ptr_nonnull(source);
    batch = vl_stats_source_collect(source, NULL, &error);
    ck_assert(!batch->host.cpu_known);
    ck_assert(!batch->host.memory_known);
}
END_TEST

typedef struct {
    const char *text;
    const char *message;
} BadCase;

static const BadCase bad_cases[] = {
    { "", "rec: Recording has no '@sample' line" },
    { "# only a comment\n\n", "rec: Recording has no '@sample' line" },
    { "Domain: 'a'\n", "rec:1: Domain before the first '@sample' line" },
    { "@sample 0\ncpu.time=1\n",
      "rec:2: Field before the first 'Domain:' line of the sample" },
    { "@sample 0\nDomain: 'a'\nDomain: 'a'\n",
      "rec:3: Domain 'a' appears twice in one sample" },
    { "@sample 0\nDomain: 'a'\ncpu.time=1\ncpu.time=2\n",
      "rec:4: Field 'cpu.time' appears twice in one record" },
    { "@sample 0\n@sample 0\n",
      "rec:2: Sample time '0' is not after the previous sample's (0)" },
    { "@sample 5\n@sample 4.5\n",
      "rec:2: Sample time '4.5' is not after the previous sample's (5)" },
    { "@sample -1\n",
      "rec:1: Sample time '-1' is not a number of seconds from 0 to 1000000000" },
    { "@sample\n",
      "rec:1: Sample time '' is not a number of seconds from 0 to 1000000000" },
    { "@sample 1s\n",
      "rec:1: Sample time '1s' is not a number of seconds from 0 to 1000000000" },
    { "@sample nan\n",
      "rec:1: Sample time 'nan' is not a number of seconds from 0 to 1000000000" },
    { "@samples 1\n",
      "rec:1: Expected '@sample SECONDS', 'Domain: 'NAME'', 'Host:' or 'FIELD=VALUE'" },
    { "@sample 0\nDomain: ''\n",
      "rec:2: A domain line must be 'Domain: 'NAME''" },
    { "@sample 0\nDomain: 'a\n",
      "rec:2: A domain line must be 'Domain: 'NAME''" },
    { "@sample 0\nDomain: 'a'\ncpu time=1\n",
      "rec:3: Field name 'cpu time' must be 1 to 79 characters among 'A-Z a-z 0-9 . _ -'" },
    { "@sample 0\nDomain: 'a'\n=1\n",
      "rec:3: Field name '' must be 1 to 79 characters among 'A-Z a-z 0-9 . _ -'" },
    { "@sample 0\nDomain: 'a'\n"
      "a234567890123456789012345678901234567890123456789012345678901234567890123456789X=1\n",
      "rec:3: Field name 'a234567890123456789012345678901234567890123456789012345678901234567890123456789X' must be 1 to 79 characters among 'A-Z a-z 0-9 . _ -'" },
    { "@sample 0\nwhat is this\n",
      "rec:2: Expected '@sample SECONDS', 'Domain: 'NAME'', 'Host:' or 'FIELD=VALUE'" },
    { "@sample 0\nDomain: 'caf\xc3'\n", "rec:2: Line is not valid UTF-8 text" },
    { "Host:\n", "rec:1: Host before the first '@sample' line" },
    { "@sample 0\nHost:\nHost:\n", "rec:3: Host appears twice in one sample" },
    { "@sample 0\nHost:\nstate.state=1\n",
      "rec:3: Host field 'state.state' must be 'cpu.NAME' or 'memory.NAME' with an unsigned integer value" },
    { "@sample 0\nHost:\ncpu.idle=-5\n",
      "rec:3: Host field 'cpu.idle' must be 'cpu.NAME' or 'memory.NAME' with an unsigned integer value" },
    { "@sample 0\nHost:\nmemory.total=lots\n",
      "rec:3: Host field 'memory.total' must be 'cpu.NAME' or 'memory.NAME' with an unsigned integer value" },
    { "@sample 0\nHost: x\n",
      "rec:2: Expected '@sample SECONDS', 'Domain: 'NAME'', 'Host:' or 'FIELD=VALUE'" },
};

START_TEST(test_replay_bad)
{
    const BadCase *c = &bad_cases[_i];
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = replay(c->text, &error);

    ck_assert_ptr_null(source);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_str_eq(error->message, c->message);
}
END_TEST

START_TEST(test_replay_nul_byte)
{
    static const char data[] = "@sample 0\nDomain: 'a\0b'\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = NULL;

    source = vl_stats_source_new_replay_data("rec", data, sizeof(data) - 1,
                                             &error);
    ck_assert_ptr_null(source);
    ck_assert_str_eq(error->message, "rec:2: Line is not valid UTF-8 text");
}
END_TEST

START_TEST(test_replay_files)
{
    g_autofree char *dir = g_dir_make_tmp("vl-stats-XXXXXX", NULL);
    g_autofree char *good = g_build_filename(dir, "good.rec", NULL);
    g_autofree char *fifo = g_build_filename(dir, "fifo.rec", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.rec", NULL);
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsSource) source = NULL;

    ck_assert(g_file_set_contents(good, two_samples, -1, NULL));
    source = vl_stats_source_new_replay(good, &error);
    ck_assert_msg(source != NULL, "%s", error ? error->message : "");
    expected = g_strdup_printf("replay of '%s'", good);
    ck_assert_str_eq(vl_stats_source_get_description(source), expected);
    g_clear_pointer(&source, vl_stats_source_unref);

    /* A FIFO must not hang the daemon. */
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    source = vl_stats_source_new_replay(fifo, &error);
    ck_assert_ptr_null(source);
    g_free(expected);
    expected = g_strdup_printf("Recording '%s' is not a regular file", fifo);
    ck_assert_str_eq(error->message, expected);
    g_clear_error(&error);

    source = vl_stats_source_new_replay(dir, &error);
    ck_assert_ptr_null(source);
    ck_assert(g_str_has_suffix(error->message, "' is not a regular file"));
    g_clear_error(&error);

    source = vl_stats_source_new_replay(missing, &error);
    ck_assert_ptr_null(source);
    g_free(expected);
    expected = g_strdup_printf("Cannot open recording '%s'", missing);
    ck_assert(g_str_has_prefix(error->message, expected));

    g_unlink(good);
    g_unlink(fifo);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_libvirt_needs_connection)
{
    g_autoptr(VlStatsSource) source = vl_stats_source_new_libvirt();
    g_autoptr(GError) error = NULL;
    g_autoptr(VlStatsBatch) batch = NULL;

    ck_assert(vl_stats_source_needs_connection(source));
    ck_assert_str_eq(vl_stats_source_get_description(source), "libvirt");
    batch = vl_stats_source_collect(source, NULL, &error);
    ck_assert_ptr_null(batch);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_LIBVIRT));
    ck_assert_str_eq(error->message, "Not connected to libvirt");
}
END_TEST

static guint freed;

static void
count_free(gpointer data)
{
    ck_assert_ptr_eq(data, &freed);
    freed++;
}

static VlStatsBatch *
empty_collect(gpointer data G_GNUC_UNUSED, virConnectPtr conn G_GNUC_UNUSED,
              GError **error G_GNUC_UNUSED)
{
    return vl_stats_batch_new();
}

START_TEST(test_refcount)
{
    static const VlStatsSourceOps ops = {
        .collect = empty_collect,
        .free = count_free,
        .needs_connection = FALSE,
    };
    VlStatsSource *source = vl_stats_source_new("fake", &ops, &freed);

    freed = 0;
    vl_stats_source_ref(source);
    vl_stats_source_unref(source);
    ck_assert_uint_eq(freed, 0);
    vl_stats_source_unref(source);
    ck_assert_uint_eq(freed, 1);
}
END_TEST

static Suite *
stats_source_suite(void)
{
    Suite *s = suite_create("stats-source");
    TCase *tc;

    tc = tcase_create("replay");
    tcase_add_test(tc, test_replay_in_order);
    tcase_add_test(tc, test_replay_extrapolates);
    tcase_add_test(tc, test_replay_one_sample);
    tcase_add_test(tc, test_replay_empty_samples);
    tcase_add_test(tc, test_replay_files);
    tcase_add_test(tc, test_replay_host);
    tcase_add_test(tc, test_replay_no_host);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_replay_bad, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_replay_nul_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("ops");
    tcase_add_test(tc, test_libvirt_needs_connection);
    tcase_add_test(tc, test_refcount);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(stats_source_suite());
}
