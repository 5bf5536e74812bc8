/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-dirtyrate.c: dirty-rate stats parsing and the f(t) sampler
 *
 * The parser is fed hand-built virTypedParameter arrays shaped like
 * libvirt 9.0's "dirtyrate.*" stats; the libvirt calls are checked only
 * for their error paths against test:///default, which implements
 * neither the measurement nor the stats group.
 */
#include <config.h>

#include <libvirt/virterror.h>
#include <math.h>
#include <string.h>

#include "dirtyrate.h"
#include "test-util.h"
#include "vl-virt-autoptr.h"

#define MIB (1048576.0)

static void
set_field(virTypedParameter *p, const char *name)
{
    memset(p, 0, sizeof(*p));
    g_strlcpy(p->field, name, sizeof(p->field));
}

static virTypedParameter
p_int(const char *name, int v)
{
    virTypedParameter p;

    set_field(&p, name);
    p.type = VIR_TYPED_PARAM_INT;
    p.value.i = v;
    return p;
}

static virTypedParameter
p_llong(const char *name, long long v)
{
    virTypedParameter p;

    set_field(&p, name);
    p.type = VIR_TYPED_PARAM_LLONG;
    p.value.l = v;
    return p;
}

static virTypedParameter
p_ullong(const char *name, unsigned long long v)
{
    virTypedParameter p;

    set_field(&p, name);
    p.type = VIR_TYPED_PARAM_ULLONG;
    p.value.ul = v;
    return p;
}

static virTypedParameter
p_string(const char *name, const char *v)
{
    virTypedParameter p;

    set_field(&p, name);
    p.type = VIR_TYPED_PARAM_STRING;
    p.value.s = (char *)v;
    return p;
}

static virTypedParameter
p_double(const char *name, double v)
{
    virTypedParameter p;

    set_field(&p, name);
    p.type = VIR_TYPED_PARAM_DOUBLE;
    p.value.d = v;
    return p;
}

START_TEST(test_parse_measured)
{
    /* what `virsh domstats --dirtyrate` showed in the lab, plus fields of
     * other groups that share the record */
    virTypedParameter params[] = {
        p_int("state.state", 1),
        p_int("dirtyrate.calc_status", 2),
        p_llong("dirtyrate.calc_start_time", 348414),
        p_int("dirtyrate.calc_period", 5),
        p_string("dirtyrate.calc_mode", "page-sampling"),
        p_llong("dirtyrate.megabytes_per_second", 22),
        p_llong("dirtyrate.vcpu.0.megabytes_per_second", 11),
    };
    VlDirtyRateSample s;
    g_autoptr(GError) error = NULL;

    ck_assert(vl_dirtyrate_parse(params, G_N_ELEMENTS(params), &s, &error));
    ck_assert_int_eq(s.status, VL_DIRTYRATE_MEASURED);
    ck_assert_int_eq(s.mode, VL_DIRTYRATE_MODE_PAGE_SAMPLING);
    ck_assert_int_eq(s.start_time, 348414);
    ck_assert_int_eq(s.period_s, 5);
    ck_assert(s.has_rate);
    ck_assert(s.bytes_per_second == 22 * MIB);
}
END_TEST

START_TEST(test_parse_types_and_states)
{
    /* any integer type will do; dirty-ring mode; a measurement running */
    virTypedParameter measured[] = {
        p_ullong("dirtyrate.calc_status", 2),
        p_ullong("dirtyrate.calc_period", 1),
        p_ullong("dirtyrate.megabytes_per_second", 0),
        p_string("dirtyrate.calc_mode", "dirty-ring"),
    };
    virTypedParameter measuring[] = {
        p_int("dirtyrate.calc_status", 1),
        p_int("dirtyrate.calc_period", 10),
        p_llong("dirtyrate.megabytes_per_second", 40),  /* stale */
    };
    virTypedParameter unstarted[] = {
        p_int("dirtyrate.calc_status", 0),
        p_int("dirtyrate.calc_period", 0),
    };
    VlDirtyRateSample s;

    ck_assert(vl_dirtyrate_parse(measured, G_N_ELEMENTS(measured), &s, NULL));
    ck_assert_int_eq(s.mode, VL_DIRTYRATE_MODE_DIRTY_RING);
    ck_assert(s.has_rate && s.bytes_per_second == 0);

    ck_assert(vl_dirtyrate_parse(measuring, G_N_ELEMENTS(measuring), &s, NULL));
    ck_assert_int_eq(s.status, VL_DIRTYRATE_MEASURING);
    ck_assert(!s.has_rate && isnan(s.bytes_per_second));

    ck_assert(vl_dirtyrate_parse(unstarted, G_N_ELEMENTS(unstarted), &s, NULL));
    ck_assert_int_eq(s.status, VL_DIRTYRATE_UNSTARTED);
    ck_assert(!s.has_rate);
}
END_TEST

typedef struct {
    const char *needle;
    virTypedParameter params[4];
    int n;
} BadRecord;

START_TEST(test_parse_bad)
{
    static const char nonutf8[] = "quantum-\xff";
    BadRecord bad[] = {
        { "'dirtyrate.calc_status'", { p_int("cpu.time", 1) }, 1 },
        { "'dirtyrate.calc_status'", { p_int("dirtyrate.calc_status", 3) }, 1 },
        { "'dirtyrate.calc_status'", { p_int("dirtyrate.calc_status", -1) }, 1 },
        { "'dirtyrate.calc_status'", { p_string("dirtyrate.calc_status", "2") }, 1 },
        { "'dirtyrate.calc_status'", { p_double("dirtyrate.calc_status", 2) }, 1 },
        { "'dirtyrate.megabytes_per_second'",
          { p_int("dirtyrate.calc_status", 2), p_int("dirtyrate.calc_period", 1) }, 2 },
        { "'dirtyrate.calc_period'",
          { p_int("dirtyrate.calc_status", 2), p_int("dirtyrate.calc_period", 0),
            p_llong("dirtyrate.megabytes_per_second", 3) }, 3 },
        { "'dirtyrate.megabytes_per_second'",
          { p_int("dirtyrate.calc_status", 2), p_int("dirtyrate.calc_period", 1),
            p_llong("dirtyrate.megabytes_per_second", -3) }, 3 },
        { "'dirtyrate.megabytes_per_second'",
          { p_int("dirtyrate.calc_status", 2), p_int("dirtyrate.calc_period", 1),
            p_ullong("dirtyrate.megabytes_per_second", G_MAXUINT64) }, 3 },
        { "'dirtyrate.calc_period'",
          { p_int("dirtyrate.calc_status", 1), p_int("dirtyrate.calc_period", -5) }, 2 },
        { "'dirtyrate.calc_mode'",
          { p_int("dirtyrate.calc_status", 0), p_string("dirtyrate.calc_mode", nonutf8) }, 2 },
        { "'dirtyrate.calc_mode'",
          { p_int("dirtyrate.calc_status", 0), p_int("dirtyrate.calc_mode", 1) }, 2 },
        { "'dirtyrate.calc_mode'",
          { p_int("dirtyrate.calc_status", 0), p_string("dirtyrate.calc_mode", NULL) }, 2 },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        VlDirtyRateSample s;
        VlDirtyRateSample before;

        memset(&s, 0x5a, sizeof(s));
        before = s;
        ck_assert_msg(!vl_dirtyrate_parse(bad[i].params, bad[i].n, &s, &error),
                      "case %u parsed", i);
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        ck_assert_msg(strstr(error->message, bad[i].needle), "case %u: '%s'",
                      i, error->message);
        ck_assert(g_utf8_validate(error->message, -1, NULL));
        ck_assert(memcmp(&s, &before, sizeof(s)) == 0);
    }
}
END_TEST

START_TEST(test_parse_unterminated)
{
    virTypedParameter p = p_int("dirtyrate.calc_status", 2);
    g_autoptr(GError) error = NULL;
    VlDirtyRateSample s;

    memset(p.field, 'x', sizeof(p.field));
    ck_assert(!vl_dirtyrate_parse(&p, 1, &s, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    ck_assert(!vl_dirtyrate_parse(NULL, 0, &s, &error));    /* no fields */
}
END_TEST

static VlDirtyRateSample
measured(int period, double mib_s, gint64 start)
{
    VlDirtyRateSample s = {
        .status = VL_DIRTYRATE_MEASURED,
        .mode = VL_DIRTYRATE_MODE_PAGE_SAMPLING,
        .start_time = start,
        .period_s = period,
        .has_rate = TRUE,
        .bytes_per_second = mib_s * MIB,
    };

    return s;
}

START_TEST(test_sampler_lab_table)
{
    /* lab-recipe.md, "Dirty-rate measurement": a guest dirtying 10 MiB/s
     * measured 12, 6 and 10 MiB/s over 1, 5 and 10 s; one dirtying
     * 20 MiB/s measured 18, 22 and 16 */
    static const struct {
        double at1, at5, at10;
        double f1, f5, f10;
    } rows[] = {
        { 12, 6, 10, 12, 30, 100 },
        { 18, 22, 16, 18, 110, 160 },
        { 0, 4, 4, 0, 20, 40 },
    };
    guint r;

    for (r = 0; r < G_N_ELEMENTS(rows); r++) {
        g_autoptr(VlDirtyRateSampler) s = vl_dirtyrate_sampler_new(NULL, 0, NULL);
        VlDirtyRateSample m1 = measured(1, rows[r].at1, 100);
        VlDirtyRateSample m5 = measured(5, rows[r].at5, 200);
        VlDirtyRateSample m10 = measured(10, rows[r].at10, 300);
        VlEstimateDirtySample f[4];

        ck_assert_uint_eq(vl_dirtyrate_sampler_get_curve(s, f, 4), 0);
        ck_assert(vl_dirtyrate_sampler_add(s, &m10, NULL));
        ck_assert(vl_dirtyrate_sampler_add(s, &m1, NULL));
        ck_assert(vl_dirtyrate_sampler_add(s, &m5, NULL));
        ck_assert_uint_eq(vl_dirtyrate_sampler_get_curve(s, f, 4), 3);
        ck_assert(f[0].seconds == 1 && f[1].seconds == 5 && f[2].seconds == 10);
        ck_assert(fabs(f[0].bytes - rows[r].f1 * MIB) < 1);
        ck_assert(fabs(f[1].bytes - rows[r].f5 * MIB) < 1);
        ck_assert(fabs(f[2].bytes - rows[r].f10 * MIB) < 1);
    }
}
END_TEST

START_TEST(test_sampler_median_and_monotone)
{
    g_autoptr(VlDirtyRateSampler) s = vl_dirtyrate_sampler_new(NULL, 0, NULL);
    VlEstimateDirtySample f[3];
    VlEstimateInput in;
    double lane = 25e6;
    gint64 start = 0;
    VlDirtyRateSample m;

    /* 5 s: 8, 10 and 30 MiB/s -> median 10 -> f(5) = 50 MiB;
     * 10 s: 4 MiB/s -> f(10) = 40 MiB, below f(5): pooled, weighted
     * 3 : 1, to (3 x 50 + 40) / 4 = 47.5 MiB */
    m = measured(5, 8, ++start);
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    m = measured(5, 30, ++start);
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    m = measured(5, 10, ++start);
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    /* the same result polled again counts once */
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    m = measured(10, 4, ++start);
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    m = measured(1, 12, ++start);
    ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));

    ck_assert_uint_eq(vl_dirtyrate_sampler_get_curve(s, f, 3), 3);
    ck_assert(fabs(f[0].bytes - 12 * MIB) < 1);
    ck_assert(fabs(f[1].bytes - 47.5 * MIB) < 1);
    ck_assert(fabs(f[2].bytes - 47.5 * MIB) < 1);
    /* a short buffer gets the first points only */
    ck_assert_uint_eq(vl_dirtyrate_sampler_get_curve(s, f, 2), 2);

    /* the curve is valid model input */
    vl_estimate_input_init(&in);
    in.memory_bytes = 1073741824;
    in.lane_bps = &lane;
    in.n_lanes = 1;
    in.dirty_samples = f;
    in.n_dirty_samples = vl_dirtyrate_sampler_get_curve(s, f, 3);
    ck_assert(vl_estimate_check(&in, NULL));
}
END_TEST

START_TEST(test_sampler_keeps_recent)
{
    /* only the last VL_DIRTYRATE_KEEP measurements of a period count */
    g_autoptr(VlDirtyRateSampler) s = vl_dirtyrate_sampler_new(NULL, 0, NULL);
    VlEstimateDirtySample f[1];
    gint64 i;

    for (i = 0; i < 20; i++) {
        VlDirtyRateSample m = measured(5, i < 12 ? 100 : 2, i);

        ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    }
    ck_assert_uint_eq(vl_dirtyrate_sampler_get_curve(s, f, 1), 1);
    ck_assert(fabs(f[0].bytes - 10 * MIB) < 1);
}
END_TEST

START_TEST(test_sampler_bad)
{
    static const int bad_periods[][2] = { { 0, 5 }, { 61, 5 }, { 5, 5 }, { 1, -1 } };
    int many[17];
    g_autoptr(VlDirtyRateSampler) s = NULL;
    VlDirtyRateSample m;
    g_autoptr(GError) error = NULL;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad_periods); i++) {
        ck_assert_ptr_null(vl_dirtyrate_sampler_new(bad_periods[i], 2, &error));
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        g_clear_error(&error);
    }
    for (i = 0; i < G_N_ELEMENTS(many); i++)
        many[i] = i + 1;
    ck_assert_ptr_null(vl_dirtyrate_sampler_new(many, 17, &error));
    g_clear_error(&error);

    s = vl_dirtyrate_sampler_new((const int[]){ 10, 2 }, 2, NULL);
    ck_assert_int_eq(vl_dirtyrate_sampler_next_period(s), 2);
    ck_assert_int_eq(vl_dirtyrate_sampler_next_period(s), 10);
    ck_assert_int_eq(vl_dirtyrate_sampler_next_period(s), 2);

    m = measured(5, 3, 1);
    m.status = VL_DIRTYRATE_MEASURING;
    ck_assert(!vl_dirtyrate_sampler_add(s, &m, &error));
    g_clear_error(&error);
    m = measured(5, NAN, 1);
    ck_assert(!vl_dirtyrate_sampler_add(s, &m, &error));
    g_clear_error(&error);
    m = measured(0, 3, 1);
    ck_assert(!vl_dirtyrate_sampler_add(s, &m, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    /* 16 distinct periods at most */
    for (i = 1; i <= 16; i++) {
        m = measured(i, 3, i);
        ck_assert(vl_dirtyrate_sampler_add(s, &m, NULL));
    }
    m = measured(17, 3, 17);
    ck_assert(!vl_dirtyrate_sampler_add(s, &m, &error));
}
END_TEST

static void
quiet(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}

START_TEST(test_libvirt_errors)
{
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(GError) error = NULL;
    VlDirtyRateSample s;

    virSetErrorFunc(NULL, quiet);
    conn = virConnectOpen("test:///default");
    ck_assert_ptr_nonnull(conn);
    dom = virDomainLookupByName(conn, "test");
    ck_assert_ptr_nonnull(dom);

    /* out of range: refused before libvirt is asked */
    ck_assert(!vl_dirtyrate_start(dom, 0, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    ck_assert(!vl_dirtyrate_start(dom, 61, &error));
    g_clear_error(&error);

    /* the test driver cannot measure: libvirt's reason comes through */
    ck_assert(!vl_dirtyrate_start(dom, 1, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_LIBVIRT));
    ck_assert_msg(strstr(error->message, "'test'") &&
                  strstr(error->message, "not supported"), "'%s'",
                  error->message);
    g_clear_error(&error);

    /* ... and has no dirtyrate stats group: an empty record */
    memset(&s, 0, sizeof(s));
    ck_assert(!vl_dirtyrate_query(dom, &s, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_msg(strstr(error->message, "Domain 'test'") &&
                  strstr(error->message, "'dirtyrate.calc_status'"), "'%s'",
                  error->message);
}
END_TEST

static Suite *
dirtyrate_suite(void)
{
    Suite *s = suite_create("dirtyrate");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_measured);
    tcase_add_test(tc, test_parse_types_and_states);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_parse_unterminated);
    suite_add_tcase(s, tc);

    tc = tcase_create("sampler");
    tcase_add_test(tc, test_sampler_lab_table);
    tcase_add_test(tc, test_sampler_median_and_monotone);
    tcase_add_test(tc, test_sampler_keeps_recent);
    tcase_add_test(tc, test_sampler_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("libvirt");
    tcase_add_test(tc, test_libvirt_errors);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return vl_test_run_suite(dirtyrate_suite());
}
