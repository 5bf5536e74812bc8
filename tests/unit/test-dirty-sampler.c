/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-dirty-sampler.c: the background dirty-rate sampler with fake libvirt
 * ops and a fake clock: which domain is measured when, never one that
 * migrates, new boots, failures, on-demand measurements, and the guest
 * RAM read from smaps.  The worker thread is real; nothing sleeps.
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dirty-sampler.h"
#include "test-util.h"

#define MIB (1048576.0)
#define WAIT_MS 10000

typedef struct {
    char *name;
    int id;
    double memory;
    double nonzero;
    double nonzero_now;         /* what /proc says now; NAN = unreadable */
    gboolean job_active;
    double rate;                /* bytes/s the fake reports */
} FakeDomain;

typedef struct {
    GMutex lock;
    GPtrArray *domains;         /* FakeDomain* */
    GPtrArray *started;         /* "name period" strings, in order */
    gint64 start_time;          /* the fake QEMU's calc_start_time */
    gboolean fail_start;
    gboolean block_wait;        /* wait until cancelled */
    gint gate_closed;           /* wait until opened */
    gint thread_done;
    gint64 now_us;
    guint timers;               /* background steps scheduled */
} Fake;

static Fake *fake;

static void
fake_domain_free(FakeDomain *d)
{
    g_free(d->name);
    g_free(d);
}

static FakeDomain *
fake_add(const char *name, int id, double rate)
{
    FakeDomain *d = g_new0(FakeDomain, 1);

    d->name = g_strdup(name);
    d->id = id;
    d->memory = 1024 * MIB;
    d->nonzero = 851 * MIB;
    d->nonzero_now = NAN;
    d->rate = rate;
    g_mutex_lock(&fake->lock);
    g_ptr_array_add(fake->domains, d);
    g_mutex_unlock(&fake->lock);
    return d;
}

static FakeDomain *
fake_find(const char *name)
{
    guint i;

    for (i = 0; i < fake->domains->len; i++) {
        FakeDomain *d = g_ptr_array_index(fake->domains, i);

        if (g_str_equal(d->name, name))
            return d;
    }
    return NULL;
}

static gboolean
f_list(gpointer data G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
       GPtrArray *out, GError **error G_GNUC_UNUSED)
{
    guint i;

    g_mutex_lock(&fake->lock);
    for (i = 0; i < fake->domains->len; i++) {
        FakeDomain *d = g_ptr_array_index(fake->domains, i);
        VlDirtySamplerTarget *t = vl_dirty_sampler_target_new();

        t->name = g_strdup(d->name);
        t->id = d->id;
        t->memory_bytes = d->memory;
        t->nonzero_bytes = d->nonzero;
        t->job_active = d->job_active;
        g_ptr_array_add(out, t);
    }
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_start(gpointer data G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
        const char *name, int period, GError **error)
{
    g_mutex_lock(&fake->lock);
    if (fake->fail_start) {
        g_mutex_unlock(&fake->lock);
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Cannot start a dirty-rate measurement of '%s'", name);
        return FALSE;
    }
    g_ptr_array_add(fake->started, g_strdup_printf("%s %d", name, period));
    fake->start_time++;
    g_mutex_unlock(&fake->lock);
    /* A test may be waiting for this on the main loop. */
    g_main_context_wakeup(NULL);
    return TRUE;
}

static gboolean
f_query(gpointer data G_GNUC_UNUSED, virConnectPtr vconn G_GNUC_UNUSED,
        const char *name, VlDirtyRateSample *s, GError **error G_GNUC_UNUSED)
{
    FakeDomain *d;
    const char *last;

    g_mutex_lock(&fake->lock);
    d = fake_find(name);
    memset(s, 0, sizeof(*s));
    s->status = VL_DIRTYRATE_MEASURED;
    s->start_time = fake->start_time;
    s->has_rate = TRUE;
    s->bytes_per_second = d ? d->rate : 0;
    /* The period of the last measurement started. */
    last = fake->started->len ?
        g_ptr_array_index(fake->started, fake->started->len - 1) : "x 1";
    s->period_s = atoi(strrchr(last, ' ') + 1);
    g_mutex_unlock(&fake->lock);
    return TRUE;
}

static gboolean
f_wait(gpointer data G_GNUC_UNUSED, double seconds G_GNUC_UNUSED,
       GCancellable *cancellable)
{
    while (g_atomic_int_get(&fake->gate_closed) &&
           !g_cancellable_is_cancelled(cancellable))
        g_thread_yield();
    if (fake->block_wait) {
        while (!g_cancellable_is_cancelled(cancellable))
            g_thread_yield();
        g_atomic_int_set(&fake->thread_done, 1);
        return FALSE;
    }
    return !g_cancellable_is_cancelled(cancellable);
}

static gint64
f_now(gpointer data G_GNUC_UNUSED)
{
    return fake->now_us;
}

static guint
f_timeout_add(gpointer data G_GNUC_UNUSED, guint seconds G_GNUC_UNUSED,
              GSourceFunc func G_GNUC_UNUSED, gpointer func_data G_GNUC_UNUSED)
{
    /* The fake clock does not tick by itself: tests call steps. */
    fake->timers++;
    return 0;
}

static const VlDirtySamplerOps fake_ops = {
    .list = f_list,
    .start = f_start,
    .query = f_query,
    .wait = f_wait,
    .now_us = f_now,
    .timeout_add = f_timeout_add,
};

static gboolean
f_nonzero_now(gpointer data G_GNUC_UNUSED, const char *name,
              double memory_bytes, double *nonzero_bytes)
{
    FakeDomain *d;
    gboolean known;

    g_mutex_lock(&fake->lock);
    d = fake_find(name);
    known = d && isfinite(d->nonzero_now) && memory_bytes == d->memory;
    if (known)
        *nonzero_bytes = d->nonzero_now;
    g_mutex_unlock(&fake->lock);
    return known;
}

static const VlDirtySamplerOps fake_ops_nonzero_now = {
    .list = f_list,
    .start = f_start,
    .query = f_query,
    .wait = f_wait,
    .now_us = f_now,
    .timeout_add = f_timeout_add,
    .nonzero_now = f_nonzero_now,
};

static void
setup(void)
{
    fake = g_new0(Fake, 1);
    g_mutex_init(&fake->lock);
    fake->domains = g_ptr_array_new_with_free_func((GDestroyNotify)fake_domain_free);
    fake->started = g_ptr_array_new_with_free_func(g_free);
    fake->now_us = 1000 * G_USEC_PER_SEC;
}

static void
teardown(void)
{
    g_ptr_array_unref(fake->domains);
    g_ptr_array_unref(fake->started);
    g_mutex_clear(&fake->lock);
    g_clear_pointer(&fake, g_free);
}

static gboolean
idle(gpointer data)
{
    return !vl_dirty_sampler_is_busy(data);
}

/* One background step, to its end; TRUE when a measurement started. */
static gboolean
step(VlDirtySampler *s)
{
    guint before = fake->started->len;

    ck_assert(vl_dirty_sampler_step(s));
    ck_assert(vl_test_loop_run_until(idle, s, WAIT_MS));
    return fake->started->len > before;
}

static VlDirtySampler *
new_sampler(guint period_s)
{
    static const guint periods[] = { 1, 5, 10 };
    VlDirtySampler *s = vl_dirty_sampler_new(&fake_ops, NULL, NULL);
    g_autoptr(GError) error = NULL;

    ck_assert_msg(vl_dirty_sampler_configure(s, period_s, periods, 3, &error), "%s",
                  error ? error->message : "");
    return s;
}

static const char *
started(guint i)
{
    ck_assert_uint_lt(i, fake->started->len);
    return g_ptr_array_index(fake->started, i);
}

START_TEST(test_new_domains_get_every_length_first)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;

    fake_add("b; dom", 2, 20 * MIB);
    fake_add("a \"dom\"", 1, 10 * MIB);

    /* Never-measured domains first, in name order; then the lengths each
     * still lacks, at once (same clock: ties go by name). */
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert_str_eq(started(0), "a \"dom\" 1");
    ck_assert_str_eq(started(1), "b; dom 1");
    ck_assert_str_eq(started(2), "a \"dom\" 5");
    ck_assert_str_eq(started(3), "a \"dom\" 10");
    ck_assert_str_eq(started(4), "b; dom 5");
    ck_assert_str_eq(started(5), "b; dom 10");
    /* Then nothing is due. */
    ck_assert(!step(s));

    st = vl_dirty_sampler_get_stats(s, "a \"dom\"");
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_eq(st->measurements, 3);
    ck_assert_uint_eq(st->n_curve, 3);
    ck_assert_double_eq_tol(st->curve[2].seconds, 10, 1e-9);
    ck_assert_double_eq_tol(st->curve[2].bytes, 100 * MIB, 1);
    ck_assert_double_eq_tol(vl_dirty_sampler_stats_rate_bps(st), 10 * MIB, 1);
    ck_assert_double_eq_tol(st->memory_bytes, 1024 * MIB, 1);
    ck_assert_double_eq_tol(st->nonzero_bytes, 851 * MIB, 1);
    ck_assert_double_eq_tol(st->age_s, 0, 1e-9);
    /* The timer was re-armed after each step. */
    ck_assert_uint_ge(fake->timers, 7);
}
END_TEST

/* A guest that fills its memory after the last listing: the stats carry
 * the touched RAM read at the moment they are asked for, and fall back to
 * the listing's figure when it cannot be read. */
START_TEST(test_touched_ram_is_read_when_asked)
{
    static const guint periods[] = { 1, 5, 10 };
    g_autoptr(VlDirtySampler) s = vl_dirty_sampler_new(&fake_ops_nonzero_now,
                                                       NULL, NULL);
    g_autoptr(VlDirtySamplerStats) before = NULL;
    g_autoptr(VlDirtySamplerStats) after = NULL;
    g_autoptr(VlDirtySamplerStats) unreadable = NULL;
    g_autoptr(GError) error = NULL;
    FakeDomain *d;

    ck_assert(vl_dirty_sampler_configure(s, 60, periods, 3, &error));
    d = fake_add("just booted", 1, 0);
    d->nonzero = 100 * MIB;
    ck_assert(step(s));
    before = vl_dirty_sampler_get_stats(s, "just booted");
    ck_assert_double_eq_tol(before->nonzero_bytes, 100 * MIB, 1);

    g_mutex_lock(&fake->lock);
    d->nonzero_now = 870 * MIB;
    g_mutex_unlock(&fake->lock);
    after = vl_dirty_sampler_get_stats(s, "just booted");
    ck_assert_double_eq_tol(after->nonzero_bytes, 870 * MIB, 1);

    g_mutex_lock(&fake->lock);
    d->nonzero_now = NAN;
    g_mutex_unlock(&fake->lock);
    unreadable = vl_dirty_sampler_get_stats(s, "just booted");
    ck_assert_double_eq_tol(unreadable->nonzero_bytes, 100 * MIB, 1);
}
END_TEST

START_TEST(test_measured_again_only_after_the_period)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;

    fake_add("web", 1, 5 * MIB);
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    /* All lengths measured: nothing is due until 60 s have passed. */
    ck_assert(!step(s));
    fake->now_us += 59 * G_USEC_PER_SEC;
    ck_assert(!step(s));
    fake->now_us += 1 * G_USEC_PER_SEC;
    ck_assert(step(s));
    ck_assert_str_eq(started(3), "web 1");
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 4);
}
END_TEST

static gboolean
busy_web(const char *name, gpointer data G_GNUC_UNUSED)
{
    return g_str_equal(name, "web");
}

static void
on_measured(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    GAsyncResult **out = data;

    *out = g_object_ref(res);
}

static gboolean
have_result(gpointer data)
{
    return *(GAsyncResult **)data != NULL;
}

START_TEST(test_migrating_domains_are_never_measured)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    FakeDomain *db;

    fake_add("web", 1, 5 * MIB);
    db = fake_add("db", 2, 5 * MIB);
    db->job_active = TRUE;      /* libvirt shows a job */
    vl_dirty_sampler_set_busy_func(s, busy_web, NULL);   /* the monitor knows */

    ck_assert(!step(s));
    ck_assert(!step(s));
    ck_assert_uint_eq(fake->started->len, 0);

    /* On demand: refused for the busy one before anything is called... */
    vl_dirty_sampler_measure_async(s, "web", 5, NULL, on_measured, &res);
    ck_assert(vl_test_loop_run_until(have_result, &res, WAIT_MS));
    ck_assert(!vl_dirty_sampler_measure_finish(s, res, NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_ptr_nonnull(strstr(error->message, "migrating"));
    g_clear_object(&res);
    g_clear_error(&error);

    /* ...and for the one with a job, by the worker's own check. */
    vl_dirty_sampler_measure_async(s, "db", 5, NULL, on_measured, &res);
    ck_assert(vl_test_loop_run_until(have_result, &res, WAIT_MS));
    ck_assert(!vl_dirty_sampler_measure_finish(s, res, NULL, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "job running"));
    ck_assert_uint_eq(fake->started->len, 0);
}
END_TEST

START_TEST(test_new_boot_starts_afresh_and_gone_is_forgotten)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;
    g_autoptr(VlDirtySamplerStats) gone = NULL;
    FakeDomain *d = fake_add("web", 1, 5 * MIB);

    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    d->id = 7;                  /* destroyed and started again */
    d->rate = 40 * MIB;
    /* Booting: not measured for a minute, and nothing old is kept. */
    ck_assert(!step(s));
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 0);
    g_clear_pointer(&st, vl_dirty_sampler_stats_free);
    fake->now_us += 59 * G_USEC_PER_SEC;
    ck_assert(!step(s));
    fake->now_us += 1 * G_USEC_PER_SEC;
    ck_assert(step(s));
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 1);
    ck_assert_uint_eq(st->n_curve, 1);
    ck_assert_double_eq_tol(vl_dirty_sampler_stats_rate_bps(st), 40 * MIB, 1);

    g_ptr_array_remove_index(fake->domains, 0);
    ck_assert(!step(s));
    gone = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_ptr_null(gone);
}
END_TEST

static gboolean
arrived_by_name(const char *name, gpointer data G_GNUC_UNUSED)
{
    return g_str_has_prefix(name, "arrived");
}

/* A domain that starts while the daemon runs waits out its boot; one that
 * arrived by migration is measured at once. */
START_TEST(test_booting_waits_arrived_does_not)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) booted = NULL;
    g_autoptr(VlDirtySamplerStats) arrived = NULL;

    vl_dirty_sampler_set_arrived_func(s, arrived_by_name, NULL);
    ck_assert(!step(s));                /* the first listing: empty */
    fake_add("booted", 1, 5 * MIB);
    fake_add("arrived 'x'", 2, 7 * MIB);
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(step(s));
    ck_assert(!step(s));
    ck_assert_uint_eq(fake->started->len, 3);
    ck_assert_str_eq(started(0), "arrived 'x' 1");
    booted = vl_dirty_sampler_get_stats(s, "booted");
    arrived = vl_dirty_sampler_get_stats(s, "arrived 'x'");
    ck_assert_uint_eq(booted->measurements, 0);
    ck_assert_uint_eq(arrived->measurements, 3);
}
END_TEST

START_TEST(test_failure_is_kept_and_not_retried_at_once)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;

    fake_add("web", 1, 5 * MIB);
    fake->fail_start = TRUE;
    ck_assert(!step(s));
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 0);
    ck_assert_ptr_nonnull(st->last_error);
    ck_assert_ptr_nonnull(strstr(st->last_error, "'web'"));
    ck_assert(isnan(vl_dirty_sampler_stats_rate_bps(st)));
    ck_assert(isnan(st->age_s));

    fake->fail_start = FALSE;
    ck_assert(!step(s));        /* backs off for a period */
    fake->now_us += 60 * G_USEC_PER_SEC;
    ck_assert(step(s));
}
END_TEST

START_TEST(test_measure_on_demand)
{
    g_autoptr(VlDirtySampler) s = new_sampler(0);   /* no background sampling */
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VlDirtySamplerStats) st = NULL;
    VlDirtyRateSample sample;

    fake_add("web", 1, 12 * MIB);
    vl_dirty_sampler_measure_async(s, "web", 20, NULL, on_measured, &res);
    ck_assert(vl_test_loop_run_until(have_result, &res, WAIT_MS));
    ck_assert_msg(vl_dirty_sampler_measure_finish(s, res, &sample, &error), "%s",
                  error ? error->message : "");
    ck_assert_int_eq(sample.period_s, 20);
    ck_assert_double_eq_tol(sample.bytes_per_second, 12 * MIB, 1);
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 1);
    ck_assert_uint_eq(fake->timers, 0);
    g_clear_object(&res);

    vl_dirty_sampler_measure_async(s, "web", 61, NULL, on_measured, &res);
    ck_assert(vl_test_loop_run_until(have_result, &res, WAIT_MS));
    ck_assert(!vl_dirty_sampler_measure_finish(s, res, NULL, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_object(&res);
    g_clear_error(&error);

    vl_dirty_sampler_measure_async(s, "not here", 5, NULL, on_measured, &res);
    ck_assert(vl_test_loop_run_until(have_result, &res, WAIT_MS));
    ck_assert(!vl_dirty_sampler_measure_finish(s, res, NULL, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "not running"));
    ck_assert_uint_eq(fake->started->len, 1);
}
END_TEST

static gboolean
measuring(gpointer data G_GNUC_UNUSED)
{
    gboolean yes;

    g_mutex_lock(&fake->lock);
    yes = fake->started->len > 0;
    g_mutex_unlock(&fake->lock);
    return yes;
}

static gboolean
thread_done(gpointer data G_GNUC_UNUSED)
{
    return g_atomic_int_get(&fake->thread_done);
}

START_TEST(test_forgotten_while_measuring)
{
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;

    fake_add("web", 1, 5 * MIB);
    g_atomic_int_set(&fake->gate_closed, 1);
    ck_assert(vl_dirty_sampler_step(s));
    ck_assert(vl_test_loop_run_until(measuring, NULL, WAIT_MS));
    /* "virt-lanes estimate --measure": the old samples go, and so must
     * the one being taken (it may have seen the guest boot). */
    vl_dirty_sampler_forget(s, "web");
    g_atomic_int_set(&fake->gate_closed, 0);
    ck_assert(vl_test_loop_run_until(idle, s, WAIT_MS));
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_ptr_nonnull(st);      /* listed again */
    ck_assert_uint_eq(st->measurements, 0);
}
END_TEST

START_TEST(test_free_while_measuring)
{
    VlDirtySampler *s = new_sampler(60);
    GMainContext *ctx = g_main_context_default();

    fake_add("web", 1, 5 * MIB);
    fake->block_wait = TRUE;
    ck_assert(vl_dirty_sampler_step(s));
    /* The listing comes back, then the measurement blocks in wait(). */
    ck_assert(vl_test_loop_run_until(measuring, NULL, WAIT_MS));
    vl_dirty_sampler_free(s);
    /* The worker is woken by the cancellation; its callback must leave
     * the freed sampler alone (valgrind and ASan watch). */
    ck_assert(vl_test_loop_run_until(thread_done, NULL, WAIT_MS));
    while (g_main_context_iteration(ctx, FALSE))
        ;
}
END_TEST

START_TEST(test_configure_checks)
{
    static const guint bad_range[] = { 0 };
    static const guint dup[] = { 5, 5 };
    static const guint other[] = { 2, 4 };
    g_autoptr(VlDirtySampler) s = new_sampler(60);
    g_autoptr(VlDirtySamplerStats) st = NULL;
    g_autoptr(GError) error = NULL;

    fake_add("web", 1, 5 * MIB);
    ck_assert(step(s));
    ck_assert(!vl_dirty_sampler_configure(s, 60, bad_range, 1, &error));
    g_clear_error(&error);
    ck_assert(!vl_dirty_sampler_configure(s, 60, dup, 2, &error));
    g_clear_error(&error);
    ck_assert(!vl_dirty_sampler_configure(s, 60, dup, 0, &error));
    g_clear_error(&error);
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 1);    /* refused: nothing changed */
    g_clear_pointer(&st, vl_dirty_sampler_stats_free);

    /* New lengths: old measurements no longer fit. */
    ck_assert(vl_dirty_sampler_configure(s, 60, other, 2, &error));
    st = vl_dirty_sampler_get_stats(s, "web");
    ck_assert_uint_eq(st->measurements, 0);
    ck_assert(step(s));
    ck_assert_str_eq(started(1), "web 2");
}
END_TEST

START_TEST(test_rate_is_pooled_over_lengths)
{
    VlDirtySamplerStats st = { 0 };

    st.curve[0].seconds = 1;
    st.curve[0].bytes = 30 * MIB;       /* noisy short point */
    st.curve[1].seconds = 5;
    st.curve[1].bytes = 50 * MIB;
    st.curve[2].seconds = 10;
    st.curve[2].bytes = 100 * MIB;
    st.n_curve = 3;
    ck_assert_double_eq_tol(vl_dirty_sampler_stats_rate_bps(&st), 180 * MIB / 16, 1);
    st.n_curve = 0;
    ck_assert(isnan(vl_dirty_sampler_stats_rate_bps(&st)));
}
END_TEST

START_TEST(test_guest_rss_from_smaps)
{
    g_autofree char *dir = g_dir_make_tmp("vl-smaps-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "smaps", NULL);
    g_autoptr(GError) error = NULL;
    /* QEMU's own heap, then the guest RAM (1 GiB + 8 KiB of padding),
     * then a mapping twice as large that must not be taken. */
    static const char smaps[] =
        "55d0c0000000-55d0c2000000 rw-p 00000000 00:00 0 \n"
        "Size:              32768 kB\n"
        "Rss:               20000 kB\n"
        "7f0000000000-7f0040002000 rw-p 00000000 00:00 0 \n"
        "Size:            1048584 kB\n"
        "Rss:              871424 kB\n"
        "Pss:              871424 kB\n"
        "7f1000000000-7f1080000000 rw-p 00000000 00:00 0 \n"
        "Size:            2097152 kB\n"
        "Rss:             2000000 kB\n";
    double rss = 0;

    ck_assert(g_file_set_contents(path, smaps, -1, NULL));
    ck_assert_msg(vl_dirty_sampler_read_guest_rss(0, path, 1024 * MIB, &rss, &error),
                  "%s", error ? error->message : "");
    ck_assert_double_eq_tol(rss, 871424 * 1024.0, 1);

    /* No mapping of the guest's size: an error, not a guess. */
    ck_assert(!vl_dirty_sampler_read_guest_rss(0, path, 512 * MIB, &rss, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    g_unlink(path);
    ck_assert(!vl_dirty_sampler_read_guest_rss(0, path, 1024 * MIB, &rss, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    g_rmdir(dir);
}
END_TEST

static Suite *
sampler_suite(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("schedule");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_domains_get_every_length_first);
    tcase_add_test(tc, test_measured_again_only_after_the_period);
    tcase_add_test(tc, test_touched_ram_is_read_when_asked);
    tcase_add_test(tc, test_booting_waits_arrived_does_not);
    tcase_add_test(tc, test_migrating_domains_are_never_measured);
    tcase_add_test(tc, test_new_boot_starts_afresh_and_gone_is_forgotten);
    tcase_add_test(tc, test_failure_is_kept_and_not_retried_at_once);
    tcase_add_test(tc, test_configure_checks);
    suite_add_tcase(s, tc);

    tc = tcase_create("on-demand");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_measure_on_demand);
    tcase_add_test(tc, test_forgotten_while_measuring);
    tcase_add_test(tc, test_free_while_measuring);
    suite_add_tcase(s, tc);

    tc = tcase_create("inputs");
    tcase_add_test(tc, test_rate_is_pooled_over_lengths);
    tcase_add_test(tc, test_guest_rss_from_smaps);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(sampler_suite());
}
