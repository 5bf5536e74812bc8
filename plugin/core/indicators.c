/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * indicators.c: per-domain statistics samples turned into indicator values
 */
#include <config.h>

#include <string.h>

#include "indicators.h"

/*
 * Device indices we can follow per record: one 64-bit set per counter
 * keeps the per-record state small (it is cleared 10 000 times a
 * cycle).  A domain with more disks or interfaces than this gets those
 * indicators unknown rather than wrong.
 */
#define VL_INDICATORS_MAX_DEVICES 64

typedef guint64 DeviceSet;

static gboolean
device_set_add(DeviceSet *set, guint index)
{
    guint64 mask = G_GUINT64_CONSTANT(1) << index;

    if (*set & mask)
        return FALSE;
    *set |= mask;
    return TRUE;
}

static gboolean
device_set_has(const DeviceSet *set, guint index)
{
    return (*set >> index) & 1;
}

/*
 * One device group ("net" or "block") while parsing: two counters per
 * device, the declared count, and what was seen.
 */
typedef struct {
    gboolean have_count;
    guint count;
    gboolean malformed;     /* an index we cannot follow */
    guint max_index;
    gboolean any_index;
    DeviceSet seen[2];
    guint64 sum[2];
} DeviceGroup;

static gboolean
param_get_u64(const virTypedParameter *p, guint64 *out)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        if (p->value.i < 0)
            return FALSE;
        *out = (guint64) p->value.i;
        return TRUE;
    case VIR_TYPED_PARAM_UINT:
        *out = p->value.ui;
        return TRUE;
    case VIR_TYPED_PARAM_LLONG:
        if (p->value.l < 0)
            return FALSE;
        *out = (guint64) p->value.l;
        return TRUE;
    case VIR_TYPED_PARAM_ULLONG:
        *out = p->value.ul;
        return TRUE;
    default:
        return FALSE;
    }
}

/*
 * "N.suffix" after the group prefix, within [rest, end): returns the
 * index and the suffix, or FALSE when the field is not of that shape.
 */
static gboolean
parse_device_field(const char *rest, const char *end, guint *index,
                   const char **suffix)
{
    guint64 n = 0;
    const char *p = rest;

    if (p >= end || !g_ascii_isdigit(*p))
        return FALSE;
    /* An index too large for a guint saturates: out of range, not absent. */
    while (p < end && g_ascii_isdigit(*p)) {
        n = MIN(n * 10 + (guint64) (*p - '0'), (guint64) G_MAXUINT);
        p++;
    }
    if (p >= end || *p != '.')
        return FALSE;
    *index = (guint) n;
    *suffix = p + 1;
    return TRUE;
}

/*
 * Field names are compared together with the literal's NUL and never
 * beyond the end of the fixed-size field, so an unterminated name simply
 * matches nothing, and the ~50 fields of a record we do not read cost a
 * few byte compares each: this is the hot loop of the daemon's tick
 * (bench/containers).
 */
#define FIELD_IS(f, end, lit) \
    ((gsize) ((end) - (f)) >= sizeof(lit) && \
     memcmp((f), (lit), sizeof(lit)) == 0)
#define FIELD_HAS_PREFIX(f, end, lit) \
    ((gsize) ((end) - (f)) >= sizeof(lit) - 1 && \
     memcmp((f), (lit), sizeof(lit) - 1) == 0)

/*
 * @counter: the first two letters of the group's two counters, each
 * followed by ".bytes": "rxtx" for net, "rdwr" for block.
 */
static void
device_group_param(DeviceGroup *group, const char *rest, const char *end,
                   const char counter[4], const virTypedParameter *p)
{
    guint index;
    const char *suffix;
    guint64 v;
    guint which;

    if (FIELD_IS(rest, end, "count")) {
        if (param_get_u64(p, &v) && v <= G_MAXUINT) {
            group->have_count = TRUE;
            group->count = (guint) v;
        }
        return;
    }
    if (!parse_device_field(rest, end, &index, &suffix) || end - suffix < 2 ||
        !FIELD_IS(suffix + 2, end, ".bytes"))
        return;
    if (suffix[0] == counter[0] && suffix[1] == counter[1])
        which = 0;
    else if (suffix[0] == counter[2] && suffix[1] == counter[3])
        which = 1;
    else
        return;

    if (index >= VL_INDICATORS_MAX_DEVICES || !param_get_u64(p, &v)) {
        group->malformed = TRUE;
        return;
    }
    if (!group->any_index || index > group->max_index)
        group->max_index = index;
    group->any_index = TRUE;
    /* A repeated field is ignored rather than counted twice. */
    if (device_set_add(&group->seen[which], index))
        group->sum[which] += v;
}

/*
 * Decides which sums are usable.  A device that reported neither counter
 * (QEMU has none for an empty CD-ROM drive) is left out; one that
 * reported only one makes the other sum incomplete, hence unknown.
 */
static void
device_group_finish(const DeviceGroup *group, guint32 have_bit[2],
                    VlDomainStats *stats, guint *devices, guint64 *out[2])
{
    gboolean complete[2] = { TRUE, TRUE };
    guint n = 0;
    guint i;

    if (!group->have_count || group->malformed ||
        group->count > VL_INDICATORS_MAX_DEVICES ||
        (group->any_index && group->max_index >= group->count))
        return;

    for (i = 0; i < group->count; i++) {
        gboolean has0 = device_set_has(&group->seen[0], i);
        gboolean has1 = device_set_has(&group->seen[1], i);

        if (!has0 && !has1)
            continue;
        n++;
        if (!has0)
            complete[0] = FALSE;
        if (!has1)
            complete[1] = FALSE;
    }

    *devices = n;
    for (i = 0; i < 2; i++) {
        if (complete[i]) {
            stats->have |= have_bit[i];
            *out[i] = group->sum[i];
        }
    }
}

static void
balloon_set(VlDomainStats *stats, guint64 *field, guint32 bit,
            const virTypedParameter *p)
{
    guint64 v;

    if (param_get_u64(p, &v)) {
        *field = v;
        stats->have |= bit;
    }
}

static void
balloon_param(VlDomainStats *stats, const char *rest, const char *end,
              const virTypedParameter *p)
{
    if (FIELD_IS(rest, end, "current"))
        balloon_set(stats, &stats->balloon_current_kib,
                    VL_DOMAIN_STATS_HAVE_BALLOON_CURRENT, p);
    else if (FIELD_IS(rest, end, "available"))
        balloon_set(stats, &stats->balloon_available_kib,
                    VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE, p);
    else if (FIELD_IS(rest, end, "unused"))
        balloon_set(stats, &stats->balloon_unused_kib,
                    VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED, p);
    else if (FIELD_IS(rest, end, "usable"))
        balloon_set(stats, &stats->balloon_usable_kib,
                    VL_DOMAIN_STATS_HAVE_BALLOON_USABLE, p);
    else if (FIELD_IS(rest, end, "rss"))
        balloon_set(stats, &stats->balloon_rss_kib,
                    VL_DOMAIN_STATS_HAVE_BALLOON_RSS, p);
}

void
vl_indicators_from_params(const char *name, int id,
                          const virTypedParameter *params, int nparams,
                          gint64 timestamp_ns, VlDomainStats *stats)
{
    static const char net_counters[4] = { 'r', 'x', 't', 'x' };
    static const char block_counters[4] = { 'r', 'd', 'w', 'r' };
    DeviceGroup net = { 0 };
    DeviceGroup block = { 0 };
    guint32 net_bits[2] = { VL_DOMAIN_STATS_HAVE_NET_RX,
                            VL_DOMAIN_STATS_HAVE_NET_TX };
    guint32 block_bits[2] = { VL_DOMAIN_STATS_HAVE_BLOCK_RD,
                              VL_DOMAIN_STATS_HAVE_BLOCK_WR };
    guint64 *net_out[2];
    guint64 *block_out[2];
    int i;

    memset(stats, 0, sizeof(*stats));
    stats->name = name;
    stats->id = id;
    stats->timestamp_ns = timestamp_ns;

    for (i = 0; params && i < nparams; i++) {
        const virTypedParameter *p = &params[i];
        const char *field = p->field;
        const char *end = field + VIR_TYPED_PARAM_FIELD_LENGTH;
        guint64 v;

        switch (field[0]) {
        case 'b':
            if (FIELD_HAS_PREFIX(field, end, "block."))
                device_group_param(&block, field + 6, end, block_counters, p);
            else if (FIELD_HAS_PREFIX(field, end, "balloon."))
                balloon_param(stats, field + 8, end, p);
            break;
        case 'c':
            if (FIELD_IS(field, end, "cpu.time") && param_get_u64(p, &v)) {
                stats->cpu_time_ns = v;
                stats->have |= VL_DOMAIN_STATS_HAVE_CPU_TIME;
            }
            break;
        case 'n':
            if (FIELD_HAS_PREFIX(field, end, "net."))
                device_group_param(&net, field + 4, end, net_counters, p);
            break;
        case 's':
            if (FIELD_IS(field, end, "state.state") && param_get_u64(p, &v) &&
                v <= G_MAXINT) {
                stats->state = (int) v;
                stats->have |= VL_DOMAIN_STATS_HAVE_STATE;
            }
            break;
        case 'v':
            if (FIELD_IS(field, end, "vcpu.current") && param_get_u64(p, &v) &&
                v <= G_MAXUINT) {
                stats->vcpus = (guint) v;
                stats->have |= VL_DOMAIN_STATS_HAVE_VCPUS;
            }
            break;
        default:
            break;
        }
    }

    net_out[0] = &stats->net_rx_bytes;
    net_out[1] = &stats->net_tx_bytes;
    block_out[0] = &stats->block_rd_bytes;
    block_out[1] = &stats->block_wr_bytes;
    device_group_finish(&net, net_bits, stats, &stats->net_devices, net_out);
    device_group_finish(&block, block_bits, stats, &stats->block_devices,
                        block_out);
}

static gboolean
has(const VlDomainStats *s, guint32 bits)
{
    return (s->have & bits) == bits;
}

static double
clamp_percent(double v)
{
    return CLAMP(v, 0.0, 100.0);
}

static double
memory_percent(const VlDomainStats *cur)
{
    guint64 avail = cur->balloon_available_kib;
    guint64 free_kib;

    if (!has(cur, VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE) || avail == 0)
        return VL_INDICATOR_UNKNOWN;
    /* MemFree counts the page cache as used; MemAvailable does not. */
    if (has(cur, VL_DOMAIN_STATS_HAVE_BALLOON_USABLE))
        free_kib = cur->balloon_usable_kib;
    else if (has(cur, VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED))
        free_kib = cur->balloon_unused_kib;
    else
        return VL_INDICATOR_UNKNOWN;
    free_kib = MIN(free_kib, avail);
    return clamp_percent(100.0 * (double) (avail - free_kib) / (double) avail);
}

static gboolean
is_running(const VlDomainStats *s)
{
    return !has(s, VL_DOMAIN_STATS_HAVE_STATE) || s->state == VIR_DOMAIN_RUNNING;
}

void
vl_indicators_compute(const VlDomainStats *prev, const VlDomainStats *cur,
                      double *values)
{
    double elapsed_s;
    int i;

    for (i = 0; i < VL_INDICATOR_LAST; i++)
        values[i] = VL_INDICATOR_UNKNOWN;

    /* A paused or stopped domain has no load to speak of: unknown. */
    if (!is_running(cur))
        return;
    values[VL_INDICATOR_MEMORY] = memory_percent(cur);

    if (!prev || !is_running(prev) || cur->timestamp_ns <= prev->timestamp_ns)
        return;
    /* A new id is a new QEMU process: every counter restarted. */
    if (prev->id >= 0 && cur->id >= 0 && prev->id != cur->id)
        return;
    elapsed_s = (double) (cur->timestamp_ns - prev->timestamp_ns) / 1e9;

    if (has(prev, VL_DOMAIN_STATS_HAVE_CPU_TIME | VL_DOMAIN_STATS_HAVE_VCPUS) &&
        has(cur, VL_DOMAIN_STATS_HAVE_CPU_TIME | VL_DOMAIN_STATS_HAVE_VCPUS) &&
        cur->vcpus > 0 && cur->vcpus == prev->vcpus &&
        cur->cpu_time_ns >= prev->cpu_time_ns) {
        double busy_s = (double) (cur->cpu_time_ns - prev->cpu_time_ns) / 1e9;

        values[VL_INDICATOR_CPU] =
            clamp_percent(100.0 * busy_s / (elapsed_s * cur->vcpus));
    }

    if (prev->net_devices == cur->net_devices) {
        if (has(prev, VL_DOMAIN_STATS_HAVE_NET_RX) &&
            has(cur, VL_DOMAIN_STATS_HAVE_NET_RX) &&
            cur->net_rx_bytes >= prev->net_rx_bytes)
            values[VL_INDICATOR_NET_RX] =
                (double) (cur->net_rx_bytes - prev->net_rx_bytes) * 8.0 /
                elapsed_s / 1e6;
        if (has(prev, VL_DOMAIN_STATS_HAVE_NET_TX) &&
            has(cur, VL_DOMAIN_STATS_HAVE_NET_TX) &&
            cur->net_tx_bytes >= prev->net_tx_bytes)
            values[VL_INDICATOR_NET_TX] =
                (double) (cur->net_tx_bytes - prev->net_tx_bytes) * 8.0 /
                elapsed_s / 1e6;
    }

    if (prev->block_devices == cur->block_devices &&
        has(prev, VL_DOMAIN_STATS_HAVE_BLOCK_RD | VL_DOMAIN_STATS_HAVE_BLOCK_WR) &&
        has(cur, VL_DOMAIN_STATS_HAVE_BLOCK_RD | VL_DOMAIN_STATS_HAVE_BLOCK_WR) &&
        cur->block_rd_bytes >= prev->block_rd_bytes &&
        cur->block_wr_bytes >= prev->block_wr_bytes) {
        guint64 bytes = (cur->block_rd_bytes - prev->block_rd_bytes) +
                        (cur->block_wr_bytes - prev->block_wr_bytes);

        values[VL_INDICATOR_BLOCK_IO] =
            (double) bytes / elapsed_s / (1024.0 * 1024.0);
    }
}

/* ---- tracker ------------------------------------------------------- */

typedef struct {
    char *name;             /* owned; last.name points here */
    VlDomainStats last;
    guint64 round;
} TrackedDomain;

struct _VlIndicatorTracker {
    GHashTable *domains;    /* name (owned by the value) -> TrackedDomain */
    guint64 round;
};

static void
tracked_domain_free(gpointer data)
{
    TrackedDomain *t = data;

    g_free(t->name);
    g_free(t);
}

VlIndicatorTracker *
vl_indicator_tracker_new(void)
{
    VlIndicatorTracker *tracker = g_new0(VlIndicatorTracker, 1);

    tracker->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             tracked_domain_free);
    return tracker;
}

void
vl_indicator_tracker_free(VlIndicatorTracker *tracker)
{
    if (!tracker)
        return;
    g_clear_pointer(&tracker->domains, g_hash_table_unref);
    g_free(tracker);
}

void
vl_indicator_tracker_update(VlIndicatorTracker *tracker,
                            const VlDomainStats *cur, double *values)
{
    TrackedDomain *t;

    g_return_if_fail(tracker && cur && cur->name);

    t = g_hash_table_lookup(tracker->domains, cur->name);
    if (t) {
        vl_indicators_compute(&t->last, cur, values);
    } else {
        vl_indicators_compute(NULL, cur, values);
        t = g_new0(TrackedDomain, 1);
        t->name = g_strdup(cur->name);
        g_hash_table_insert(tracker->domains, t->name, t);
    }
    t->last = *cur;
    t->last.name = t->name;
    t->round = tracker->round;
}

static gboolean
tracked_is_stale(gpointer key G_GNUC_UNUSED, gpointer value, gpointer data)
{
    const TrackedDomain *t = value;
    const guint64 *round = data;

    return t->round != *round;
}

guint
vl_indicator_tracker_expire(VlIndicatorTracker *tracker)
{
    guint removed;

    g_return_val_if_fail(tracker, 0);

    removed = g_hash_table_foreach_remove(tracker->domains, tracked_is_stale,
                                          &tracker->round);
    tracker->round++;
    return removed;
}

guint
vl_indicator_tracker_size(VlIndicatorTracker *tracker)
{
    g_return_val_if_fail(tracker, 0);
    return g_hash_table_size(tracker->domains);
}
