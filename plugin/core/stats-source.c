/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats-source.c: the libvirt statistics source and the test-only replay
 * of a recording
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "stats-source.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-error.h"

/* ---- batches ------------------------------------------------------- */

VlStatsBatch *
vl_stats_batch_new(void)
{
    VlStatsBatch *batch = g_new0(VlStatsBatch, 1);

    batch->stats = g_array_new(FALSE, TRUE, sizeof(VlDomainStats));
    batch->names = g_string_chunk_new(1024);
    return batch;
}

void
vl_stats_batch_free(VlStatsBatch *batch)
{
    if (!batch)
        return;
    if (batch->stats)
        g_array_unref(batch->stats);
    if (batch->names)
        g_string_chunk_free(batch->names);
    g_free(batch);
}

void
vl_stats_batch_add(VlStatsBatch *batch, const char *name, int id,
                   const virTypedParameter *params, int nparams,
                   gint64 timestamp_ns)
{
    VlDomainStats stats;
    const char *copy;

    g_return_if_fail(batch != NULL && name != NULL);

    copy = g_string_chunk_insert(batch->names, name);
    vl_indicators_from_params(copy, id, params, nparams, timestamp_ns, &stats);
    g_array_append_val(batch->stats, stats);
}

/* ---- sources ------------------------------------------------------- */

struct _VlStatsSource {
    gint refs;
    char *description;
    VlStatsSourceOps ops;
    gpointer data;
};

VlStatsSource *
vl_stats_source_new(const char *description, const VlStatsSourceOps *ops,
                    gpointer data)
{
    VlStatsSource *source;

    g_return_val_if_fail(ops != NULL && ops->collect != NULL, NULL);

    source = g_new0(VlStatsSource, 1);
    source->refs = 1;
    source->description = g_strdup(description);
    source->ops = *ops;
    source->data = data;
    return source;
}

VlStatsSource *
vl_stats_source_ref(VlStatsSource *source)
{
    g_return_val_if_fail(source != NULL, NULL);
    g_atomic_int_inc(&source->refs);
    return source;
}

void
vl_stats_source_unref(VlStatsSource *source)
{
    if (!source || !g_atomic_int_dec_and_test(&source->refs))
        return;
    if (source->ops.free)
        source->ops.free(source->data);
    g_free(source->description);
    g_free(source);
}

const char *
vl_stats_source_get_description(VlStatsSource *source)
{
    return source->description;
}

gboolean
vl_stats_source_needs_connection(VlStatsSource *source)
{
    return source->ops.needs_connection;
}

VlStatsBatch *
vl_stats_source_collect(VlStatsSource *source, virConnectPtr conn,
                        GError **error)
{
    g_return_val_if_fail(source != NULL, NULL);
    return source->ops.collect(source->data, conn, error);
}

/* ---- libvirt ------------------------------------------------------- */

#define LIBVIRT_STATS (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | \
                       VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | \
                       VIR_DOMAIN_STATS_BLOCK | VIR_DOMAIN_STATS_BALLOON)

/* More node statistics than any driver reports. */
#define NODE_PARAMS_MAX 64

typedef struct {
    guint slice;            /* domains per virDomainListGetStats() */
    /* How many fields virNodeGetCPUStats()/virNodeGetMemoryStats() give
     * (Linux wants exactly that many): asked once, then remembered,
     * saving a round trip each per cycle; 0 = ask. */
    int ncpu;
    int nmemory;
} LibvirtSource;

/* The host's counters; what libvirt cannot give stays unknown (the
 * test driver has no memory statistics, some hosts no CPU ones). */
static void
read_host(LibvirtSource *source, virConnectPtr conn, VlHostStats *host)
{
    virNodeCPUStats cpu[NODE_PARAMS_MAX];
    virNodeMemoryStats memory[NODE_PARAMS_MAX];
    int ncpu = source->ncpu;
    int nmemory = source->nmemory;

    memset(cpu, 0, sizeof(cpu));
    memset(memory, 0, sizeof(memory));
    if (ncpu == 0 &&
        virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &ncpu, 0) < 0)
        ncpu = 0;
    if (ncpu <= 0 || ncpu > NODE_PARAMS_MAX ||
        virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, cpu, &ncpu, 0) < 0)
        ncpu = 0;
    if (nmemory == 0 &&
        virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL,
                              &nmemory, 0) < 0)
        nmemory = 0;
    if (nmemory <= 0 || nmemory > NODE_PARAMS_MAX ||
        virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, memory,
                              &nmemory, 0) < 0)
        nmemory = 0;
    if (ncpu == 0 || nmemory == 0)
        g_debug("Host statistics incomplete: %s", virGetLastErrorMessage());
    /* A failure asks for the count again next time. */
    source->ncpu = ncpu;
    source->nmemory = nmemory;
    vl_host_stats_from_node(cpu, ncpu, memory, nmemory,
                            g_get_monotonic_time() * 1000, host);
}

static void
add_records(VlStatsBatch *batch, virDomainStatsRecordPtr *records, int n,
            gint64 now_ns)
{
    int i;

    for (i = 0; i < n; i++) {
        const char *name = virDomainGetName(records[i]->dom);
        unsigned int id = virDomainGetID(records[i]->dom);

        if (!name)
            continue;
        vl_stats_batch_add(batch, name,
                           id == (unsigned int)-1 || id > G_MAXINT ? -1 : (int)id,
                           records[i]->params, records[i]->nparams, now_ns);
    }
}

static VlStatsBatch *
libvirt_collect(gpointer data, virConnectPtr conn, GError **error)
{
    LibvirtSource *source = data;
    g_autoptr(VlStatsBatch) batch = NULL;
    g_autofree virDomainPtr *slice = NULL;
    virDomainPtr *doms = NULL;
    int n;
    int i;
    gboolean ok = TRUE;

    if (!conn) {
        g_set_error(error, VL_ERROR, VL_ERROR_LIBVIRT,
                    "Not connected to libvirt");
        return NULL;
    }

    /*
     * Inactive domains have no rates to give.  The list is taken once,
     * then the statistics slice by slice (VL_STATS_SLICE_DOMAINS says
     * why); a domain that stopped in between is reported without rates
     * and counts as not running.
     */
    n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        vl_error_set_from_virt(error, "Cannot list the active domains");
        return NULL;
    }

    batch = vl_stats_batch_new();
    slice = g_new0(virDomainPtr, source->slice + 1);
    for (i = 0; i < n && ok; i += source->slice) {
        virDomainStatsRecordPtr *records = NULL;
        int count = MIN((int)source->slice, n - i);
        int got;

        memcpy(slice, doms + i, count * sizeof(virDomainPtr));
        slice[count] = NULL;
        /*
         * NOWAIT skips the parts of a domain that is busy with a job (a
         * migration) instead of waiting for it: one slow domain must
         * not stall every container's cycle.  Without BACKING,
         * backing-chain entries are not reported as disks of their own.
         */
        got = virDomainListGetStats(slice, LIBVIRT_STATS, &records,
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (got < 0) {
            vl_error_set_from_virt(error,
                                   "Cannot get the statistics of domains %d to %d of %d",
                                   i + 1, i + count, n);
            ok = FALSE;
        } else {
            /* Each slice's own time: rates are per domain, between two
             * readings of that domain. */
            add_records(batch, records, got, g_get_monotonic_time() * 1000);
        }
        /* Freed slice by slice: the peak is one slice's records. */
        if (records)
            virDomainStatsRecordListFree(records);
    }
    for (i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    if (!ok)
        return NULL;

    read_host(source, conn, &batch->host);
    return g_steal_pointer(&batch);
}

VlStatsSource *
vl_stats_source_new_libvirt_sliced(guint slice)
{
    static const VlStatsSourceOps ops = {
        .collect = libvirt_collect,
        .free = g_free,
        .needs_connection = TRUE,
    };
    LibvirtSource *source;

    g_return_val_if_fail(slice >= 1 && slice <= VL_STATS_SLICE_MAX, NULL);
    source = g_new0(LibvirtSource, 1);
    source->slice = slice;
    return vl_stats_source_new("libvirt", &ops, source);
}

VlStatsSource *
vl_stats_source_new_libvirt(void)
{
    return vl_stats_source_new_libvirt_sliced(VL_STATS_SLICE_DOMAINS);
}

/* ---- replay -------------------------------------------------------- */

typedef struct {
    char name[VIR_TYPED_PARAM_FIELD_LENGTH];
    gboolean is_string;
    gboolean negative;      /* an integer below zero: @l, else @u */
    guint64 u;
    gint64 l;
    char *s;
    guint64 step;           /* last sample only: growth per extrapolation */
} ReplayField;

typedef struct {
    char *domain;
    GArray *fields;         /* ReplayField */
} ReplayRecord;

typedef struct {
    double time_s;
    GPtrArray *records;     /* ReplayRecord* */
    ReplayRecord *host;     /* nullable: the "Host:" record */
} ReplaySample;

typedef struct {
    GPtrArray *samples;     /* ReplaySample* */
    double step_s;          /* time step beyond the recording */
    guint64 next;           /* batches handed out */
} Replay;

static void
replay_record_free(ReplayRecord *record)
{
    guint i;

    if (!record)
        return;
    for (i = 0; record->fields && i < record->fields->len; i++)
        g_free(g_array_index(record->fields, ReplayField, i).s);
    if (record->fields)
        g_array_unref(record->fields);
    g_free(record->domain);
    g_free(record);
}

static void
replay_sample_free(ReplaySample *sample)
{
    if (!sample)
        return;
    if (sample->records)
        g_ptr_array_unref(sample->records);
    replay_record_free(sample->host);
    g_free(sample);
}

static void
replay_free(gpointer data)
{
    Replay *replay = data;

    if (!replay)
        return;
    if (replay->samples)
        g_ptr_array_unref(replay->samples);
    g_free(replay);
}

static ReplayRecord *
sample_find(ReplaySample *sample, const char *domain)
{
    guint i;

    for (i = 0; i < sample->records->len; i++) {
        ReplayRecord *r = g_ptr_array_index(sample->records, i);

        if (g_str_equal(r->domain, domain))
            return r;
    }
    return NULL;
}

static const ReplayField *
record_find(const ReplayRecord *record, const char *name)
{
    guint i;

    for (i = 0; i < record->fields->len; i++) {
        const ReplayField *f = &g_array_index(record->fields, ReplayField, i);

        if (g_str_equal(f->name, name))
            return f;
    }
    return NULL;
}

static gboolean
is_field_name(const char *s, gsize len)
{
    gsize i;

    if (len == 0 || len >= VIR_TYPED_PARAM_FIELD_LENGTH)
        return FALSE;
    for (i = 0; i < len; i++) {
        if (!g_ascii_isalnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return FALSE;
    }
    return TRUE;
}

/* An integer as virsh prints one: optional '-', then digits only. */
static gboolean
parse_integer(const char *s, ReplayField *field)
{
    const char *digits = s[0] == '-' ? s + 1 : s;
    const char *p;

    if (!*digits)
        return FALSE;
    for (p = digits; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return FALSE;
    }
    if (s[0] != '-')
        return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &field->u, NULL);
    if (!g_ascii_string_to_signed(s, 10, G_MININT64, 0, &field->l, NULL))
        return FALSE;
    /* "-0" is zero, not a negative number. */
    field->negative = field->l < 0;
    return TRUE;
}

#define REPLAY_SYNTAX "Expected '@sample SECONDS', 'Domain: 'NAME'', 'Host:' or 'FIELD=VALUE'"

static gboolean
parse_line(Replay *replay, const char *name, guint lineno, char *line,
           ReplaySample **sample, ReplayRecord **record, GError **error)
{
    char *eq;

    if (g_str_has_prefix(line, "@sample")) {
        char after = line[strlen("@sample")];
        const char *arg = NULL;
        char *end = NULL;
        double t;
        ReplaySample *last = replay->samples->len ?
            g_ptr_array_index(replay->samples, replay->samples->len - 1) : NULL;

        if (after != '\0' && !g_ascii_isspace(after)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "%s:%u: %s",
                        name, lineno, REPLAY_SYNTAX);
            return FALSE;
        }
        arg = g_strchug(line + strlen("@sample"));
        t = g_ascii_strtod(arg, &end);
        if (!*arg || end == arg || *end != '\0' || !isfinite(t) || t < 0 ||
            t > 1e9) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Sample time '%s' is not a number of seconds from 0 to 1000000000",
                        name, lineno, arg);
            return FALSE;
        }
        if (last && t <= last->time_s) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Sample time '%s' is not after the previous sample's (%g)",
                        name, lineno, arg, last->time_s);
            return FALSE;
        }
        *sample = g_new0(ReplaySample, 1);
        (*sample)->time_s = t;
        (*sample)->records = g_ptr_array_new_with_free_func((GDestroyNotify)replay_record_free);
        g_ptr_array_add(replay->samples, *sample);
        *record = NULL;
        return TRUE;
    }

    if (g_str_has_prefix(line, "Domain: '")) {
        const char *start = line + strlen("Domain: '");
        gsize len = strlen(start);
        g_autofree char *domain = NULL;

        if (len < 2 || start[len - 1] != '\'') {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: A domain line must be 'Domain: 'NAME''",
                        name, lineno);
            return FALSE;
        }
        if (!*sample) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Domain before the first '@sample' line",
                        name, lineno);
            return FALSE;
        }
        domain = g_strndup(start, len - 1);
        if (sample_find(*sample, domain)) {
            g_autofree char *shown = g_strescape(domain, NULL);

            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Domain '%s' appears twice in one sample",
                        name, lineno, shown);
            return FALSE;
        }
        *record = g_new0(ReplayRecord, 1);
        (*record)->domain = g_steal_pointer(&domain);
        (*record)->fields = g_array_new(FALSE, TRUE, sizeof(ReplayField));
        g_ptr_array_add((*sample)->records, *record);
        return TRUE;
    }

    if (g_str_equal(line, "Host:")) {
        if (!*sample) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Host before the first '@sample' line",
                        name, lineno);
            return FALSE;
        }
        if ((*sample)->host) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Host appears twice in one sample", name, lineno);
            return FALSE;
        }
        *record = g_new0(ReplayRecord, 1);
        (*record)->fields = g_array_new(FALSE, TRUE, sizeof(ReplayField));
        (*sample)->host = *record;
        return TRUE;
    }

    eq = strchr(line, '=');
    if (eq) {
        ReplayField field = { { 0 } };
        g_autofree char *shown = NULL;

        if (!is_field_name(line, eq - line)) {
            *eq = '\0';
            shown = g_strescape(line, NULL);
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Field name '%s' must be 1 to %d characters among 'A-Z a-z 0-9 . _ -'",
                        name, lineno, shown, VIR_TYPED_PARAM_FIELD_LENGTH - 1);
            return FALSE;
        }
        if (!*record) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Field before the first 'Domain:' line of the sample",
                        name, lineno);
            return FALSE;
        }
        *eq = '\0';
        memcpy(field.name, line, eq - line);
        if (record_find(*record, field.name)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Field '%s' appears twice in one record",
                        name, lineno, field.name);
            return FALSE;
        }
        if (!parse_integer(eq + 1, &field)) {
            field.is_string = TRUE;
            field.negative = FALSE;
            field.s = g_strdup(eq + 1);
        }
        /* The host's counters are what virNodeGetCPUStats() and
         * virNodeGetMemoryStats() give: unsigned, under cpu. or memory. */
        if (!(*record)->domain &&
            ((!g_str_has_prefix(field.name, "cpu.") &&
              !g_str_has_prefix(field.name, "memory.")) ||
             field.is_string || field.negative)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Host field '%s' must be 'cpu.NAME' or 'memory.NAME' with an unsigned integer value",
                        name, lineno, field.name);
            g_free(field.s);
            return FALSE;
        }
        g_array_append_val((*record)->fields, field);
        return TRUE;
    }

    g_set_error(error, VL_ERROR, VL_ERROR_INVALID, "%s:%u: %s", name, lineno,
                REPLAY_SYNTAX);
    return FALSE;
}

/* How much each integer field of the last sample grows per step beyond
 * the recording: what it grew from the sample before (never shrinks). */
static void
compute_steps(Replay *replay)
{
    guint n = replay->samples->len;
    ReplaySample *last = g_ptr_array_index(replay->samples, n - 1);
    ReplaySample *prev = n > 1 ? g_ptr_array_index(replay->samples, n - 2) : NULL;
    guint i;
    guint j;

    replay->step_s = prev ? last->time_s - prev->time_s : 1.0;
    for (i = 0; i <= last->records->len; i++) {
        ReplayRecord *r;
        ReplayRecord *p;

        if (i < last->records->len) {
            r = g_ptr_array_index(last->records, i);
            p = prev ? sample_find(prev, r->domain) : NULL;
        } else {
            r = last->host;
            p = prev ? prev->host : NULL;
        }
        for (j = 0; r && j < r->fields->len; j++) {
            ReplayField *f = &g_array_index(r->fields, ReplayField, j);
            const ReplayField *pf = p ? record_find(p, f->name) : NULL;

            f->step = 0;
            if (pf && !f->is_string && !pf->is_string && !f->negative &&
                !pf->negative && f->u > pf->u)
                f->step = f->u - pf->u;
        }
    }
}

/* A field's value @k steps beyond the recording (saturating: a test
 * recording never runs that long). */
static guint64
field_at(const ReplayField *f, guint64 k)
{
    if (f->step && k > (G_MAXUINT64 - f->u) / f->step)
        return G_MAXUINT64;
    return f->u + k * f->step;
}

/* The "Host:" record as libvirt's node statistics. */
static void
replay_host(const ReplayRecord *host, guint64 k, gint64 timestamp_ns,
            VlHostStats *stats)
{
    g_autofree virNodeCPUStats *cpu = NULL;
    g_autofree virNodeMemoryStats *memory = NULL;
    int ncpu = 0;
    int nmemory = 0;
    guint i;

    if (!host) {
        vl_host_stats_from_node(NULL, 0, NULL, 0, timestamp_ns, stats);
        return;
    }
    cpu = g_new0(virNodeCPUStats, host->fields->len);
    memory = g_new0(virNodeMemoryStats, host->fields->len);
    for (i = 0; i < host->fields->len; i++) {
        const ReplayField *f = &g_array_index(host->fields, ReplayField, i);

        /* The parser let in "cpu." and "memory." names only. */
        if (g_str_has_prefix(f->name, "cpu.")) {
            g_strlcpy(cpu[ncpu].field, f->name + strlen("cpu."),
                      sizeof(cpu[ncpu].field));
            cpu[ncpu++].value = field_at(f, k);
        } else {
            g_strlcpy(memory[nmemory].field, f->name + strlen("memory."),
                      sizeof(memory[nmemory].field));
            memory[nmemory++].value = field_at(f, k);
        }
    }
    vl_host_stats_from_node(cpu, ncpu, memory, nmemory, timestamp_ns, stats);
}

static VlStatsBatch *
replay_collect(gpointer data, virConnectPtr conn G_GNUC_UNUSED,
               GError **error G_GNUC_UNUSED)
{
    Replay *replay = data;
    g_autoptr(VlStatsBatch) batch = vl_stats_batch_new();
    g_autoptr(GArray) params = g_array_new(FALSE, TRUE, sizeof(virTypedParameter));
    guint n = replay->samples->len;
    guint64 index = replay->next++;
    guint64 k = index >= n ? index - (n - 1) : 0;
    ReplaySample *sample = g_ptr_array_index(replay->samples, MIN(index, n - 1));
    double t = sample->time_s + (double)k * replay->step_s;
    guint i;
    guint j;

    for (i = 0; i < sample->records->len; i++) {
        ReplayRecord *r = g_ptr_array_index(sample->records, i);

        g_array_set_size(params, 0);
        for (j = 0; j < r->fields->len; j++) {
            const ReplayField *f = &g_array_index(r->fields, ReplayField, j);
            virTypedParameter p;

            memset(&p, 0, sizeof(p));
            memcpy(p.field, f->name, sizeof(p.field));
            if (f->is_string) {
                p.type = VIR_TYPED_PARAM_STRING;
                p.value.s = f->s;   /* borrowed: the parser only reads */
            } else if (f->negative) {
                p.type = VIR_TYPED_PARAM_LLONG;
                p.value.l = f->l;
            } else {
                p.type = VIR_TYPED_PARAM_ULLONG;
                p.value.ul = field_at(f, k);
            }
            g_array_append_val(params, p);
        }
        /* The replay has no domain ids: restarts show as counter resets. */
        vl_stats_batch_add(batch, r->domain, -1,
                           (const virTypedParameter *)params->data,
                           (int)params->len, (gint64)(t * 1e9));
    }
    replay_host(sample->host, k, (gint64)(t * 1e9), &batch->host);
    return g_steal_pointer(&batch);
}

static const VlStatsSourceOps replay_ops = {
    .collect = replay_collect,
    .free = replay_free,
    .needs_connection = FALSE,
};

VlStatsSource *
vl_stats_source_new_replay_data(const char *name, const char *data, gsize len,
                                GError **error)
{
    Replay *replay;
    g_autofree char *description = NULL;
    ReplaySample *sample = NULL;
    ReplayRecord *record = NULL;
    const char *p = data;
    const char *end = data + len;
    guint lineno = 0;

    if (len > VL_STATS_REPLAY_MAX_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s: Recording is larger than %d bytes", name,
                    VL_STATS_REPLAY_MAX_SIZE);
        return NULL;
    }

    replay = g_new0(Replay, 1);
    replay->samples = g_ptr_array_new_with_free_func((GDestroyNotify)replay_sample_free);

    while (p < end) {
        const char *eol = memchr(p, '\n', end - p);
        gsize n = eol ? (gsize)(eol - p) : (gsize)(end - p);
        g_autofree char *line = NULL;
        char *s;

        lineno++;
        if (!g_utf8_validate(p, n, NULL) || memchr(p, '\0', n)) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s:%u: Line is not valid UTF-8 text", name, lineno);
            replay_free(replay);
            return NULL;
        }
        line = g_strndup(p, n);
        p += n + (eol ? 1 : 0);
        s = g_strstrip(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (!parse_line(replay, name, lineno, s, &sample, &record, error)) {
            replay_free(replay);
            return NULL;
        }
    }

    if (replay->samples->len == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s: Recording has no '@sample' line", name);
        replay_free(replay);
        return NULL;
    }
    compute_steps(replay);

    description = g_strdup_printf("replay of '%s'", name);
    return vl_stats_source_new(description, &replay_ops, replay);
}

VlStatsSource *
vl_stats_source_new_replay(const char *path, GError **error)
{
    g_auto(VlFd) fd = -1;
    g_autoptr(GByteArray) data = NULL;
    struct stat st;

    /* O_NONBLOCK: a FIFO named like the file must not hang the daemon. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        vl_error_set_from_errno(error, errno, "Cannot open recording '%s'", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        vl_error_set_from_errno(error, errno, "Cannot stat recording '%s'", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Recording '%s' is not a regular file", path);
        return NULL;
    }
    if (st.st_size > VL_STATS_REPLAY_MAX_SIZE) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "%s: Recording is larger than %d bytes", path,
                    VL_STATS_REPLAY_MAX_SIZE);
        return NULL;
    }
    /* Bounded even if the file grows while it is read. */
    data = g_byte_array_sized_new((guint)st.st_size + 1);
    for (;;) {
        guint8 chunk[65536];
        ssize_t got = read(fd, chunk, sizeof(chunk));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            vl_error_set_from_errno(error, errno, "Cannot read recording '%s'",
                                    path);
            return NULL;
        }
        if (got == 0)
            break;
        if (data->len + (gsize)got > VL_STATS_REPLAY_MAX_SIZE) {
            g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                        "%s: Recording is larger than %d bytes", path,
                        VL_STATS_REPLAY_MAX_SIZE);
            return NULL;
        }
        g_byte_array_append(data, chunk, (guint)got);
    }
    return vl_stats_source_new_replay_data(path, (const char *)data->data,
                                           data->len, error);
}
