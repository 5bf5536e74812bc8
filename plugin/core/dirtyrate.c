/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirtyrate.c: dirty-rate measurements (see dirtyrate.h)
 */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dirtyrate.h"
#include "virt-error.h"

#define MIB (1048576.0)
#define MAX_GROUPS 16
/* 10 TiB/s: far above any memory bus; larger is garbage. */
#define MAX_MIB_PER_SECOND 10000000

typedef struct {
    int period;
    double rates[VL_DIRTYRATE_KEEP];
    guint n;
    guint next;
    gboolean have_start;
    gint64 last_start;
} VlRateGroup;

struct _VlDirtyRateSampler {
    int periods[MAX_GROUPS];
    gsize n_periods;
    gsize next_period;
    VlRateGroup groups[MAX_GROUPS];
    gsize n_groups;
};

/* --- parsing -------------------------------------------------------- */

static gboolean
param_integer(const virTypedParameter *p, gint64 *out)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        *out = p->value.i;
        return TRUE;
    case VIR_TYPED_PARAM_UINT:
        *out = p->value.ui;
        return TRUE;
    case VIR_TYPED_PARAM_LLONG:
        *out = p->value.l;
        return TRUE;
    case VIR_TYPED_PARAM_ULLONG:
        if (p->value.ul > G_MAXINT64)
            return FALSE;
        *out = (gint64)p->value.ul;
        return TRUE;
    default:
        break;
    }
    return FALSE;
}

static gboolean
get_integer(const virTypedParameter *p, gint64 min, gint64 max, gint64 *out,
            GError **error)
{
    if (!param_integer(p, out)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate stat '%s' is not an integer", p->field);
        return FALSE;
    }
    if (*out < min || *out > max) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate stat '%s' is '%" G_GINT64_FORMAT "', outside %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                    p->field, *out, min, max);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_mode(const virTypedParameter *p, VlDirtyRateMode *mode, GError **error)
{
    const char *s = p->type == VIR_TYPED_PARAM_STRING ? p->value.s : NULL;

    if (!s) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate stat '%s' is not a string", p->field);
        return FALSE;
    }
    if (g_str_equal(s, "page-sampling"))
        *mode = VL_DIRTYRATE_MODE_PAGE_SAMPLING;
    else if (g_str_equal(s, "dirty-bitmap"))
        *mode = VL_DIRTYRATE_MODE_DIRTY_BITMAP;
    else if (g_str_equal(s, "dirty-ring"))
        *mode = VL_DIRTYRATE_MODE_DIRTY_RING;
    else {
        g_autofree char *shown = g_utf8_make_valid(s, -1);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate stat '%s' has unknown mode '%s'",
                    p->field, shown);
        return FALSE;
    }
    return TRUE;
}

gboolean
vl_dirtyrate_parse(const virTypedParameter *params, int nparams,
                   VlDirtyRateSample *sample, GError **error)
{
    VlDirtyRateSample s = { 0 };
    gboolean have_status = FALSE;
    gboolean have_period = FALSE;
    gint64 v = 0;
    int i;

    g_return_val_if_fail(sample != NULL, FALSE);
    g_return_val_if_fail(params != NULL || nparams == 0, FALSE);

    s.mode = VL_DIRTYRATE_MODE_PAGE_SAMPLING;  /* before libvirt 8.1 */
    s.bytes_per_second = NAN;

    for (i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];

        if (!memchr(p->field, '\0', sizeof(p->field))) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Stats field %d has an unterminated name", i);
            return FALSE;
        }
        if (!g_str_has_prefix(p->field, "dirtyrate."))
            continue;

        if (g_str_equal(p->field, "dirtyrate.calc_status")) {
            if (!get_integer(p, VL_DIRTYRATE_UNSTARTED, VL_DIRTYRATE_MEASURED,
                             &v, error))
                return FALSE;
            s.status = (VlDirtyRateStatus)v;
            have_status = TRUE;
        } else if (g_str_equal(p->field, "dirtyrate.calc_start_time")) {
            if (!get_integer(p, G_MININT64, G_MAXINT64, &v, error))
                return FALSE;
            s.start_time = v;
        } else if (g_str_equal(p->field, "dirtyrate.calc_period")) {
            if (!get_integer(p, 0, 3600, &v, error))
                return FALSE;
            s.period_s = (int)v;
            have_period = TRUE;
        } else if (g_str_equal(p->field, "dirtyrate.megabytes_per_second")) {
            if (!get_integer(p, 0, MAX_MIB_PER_SECOND, &v, error))
                return FALSE;
            /* QEMU computes it from page counts shifted by 20: MiB/s */
            s.bytes_per_second = v * MIB;
            s.has_rate = TRUE;
        } else if (g_str_equal(p->field, "dirtyrate.calc_mode")) {
            if (!parse_mode(p, &s.mode, error))
                return FALSE;
        }
        /* dirtyrate.vcpu.N.* (dirty-ring only) is not needed */
    }

    if (!have_status) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "Stats record lacks 'dirtyrate.calc_status'");
        return FALSE;
    }
    if (s.status == VL_DIRTYRATE_MEASURED &&
        (!s.has_rate || !have_period || s.period_s < 1)) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "Stats record of a finished measurement lacks 'dirtyrate.megabytes_per_second' or a 'dirtyrate.calc_period' of at least 1");
        return FALSE;
    }
    if (s.status != VL_DIRTYRATE_MEASURED) {
        /* a rate left over from before means nothing while measuring */
        s.has_rate = FALSE;
        s.bytes_per_second = NAN;
    }

    *sample = s;
    return TRUE;
}

/* --- libvirt -------------------------------------------------------- */

gboolean
vl_dirtyrate_start(virDomainPtr dom, int seconds, GError **error)
{
    const char *name;

    g_return_val_if_fail(dom != NULL, FALSE);

    /* before the call: any libvirt call resets libvirt's last error */
    name = virDomainGetName(dom);

    if (seconds < VL_DIRTYRATE_MIN_PERIOD || seconds > VL_DIRTYRATE_MAX_PERIOD) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate period must be from %d to %d seconds, not '%d'",
                    VL_DIRTYRATE_MIN_PERIOD, VL_DIRTYRATE_MAX_PERIOD, seconds);
        return FALSE;
    }
    if (virDomainStartDirtyRateCalc(dom, seconds,
                                    VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING) < 0) {
        vl_error_set_from_virt(error,
                               "Cannot start a dirty-rate measurement of '%s'",
                               name);
        return FALSE;
    }
    return TRUE;
}

gboolean
vl_dirtyrate_query(virDomainPtr dom, VlDirtyRateSample *sample,
                   GError **error)
{
    virDomainPtr doms[] = { dom, NULL };
    virDomainStatsRecordPtr *records = NULL;
    const char *name;
    gboolean ok;
    int n;

    g_return_val_if_fail(dom != NULL, FALSE);
    g_return_val_if_fail(sample != NULL, FALSE);

    name = virDomainGetName(dom);

    n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0);
    if (n < 0) {
        vl_error_set_from_virt(error, "Cannot read dirty-rate stats of '%s'",
                               name);
        return FALSE;
    }
    if (n == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Domain '%s' returned no stats record", name);
        virDomainStatsRecordListFree(records);
        return FALSE;
    }
    ok = vl_dirtyrate_parse(records[0]->params, records[0]->nparams, sample,
                            error);
    if (!ok)
        g_prefix_error(error, "Domain '%s': ", name);
    virDomainStatsRecordListFree(records);
    return ok;
}

/* --- the sampler ---------------------------------------------------- */

static int
compare_int(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

VlDirtyRateSampler *
vl_dirtyrate_sampler_new(const int *periods, gsize n_periods, GError **error)
{
    static const int default_periods[] = { 1, 5, 10 };
    g_autoptr(VlDirtyRateSampler) s = NULL;
    gsize i;

    if (!periods) {
        periods = default_periods;
        n_periods = G_N_ELEMENTS(default_periods);
    }
    if (n_periods < 1 || n_periods > MAX_GROUPS) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate sampler needs 1 to %d periods, not '%" G_GSIZE_FORMAT "'",
                    MAX_GROUPS, n_periods);
        return NULL;
    }

    s = g_new0(VlDirtyRateSampler, 1);
    for (i = 0; i < n_periods; i++) {
        if (periods[i] < VL_DIRTYRATE_MIN_PERIOD ||
            periods[i] > VL_DIRTYRATE_MAX_PERIOD) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Dirty-rate period must be from %d to %d seconds, not '%d'",
                        VL_DIRTYRATE_MIN_PERIOD, VL_DIRTYRATE_MAX_PERIOD,
                        periods[i]);
            return NULL;
        }
        s->periods[i] = periods[i];
    }
    s->n_periods = n_periods;
    qsort(s->periods, n_periods, sizeof(int), compare_int);
    for (i = 1; i < n_periods; i++) {
        if (s->periods[i] == s->periods[i - 1]) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Dirty-rate period '%d' is listed twice",
                        s->periods[i]);
            return NULL;
        }
    }
    return g_steal_pointer(&s);
}

void
vl_dirtyrate_sampler_free(VlDirtyRateSampler *sampler)
{
    g_free(sampler);
}

int
vl_dirtyrate_sampler_next_period(VlDirtyRateSampler *sampler)
{
    int p;

    g_return_val_if_fail(sampler != NULL, VL_DIRTYRATE_MIN_PERIOD);

    p = sampler->periods[sampler->next_period];
    sampler->next_period = (sampler->next_period + 1) % sampler->n_periods;
    return p;
}

gboolean
vl_dirtyrate_sampler_add(VlDirtyRateSampler *sampler,
                         const VlDirtyRateSample *sample, GError **error)
{
    VlRateGroup *g = NULL;
    gsize i;

    g_return_val_if_fail(sampler != NULL, FALSE);
    g_return_val_if_fail(sample != NULL, FALSE);

    if (sample->status != VL_DIRTYRATE_MEASURED || !sample->has_rate ||
        !isfinite(sample->bytes_per_second) || sample->bytes_per_second < 0) {
        g_set_error_literal(error, VL_ERROR, VL_ERROR_INVALID,
                            "Dirty-rate measurement is not finished");
        return FALSE;
    }
    if (sample->period_s < VL_DIRTYRATE_MIN_PERIOD ||
        sample->period_s > VL_DIRTYRATE_MAX_PERIOD) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Dirty-rate period must be from %d to %d seconds, not '%d'",
                    VL_DIRTYRATE_MIN_PERIOD, VL_DIRTYRATE_MAX_PERIOD,
                    sample->period_s);
        return FALSE;
    }

    for (i = 0; i < sampler->n_groups; i++) {
        if (sampler->groups[i].period == sample->period_s)
            g = &sampler->groups[i];
    }
    if (!g) {
        if (sampler->n_groups == MAX_GROUPS) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "Dirty-rate sampler already holds %d periods",
                        MAX_GROUPS);
            return FALSE;
        }
        g = &sampler->groups[sampler->n_groups++];
        g->period = sample->period_s;
    }

    /* The stats keep showing the last result until the next one starts:
     * polling must not count it again. */
    if (g->have_start && g->last_start == sample->start_time)
        return TRUE;
    g->have_start = TRUE;
    g->last_start = sample->start_time;
    g->rates[g->next] = sample->bytes_per_second;
    g->next = (g->next + 1) % VL_DIRTYRATE_KEEP;
    g->n = MIN(g->n + 1, VL_DIRTYRATE_KEEP);
    return TRUE;
}

static int
compare_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static int
compare_group(gconstpointer a, gconstpointer b)
{
    return ((const VlRateGroup *)a)->period - ((const VlRateGroup *)b)->period;
}

static double
group_median(const VlRateGroup *g)
{
    double v[VL_DIRTYRATE_KEEP];

    memcpy(v, g->rates, g->n * sizeof(double));
    qsort(v, g->n, sizeof(double), compare_double);
    return g->n % 2 ? v[g->n / 2] : (v[g->n / 2 - 1] + v[g->n / 2]) / 2;
}

gsize
vl_dirtyrate_sampler_get_curve(const VlDirtyRateSampler *sampler,
                               VlEstimateDirtySample *out, gsize max)
{
    VlRateGroup groups[MAX_GROUPS];
    double value[MAX_GROUPS];
    double weight[MAX_GROUPS];
    gsize size[MAX_GROUPS];
    gsize n = 0;
    gsize blocks = 0;
    gsize i;
    gsize k;

    g_return_val_if_fail(sampler != NULL, 0);
    g_return_val_if_fail(out != NULL || max == 0, 0);

    memcpy(groups, sampler->groups, sampler->n_groups * sizeof(VlRateGroup));
    qsort(groups, sampler->n_groups, sizeof(VlRateGroup), compare_group);

    /* Pool adjacent violators: f(t) may not fall, so neighbouring points
     * that would make it fall are replaced by their weighted mean. */
    for (i = 0; i < sampler->n_groups; i++) {
        value[blocks] = group_median(&groups[i]) * groups[i].period;
        weight[blocks] = groups[i].n;
        size[blocks] = 1;
        blocks++;
        while (blocks >= 2 && value[blocks - 2] > value[blocks - 1]) {
            double w = weight[blocks - 2] + weight[blocks - 1];

            value[blocks - 2] = (value[blocks - 2] * weight[blocks - 2] +
                                 value[blocks - 1] * weight[blocks - 1]) / w;
            weight[blocks - 2] = w;
            size[blocks - 2] += size[blocks - 1];
            blocks--;
        }
    }

    for (i = 0; i < blocks; i++) {
        for (k = 0; k < size[i]; k++, n++) {
            if (n < max) {
                out[n].seconds = groups[n].period;
                out[n].bytes = value[i];
            }
        }
    }
    return MIN(n, max);
}
