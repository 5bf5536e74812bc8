/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * traffic.c on recorded tables: the tables in tests/data/traffic were read from
 * /proc/net/nf_conntrack of a namespace "host" by record.sh there, 2 s
 * apart (reading 1, reading 2).  Its guests, named here with a space, a
 * quote and a ';' on purpose:
 *   g1 192.168.122.11 "web 1"       on the bridge br0
 *   g2 192.168.122.12 "db \"main\"" on the bridge br0
 *   g3 10.0.3.2, fd00:3::2 "cache;3" routed over v3
 * and the host itself at 192.168.122.1, 10.0.3.1 and fd00:3::1.
 */
#include <config.h>

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"
#include "traffic.h"
#include "vl-error.h"

#define G1 "web 1"
#define G2 "db \"main\""
#define G3 "cache;3"
#define INTERVAL_US (2 * G_USEC_PER_SEC)

/* ---- helpers ---------------------------------------------------------- */

/* The file without its '#' lines (the licence and provenance header). */
static char *
load_table(const char *name, gsize *length)
{
    g_autofree char *rel = g_strdup_printf("traffic/%s", name);
    g_autofree char *path = vl_test_data_path(rel);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GString *out = g_string_new(NULL);
    guint i;

    ck_assert_msg(g_file_get_contents(path, &text, NULL, NULL), "cannot read %s", path);
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (lines[i][0] == '#' || !lines[i][0])
            continue;
        g_string_append(out, lines[i]);
        g_string_append_c(out, '\n');
    }
    *length = out->len;
    return g_string_free(out, FALSE);
}

static VlTrafficSample *
sample_of(const char *name, gint64 time_us)
{
    g_autoptr(VlTrafficSample) sample = vl_traffic_sample_new(time_us);
    g_autofree char *text = NULL;
    gsize length = 0;
    g_autoptr(GError) error = NULL;

    text = load_table(name, &length);
    ck_assert_msg(vl_traffic_sample_parse(sample, text, length, &error),
                  "%s", error ? error->message : "");
    return g_steal_pointer(&sample);
}

static VlTrafficSample *
sample_of_text(const char *text, gint64 time_us)
{
    VlTrafficSample *sample = vl_traffic_sample_new(time_us);

    ck_assert(vl_traffic_sample_parse(sample, text, strlen(text), NULL));
    return sample;
}

static VlTrafficAddresses *
guest_addresses(void)
{
    VlTrafficAddresses *a = vl_traffic_addresses_new();

    ck_assert(vl_traffic_addresses_add(a, "192.168.122.11", G1, NULL));
    ck_assert(vl_traffic_addresses_add(a, "192.168.122.12", G2, NULL));
    ck_assert(vl_traffic_addresses_add(a, "10.0.3.2", G3, NULL));
    ck_assert(vl_traffic_addresses_add(a, "fd00:3::2", G3, NULL));
    return a;
}

static double
weight(const VlGraph *g, const char *a, const char *b)
{
    guint u = 0, v = 0;

    if (!vl_graph_lookup(g, a, &u) || !vl_graph_lookup(g, b, &v))
        return 0;
    return vl_graph_edge_weight(g, u, v);
}

static const VlTrafficFlow *
find_flow(const VlTrafficSample *s, const char *initiator, const char *responder,
          const char *protocol)
{
    guint i;

    for (i = 0; i < vl_traffic_sample_get_n_flows(s); i++) {
        const VlTrafficFlow *f = vl_traffic_sample_get_flow(s, i);

        if (g_str_equal(f->initiator, initiator) &&
            g_str_equal(f->responder, responder) &&
            g_str_equal(f->protocol, protocol))
            return f;
    }
    return NULL;
}

/* ---- parsing ---------------------------------------------------------- */

START_TEST(test_parse_proc)
{
    g_autoptr(VlTrafficSample) s = sample_of("nat-2.txt", 0);
    const VlTrafficFlow *f = NULL;

    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 6);
    ck_assert_uint_eq(vl_traffic_sample_get_n_skipped(s), 0);

    /* SNAT: original src is the guest, the reply comes from the peer. */
    f = find_flow(s, "192.168.122.11", "10.0.3.2", "tcp");
    ck_assert_ptr_nonnull(f);
    ck_assert(f->has_counters);
    ck_assert_uint_eq(f->bytes, 682036 + 1984);
    ck_assert_uint_eq(f->packets, 39 + 38);
    ck_assert_str_eq(f->key, "ipv4 6 192.168.122.11 10.0.3.2 58696 5003 - - - zone=0");

    /* DNAT: g3 called the host's 8080, g1 answered: g1 is the responder. */
    f = find_flow(s, "10.0.3.2", "192.168.122.11", "tcp");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->bytes, 1022088 + 2036);

    /* IPv6 addresses are printed in full by the kernel; kept canonical. */
    f = find_flow(s, "fd00:3::2", "fd00:3::1", "udp");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->bytes, 296);

    /* A protocol conntrack has no helper for (IGMP) still parses. */
    ck_assert_ptr_nonnull(find_flow(s, "192.168.122.1", "224.0.0.22", "unknown"));
}
END_TEST

/* "conntrack -L" prints the same entries without the family columns
 * and IPv6 compressed: same flows, same keys, summary line ignored. */
START_TEST(test_parse_tool_layout)
{
    g_autoptr(VlTrafficSample) proc = sample_of("nat-2.txt", 0);
    g_autoptr(VlTrafficSample) tool = sample_of("tool.txt", 0);
    guint i;

    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(tool), 6);
    ck_assert_uint_eq(vl_traffic_sample_get_n_skipped(tool), 0);
    for (i = 0; i < vl_traffic_sample_get_n_flows(proc); i++) {
        const VlTrafficFlow *p = vl_traffic_sample_get_flow(proc, i);
        const VlTrafficFlow *t = vl_traffic_sample_lookup(tool, p->key);

        ck_assert_msg(t != NULL, "no '%s' in the tool's layout", p->key);
        ck_assert_str_eq(t->initiator, p->initiator);
        ck_assert_str_eq(t->responder, p->responder);
        ck_assert_uint_eq(t->bytes, p->bytes);
    }
}
END_TEST

START_TEST(test_parse_without_counters)
{
    g_autoptr(VlTrafficSample) s = sample_of("no-acct-2.txt", 0);
    guint i;

    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 6);
    for (i = 0; i < 6; i++) {
        const VlTrafficFlow *f = vl_traffic_sample_get_flow(s, i);

        ck_assert(!f->has_counters);
        ck_assert_uint_eq(f->bytes, 0);
    }
}
END_TEST

/* One malformed line each: skipped and counted, never a crash, and the
 * good line around it still parses. */
static const char *const hostile[] = {
    "garbage",
    "ipv4 2 tcp 6 1 ESTABLISHED",
    "tcp 6 1 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 src=1.1.1.1 dst=2.2.2.2",
    "tcp 6 1 src=999.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src= dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1/24 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=fd00::1 src=fd00::1 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 src=fd00::1 dst=fd00::2",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 dst=10.0.0.3 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 sport=70000 dport=1 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 sport=-1 dport=1 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 bytes=99999999999999999999 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 bytes=-5 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 bytes=1e6 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 bytes=10 bytes=11 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 bytes=18446744073709551615 src=10.0.0.2 dst=10.0.0.1 bytes=1",
    "tcp 6 1 mark=0 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 sport=1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 [ASSURED src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 =x src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1 dst=10.0.0.2 plain src=10.0.0.2 dst=10.0.0.1",
    "tcp 300 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 -1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "TCP 6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "6 6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.\xff dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "t\xc3\xa9p 6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1\tdst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 src=x",
    "tcp 6 1 src=$(reboot) dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "tcp 6 1 src=10.0.0.1;rm dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1",
    "icmp 1 1 src=10.0.0.1 dst=10.0.0.2 type=300 code=0 id=1 src=10.0.0.2 dst=10.0.0.1",
};

/* Two well-formed entries of different connections (source port). */
#define GOOD_A "tcp 6 1 src=10.9.9.1 dst=10.9.9.2 sport=1 dport=2 packets=1 bytes=7 src=10.9.9.2 dst=10.9.9.1 sport=2 dport=1 packets=1 bytes=3"
#define GOOD_B "tcp 6 1 src=10.9.9.1 dst=10.9.9.2 sport=5 dport=2 packets=1 bytes=7 src=10.9.9.2 dst=10.9.9.1 sport=2 dport=5 packets=1 bytes=3"

START_TEST(test_parse_hostile)
{
    g_autofree char *text = g_strdup_printf("%s\n%s\n%s", GOOD_A, hostile[_i],
                                            GOOD_B "\n");
    g_autoptr(VlTrafficSample) s = vl_traffic_sample_new(0);

    ck_assert(vl_traffic_sample_parse(s, text, strlen(text), NULL));
    ck_assert_msg(vl_traffic_sample_get_n_skipped(s) == 1,
                  "line %d was not skipped: %s", _i, hostile[_i]);
    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 2);
}
END_TEST

START_TEST(test_parse_binary)
{
    g_autoptr(VlTrafficSample) s = vl_traffic_sample_new(0);
    g_autoptr(GString) text = g_string_new(GOOD_A "\n");
    g_autoptr(GError) error = NULL;
    char nul_line[] = "tcp 6 1 src=10.0.0.1 dst=10.0.0.2\0 src=10.0.0.2 dst=10.0.0.1\n";
    guint i;

    /* a NUL inside a line, a line of 10000 characters, CRLF endings */
    g_string_append_len(text, nul_line, sizeof(nul_line) - 1);
    for (i = 0; i < 10000; i++)
        g_string_append_c(text, 'a');
    g_string_append(text, "\n" GOOD_B "\r\n\r\n");
    ck_assert(vl_traffic_sample_parse(s, text->str, text->len, NULL));
    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 2);
    ck_assert_uint_eq(vl_traffic_sample_get_n_skipped(s), 2);

    /* A text above the limit is refused before it is read. */
    ck_assert(!vl_traffic_sample_parse(s, "x", (gsize)VL_TRAFFIC_TEXT_MAX + 1, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 2);
}
END_TEST

START_TEST(test_parse_duplicate)
{
    g_autoptr(VlTrafficSample) s = sample_of_text(GOOD_A "\n" GOOD_A "\n", 0);

    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 1);
    ck_assert_uint_eq(vl_traffic_sample_get_n_skipped(s), 1);
}
END_TEST

/* ---- addresses -------------------------------------------------------- */

START_TEST(test_addresses)
{
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    g_autoptr(GError) error = NULL;

    /* any spelling of an address finds its domain */
    ck_assert_str_eq(vl_traffic_addresses_lookup(a, "fd00:0003:0000:0000:0000:0000:0000:0002"), G3);
    ck_assert_str_eq(vl_traffic_addresses_lookup(a, "FD00:3:0::2"), G3);
    ck_assert_ptr_null(vl_traffic_addresses_lookup(a, "10.0.3.1"));
    ck_assert_ptr_null(vl_traffic_addresses_lookup(a, "not an address"));
    ck_assert_uint_eq(vl_traffic_addresses_get_size(a), 4);

    /* the same address again for the same domain changes nothing */
    ck_assert(vl_traffic_addresses_add(a, "10.0.3.2", G3, NULL));
    ck_assert_uint_eq(vl_traffic_addresses_get_size(a), 4);

    /* claimed by another domain: ambiguous, attributed to nobody, and
     * a third claim does not bring it back */
    ck_assert(vl_traffic_addresses_add(a, "192.168.122.11", "other", NULL));
    ck_assert(vl_traffic_addresses_add(a, "192.168.122.11", G1, NULL));
    ck_assert_ptr_null(vl_traffic_addresses_lookup(a, "192.168.122.11"));
    ck_assert_uint_eq(vl_traffic_addresses_get_n_ambiguous(a), 1);
    ck_assert_uint_eq(vl_traffic_addresses_get_size(a), 3);

    ck_assert(!vl_traffic_addresses_add(a, "10.0.0.1/24", G1, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);
    ck_assert(!vl_traffic_addresses_add(a, "10.0.0.1", "", &error));
    g_clear_error(&error);
    ck_assert(!vl_traffic_addresses_add(a, "10.0.0.1", "bad \xff name", &error));
    ck_assert_ptr_null(vl_traffic_addresses_lookup(a, "10.0.0.1"));
}
END_TEST

/* ---- rates ------------------------------------------------------------ */

START_TEST(test_rates_nat)
{
    g_autoptr(VlTrafficSample) s1 = sample_of("nat-1.txt", 0);
    g_autoptr(VlTrafficSample) s2 = sample_of("nat-2.txt", INTERVAL_US);
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    g_autoptr(VlGraph) g = NULL;
    VlTrafficReport r;
    double g1_g3, g2_g3;

    g = vl_traffic_rates(s1, s2, a, &r, NULL);
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq_tol(r.interval_s, 2.0, 1e-9);
    ck_assert_uint_eq(r.flows, 6);
    /* g2-g3 udp and tcp, g1-g3 tcp, g3-g1 DNAT tcp */
    ck_assert_uint_eq(r.flows_between_domains, 4);
    /* g3 -> the host over IPv6 */
    ck_assert_uint_eq(r.flows_with_outside, 1);
    /* the host's IGMP */
    ck_assert_uint_eq(r.flows_unattributed, 1);
    ck_assert_uint_eq(r.flows_without_counters, 0);
    ck_assert_uint_eq(r.flows_ended, 0);

    /* g1 -> g3 sent 682036 + 1984 - (280996 + 944) bytes in 2 s; the
     * DNATed g3 -> g1 connection 1022088 + 2036 - (421048 + 996). */
    g1_g3 = (682036.0 + 1984 - 280996 - 944) / 2 + (1022088.0 + 2036 - 421048 - 996) / 2;
    /* g2 -> g3 tcp 1702140 + 2088 - (701100 + 1048); the UDP flow sent
     * nothing new but is held: the nominal rate. */
    g2_g3 = (1702140.0 + 2088 - 701100 - 1048) / 2 + VL_TRAFFIC_NOMINAL_BPS;
    ck_assert_uint_eq(vl_graph_n_vertices(g), 3);
    ck_assert_uint_eq(vl_graph_n_edges(g), 2);
    ck_assert_double_eq_tol(weight(g, G1, G3), g1_g3, 1e-6);
    ck_assert_double_eq_tol(weight(g, G2, G3), g2_g3, 1e-6);
    ck_assert_double_eq(weight(g, G1, G2), 0);
    ck_assert_double_eq_tol(r.outside_bps, 0, 1e-9);
}
END_TEST

/* Two guests on one bridge: invisible to the host's conntrack unless
 * br_netfilter hands bridged IPv4 to netfilter. */
START_TEST(test_rates_bridge)
{
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    g_autoptr(VlTrafficSample) off1 = sample_of("bridge-off-1.txt", 0);
    g_autoptr(VlTrafficSample) off2 = sample_of("bridge-off-2.txt", INTERVAL_US);
    g_autoptr(VlTrafficSample) on1 = sample_of("bridge-on-1.txt", 0);
    g_autoptr(VlTrafficSample) on2 = sample_of("bridge-on-2.txt", INTERVAL_US);
    g_autoptr(VlGraph) off = vl_traffic_rates(off1, off2, a, NULL, NULL);
    g_autoptr(VlGraph) on = vl_traffic_rates(on1, on2, a, NULL, NULL);

    ck_assert_ptr_nonnull(off);
    ck_assert_ptr_nonnull(on);
    ck_assert_double_eq(weight(off, G1, G2), 0);
    /* the routed pairs are there either way */
    ck_assert(weight(off, G2, G3) > 100000);
    ck_assert(weight(off, G1, G3) > 100000);
    /* g2 sends g1 100 kB every 0.1 s while the samples are taken */
    ck_assert(weight(on, G1, G2) > 100000);
    ck_assert(weight(on, G2, G3) > 100000);
}
END_TEST

START_TEST(test_rates_without_counters)
{
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    g_autoptr(VlTrafficSample) s1 = sample_of("no-acct-1.txt", 0);
    g_autoptr(VlTrafficSample) s2 = sample_of("no-acct-2.txt", INTERVAL_US);
    g_autoptr(VlGraph) g = NULL;
    VlTrafficReport r;

    g = vl_traffic_rates(s1, s2, a, &r, NULL);
    ck_assert_ptr_nonnull(g);
    /* g2-g3 tcp + udp, g1-g3 tcp, g2-g1 tcp (bridged, br_netfilter on) */
    ck_assert_uint_eq(r.flows_between_domains, 4);
    ck_assert_uint_eq(r.flows_without_counters, 4);
    ck_assert_double_eq(weight(g, G2, G3), 2 * VL_TRAFFIC_NOMINAL_BPS);
    ck_assert_double_eq(weight(g, G1, G3), VL_TRAFFIC_NOMINAL_BPS);
    ck_assert_double_eq(weight(g, G1, G2), VL_TRAFFIC_NOMINAL_BPS);
}
END_TEST

#define FLOW(port, bytes) \
    "tcp 6 1 src=10.0.3.2 dst=192.168.122.11 sport=" port " dport=80 packets=1 bytes=" bytes \
    " src=192.168.122.11 dst=10.0.3.2 sport=80 dport=" port " packets=1 bytes=0\n"

START_TEST(test_rates_deltas)
{
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    /* 1: steady, 2: counters went backwards (entry replaced), 3: new,
     * 4: ended between the samples */
    g_autoptr(VlTrafficSample) s1 = sample_of_text(FLOW("1", "1000") FLOW("2", "5000")
                                                   FLOW("4", "77"), 0);
    g_autoptr(VlTrafficSample) s2 = sample_of_text(FLOW("1", "3000") FLOW("2", "400")
                                                   FLOW("3", "600"), 4 * G_USEC_PER_SEC);
    g_autoptr(VlGraph) g = NULL;
    g_autoptr(GError) error = NULL;
    VlTrafficReport r;

    g = vl_traffic_rates(s1, s2, a, &r, NULL);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(r.flows_ended, 1);
    ck_assert_double_eq_tol(weight(g, G1, G3), (2000.0 + 400 + 600) / 4, 1e-9);

    /* the second sample must come later */
    g_clear_pointer(&g, vl_graph_free);
    g = vl_traffic_rates(s2, s1, a, NULL, &error);
    ck_assert_ptr_null(g);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
}
END_TEST

START_TEST(test_rates_self_and_outside)
{
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    /* g3 talking to itself over two addresses; g1 to an outside host */
    g_autoptr(VlTrafficSample) s1 = sample_of_text("", 0);
    g_autoptr(VlTrafficSample) s2 = sample_of_text(
        "udp 17 1 src=10.0.3.2 dst=fd00:3::2 src=fd00:3::2 dst=10.0.3.2 packets=1 bytes=5\n"
        "udp 17 1 src=fd00:3::2 dst=fd00:3::2 sport=9 dport=9 packets=1 bytes=10 src=fd00:3::2 dst=fd00:3::2 sport=9 dport=9 packets=1 bytes=10\n"
        "tcp 6 1 src=192.168.122.11 dst=203.0.113.9 sport=5 dport=443 packets=1 bytes=4000 src=203.0.113.9 dst=10.0.3.1 sport=443 dport=5 packets=1 bytes=4000\n",
        G_USEC_PER_SEC);
    g_autoptr(VlGraph) g = NULL;
    VlTrafficReport r;

    g = vl_traffic_rates(s1, s2, a, &r, NULL);
    ck_assert_ptr_nonnull(g);
    /* the first line mixes families: skipped */
    ck_assert_uint_eq(r.skipped_lines, 1);
    ck_assert_uint_eq(r.flows_same_domain, 1);
    ck_assert_uint_eq(r.flows_with_outside, 1);
    ck_assert_double_eq_tol(r.outside_bps, 8000, 1e-9);
    ck_assert_uint_eq(vl_graph_n_edges(g), 0);
    ck_assert_uint_eq(vl_graph_n_vertices(g), 0);
}
END_TEST

/* ---- the host, through a fake root ----------------------------------- */

typedef struct {
    char *root;
} FakeRoot;

static void
write_file(const char *root, const char *rel, const char *text, int mode)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    ck_assert_int_eq(g_chmod(path, mode), 0);
}

static void
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                remove_tree(child);
            else
                g_unlink(child);
        }
    }
    g_rmdir(path);
}

static char *
fake_root(void)
{
    g_autoptr(GError) error = NULL;
    char *root = g_dir_make_tmp("vl-traffic-XXXXXX", &error);

    ck_assert_msg(root != NULL, "%s", error ? error->message : "");
    return root;
}

START_TEST(test_host_probe)
{
    g_autofree char *root = fake_root();
    g_autofree char *table = NULL;
    VlTrafficHost host;
    VlTrafficSource source = VL_TRAFFIC_SOURCE_NONE;
    gsize length = 0;
    g_autoptr(GError) error = NULL;

    /* nothing at all */
    vl_traffic_host_probe(root, &host);
    ck_assert(!host.proc_table);
    ck_assert_ptr_null(host.tool);
    ck_assert_int_eq(host.accounting, -1);
    ck_assert_int_eq(host.bridge_netfilter, -1);
    ck_assert_ptr_null(vl_traffic_read_conntrack(&host, root, 1000, &source, &length, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    g_clear_error(&error);
    vl_traffic_host_clear(&host);

    write_file(root, "proc/net/nf_conntrack", GOOD_A "\n", 0444);
    write_file(root, "proc/sys/net/netfilter/nf_conntrack_acct", "0\n", 0444);
    write_file(root, "proc/sys/net/bridge/bridge-nf-call-iptables", "1\n", 0444);
    vl_traffic_host_probe(root, &host);
    ck_assert(host.proc_table);
    ck_assert_int_eq(host.accounting, 0);
    ck_assert_int_eq(host.bridge_netfilter, 1);
    table = vl_traffic_read_conntrack(&host, root, 1000, &source, &length, &error);
    ck_assert_ptr_nonnull(table);
    ck_assert_int_eq(source, VL_TRAFFIC_SOURCE_PROC);
    ck_assert_str_eq(table, GOOD_A "\n");
    ck_assert_uint_eq(length, strlen(GOOD_A "\n"));
    vl_traffic_host_clear(&host);

    /* an odd sysctl value is "unknown", not a guess */
    write_file(root, "proc/sys/net/netfilter/nf_conntrack_acct", "yes\n", 0444);
    vl_traffic_host_probe(root, &host);
    ck_assert_int_eq(host.accounting, -1);
    vl_traffic_host_clear(&host);
    remove_tree(root);
}
END_TEST

/* The conntrack program, when there is no /proc table: a fake one in
 * the fake root prints the recorded tool layout, fails, or hangs. */
START_TEST(test_host_tool)
{
    g_autofree char *root = fake_root();
    g_autofree char *data = vl_test_data_path("traffic/tool.txt");
    g_autofree char *ok = g_strdup_printf("#!/bin/sh\n"
                                          "[ \"$*\" = '-L -o extended' ] || exit 9\n"
                                          "[ -z \"$HOME\" ] || exit 8\n"
                                          "exec cat '%s'\n", data);
    g_autofree char *text = NULL;
    g_autoptr(VlTrafficSample) s = vl_traffic_sample_new(0);
    g_autoptr(GError) error = NULL;
    VlTrafficHost host;
    VlTrafficSource source = VL_TRAFFIC_SOURCE_NONE;
    gsize length = 0;
    gint64 t0;

    write_file(root, "usr/sbin/conntrack", ok, 0755);
    vl_traffic_host_probe(root, &host);
    ck_assert(!host.proc_table);
    ck_assert_ptr_nonnull(host.tool);
    /* argv as documented, a cleared environment (no HOME) */
    text = vl_traffic_read_conntrack(&host, root, 5000, &source, &length, &error);
    ck_assert_msg(text != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(source, VL_TRAFFIC_SOURCE_TOOL);
    ck_assert(vl_traffic_sample_parse(s, text, length, NULL));
    /* the file's two '#' header lines are not entries */
    ck_assert_uint_eq(vl_traffic_sample_get_n_flows(s), 6);
    ck_assert_uint_eq(vl_traffic_sample_get_n_skipped(s), 2);
    g_clear_pointer(&text, g_free);

    write_file(root, "usr/sbin/conntrack",
               "#!/bin/sh\necho 'conntrack v1.4.7 (conntrack-tools): Operation failed: Permission denied' >&2\nexit 1\n",
               0755);
    text = vl_traffic_read_conntrack(&host, root, 5000, &source, &length, &error);
    ck_assert_ptr_null(text);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "Permission denied"));
    g_clear_error(&error);

    write_file(root, "usr/sbin/conntrack", "#!/bin/sh\nexec sleep 30\n", 0755);
    t0 = g_get_monotonic_time();
    text = vl_traffic_read_conntrack(&host, root, 200, &source, &length, &error);
    ck_assert_ptr_null(text);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_TIMEOUT));
    ck_assert(g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC);

    vl_traffic_host_clear(&host);
    remove_tree(root);
}
END_TEST

START_TEST(test_observe)
{
    g_autofree char *root = fake_root();
    g_autofree char *text = NULL;
    g_autoptr(VlTrafficAddresses) a = guest_addresses();
    g_autoptr(VlGraph) g = NULL;
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autoptr(GError) error = NULL;
    VlTrafficHost host;
    VlTrafficReport r;
    gsize length = 0;

    text = load_table("nat-2.txt", &length);
    write_file(root, "proc/net/nf_conntrack", text, 0444);
    vl_traffic_host_probe(root, &host);

    /* the same table twice: nothing new, but held connections count */
    g = vl_traffic_observe(&host, root, a, 20, NULL, &r, &error);
    ck_assert_msg(g != NULL, "%s", error ? error->message : "");
    ck_assert(r.interval_s >= 0.02);
    ck_assert_uint_eq(vl_graph_n_edges(g), 2);
    ck_assert_double_eq(weight(g, G1, G3), 2 * VL_TRAFFIC_NOMINAL_BPS);

    g_clear_pointer(&g, vl_graph_free);
    g_cancellable_cancel(cancellable);
    g = vl_traffic_observe(&host, root, a, 60000, cancellable, NULL, &error);
    ck_assert_ptr_null(g);
    ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    g_clear_error(&error);

    g = vl_traffic_observe(&host, root, a, 0, NULL, NULL, &error);
    ck_assert_ptr_null(g);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));

    vl_traffic_host_clear(&host);
    remove_tree(root);
}
END_TEST

static Suite *
traffic_suite(void)
{
    Suite *s = suite_create("traffic");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_proc);
    tcase_add_test(tc, test_parse_tool_layout);
    tcase_add_test(tc, test_parse_without_counters);
    tcase_add_loop_test(tc, test_parse_hostile, 0, G_N_ELEMENTS(hostile));
    tcase_add_test(tc, test_parse_binary);
    tcase_add_test(tc, test_parse_duplicate);
    suite_add_tcase(s, tc);

    tc = tcase_create("addresses");
    tcase_add_test(tc, test_addresses);
    suite_add_tcase(s, tc);

    tc = tcase_create("rates");
    tcase_add_test(tc, test_rates_nat);
    tcase_add_test(tc, test_rates_bridge);
    tcase_add_test(tc, test_rates_without_counters);
    tcase_add_test(tc, test_rates_deltas);
    tcase_add_test(tc, test_rates_self_and_outside);
    suite_add_tcase(s, tc);

    tc = tcase_create("host");
    tcase_add_test(tc, test_host_probe);
    tcase_add_test(tc, test_host_tool);
    tcase_add_test(tc, test_observe);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(traffic_suite());
}
