/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-indicators.c: virTypedParameter arrays -> VlDomainStats ->
 * indicator values, on hand-built records
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "indicators.h"
#include "policy-helper.h"
#include "test-util.h"

/*
 * A record written as "FIELD=TYPE:VALUE ..." with TYPE one of i, ui, l,
 * ul, d, b, s (virTypedParameterType).  String values are borrowed from
 * the spec, which outlives the array.
 */
static GArray *
params_from_spec(const char *spec, GStrv *keep)
{
    GArray *params = g_array_new(FALSE, TRUE, sizeof(virTypedParameter));
    g_auto(GStrv) items = g_strsplit(spec, " ", -1);
    GPtrArray *strings = g_ptr_array_new();
    guint i;

    for (i = 0; items[i]; i++) {
        virTypedParameter p;
        g_auto(GStrv) fv = NULL;
        g_auto(GStrv) tv = NULL;

        if (!*items[i])
            continue;
        memset(&p, 0, sizeof(p));
        fv = g_strsplit(items[i], "=", 2);
        ck_assert_msg(fv[1], "bad spec item '%s'", items[i]);
        tv = g_strsplit(fv[1], ":", 2);
        ck_assert_msg(tv[1], "bad spec item '%s'", items[i]);
        g_strlcpy(p.field, fv[0], sizeof(p.field));
        if (strcmp(tv[0], "i") == 0) {
            p.type = VIR_TYPED_PARAM_INT;
            p.value.i = (int) g_ascii_strtoll(tv[1], NULL, 10);
        } else if (strcmp(tv[0], "ui") == 0) {
            p.type = VIR_TYPED_PARAM_UINT;
            p.value.ui = (unsigned int) g_ascii_strtoull(tv[1], NULL, 10);
        } else if (strcmp(tv[0], "l") == 0) {
            p.type = VIR_TYPED_PARAM_LLONG;
            p.value.l = g_ascii_strtoll(tv[1], NULL, 10);
        } else if (strcmp(tv[0], "ul") == 0) {
            p.type = VIR_TYPED_PARAM_ULLONG;
            p.value.ul = g_ascii_strtoull(tv[1], NULL, 10);
        } else if (strcmp(tv[0], "d") == 0) {
            p.type = VIR_TYPED_PARAM_DOUBLE;
            p.value.d = g_ascii_strtod(tv[1], NULL);
        } else if (strcmp(tv[0], "b") == 0) {
            p.type = VIR_TYPED_PARAM_BOOLEAN;
            p.value.b = tv[1][0] == '1';
        } else {
            char *s = g_strdup(tv[1]);

            ck_assert_str_eq(tv[0], "s");
            p.type = VIR_TYPED_PARAM_STRING;
            p.value.s = s;
            g_ptr_array_add(strings, s);
        }
        g_array_append_val(params, p);
    }
    g_ptr_array_add(strings, NULL);
    *keep = (GStrv) g_ptr_array_free(strings, FALSE);
    return params;
}

#define ALL_BALLOON (VL_DOMAIN_STATS_HAVE_BALLOON_CURRENT | \
                     VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE | \
                     VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED | \
                     VL_DOMAIN_STATS_HAVE_BALLOON_USABLE | \
                     VL_DOMAIN_STATS_HAVE_BALLOON_RSS)
#define NET (VL_DOMAIN_STATS_HAVE_NET_RX | VL_DOMAIN_STATS_HAVE_NET_TX)
#define BLOCK (VL_DOMAIN_STATS_HAVE_BLOCK_RD | VL_DOMAIN_STATS_HAVE_BLOCK_WR)
#define BASE (VL_DOMAIN_STATS_HAVE_STATE | VL_DOMAIN_STATS_HAVE_CPU_TIME | \
              VL_DOMAIN_STATS_HAVE_VCPUS)

typedef struct {
    const char *name;
    const char *spec;
    guint32 have;
    guint64 cpu_time;
    guint vcpus;
    guint net_devices;
    guint64 rx, tx;
    guint block_devices;
    guint64 rd, wr;
} ParseCase;

static const ParseCase parse_cases[] = {
    { "full record, as libvirt sends it",
      "state.state=i:1 state.reason=i:1 cpu.time=ul:5000 cpu.user=ul:3000 "
      "cpu.system=ul:1000 vcpu.current=ui:2 vcpu.maximum=ui:4 "
      "vcpu.0.state=i:1 vcpu.0.time=ul:2000 "
      "net.count=ui:2 net.0.name=s:vnet0 net.0.rx.bytes=ul:100 "
      "net.0.rx.pkts=ul:3 net.0.tx.bytes=ul:10 net.1.name=s:vnet1 "
      "net.1.rx.bytes=ul:200 net.1.tx.bytes=ul:20 "
      "block.count=ui:2 block.0.name=s:vda block.0.rd.bytes=ul:1000 "
      "block.0.wr.bytes=ul:500 block.0.rd.reqs=ul:9 block.1.name=s:vdb "
      "block.1.rd.bytes=ul:3000 block.1.wr.bytes=ul:1500 "
      "balloon.current=ul:4096 balloon.maximum=ul:8192 "
      "balloon.available=ul:4000 balloon.unused=ul:1000 "
      "balloon.usable=ul:2000 balloon.rss=ul:4200 balloon.last-update=ul:7",
      BASE | NET | BLOCK | ALL_BALLOON, 5000, 2, 2, 300, 30, 2, 4000, 2000 },
    { "no interface at all: zero, and known",
      "cpu.time=ul:1 vcpu.current=ui:1 net.count=ui:0 block.count=ui:0",
      VL_DOMAIN_STATS_HAVE_CPU_TIME | VL_DOMAIN_STATS_HAVE_VCPUS | NET | BLOCK,
      1, 1, 0, 0, 0, 0, 0, 0 },
    { "counters without a count: unknown",
      "net.0.rx.bytes=ul:5 net.0.tx.bytes=ul:5 block.0.rd.bytes=ul:5 "
      "block.0.wr.bytes=ul:5",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "one interface without tx: tx unknown, rx known",
      "net.count=ui:2 net.0.rx.bytes=ul:1 net.0.tx.bytes=ul:2 "
      "net.1.rx.bytes=ul:4",
      VL_DOMAIN_STATS_HAVE_NET_RX, 0, 0, 2, 5, 0, 0, 0, 0 },
    { "a disk without statistics (empty CD-ROM) is left out",
      "block.count=ui:2 block.0.name=s:vda block.0.rd.bytes=ul:7 "
      "block.0.wr.bytes=ul:8 block.1.name=s:sda",
      BLOCK, 0, 0, 0, 0, 0, 1, 7, 8 },
    { "an index beyond the count: malformed, unknown",
      "net.count=ui:1 net.0.rx.bytes=ul:1 net.0.tx.bytes=ul:1 "
      "net.1.rx.bytes=ul:1",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "more devices than we follow: unknown",
      "block.count=ui:300 block.0.rd.bytes=ul:1 block.0.wr.bytes=ul:1 "
      "block.299.rd.bytes=ul:1 block.299.wr.bytes=ul:1",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "65 devices, the first 64 followed: still unknown",
      "net.count=ui:65 net.0.rx.bytes=ul:1 net.0.tx.bytes=ul:1 "
      "net.64.rx.bytes=ul:1 net.64.tx.bytes=ul:1",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "64 devices, the last index 63: followed",
      "net.count=ui:64 net.0.rx.bytes=ul:1 net.0.tx.bytes=ul:2 "
      "net.63.rx.bytes=ul:4 net.63.tx.bytes=ul:8",
      NET, 0, 0, 2, 5, 10, 0, 0, 0 },
    { "an index that overflows: unknown",
      "net.count=ui:1 net.99999999999.rx.bytes=ul:1",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "wrong types are missing fields",
      "cpu.time=s:12 vcpu.current=d:2.0 state.state=b:1 balloon.rss=s:1 "
      "net.count=s:1",
      0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "a negative signed value is not a counter",
      "state.state=i:-1 cpu.time=l:-5 vcpu.current=i:2",
      VL_DOMAIN_STATS_HAVE_VCPUS, 0, 2, 0, 0, 0, 0, 0, 0 },
    { "signed and 32-bit types are accepted",
      "state.state=ui:1 cpu.time=l:77 vcpu.current=ul:3",
      BASE, 77, 3, 0, 0, 0, 0, 0, 0 },
    { "a repeated field counts once",
      "net.count=ui:1 net.0.rx.bytes=ul:10 net.0.rx.bytes=ul:20 "
      "net.0.tx.bytes=ul:1",
      NET, 0, 0, 1, 10, 1, 0, 0, 0 },
    { "look-alike fields are ignored",
      "cpu.time.extra=ul:9 cpu.times=ul:9 net.count=ui:1 net.0x.rx.bytes=ul:9 "
      "net..rx.bytes=ul:9 net.0.rx.bytesx=ul:9 net.-1.rx.bytes=ul:9 "
      "balloon.currentx=ul:9 block.count=ui:0",
      NET | BLOCK, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "an empty record", "", 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

START_TEST(test_parse)
{
    const ParseCase *c = &parse_cases[_i];
    g_auto(GStrv) keep = NULL;
    g_autoptr(GArray) params = params_from_spec(c->spec, &keep);
    VlDomainStats s;

    vl_indicators_from_params("dom", 4, (virTypedParameter *) params->data,
                              (int) params->len, 123, &s);
    ck_assert_msg(s.have == c->have, "%s: have 0x%x, expected 0x%x",
                  c->name, s.have, c->have);
    ck_assert_str_eq(s.name, "dom");
    ck_assert_int_eq(s.id, 4);
    ck_assert_int_eq(s.timestamp_ns, 123);
    if (c->have & VL_DOMAIN_STATS_HAVE_CPU_TIME)
        ck_assert_uint_eq(s.cpu_time_ns, c->cpu_time);
    if (c->have & VL_DOMAIN_STATS_HAVE_VCPUS)
        ck_assert_uint_eq(s.vcpus, c->vcpus);
    if (c->have & (VL_DOMAIN_STATS_HAVE_NET_RX | VL_DOMAIN_STATS_HAVE_NET_TX))
        ck_assert_uint_eq(s.net_devices, c->net_devices);
    if (c->have & VL_DOMAIN_STATS_HAVE_NET_RX)
        ck_assert_uint_eq(s.net_rx_bytes, c->rx);
    if (c->have & VL_DOMAIN_STATS_HAVE_NET_TX)
        ck_assert_uint_eq(s.net_tx_bytes, c->tx);
    if (c->have & BLOCK) {
        ck_assert_uint_eq(s.block_devices, c->block_devices);
        ck_assert_uint_eq(s.block_rd_bytes, c->rd);
        ck_assert_uint_eq(s.block_wr_bytes, c->wr);
    }
    if (c->have & ALL_BALLOON) {
        ck_assert_uint_eq(s.balloon_current_kib, 4096);
        ck_assert_uint_eq(s.balloon_available_kib, 4000);
        ck_assert_uint_eq(s.balloon_unused_kib, 1000);
        ck_assert_uint_eq(s.balloon_usable_kib, 2000);
        ck_assert_uint_eq(s.balloon_rss_kib, 4200);
        ck_assert_int_eq(s.state, VIR_DOMAIN_RUNNING);
    }
}
END_TEST

START_TEST(test_parse_unterminated_field)
{
    virTypedParameter p[2];
    VlDomainStats s;

    memset(p, 0, sizeof(p));
    /* A name filling the whole field, no NUL: skipped, not overrun. */
    memset(p[0].field, 'x', sizeof(p[0].field));
    p[0].type = VIR_TYPED_PARAM_ULLONG;
    g_strlcpy(p[1].field, "cpu.time", sizeof(p[1].field));
    p[1].type = VIR_TYPED_PARAM_ULLONG;
    p[1].value.ul = 42;
    vl_indicators_from_params("dom", -1, p, 2, 0, &s);
    ck_assert_uint_eq(s.have, VL_DOMAIN_STATS_HAVE_CPU_TIME);
    ck_assert_uint_eq(s.cpu_time_ns, 42);

    vl_indicators_from_params("dom", -1, NULL, 5, 0, &s);
    ck_assert_uint_eq(s.have, 0);
}
END_TEST

/* ---- compute ---------------------------------------------------------- */

#define U VL_INDICATOR_UNKNOWN
#define S60 (G_GINT64_CONSTANT(60) * 1000000000)

static VlDomainStats
running(gint64 ts, guint64 cpu_ns, guint vcpus)
{
    VlDomainStats s = { .name = "dom", .id = 7, .timestamp_ns = ts,
                        .state = VIR_DOMAIN_RUNNING, .cpu_time_ns = cpu_ns,
                        .vcpus = vcpus };

    s.have = BASE | NET | BLOCK;
    s.net_devices = 1;
    s.block_devices = 1;
    return s;
}

typedef struct {
    const char *name;
    gboolean first;         /* no previous sample */
    gint64 prev_ts;
    guint64 prev_cpu;
    guint prev_vcpus;
    gint64 cur_ts;
    guint64 cur_cpu;
    guint cur_vcpus;
    double expected[VL_INDICATOR_LAST];
} ComputeCase;

static const ComputeCase compute_cases[] = {
    { "50 % of 2 vCPUs over a minute", FALSE,
      0, 0, 2, S60, 60000000000ULL, 2, { 50, 0, 0, 0, U } },
    { "cpu.time includes QEMU threads: clamped to 100", FALSE,
      0, 0, 2, S60, 130000000000ULL, 2, { 100, 0, 0, 0, U } },
    { "cpu.time went backwards: unknown", FALSE,
      0, 9000, 2, S60, 10, 2, { U, 0, 0, 0, U } },
    { "vCPU hot-plug between samples: unknown", FALSE,
      0, 0, 2, S60, 1000, 4, { U, 0, 0, 0, U } },
    { "no vCPU: unknown", FALSE,
      0, 0, 0, S60, 1000, 0, { U, 0, 0, 0, U } },
    { "no time passed: every rate unknown", FALSE,
      S60, 0, 2, S60, 1000, 2, { U, U, U, U, U } },
    { "time went backwards: every rate unknown", FALSE,
      S60, 0, 2, 0, 1000, 2, { U, U, U, U, U } },
    { "first sample: rates unknown", TRUE,
      0, 0, 2, S60, 1000, 2, { U, U, U, U, U } },
};

START_TEST(test_compute)
{
    const ComputeCase *c = &compute_cases[_i];
    VlDomainStats prev = running(c->prev_ts, c->prev_cpu, c->prev_vcpus);
    VlDomainStats cur = running(c->cur_ts, c->cur_cpu, c->cur_vcpus);
    double v[VL_INDICATOR_LAST];
    int i;

    vl_indicators_compute(c->first ? NULL : &prev, &cur, v);
    for (i = 0; i < VL_INDICATOR_LAST; i++) {
        if (isnan(c->expected[i]))
            ck_assert_msg(isnan(v[i]), "%s: %s = %g, expected unknown",
                          c->name, vl_indicator_to_string(i), v[i]);
        else
            ck_assert_msg(fabs(v[i] - c->expected[i]) < 1e-9,
                          "%s: %s = %g, expected %g", c->name,
                          vl_indicator_to_string(i), v[i], c->expected[i]);
    }
}
END_TEST

START_TEST(test_net_and_block_rates)
{
    VlDomainStats prev = running(0, 0, 1);
    VlDomainStats cur = running(S60, 0, 1);
    double v[VL_INDICATOR_LAST];

    prev.net_rx_bytes = 1000;
    prev.net_tx_bytes = 2000;
    prev.block_rd_bytes = 100;
    prev.block_wr_bytes = 200;
    /* 75 MB in 60 s = 10 Mbit/s; 7.5 MB = 1 Mbit/s */
    cur.net_rx_bytes = 1000 + 75000000;
    cur.net_tx_bytes = 2000 + 7500000;
    /* 60 MiB read + 60 MiB written in 60 s = 2 MiB/s */
    cur.block_rd_bytes = 100 + 60 * 1048576ULL;
    cur.block_wr_bytes = 200 + 60 * 1048576ULL;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert_double_eq_tol(v[VL_INDICATOR_NET_RX], 10.0, 1e-9);
    ck_assert_double_eq_tol(v[VL_INDICATOR_NET_TX], 1.0, 1e-9);
    ck_assert_double_eq_tol(v[VL_INDICATOR_BLOCK_IO], 2.0, 1e-9);
    ck_assert_double_eq_tol(v[VL_INDICATOR_CPU], 0.0, 1e-9);

    /* a counter reset (interface re-plugged) on one side only */
    cur.net_tx_bytes = 5;
    cur.block_wr_bytes = 5;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert_double_eq_tol(v[VL_INDICATOR_NET_RX], 10.0, 1e-9);
    ck_assert(isnan(v[VL_INDICATOR_NET_TX]));
    ck_assert(isnan(v[VL_INDICATOR_BLOCK_IO]));

    /* a device more or less between samples: no rate */
    cur = running(S60, 0, 1);
    cur.net_rx_bytes = 1000 + 75000000;
    cur.net_tx_bytes = 2000;
    cur.block_rd_bytes = 100;
    cur.block_wr_bytes = 200;
    cur.net_devices = 2;
    cur.block_devices = 0;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert(isnan(v[VL_INDICATOR_NET_RX]));
    ck_assert(isnan(v[VL_INDICATOR_NET_TX]));
    ck_assert(isnan(v[VL_INDICATOR_BLOCK_IO]));
    ck_assert(!isnan(v[VL_INDICATOR_CPU]));

    /* a field missing from the previous sample only */
    cur = running(S60, 0, 1);
    cur.net_rx_bytes = 1000;
    prev.have &= ~VL_DOMAIN_STATS_HAVE_NET_RX;
    prev.have &= ~VL_DOMAIN_STATS_HAVE_CPU_TIME;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert(isnan(v[VL_INDICATOR_NET_RX]));
    ck_assert(isnan(v[VL_INDICATOR_CPU]));
}
END_TEST

typedef struct {
    const char *name;
    guint32 have;
    guint64 available, unused, usable;
    double expected;
} MemoryCase;

static const MemoryCase memory_cases[] = {
    { "MemAvailable preferred", VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE |
      VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED | VL_DOMAIN_STATS_HAVE_BALLOON_USABLE,
      4194304, 262144, 1048576, 75 },
    { "MemFree without MemAvailable", VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE |
      VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED, 1000, 400, 0, 60 },
    { "no guest view of the total", VL_DOMAIN_STATS_HAVE_BALLOON_UNUSED |
      VL_DOMAIN_STATS_HAVE_BALLOON_USABLE, 0, 400, 500, U },
    { "a zero total", VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE |
      VL_DOMAIN_STATS_HAVE_BALLOON_USABLE, 0, 0, 0, U },
    { "total without free", VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE, 1000, 0, 0,
      U },
    { "free above total", VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE |
      VL_DOMAIN_STATS_HAVE_BALLOON_USABLE, 1000, 0, 5000, 0 },
};

START_TEST(test_memory)
{
    const MemoryCase *c = &memory_cases[_i];
    VlDomainStats cur = running(S60, 0, 1);
    double v[VL_INDICATOR_LAST];

    cur.have |= c->have;
    cur.balloon_available_kib = c->available;
    cur.balloon_unused_kib = c->unused;
    cur.balloon_usable_kib = c->usable;
    /* a gauge: no previous sample needed */
    vl_indicators_compute(NULL, &cur, v);
    if (isnan(c->expected))
        ck_assert_msg(isnan(v[VL_INDICATOR_MEMORY]), "%s", c->name);
    else
        ck_assert_msg(fabs(v[VL_INDICATOR_MEMORY] - c->expected) < 1e-9,
                      "%s: %g", c->name, v[VL_INDICATOR_MEMORY]);
}
END_TEST

START_TEST(test_not_running)
{
    VlDomainStats prev = running(0, 0, 1);
    VlDomainStats cur = running(S60, 30000000000ULL, 1);
    double v[VL_INDICATOR_LAST];
    int i;

    cur.have |= VL_DOMAIN_STATS_HAVE_BALLOON_AVAILABLE |
                VL_DOMAIN_STATS_HAVE_BALLOON_USABLE;
    cur.balloon_available_kib = 100;
    cur.balloon_usable_kib = 50;

    cur.state = VIR_DOMAIN_PAUSED;
    vl_indicators_compute(&prev, &cur, v);
    for (i = 0; i < VL_INDICATOR_LAST; i++)
        ck_assert(isnan(v[i]));

    /* paused before, running now: the rates cover paused time */
    cur.state = VIR_DOMAIN_RUNNING;
    prev.state = VIR_DOMAIN_PAUSED;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert(isnan(v[VL_INDICATOR_CPU]));
    ck_assert_double_eq_tol(v[VL_INDICATOR_MEMORY], 50, 1e-9);

    /* a new QEMU process (new id): counters restarted */
    prev.state = VIR_DOMAIN_RUNNING;
    cur.id = prev.id + 1;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert(isnan(v[VL_INDICATOR_CPU]));
    ck_assert(isnan(v[VL_INDICATOR_NET_RX]));
    ck_assert_double_eq_tol(v[VL_INDICATOR_MEMORY], 50, 1e-9);

    /* ids unknown: counters trusted */
    cur.id = -1;
    vl_indicators_compute(&prev, &cur, v);
    ck_assert_double_eq_tol(v[VL_INDICATOR_CPU], 50, 1e-9);
}
END_TEST

/* ---- the daemon's path: params -> stats -> tracker -> values ---------- */

static void
feed(VlIndicatorTracker *tracker, const char *name, const char *spec,
     gint64 ts, double *v)
{
    g_auto(GStrv) keep = NULL;
    g_autoptr(GArray) params = params_from_spec(spec, &keep);
    VlDomainStats s;

    vl_indicators_from_params(name, 1, (virTypedParameter *) params->data,
                              (int) params->len, ts, &s);
    vl_indicator_tracker_update(tracker, &s, v);
}

START_TEST(test_tracker)
{
    g_autoptr(VlIndicatorTracker) tracker = vl_indicator_tracker_new();
    double v[VL_INDICATOR_LAST];
    /* a name the tracker must copy: the caller's buffer changes */
    char name[16];

    g_strlcpy(name, "web-1", sizeof(name));
    feed(tracker, name, "state.state=i:1 cpu.time=ul:0 vcpu.current=ui:4 "
         "net.count=ui:1 net.0.rx.bytes=ul:0 net.0.tx.bytes=ul:0", 0, v);
    ck_assert(isnan(v[VL_INDICATOR_CPU]));
    feed(tracker, "web-2", "state.state=i:1 cpu.time=ul:0 vcpu.current=ui:1",
         0, v);
    ck_assert_uint_eq(vl_indicator_tracker_size(tracker), 2);
    ck_assert_uint_eq(vl_indicator_tracker_expire(tracker), 0);
    g_strlcpy(name, "XXXXX", sizeof(name));

    /* 120 s of one vCPU out of 4 = 25 %; 1.5 MB in 120 s = 0.1 Mbit/s */
    feed(tracker, "web-1", "state.state=i:1 cpu.time=ul:120000000000 "
         "vcpu.current=ui:4 net.count=ui:1 net.0.rx.bytes=ul:1500000 "
         "net.0.tx.bytes=ul:0", 120 * 1000000000LL, v);
    ck_assert_double_eq_tol(v[VL_INDICATOR_CPU], 25, 1e-9);
    ck_assert_double_eq_tol(v[VL_INDICATOR_NET_RX], 0.1, 1e-9);
    ck_assert_double_eq_tol(v[VL_INDICATOR_NET_TX], 0, 1e-9);
    ck_assert(isnan(v[VL_INDICATOR_BLOCK_IO]));
    ck_assert(isnan(v[VL_INDICATOR_MEMORY]));

    /* web-2 missed this round: forgotten, and starts afresh */
    ck_assert_uint_eq(vl_indicator_tracker_expire(tracker), 1);
    ck_assert_uint_eq(vl_indicator_tracker_size(tracker), 1);
    feed(tracker, "web-2", "state.state=i:1 cpu.time=ul:60000000000 "
         "vcpu.current=ui:1", 240 * 1000000000LL, v);
    ck_assert(isnan(v[VL_INDICATOR_CPU]));
}
END_TEST

static Suite *
indicators_suite(void)
{
    Suite *s = suite_create("indicators");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse, 0, G_N_ELEMENTS(parse_cases));
    tcase_add_test(tc, test_parse_unterminated_field);
    suite_add_tcase(s, tc);

    tc = tcase_create("compute");
    tcase_add_loop_test(tc, test_compute, 0, G_N_ELEMENTS(compute_cases));
    tcase_add_test(tc, test_net_and_block_rates);
    tcase_add_loop_test(tc, test_memory, 0, G_N_ELEMENTS(memory_cases));
    tcase_add_test(tc, test_not_running);
    suite_add_tcase(s, tc);

    tc = tcase_create("tracker");
    tcase_add_test(tc, test_tracker);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(indicators_suite());
}
