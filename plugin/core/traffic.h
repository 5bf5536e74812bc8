/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * traffic.h: who talks to whom, as far as this host can see it
 *
 * The evacuate command orders its moves by the domains' communication
 * graph (order.h).  The graph has two sources: the admin's declared
 * affinities (policy.h) and what this host observes.  What a libvirt
 * host can observe without help from the guests is its connection
 * tracking table: every flow that passes the host's netfilter hooks,
 * with byte counters when net.netfilter.nf_conntrack_acct is on.
 * docs/evacuate.md says what that covers and what it cannot see; in
 * short:
 *
 * - flows between a local domain and anything routed or NATed by this
 *   host (another host's domains included) are seen;
 * - flows between two local domains on the same bridge are switched in
 *   the bridge and seen only when br_netfilter is loaded and
 *   net.bridge.bridge-nf-call-iptables is 1;
 * - flows between domains of other hosts are never seen here.
 *
 * A flow is attributed to domains by address: the initiator is the
 * original tuple's source and the responder the reply tuple's source
 * (that is, after any DNAT), and both are looked up in a map from the
 * domains' addresses (virDomainInterfaceAddresses, LEASE and ARP
 * sources).  Two samples of the table give each pair's rate in bytes/s.
 *
 * The parsing and rate computation are pure (no libvirt, no I/O) and
 * take text recorded from /proc/net/nf_conntrack or "conntrack -L";
 * vl_traffic_read_conntrack() and vl_traffic_addresses_add_domain() are
 * the parts that touch the host.  The library does not log.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "graph.h"
#include "vl-error.h"

G_BEGIN_DECLS

/* A pair seen holding a connection gets at least this weight (bytes/s),
 * so that a quiet connection, or one on a host without byte counters,
 * still makes an edge but never outweighs measured traffic. */
#define VL_TRAFFIC_NOMINAL_BPS 1.0
/* Lines longer than this are not conntrack's and are skipped. */
#define VL_TRAFFIC_LINE_MAX 4096
/* Largest table text parsed (nf_conntrack_max is 262144 on Debian 12's
 * defaults for a few GiB of RAM; a line is about 300 bytes). */
#define VL_TRAFFIC_TEXT_MAX (256 * 1024 * 1024)

/* One conntrack entry. */
typedef struct {
    char *key;              /* identity across samples: family, protocol,
                             * original tuple and zone */
    char *protocol;         /* "tcp", "udp", "icmp", ... */
    char *initiator;        /* original source, canonical address text */
    char *responder;        /* reply source, canonical address text */
    gboolean has_counters;  /* bytes= and packets= were present */
    guint64 bytes;          /* both directions */
    guint64 packets;        /* both directions */
} VlTrafficFlow;

/* One reading of the table, at one time. */
typedef struct _VlTrafficSample VlTrafficSample;

/**
 * vl_traffic_sample_new:
 * @time_us: when the table was read (g_get_monotonic_time())
 */
VlTrafficSample *vl_traffic_sample_new(gint64 time_us);
void vl_traffic_sample_free(VlTrafficSample *sample);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlTrafficSample, vl_traffic_sample_free)

/**
 * vl_traffic_sample_parse:
 * @sample: the sample to fill
 * @text: (array length=length): the table as /proc/net/nf_conntrack or
 *   "conntrack -L [-o extended]" prints it; need not be NUL-terminated
 *   nor valid UTF-8
 * @length: bytes of @text, at most VL_TRAFFIC_TEXT_MAX
 * @error: (out) (optional): VL_ERROR_INVALID for text above the limit
 *
 * Adds every entry of @text.  The text comes from outside: a line that
 * is not a well-formed entry (unknown layout, a bad address or number,
 * a tuple missing, too long, NUL bytes) is skipped and counted, never
 * fatal; so is a second entry with the key of one already seen.
 * conntrack's own "N flow entries have been shown" line is ignored.
 */
gboolean vl_traffic_sample_parse(VlTrafficSample *sample, const char *text,
                                 gsize length, GError **error);

gint64 vl_traffic_sample_get_time(const VlTrafficSample *sample);
guint vl_traffic_sample_get_n_flows(const VlTrafficSample *sample);
guint vl_traffic_sample_get_n_skipped(const VlTrafficSample *sample);

/* Flow @index, in the order parsed (borrowed). */
const VlTrafficFlow *vl_traffic_sample_get_flow(const VlTrafficSample *sample,
                                                guint index);

/* The flow with @key, or NULL (borrowed). */
const VlTrafficFlow *vl_traffic_sample_lookup(const VlTrafficSample *sample,
                                              const char *key);

/* ---- which address is which domain ------------------------------------ */

typedef struct _VlTrafficAddresses VlTrafficAddresses;

VlTrafficAddresses *vl_traffic_addresses_new(void);
void vl_traffic_addresses_free(VlTrafficAddresses *addresses);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlTrafficAddresses, vl_traffic_addresses_free)

/**
 * vl_traffic_addresses_add:
 * @address: an IPv4 or IPv6 address, without prefix length
 * @domain: the domain that has it (copied)
 * @error: (out) (optional): VL_ERROR_INVALID for a bad address or name
 *
 * An address claimed by two different domains (two private networks
 * reusing a range, a stale lease) is ambiguous: it is dropped and
 * counted, and its flows are attributed to nobody.
 */
gboolean vl_traffic_addresses_add(VlTrafficAddresses *addresses,
                                  const char *address, const char *domain,
                                  GError **error);

/* The domain with @address (any spelling of it), or NULL (borrowed). */
const char *vl_traffic_addresses_lookup(const VlTrafficAddresses *addresses,
                                        const char *address);

guint vl_traffic_addresses_get_size(const VlTrafficAddresses *addresses);
guint vl_traffic_addresses_get_n_ambiguous(const VlTrafficAddresses *addresses);

/**
 * vl_traffic_addresses_add_domain:
 * @addresses: the map
 * @dom: (transfer none): a running domain
 * @n_added: (out) (optional): addresses found for it
 * @error: (out) (optional): VL_ERROR_LIBVIRT when neither source answers
 *
 * Adds @dom's addresses from libvirt's DHCP leases
 * (VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE: libvirt-managed networks
 * only) and from the host's ARP table for its MAC addresses
 * (..._SRC_ARP: only neighbours this host has talked to or forwarded
 * for).  Neither needs the guest agent.  A domain with no interface or
 * no address known is not an error (*@n_added is 0).
 */
gboolean vl_traffic_addresses_add_domain(VlTrafficAddresses *addresses,
                                         virDomainPtr dom, guint *n_added,
                                         GError **error);

/* ---- rates ------------------------------------------------------------- */

typedef struct {
    double interval_s;          /* between the two samples */
    guint flows;                /* in the second sample */
    guint flows_between_domains;
    guint flows_with_outside;   /* one end a known domain, one not */
    guint flows_unattributed;   /* neither end a known domain */
    guint flows_same_domain;    /* both ends the same domain */
    guint flows_without_counters; /* between domains, no bytes= */
    guint flows_ended;          /* in the first sample only */
    guint skipped_lines;        /* of both samples */
    double outside_bps;         /* domains <-> outside, for the record */
} VlTrafficReport;

/**
 * vl_traffic_rates:
 * @before: the first sample
 * @after: the second, taken later
 * @addresses: which address is which domain
 * @report: (out) (optional): what was counted and what was not
 * @error: (out) (optional): VL_ERROR_INVALID when @after is not later
 *
 * Returns: (transfer full): the graph of the domains seen talking, with
 * weights in bytes/s over the interval: for each flow of @after between
 * two different domains, its bytes (both directions) since @before, or
 * all its bytes when @before does not have it or its counters went
 * backwards (the entry was replaced); divided by the interval, and at
 * least VL_TRAFFIC_NOMINAL_BPS.  Flows that ended between the samples
 * are lost (counted).  Vertices are the domains of those edges only,
 * in the order first seen.
 */
VlGraph *vl_traffic_rates(const VlTrafficSample *before,
                          const VlTrafficSample *after,
                          const VlTrafficAddresses *addresses,
                          VlTrafficReport *report, GError **error);

/* ---- the host ---------------------------------------------------------- */

typedef enum {
    VL_TRAFFIC_SOURCE_NONE,     /* no table could be read */
    VL_TRAFFIC_SOURCE_PROC,     /* /proc/net/nf_conntrack */
    VL_TRAFFIC_SOURCE_TOOL,     /* conntrack -L -o extended */
} VlTrafficSource;

const char *vl_traffic_source_to_string(VlTrafficSource source);

/* What this host's kernel lets us see (docs/evacuate.md). */
typedef struct {
    gboolean proc_table;        /* /proc/net/nf_conntrack readable */
    char *tool;                 /* the conntrack program, or NULL */
    int accounting;             /* nf_conntrack_acct: 1, 0, -1 unknown */
    int bridge_netfilter;       /* bridge-nf-call-iptables: 1, 0, -1 =
                                 * br_netfilter not loaded */
} VlTrafficHost;

void vl_traffic_host_clear(VlTrafficHost *host);

/**
 * vl_traffic_host_probe:
 * @root: (nullable): prefix for /proc and the tool's search (tests);
 *   NULL for "/"
 * @host: (out caller-allocates): clear it with vl_traffic_host_clear()
 *
 * Reads the sysctls and looks for a table source; never fails.
 */
void vl_traffic_host_probe(const char *root, VlTrafficHost *host);

/**
 * vl_traffic_read_conntrack:
 * @host: what vl_traffic_host_probe() found
 * @root: (nullable): as for vl_traffic_host_probe()
 * @timeout_ms: bound on the conntrack program
 * @source: (out) (optional): where the text came from
 * @length: (out): bytes returned
 * @error: (out) (optional): VL_ERROR_IO when no source could be read,
 *   VL_ERROR_TIMEOUT when the program did not finish
 *
 * Reads /proc/net/nf_conntrack, else runs "conntrack -L -o extended"
 * (argv only, cleared environment, @timeout_ms).  Needs root (the
 * table is mode 0440).
 * Returns: (transfer full): the text
 */
char *vl_traffic_read_conntrack(const VlTrafficHost *host, const char *root,
                                guint timeout_ms, VlTrafficSource *source,
                                gsize *length, GError **error);

/**
 * vl_traffic_observe:
 * @host: from vl_traffic_host_probe()
 * @root: (nullable): as above
 * @addresses: which address is which domain
 * @interval_ms: time between the two samples (> 0)
 * @cancellable: (nullable): cancels the wait between samples
 * @report: (out) (optional)
 * @error: (out) (optional)
 *
 * Two readings @interval_ms apart, then vl_traffic_rates().  Blocks for
 * the interval: call it from a worker thread when a main loop must keep
 * running.
 * Returns: (transfer full): the observed graph (bytes/s)
 */
VlGraph *vl_traffic_observe(const VlTrafficHost *host, const char *root,
                            const VlTrafficAddresses *addresses,
                            guint interval_ms, GCancellable *cancellable,
                            VlTrafficReport *report, GError **error);

G_END_DECLS
