/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/containers.c: the cost of one container policy tick at scale
 *
 * Synthetic stats records for 10 000 domains in 1 000 containers go
 * through the daemon's path: virTypedParameter arrays (as libvirt's
 * virConnectGetAllDomainStats returns them, with every field QEMU
 * reports, not only those we read) -> vl_indicators_from_params() ->
 * vl_indicator_tracker_update() -> vl_container_tick() for every
 * container, each judging the host's load (vl_host_load_compute() once,
 * vl_host_load_classify() per container with host_load thresholds, the
 * host kept in band) as the daemon does.  Filling the synthetic records
 * is libvirt's work and is not timed; records are handled in slices of
 * VL_STATS_SLICE_DOMAINS, as the daemon asks for them
 * (virDomainListGetStats), so that no 50 MB reply is ever held at once.
 * A fake executor applies every decision at once so the engine keeps
 * working.
 *
 * Prints a table against the targets: one tick <= 10 ms of CPU, the
 * process RSS <= 32 MiB with every domain tracked.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container.h"
#include "host-load.h"
#include "indicators.h"
#include "stats-source.h"
#include "policy-helper.h"

#define TARGET_TICK_MS 10.0
#define TARGET_RSS_MIB 32.0
#define TICK_S 60
#define STANDBY_PER_CONTAINER 4

static int opt_containers = 1000;
static int opt_per_container = 10;
static int opt_ticks = 50;
static int opt_warmup = 3;
static int opt_batch = VL_STATS_SLICE_DOMAINS;

static GOptionEntry entries[] = {
    { "containers", 'c', 0, G_OPTION_ARG_INT, &opt_containers,
      "Containers (1000)", "N" },
    { "per-container", 'p', 0, G_OPTION_ARG_INT, &opt_per_container,
      "Domains per container (10)", "N" },
    { "ticks", 't', 0, G_OPTION_ARG_INT, &opt_ticks,
      "Measured ticks (50)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup,
      "Unmeasured ticks first (3)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &opt_batch,
      "Stats records per slice (VL_STATS_SLICE_DOMAINS, 256)", "N" },
    { NULL }
};

typedef struct {
    char name[32];
    int id;
    guint container;
    guint slot;                 /* index within its container */
    gboolean running;
    guint vcpus;
    guint64 cpu_ns, rx, tx, rd, wr;
    guint64 mem_kib, usable_kib;
} SynthDomain;

typedef struct {
    VlContainerState *state;
    VlContainerPolicy *policy;
    VlContainerMemberValues *values;
    double phase;
} SynthContainer;

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
status_mib(const char *key)
{
    g_autofree char *status = NULL;
    g_auto(GStrv) lines = NULL;
    guint i;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
        return NAN;
    lines = g_strsplit(status, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], key))
            return g_ascii_strtod(lines[i] + strlen(key), NULL) / 1024.0;
    }
    return NAN;
}

/* ---- synthetic records --------------------------------------------- */

typedef struct {
    virTypedParameter *p;
    int n;
    int max;
} Record;

static void
put_u64(Record *r, const char *field, guint64 v)
{
    virTypedParameter *p = &r->p[r->n++];

    g_assert(r->n <= r->max);
    g_strlcpy(p->field, field, sizeof(p->field));
    p->type = VIR_TYPED_PARAM_ULLONG;
    p->value.ul = v;
}

static void
put_uint(Record *r, const char *field, guint v)
{
    virTypedParameter *p = &r->p[r->n++];

    g_assert(r->n <= r->max);
    g_strlcpy(p->field, field, sizeof(p->field));
    p->type = VIR_TYPED_PARAM_UINT;
    p->value.ui = v;
}

static void
put_int(Record *r, const char *field, int v)
{
    virTypedParameter *p = &r->p[r->n++];

    g_assert(r->n <= r->max);
    g_strlcpy(p->field, field, sizeof(p->field));
    p->type = VIR_TYPED_PARAM_INT;
    p->value.i = v;
}

static void
put_string(Record *r, const char *field, const char *v)
{
    virTypedParameter *p = &r->p[r->n++];

    g_assert(r->n <= r->max);
    g_strlcpy(p->field, field, sizeof(p->field));
    p->type = VIR_TYPED_PARAM_STRING;
    p->value.s = (char *) v;
}

#define MAX_PARAMS 64

/* What QEMU/libvirt 9.0 return for a 2-vCPU, 1-NIC, 1-disk guest. */
static void
fill_record(Record *r, const SynthDomain *d)
{
    char field[VIR_TYPED_PARAM_FIELD_LENGTH];
    guint i;

    r->n = 0;
    put_int(r, "state.state", d->running ? VIR_DOMAIN_RUNNING : VIR_DOMAIN_SHUTOFF);
    put_int(r, "state.reason", 1);
    if (!d->running)
        return;
    put_u64(r, "cpu.time", d->cpu_ns);
    put_u64(r, "cpu.user", d->cpu_ns / 2);
    put_u64(r, "cpu.system", d->cpu_ns / 4);
    put_u64(r, "balloon.current", d->mem_kib);
    put_u64(r, "balloon.maximum", d->mem_kib);
    put_u64(r, "balloon.swap_in", 0);
    put_u64(r, "balloon.swap_out", 0);
    put_u64(r, "balloon.major_fault", 12);
    put_u64(r, "balloon.minor_fault", 3400);
    put_u64(r, "balloon.unused", d->usable_kib / 2);
    put_u64(r, "balloon.available", d->mem_kib - 4096);
    put_u64(r, "balloon.usable", d->usable_kib);
    put_u64(r, "balloon.last-update", 1700000000);
    put_u64(r, "balloon.disk_caches", d->usable_kib / 3);
    put_u64(r, "balloon.hugetlb_pgalloc", 0);
    put_u64(r, "balloon.hugetlb_pgfail", 0);
    put_u64(r, "balloon.rss", d->mem_kib + 20000);
    put_uint(r, "vcpu.current", d->vcpus);
    put_uint(r, "vcpu.maximum", d->vcpus);
    for (i = 0; i < d->vcpus; i++) {
        g_snprintf(field, sizeof(field), "vcpu.%u.state", i);
        put_int(r, field, 1);
        g_snprintf(field, sizeof(field), "vcpu.%u.time", i);
        put_u64(r, field, d->cpu_ns / d->vcpus);
        g_snprintf(field, sizeof(field), "vcpu.%u.wait", i);
        put_u64(r, field, 0);
        g_snprintf(field, sizeof(field), "vcpu.%u.delay", i);
        put_u64(r, field, 0);
    }
    put_uint(r, "net.count", 1);
    put_string(r, "net.0.name", "vnet0");
    put_u64(r, "net.0.rx.bytes", d->rx);
    put_u64(r, "net.0.rx.pkts", d->rx / 1000);
    put_u64(r, "net.0.rx.errs", 0);
    put_u64(r, "net.0.rx.drop", 0);
    put_u64(r, "net.0.tx.bytes", d->tx);
    put_u64(r, "net.0.tx.pkts", d->tx / 1000);
    put_u64(r, "net.0.tx.errs", 0);
    put_u64(r, "net.0.tx.drop", 0);
    put_uint(r, "block.count", 1);
    put_string(r, "block.0.name", "vda");
    put_string(r, "block.0.path", "/var/lib/libvirt/images/guest.qcow2");
    put_uint(r, "block.0.backingIndex", 1);
    put_u64(r, "block.0.rd.reqs", d->rd / 4096);
    put_u64(r, "block.0.rd.bytes", d->rd);
    put_u64(r, "block.0.rd.times", d->rd);
    put_u64(r, "block.0.wr.reqs", d->wr / 4096);
    put_u64(r, "block.0.wr.bytes", d->wr);
    put_u64(r, "block.0.wr.times", d->wr);
    put_u64(r, "block.0.fl.reqs", 10);
    put_u64(r, "block.0.fl.times", 1000);
    put_u64(r, "block.0.allocation", 1ULL << 30);
    put_u64(r, "block.0.capacity", 10ULL << 30);
    put_u64(r, "block.0.physical", 1ULL << 30);
}

/*
 * Each container's load swings on its own phase between 20 and 380
 * member-% of CPU, so over 50 minutes some scale out, some in, some
 * replace or combine members.
 */
static void
advance_domains(SynthDomain *doms, guint n, SynthContainer *cs, gint64 now,
                GRand *rand)
{
    guint *running = g_new0(guint, opt_containers);
    guint i;

    for (i = 0; i < n; i++)
        running[doms[i].container] += doms[i].running;
    for (i = 0; i < n; i++) {
        SynthDomain *d = &doms[i];
        SynthContainer *c = &cs[d->container];
        double load = 200 + 180 * sin(2 * G_PI * ((double) now / 3000 + c->phase));
        double share;

        if (!d->running)
            continue;
        share = load / MAX(running[d->container], 1) / 100.0 *
                g_rand_double_range(rand, 0.7, 1.3);
        share = MIN(share, 1.0);
        d->cpu_ns += (guint64) (share * d->vcpus * TICK_S * 1e9);
        d->rx += (guint64) (share * 50e6 / 8 * TICK_S);
        d->tx += (guint64) (share * 20e6 / 8 * TICK_S);
        d->rd += (guint64) (share * 4 * 1048576 * TICK_S);
        d->wr += (guint64) (share * 1048576 * TICK_S);
        d->usable_kib = (guint64) ((double) d->mem_kib * (1.0 - 0.3 * share));
    }
    g_free(running);
}

/* The fake executor: every decision succeeds at once. */
static void
execute(SynthContainer *c, GHashTable *by_name, const VlContainerDecision *d,
        gint64 now)
{
    gboolean stops = d->action == VL_CONTAINER_ACTION_SHUTDOWN_MEMBER ||
                     d->action == VL_CONTAINER_ACTION_REPLACE ||
                     d->action == VL_CONTAINER_ACTION_COMBINE;
    SynthDomain *sd;
    guint i;

    if (d->start) {
        sd = g_hash_table_lookup(by_name, d->start);
        if (sd)
            sd->running = TRUE;
        vl_container_note_member_state(c->state, d->start,
                                       VL_CONTAINER_MEMBER_RUNNING, NULL, now);
    }
    for (i = 0; stops && d->members && d->members[i]; i++) {
        sd = g_hash_table_lookup(by_name, d->members[i]);
        if (sd)
            sd->running = FALSE;
        vl_container_note_member_state(c->state, d->members[i],
                                       VL_CONTAINER_MEMBER_OFF, NULL, now);
    }
    vl_container_action_finished(c->state, VL_CONTAINER_OUTCOME_SUCCESS, now);
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;

    return (x > y) - (x < y);
}

static double
percentile(double *v, guint n, double q)
{
    guint i = (guint) ceil(q * n) - 1;

    return v[MIN(i, n - 1)];
}

int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VlIndicatorTracker) tracker = vl_indicator_tracker_new();
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    g_autoptr(GHashTable) by_name = NULL;
    SynthContainer *cs;
    SynthDomain *doms;
    virTypedParameter *params;
    double *tick_ms, *stats_ms, *engine_ms;
    guint n, i, t;
    guint64 decisions = 0;
    VlHostStats host_prev = { 0 };
    double rss_mib, hwm_mib, median;

    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_summary(context,
        "Times one container policy tick over synthetic libvirt stats.");
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "bench-containers: %s\n", error->message);
        return 2;
    }
    if (opt_containers < 1 || opt_per_container < STANDBY_PER_CONTAINER + 1 ||
        opt_ticks < 1 || opt_warmup < 0 || opt_batch < 1) {
        fprintf(stderr, "bench-containers: every count must be positive, "
                "and --per-container above %d\n", STANDBY_PER_CONTAINER);
        return 2;
    }

    n = (guint) opt_containers * (guint) opt_per_container;
    cs = g_new0(SynthContainer, opt_containers);
    doms = g_new0(SynthDomain, n);
    params = g_new0(virTypedParameter, (gsize) opt_batch * MAX_PARAMS);
    tick_ms = g_new0(double, opt_ticks);
    stats_ms = g_new0(double, opt_ticks);
    engine_ms = g_new0(double, opt_ticks);

    for (i = 0; i < (guint) opt_containers; i++) {
        SynthContainer *c = &cs[i];
        g_autofree char *name = g_strdup_printf("svc%04u", i);
        g_autoptr(GPtrArray) standby = g_ptr_array_new_with_free_func(g_free);
        guint k;

        c->policy = vl_test_container_policy_new(name);
        c->policy->min_active = 2;
        c->policy->max_active = (guint) opt_per_container - 2;
        vl_test_container_policy_set_indicator(c->policy, VL_INDICATOR_NET_RX,
                                               1, 5, 500, 800, 120);
        vl_test_container_policy_set_indicator(c->policy, VL_INDICATOR_MEMORY,
                                               15, 30, 85, 95, 120);
        g_strfreev(c->policy->peers);
        c->policy->peers = g_strsplit("qemu+tcp://peer/system", " ", -1);
        c->policy->host_load.enabled = TRUE;
        c->policy->host_load.hold_s = 120;
        c->policy->host_load.indicators[VL_HOST_INDICATOR_CPU] =
            (VlHostThresholds){ TRUE, 40, 85 };
        c->policy->host_load.indicators[VL_HOST_INDICATOR_MEMORY] =
            (VlHostThresholds){ TRUE, 50, 90 };
        for (k = (guint) opt_per_container - STANDBY_PER_CONTAINER;
             k < (guint) opt_per_container; k++)
            g_ptr_array_add(standby, g_strdup_printf("%s-%u", name, k));
        g_ptr_array_add(standby, NULL);
        c->policy->standby = (GStrv) g_ptr_array_steal(standby, NULL);
        c->state = vl_container_state_new(name);
        c->values = g_new0(VlContainerMemberValues, opt_per_container);
        c->phase = g_rand_double(rand);
    }
    for (i = 0; i < n; i++) {
        SynthDomain *d = &doms[i];
        SynthContainer *c;

        d->container = i / (guint) opt_per_container;
        d->slot = i % (guint) opt_per_container;
        c = &cs[d->container];
        g_snprintf(d->name, sizeof(d->name), "%s-%u",
                   vl_container_state_get_name(c->state), d->slot);
        d->id = (int) i + 1;
        d->vcpus = 2;
        d->mem_kib = 4 * 1024 * 1024;
        d->usable_kib = d->mem_kib / 2;
        d->running = d->slot < (guint) opt_per_container - STANDBY_PER_CONTAINER;
        c->values[d->slot].member = d->name;
        vl_container_note_member_state(c->state, d->name,
                                       d->running ? VL_CONTAINER_MEMBER_RUNNING
                                                  : VL_CONTAINER_MEMBER_OFF,
                                       NULL, 0);
    }
    by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (i = 0; i < n; i++)
        g_hash_table_insert(by_name, doms[i].name, &doms[i]);

    for (t = 0; t < (guint) (opt_warmup + opt_ticks); t++) {
        gint64 now = (gint64) t * TICK_S;
        double stats_s = 0;
        double engine_s;
        double t0;
        guint start;

        advance_domains(doms, n, cs, now, rand);

        /* stats -> indicators, one batch of records at a time */
        for (start = 0; start < n; start += (guint) opt_batch) {
            guint end = MIN(n, start + (guint) opt_batch);
            int *nparams = g_new(int, end - start);
            guint j;

            for (j = start; j < end; j++) {
                Record r = { params + (gsize) (j - start) * MAX_PARAMS, 0,
                             MAX_PARAMS };

                fill_record(&r, &doms[j]);
                nparams[j - start] = r.n;
            }

            t0 = cpu_seconds();
            for (j = start; j < end; j++) {
                SynthDomain *d = &doms[j];
                VlDomainStats s;

                vl_indicators_from_params(d->name, d->id,
                                          params + (gsize) (j - start) * MAX_PARAMS,
                                          nparams[j - start],
                                          now * G_GINT64_CONSTANT(1000000000),
                                          &s);
                vl_indicator_tracker_update(tracker, &s,
                                            cs[d->container].values[d->slot].values);
            }
            stats_s += cpu_seconds() - t0;
            g_free(nparams);
        }

        /* every container's tick, each judging the host (60 % CPU, 70 %
         * memory of 64 CPUs and 512 GiB: in band) */
        t0 = cpu_seconds();
        {
            VlContainerDecision **ds = g_new0(VlContainerDecision *, opt_containers);
            VlContainerHost host = { VL_CONTAINER_HOST_UNKNOWN, 0 };
            VlHostStats host_now = { 0 };
            double host_values[VL_HOST_INDICATOR_LAST];

            host_now.cpu_known = TRUE;
            host_now.cpu_total_ns = (guint64) now * 64 * G_GUINT64_CONSTANT(1000000000);
            host_now.cpu_busy_ns = host_now.cpu_total_ns / 10 * 6;
            host_now.memory_known = TRUE;
            host_now.memory_total_kib = G_GUINT64_CONSTANT(512) * 1024 * 1024;
            host_now.memory_used_kib = host_now.memory_total_kib / 10 * 7;
            vl_host_load_compute(t ? &host_prev : NULL, &host_now, host_values);
            host_prev = host_now;

            vl_indicator_tracker_expire(tracker);
            for (i = 0; i < (guint) opt_containers; i++) {
                host.load = vl_host_load_classify(&cs[i].policy->host_load,
                                                  host_values);
                ds[i] = vl_container_tick(cs[i].state, cs[i].policy,
                                          cs[i].values,
                                          (guint) opt_per_container, &host, now);
            }
            engine_s = cpu_seconds() - t0;

            /* the executor's work is not the tick's */
            for (i = 0; i < (guint) opt_containers; i++) {
                if (ds[i]->action != VL_CONTAINER_ACTION_NONE) {
                    if (t >= (guint) opt_warmup)
                        decisions++;
                    execute(&cs[i], by_name, ds[i], now);
                }
                vl_container_decision_free(ds[i]);
            }
            g_free(ds);
        }

        if (t >= (guint) opt_warmup) {
            guint k = t - (guint) opt_warmup;

            stats_ms[k] = stats_s * 1e3;
            engine_ms[k] = engine_s * 1e3;
            tick_ms[k] = (stats_s + engine_s) * 1e3;
        }
    }

    rss_mib = status_mib("VmRSS:");
    hwm_mib = status_mib("VmHWM:");
    qsort(tick_ms, opt_ticks, sizeof(double), compare_double);
    qsort(stats_ms, opt_ticks, sizeof(double), compare_double);
    qsort(engine_ms, opt_ticks, sizeof(double), compare_double);
    median = percentile(tick_ms, opt_ticks, 0.5);

    printf("bench/containers: %u domains in %d containers, %u tracked; "
           "%d ticks measured after %d warm-up; records in slices of %d\n",
           n, opt_containers, vl_indicator_tracker_size(tracker), opt_ticks,
           opt_warmup, opt_batch);
    printf("%-44s %12s %12s %s\n", "metric", "measured", "target", "");
    printf("%-44s %9.2f ms %9.0f ms %s\n", "policy tick CPU time, median",
           median, TARGET_TICK_MS, median <= TARGET_TICK_MS ? "ok" : "MISSED");
    printf("%-44s %9.2f ms\n", "policy tick CPU time, p90",
           percentile(tick_ms, opt_ticks, 0.9));
    printf("%-44s %9.2f ms\n", "policy tick CPU time, max",
           tick_ms[opt_ticks - 1]);
    printf("%-44s %9.2f ms\n", "  stats records -> indicators, median",
           percentile(stats_ms, opt_ticks, 0.5));
    printf("%-44s %9.2f ms\n", "  container ticks, median",
           percentile(engine_ms, opt_ticks, 0.5));
    printf("%-44s %9.1f MiB %8.0f MiB %s\n", "RSS (VmRSS), every domain tracked",
           rss_mib, TARGET_RSS_MIB, rss_mib <= TARGET_RSS_MIB ? "ok" : "MISSED");
    printf("%-44s %9.1f MiB\n", "peak RSS (VmHWM)", hwm_mib);
    printf("%-44s %9.1f\n", "decisions per tick (mean)",
           (double) decisions / opt_ticks);

    for (i = 0; i < (guint) opt_containers; i++) {
        vl_container_state_free(cs[i].state);
        vl_test_container_policy_free(cs[i].policy);
        g_free(cs[i].values);
    }
    g_free(cs);
    g_free(doms);
    g_free(params);
    g_free(tick_ms);
    g_free(stats_ms);
    g_free(engine_ms);
    return 0;
}
