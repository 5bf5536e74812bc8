/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "traffic.h"
#include "virt-error.h"

/* ---- samples ------------------------------------------------------------ */

struct _VlTrafficSample {
    gint64 time_us;
    GPtrArray *flows;           /* VlTrafficFlow*, owned, parse order */
    GHashTable *by_key;         /* key (borrowed from the flow) -> flow */
    guint skipped;
};

static void
flow_free(VlTrafficFlow *flow)
{
    if (!flow)
        return;
    g_free(flow->key);
    g_free(flow->protocol);
    g_free(flow->initiator);
    g_free(flow->responder);
    g_free(flow);
}

VlTrafficSample *
vl_traffic_sample_new(gint64 time_us)
{
    VlTrafficSample *sample = g_new0(VlTrafficSample, 1);

    sample->time_us = time_us;
    sample->flows = g_ptr_array_new_with_free_func((GDestroyNotify)flow_free);
    sample->by_key = g_hash_table_new(g_str_hash, g_str_equal);
    return sample;
}

void
vl_traffic_sample_free(VlTrafficSample *sample)
{
    if (!sample)
        return;
    /* by_key borrows the flows' keys: drop it first. */
    g_clear_pointer(&sample->by_key, g_hash_table_unref);
    g_clear_pointer(&sample->flows, g_ptr_array_unref);
    g_free(sample);
}

gint64
vl_traffic_sample_get_time(const VlTrafficSample *sample)
{
    return sample->time_us;
}

guint
vl_traffic_sample_get_n_flows(const VlTrafficSample *sample)
{
    return sample->flows->len;
}

guint
vl_traffic_sample_get_n_skipped(const VlTrafficSample *sample)
{
    return sample->skipped;
}

const VlTrafficFlow *
vl_traffic_sample_get_flow(const VlTrafficSample *sample, guint index)
{
    g_return_val_if_fail(index < sample->flows->len, NULL);
    return g_ptr_array_index(sample->flows, index);
}

const VlTrafficFlow *
vl_traffic_sample_lookup(const VlTrafficSample *sample, const char *key)
{
    return g_hash_table_lookup(sample->by_key, key);
}

/* ---- parsing one line --------------------------------------------------- */

/* The fields of one direction of a conntrack entry. */
typedef struct {
    char *src;              /* canonical address */
    char *dst;
    GSocketFamily family;
    char *sport, *dport;    /* decimal, as given; NULL when absent */
    char *type, *code, *id; /* ICMP */
    gboolean has_packets, has_bytes;
    guint64 packets, bytes;
} Tuple;

static void
tuple_clear(Tuple *t)
{
    g_free(t->src);
    g_free(t->dst);
    g_free(t->sport);
    g_free(t->dport);
    g_free(t->type);
    g_free(t->code);
    g_free(t->id);
    memset(t, 0, sizeof(*t));
}

/* @text as an address in its canonical spelling, or NULL. */
static char *
canonical_address(const char *text, GSocketFamily *family)
{
    g_autoptr(GInetAddress) addr = NULL;

    if (!text || !*text || strlen(text) > 64)
        return NULL;
    addr = g_inet_address_new_from_string(text);
    if (!addr)
        return NULL;
    if (family)
        *family = g_inet_address_get_family(addr);
    return g_inet_address_to_string(addr);
}

static gboolean
parse_u64(const char *text, guint64 max, guint64 *out)
{
    guint64 value = 0;

    /* g_ascii_string_to_unsigned() refuses signs, blanks and overflow. */
    if (!g_ascii_string_to_unsigned(text, 10, 0, max, &value, NULL))
        return FALSE;
    *out = value;
    return TRUE;
}

/* Stores a small decimal field once; a repeated or bad one fails. */
static gboolean
set_number(char **field, const char *value, guint64 max)
{
    guint64 n = 0;

    if (*field || !parse_u64(value, max, &n))
        return FALSE;
    *field = g_strdup_printf("%" G_GUINT64_FORMAT, n);
    return TRUE;
}

static gboolean
is_word(const char *s, gboolean upper)
{
    const char *p;

    if (!*s || strlen(s) > 32)
        return FALSE;
    /* States are upper case ("SYN_SENT2"), names lower case ("ipv4"). */
    if (upper && !g_ascii_isupper(*s))
        return FALSE;
    for (p = s; *p; p++) {
        gboolean ok = upper ?
            (g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '_') :
            (g_ascii_islower(*p) || g_ascii_isdigit(*p));

        if (!ok)
            return FALSE;
    }
    return TRUE;
}

static gboolean
is_decimal(const char *s)
{
    guint64 n = 0;

    return parse_u64(s, G_MAXUINT64, &n);
}

/* One tuple key=value; FALSE for a bad or repeated one. */
static gboolean
tuple_set(Tuple *t, const char *key, const char *value)
{
    if (g_str_equal(key, "src") || g_str_equal(key, "dst")) {
        char **field = g_str_equal(key, "src") ? &t->src : &t->dst;
        GSocketFamily family = G_SOCKET_FAMILY_INVALID;

        if (*field)
            return FALSE;
        *field = canonical_address(value, &family);
        if (!*field)
            return FALSE;
        if (t->family != G_SOCKET_FAMILY_INVALID && t->family != family)
            return FALSE;
        t->family = family;
        return TRUE;
    }
    if (g_str_equal(key, "sport"))
        return set_number(&t->sport, value, 65535);
    if (g_str_equal(key, "dport"))
        return set_number(&t->dport, value, 65535);
    if (g_str_equal(key, "type"))
        return set_number(&t->type, value, 255);
    if (g_str_equal(key, "code"))
        return set_number(&t->code, value, 255);
    if (g_str_equal(key, "id"))
        return set_number(&t->id, value, 65535);
    if (g_str_equal(key, "packets")) {
        if (t->has_packets || !parse_u64(value, G_MAXUINT64, &t->packets))
            return FALSE;
        t->has_packets = TRUE;
        return TRUE;
    }
    if (g_str_equal(key, "bytes")) {
        if (t->has_bytes || !parse_u64(value, G_MAXUINT64, &t->bytes))
            return FALSE;
        t->has_bytes = TRUE;
        return TRUE;
    }
    /* Other keys (mark, use, secctx, labels, timestamps...) after the
     * tuples are not ours; inside a tuple there are no others. */
    return TRUE;
}

static gboolean
is_tuple_key(const char *key)
{
    static const char *const keys[] = {
        "src", "dst", "sport", "dport", "type", "code", "id", "packets",
        "bytes", NULL
    };

    return g_strv_contains(keys, key);
}

/*
 * Parses one entry.  The layouts are
 *   /proc/net/nf_conntrack, conntrack -L -o extended:
 *     ipv4 2 tcp 6 431999 ESTABLISHED src=... dst=... sport=... dport=...
 *       [packets=... bytes=...] [UNREPLIED] src=... (reply) ... [ASSURED]
 *       mark=0 [zone=N] use=2
 *   conntrack -L: the same without the leading "ipv4 2".
 * Returns the flow, or NULL when the line is not a well-formed entry.
 */
static VlTrafficFlow *
parse_line(const char *line)
{
    g_auto(GStrv) tokens = g_strsplit_set(line, " \t\r", -1);
    g_autoptr(GPtrArray) words = g_ptr_array_new();
    g_autofree char *zone = NULL;
    Tuple tuples[2] = { { 0 } };
    int current = -1;
    guint pos = 0;
    guint i;
    const char *l4 = NULL;
    guint64 l4num = 0;
    VlTrafficFlow *flow = NULL;
    gboolean ok = FALSE;

    for (i = 0; tokens[i]; i++) {
        if (*tokens[i])
            g_ptr_array_add(words, tokens[i]);
    }
    if (words->len < 4)
        return NULL;

    /* [l3name l3num] l4name l4num timeout [STATE] */
    if (is_word(g_ptr_array_index(words, 0), FALSE) &&
        g_str_has_prefix(g_ptr_array_index(words, 0), "ipv") &&
        is_decimal(g_ptr_array_index(words, 1)))
        pos = 2;
    if (pos + 3 > words->len)
        return NULL;
    l4 = g_ptr_array_index(words, pos);
    if (!is_word(l4, FALSE) || g_ascii_isdigit(*l4) ||
        !parse_u64(g_ptr_array_index(words, pos + 1), 255, &l4num) ||
        !is_decimal(g_ptr_array_index(words, pos + 2)))
        return NULL;
    pos += 3;
    if (pos < words->len && is_word(g_ptr_array_index(words, pos), TRUE))
        pos++;

    for (i = pos; i < words->len; i++) {
        const char *word = g_ptr_array_index(words, i);
        const char *eq = strchr(word, '=');
        g_autofree char *key = NULL;

        if (word[0] == '[') {
            /* [UNREPLIED], [ASSURED], [OFFLOAD], [HW_OFFLOAD] */
            if (word[strlen(word) - 1] != ']')
                goto out;
            continue;
        }
        if (!eq || eq == word)
            goto out;
        key = g_strndup(word, eq - word);
        if (g_str_equal(key, "src")) {
            if (++current > 1)
                goto out;
        }
        if (is_tuple_key(key)) {
            /* A tuple field before the first src=, or one after the
             * trailer has begun, is not a layout we know. */
            if (current < 0)
                goto out;
            if (!tuple_set(&tuples[current], key, eq + 1))
                goto out;
        } else if (g_str_has_prefix(key, "zone")) {
            g_autofree char *part = g_strdup_printf("%s%s%s", zone ? zone : "",
                                                    zone ? "," : "", word);

            g_free(zone);
            zone = g_steal_pointer(&part);
        } else if (current < 0) {
            goto out;
        }
    }
    if (current != 1)
        goto out;
    for (i = 0; i < 2; i++) {
        if (!tuples[i].src || !tuples[i].dst)
            goto out;
    }
    if (tuples[0].family != tuples[1].family)
        goto out;
    if (tuples[0].has_bytes && tuples[1].has_bytes &&
        tuples[0].bytes > G_MAXUINT64 - tuples[1].bytes)
        goto out;
    if (tuples[0].has_packets && tuples[1].has_packets &&
        tuples[0].packets > G_MAXUINT64 - tuples[1].packets)
        goto out;

    flow = g_new0(VlTrafficFlow, 1);
    flow->protocol = g_strdup(l4);
    flow->initiator = g_strdup(tuples[0].src);
    flow->responder = g_strdup(tuples[1].src);
    flow->has_counters = tuples[0].has_bytes;
    flow->bytes = (tuples[0].has_bytes ? tuples[0].bytes : 0) +
        (tuples[1].has_bytes ? tuples[1].bytes : 0);
    flow->packets = (tuples[0].has_packets ? tuples[0].packets : 0) +
        (tuples[1].has_packets ? tuples[1].packets : 0);
    flow->key = g_strdup_printf("%s %" G_GUINT64_FORMAT " %s %s %s %s %s %s %s %s",
                                tuples[0].family == G_SOCKET_FAMILY_IPV6 ?
                                "ipv6" : "ipv4",
                                l4num, tuples[0].src, tuples[0].dst,
                                tuples[0].sport ? tuples[0].sport : "-",
                                tuples[0].dport ? tuples[0].dport : "-",
                                tuples[0].type ? tuples[0].type : "-",
                                tuples[0].code ? tuples[0].code : "-",
                                tuples[0].id ? tuples[0].id : "-",
                                zone ? zone : "-");
    ok = TRUE;

 out:
    tuple_clear(&tuples[0]);
    tuple_clear(&tuples[1]);
    return ok ? flow : NULL;
}

gboolean
vl_traffic_sample_parse(VlTrafficSample *sample, const char *text,
                        gsize length, GError **error)
{
    gsize start = 0;

    if (length > VL_TRAFFIC_TEXT_MAX) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Connection tracking table of %" G_GSIZE_FORMAT " bytes is above the limit of %d",
                    length, VL_TRAFFIC_TEXT_MAX);
        return FALSE;
    }

    while (start < length) {
        const char *nl = memchr(text + start, '\n', length - start);
        gsize end = nl ? (gsize)(nl - text) : length;
        gsize len = end - start;
        g_autofree char *line = NULL;
        VlTrafficFlow *flow = NULL;

        if (len == 0 || (len == 1 && text[start] == '\r')) {
            start = end + 1;
            continue;
        }
        if (len > VL_TRAFFIC_LINE_MAX || memchr(text + start, '\0', len)) {
            sample->skipped++;
            start = end + 1;
            continue;
        }
        line = g_strndup(text + start, len);
        start = end + 1;
        /* conntrack's summary line, should stderr end up in the text. */
        if (g_str_has_prefix(line, "conntrack v"))
            continue;
        flow = parse_line(line);
        if (!flow || g_hash_table_contains(sample->by_key, flow->key)) {
            flow_free(flow);
            sample->skipped++;
            continue;
        }
        g_ptr_array_add(sample->flows, flow);
        g_hash_table_insert(sample->by_key, flow->key, flow);
    }
    return TRUE;
}

/* ---- addresses ---------------------------------------------------------- */

struct _VlTrafficAddresses {
    GHashTable *map;            /* canonical address -> domain, or "" once
                                 * claimed by two domains */
    guint ambiguous;
};

VlTrafficAddresses *
vl_traffic_addresses_new(void)
{
    VlTrafficAddresses *addresses = g_new0(VlTrafficAddresses, 1);

    addresses->map = g_hash_table_new_full(g_str_hash, g_str_equal,
                                           g_free, g_free);
    return addresses;
}

void
vl_traffic_addresses_free(VlTrafficAddresses *addresses)
{
    if (!addresses)
        return;
    g_clear_pointer(&addresses->map, g_hash_table_unref);
    g_free(addresses);
}

gboolean
vl_traffic_addresses_add(VlTrafficAddresses *addresses, const char *address,
                         const char *domain, GError **error)
{
    g_autofree char *canon = canonical_address(address, NULL);
    const char *known = NULL;

    if (!canon) {
        g_autofree char *shown = g_utf8_make_valid(address ? address : "", -1);

        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Invalid address '%s'", shown);
        return FALSE;
    }
    if (!domain || !*domain || !g_utf8_validate(domain, -1, NULL)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Domain name for address '%s' is empty or not UTF-8", canon);
        return FALSE;
    }
    known = g_hash_table_lookup(addresses->map, canon);
    if (!known) {
        g_hash_table_insert(addresses->map, g_steal_pointer(&canon),
                            g_strdup(domain));
    } else if (*known && !g_str_equal(known, domain)) {
        g_hash_table_replace(addresses->map, g_steal_pointer(&canon),
                             g_strdup(""));
        addresses->ambiguous++;
    }
    return TRUE;
}

const char *
vl_traffic_addresses_lookup(const VlTrafficAddresses *addresses,
                            const char *address)
{
    g_autofree char *canon = canonical_address(address, NULL);
    const char *domain = NULL;

    if (!canon)
        return NULL;
    domain = g_hash_table_lookup(addresses->map, canon);
    return domain && *domain ? domain : NULL;
}

guint
vl_traffic_addresses_get_size(const VlTrafficAddresses *addresses)
{
    return g_hash_table_size(addresses->map) - addresses->ambiguous;
}

guint
vl_traffic_addresses_get_n_ambiguous(const VlTrafficAddresses *addresses)
{
    return addresses->ambiguous;
}

gboolean
vl_traffic_addresses_add_domain(VlTrafficAddresses *addresses,
                                virDomainPtr dom, guint *n_added,
                                GError **error)
{
    static const unsigned int sources[] = {
        VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
        VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
    };
    const char *name = virDomainGetName(dom);
    g_autoptr(GError) first_error = NULL;
    guint answered = 0;
    guint added = 0;
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sources); s++) {
        virDomainInterfacePtr *ifaces = NULL;
        int n = virDomainInterfaceAddresses(dom, &ifaces, sources[s], 0);
        int i;

        if (n < 0) {
            if (!first_error)
                vl_error_set_from_virt(&first_error,
                                       "Cannot read the addresses of domain '%s'",
                                       name ? name : "?");
            continue;
        }
        answered++;
        for (i = 0; i < n; i++) {
            size_t j;

            for (j = 0; j < ifaces[i]->naddrs; j++) {
                const char *addr = ifaces[i]->addrs[j].addr;

                /* Something libvirt reports but we cannot parse is
                 * skipped: one odd address must not hide the rest. */
                if (addr && name &&
                    vl_traffic_addresses_add(addresses, addr, name, NULL))
                    added++;
            }
            virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
    }
    if (!answered) {
        g_propagate_error(error, g_steal_pointer(&first_error));
        return FALSE;
    }
    if (n_added)
        *n_added = added;
    return TRUE;
}

/* ---- rates ------------------------------------------------------------- */

VlGraph *
vl_traffic_rates(const VlTrafficSample *before, const VlTrafficSample *after,
                 const VlTrafficAddresses *addresses,
                 VlTrafficReport *report, GError **error)
{
    g_autoptr(VlGraph) graph = vl_graph_new();
    VlTrafficReport r = { 0 };
    double interval = (after->time_us - before->time_us) / 1e6;
    guint i;

    if (!(interval > 0)) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Second traffic sample is not later than the first (%.6f s apart)",
                    interval);
        return NULL;
    }
    r.interval_s = interval;
    r.flows = after->flows->len;
    r.skipped_lines = before->skipped + after->skipped;

    for (i = 0; i < before->flows->len; i++) {
        const VlTrafficFlow *f = g_ptr_array_index(before->flows, i);

        if (!g_hash_table_contains(after->by_key, f->key))
            r.flows_ended++;
    }

    for (i = 0; i < after->flows->len; i++) {
        const VlTrafficFlow *f = g_ptr_array_index(after->flows, i);
        const VlTrafficFlow *old = g_hash_table_lookup(before->by_key, f->key);
        const char *a = vl_traffic_addresses_lookup(addresses, f->initiator);
        const char *b = vl_traffic_addresses_lookup(addresses, f->responder);
        double bytes = 0;
        double bps = VL_TRAFFIC_NOMINAL_BPS;

        if (f->has_counters) {
            if (old && old->has_counters && f->bytes >= old->bytes)
                bytes = (double)(f->bytes - old->bytes);
            else
                bytes = (double)f->bytes;
            bps = MAX(bytes / interval, VL_TRAFFIC_NOMINAL_BPS);
        }

        if (!a && !b) {
            r.flows_unattributed++;
        } else if (!a || !b) {
            r.flows_with_outside++;
            r.outside_bps += bytes / interval;
        } else if (g_str_equal(a, b)) {
            r.flows_same_domain++;
        } else {
            r.flows_between_domains++;
            if (!f->has_counters)
                r.flows_without_counters++;
            if (!vl_graph_add_edge(graph, a, b, bps, error))
                return NULL;
        }
    }
    if (report)
        *report = r;
    return g_steal_pointer(&graph);
}

/* ---- the host ----------------------------------------------------------- */

const char *
vl_traffic_source_to_string(VlTrafficSource source)
{
    switch (source) {
    case VL_TRAFFIC_SOURCE_PROC:
        return "/proc/net/nf_conntrack";
    case VL_TRAFFIC_SOURCE_TOOL:
        return "conntrack -L";
    case VL_TRAFFIC_SOURCE_NONE:
        break;
    }
    return "none";
}

void
vl_traffic_host_clear(VlTrafficHost *host)
{
    g_clear_pointer(&host->tool, g_free);
}

static char *
rooted(const char *root, const char *path)
{
    return g_build_filename(root ? root : "/", path, NULL);
}

/* A sysctl holding 0 or 1: that, or -1 when absent or odd. */
static int
read_flag(const char *root, const char *path)
{
    g_autofree char *file = rooted(root, path);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(file, &text, NULL, NULL))
        return -1;
    g_strstrip(text);
    if (g_str_equal(text, "0"))
        return 0;
    if (g_str_equal(text, "1"))
        return 1;
    return -1;
}

void
vl_traffic_host_probe(const char *root, VlTrafficHost *host)
{
    static const char *const tools[] = {
        "usr/sbin/conntrack", "sbin/conntrack", "usr/bin/conntrack", NULL
    };
    g_autofree char *table = rooted(root, "proc/net/nf_conntrack");
    guint i;

    memset(host, 0, sizeof(*host));
    host->proc_table = g_access(table, R_OK) == 0;
    host->accounting = read_flag(root, "proc/sys/net/netfilter/nf_conntrack_acct");
    host->bridge_netfilter =
        read_flag(root, "proc/sys/net/bridge/bridge-nf-call-iptables");
    for (i = 0; tools[i]; i++) {
        g_autofree char *tool = rooted(root, tools[i]);

        if (g_file_test(tool, G_FILE_TEST_IS_REGULAR) &&
            g_access(tool, X_OK) == 0) {
            host->tool = g_steal_pointer(&tool);
            break;
        }
    }
}

typedef struct {
    gboolean done;
    gboolean timed_out;
    GBytes *out;
    GBytes *err;
    GError *error;
} ToolRun;

static void
on_tool_done(GObject *object, GAsyncResult *result, gpointer user_data)
{
    ToolRun *run = user_data;

    g_subprocess_communicate_finish(G_SUBPROCESS(object), result, &run->out,
                                    &run->err, &run->error);
    run->done = TRUE;
}

static gboolean
on_tool_timeout(gpointer user_data)
{
    ToolRun *run = user_data;

    run->timed_out = TRUE;
    return G_SOURCE_REMOVE;
}

/* Runs @tool -L -o extended with a cleared environment and a time limit. */
static char *
run_tool(const char *tool, guint timeout_ms, gsize *length, GError **error)
{
    static const char *const env[] = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL
    };
    const char *argv[] = { tool, "-L", "-o", "extended", NULL };
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GSource) timer = NULL;
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    ToolRun run = { 0 };
    char *text = NULL;

    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                         G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_environ(launcher, (char **)env);
    proc = g_subprocess_launcher_spawnv(launcher, argv, error);
    if (!proc)
        return NULL;

    g_main_context_push_thread_default(context);
    timer = g_timeout_source_new(timeout_ms);
    g_source_set_callback(timer, on_tool_timeout, &run, NULL);
    g_source_attach(timer, context);
    g_subprocess_communicate_async(proc, NULL, cancellable, on_tool_done, &run);
    while (!run.done) {
        if (run.timed_out && !g_cancellable_is_cancelled(cancellable)) {
            g_subprocess_force_exit(proc);
            g_cancellable_cancel(cancellable);
        }
        g_main_context_iteration(context, TRUE);
    }
    g_source_destroy(timer);
    /* Reap it before the context goes: the child watch lives there. */
    g_subprocess_wait(proc, NULL, NULL);
    g_main_context_pop_thread_default(context);

    if (run.timed_out) {
        g_set_error(error, VL_ERROR, VL_ERROR_TIMEOUT,
                    "'%s -L' did not finish within %u ms", tool, timeout_ms);
        goto out;
    }
    if (run.error) {
        g_set_error(error, VL_ERROR, VL_ERROR_IO, "Cannot run '%s -L': %s",
                    tool, run.error->message);
        goto out;
    }
    if (!g_subprocess_get_if_exited(proc) ||
        g_subprocess_get_exit_status(proc) != 0) {
        g_autofree char *msg = NULL;
        gsize n = 0;
        const char *raw = run.err ? g_bytes_get_data(run.err, &n) : NULL;
        g_autofree char *first = raw ? g_strndup(raw, MIN(n, 200)) : g_strdup("");
        char *nl = strchr(first, '\n');

        if (nl)
            *nl = '\0';
        msg = g_utf8_make_valid(first, -1);
        g_set_error(error, VL_ERROR, VL_ERROR_IO, "'%s -L' failed: %s", tool,
                    *msg ? msg : "no message");
        goto out;
    }
    if (!run.out)
        run.out = g_bytes_new(NULL, 0);
    text = g_bytes_unref_to_data(g_steal_pointer(&run.out), length);
    /* Callers treat it as a buffer with a length; make it a string too. */
    text = g_realloc(text, *length + 1);
    text[*length] = '\0';

 out:
    g_clear_pointer(&run.out, g_bytes_unref);
    g_clear_pointer(&run.err, g_bytes_unref);
    g_clear_error(&run.error);
    return text;
}

char *
vl_traffic_read_conntrack(const VlTrafficHost *host, const char *root,
                          guint timeout_ms, VlTrafficSource *source,
                          gsize *length, GError **error)
{
    g_autoptr(GError) proc_error = NULL;
    char *text = NULL;
    gsize len = 0;

    if (host->proc_table) {
        g_autofree char *table = rooted(root, "proc/net/nf_conntrack");

        if (g_file_get_contents(table, &text, &len, &proc_error)) {
            if (source)
                *source = VL_TRAFFIC_SOURCE_PROC;
            *length = len;
            return text;
        }
    }
    if (host->tool) {
        text = run_tool(host->tool, timeout_ms, &len, error);
        if (!text)
            return NULL;
        if (source)
            *source = VL_TRAFFIC_SOURCE_TOOL;
        *length = len;
        return text;
    }
    if (proc_error)
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "Cannot read the connection tracking table: %s",
                    proc_error->message);
    else
        g_set_error(error, VL_ERROR, VL_ERROR_IO,
                    "No connection tracking table: neither '/proc/net/nf_conntrack' (nf_conntrack not loaded) nor the 'conntrack' program (package conntrack)");
    return NULL;
}

static VlTrafficSample *
take_sample(const VlTrafficHost *host, const char *root, guint timeout_ms,
            GError **error)
{
    g_autoptr(VlTrafficSample) sample = NULL;
    g_autofree char *text = NULL;
    gsize length = 0;

    text = vl_traffic_read_conntrack(host, root, timeout_ms, NULL, &length,
                                     error);
    if (!text)
        return NULL;
    sample = vl_traffic_sample_new(g_get_monotonic_time());
    if (!vl_traffic_sample_parse(sample, text, length, error))
        return NULL;
    return g_steal_pointer(&sample);
}

/* Waits @ms unless @cancellable fires first; FALSE if it did. */
static gboolean
wait_ms(guint ms, GCancellable *cancellable)
{
    GPollFD pfd = { 0 };
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    if (!cancellable || !g_cancellable_make_pollfd(cancellable, &pfd)) {
        g_usleep((gulong)ms * 1000);
        return !g_cancellable_is_cancelled(cancellable);
    }
    for (;;) {
        gint64 left = deadline - g_get_monotonic_time();

        if (g_cancellable_is_cancelled(cancellable))
            break;
        if (left <= 0)
            break;
        g_poll(&pfd, 1, (int)MAX(1, (left + 999) / 1000));
    }
    g_cancellable_release_fd(cancellable);
    return !g_cancellable_is_cancelled(cancellable);
}

VlGraph *
vl_traffic_observe(const VlTrafficHost *host, const char *root,
                   const VlTrafficAddresses *addresses, guint interval_ms,
                   GCancellable *cancellable, VlTrafficReport *report,
                   GError **error)
{
    g_autoptr(VlTrafficSample) before = NULL;
    g_autoptr(VlTrafficSample) after = NULL;
    /* The tool is given a second at most, or the interval if longer. */
    guint tool_timeout = MAX(1000, interval_ms);

    if (interval_ms == 0) {
        g_set_error(error, VL_ERROR, VL_ERROR_INVALID,
                    "Traffic sampling interval must be above 0 ms");
        return NULL;
    }
    before = take_sample(host, root, tool_timeout, error);
    if (!before)
        return NULL;
    if (!wait_ms(interval_ms, cancellable)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                    "Traffic observation cancelled");
        return NULL;
    }
    after = take_sample(host, root, tool_timeout, error);
    if (!after)
        return NULL;
    return vl_traffic_rates(before, after, addresses, report, error);
}
