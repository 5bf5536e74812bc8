/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container-manager.c: the daemon's side of the virtual containers
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "audit.h"
#include "burst-state.h"
#include "container-manager.h"
#include "container.h"
#include "evacuate.h"
#include "host-load.h"
#include "ipc.h"
#include "metadata.h"
#include "migrate.h"
#include "order.h"
#include "policy.h"
#include "sampler.h"
#include "timestamp.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

/* No transition reported by the executor. */
#define NO_TRANSITION VL_CONTAINER_MEMBER_LAST
/* A domain libvirt does not list (any more). */
#define STATE_ABSENT (-1)

typedef struct {
    char *name;
    VlContainerPolicy *policy;      /* borrowed from manager->policy */
    VlContainerState *state;
    gboolean ticked;                /* last_* are set */
    VlContainerAction last_action;  /* of the last tick */
    VlContainerReason last_reason;
    VlContainerHostLoad host_load;  /* as judged at the last tick */
    char *last_error;               /* of the last failed action */
    char *done_action;              /* nullable: the last action finished */
    gint64 done_wall_s;             /* ... at this Unix second */
} Container;

typedef struct {
    char *name;
    int state;                      /* virDomainState */
    char *tag;                      /* nullable: the container tag */
    gboolean tag_warned;            /* a malformed tag was logged */
    guint64 state_epoch;            /* see apply_info() */
    guint64 tag_epoch;
    VlContainerMemberState transition; /* reported by the executor */
    char *burst_host;               /* nullable: where we migrated it */
    char *burst_intent;             /* nullable: where it is being sent */
    gint64 burst_since;             /* Unix second it was sent */
    char *container;                /* nullable: the container it is in */
} Domain;

/* What a worker thread found out about one domain. */
typedef struct {
    char *name;
    gboolean exists;
    int state;
    gboolean tag_known;             /* FALSE: reading it failed */
    char *tag;
    char *tag_error;                /* a malformed tag */
} DomainInfo;

typedef struct {
    virConnectPtr conn;
    char *name;                     /* NULL: scan every domain */
    guint64 epoch;
    GPtrArray *infos;               /* DomainInfo* */
} Lookup;

struct _VlContainerManager {
    VlConn *conn;
    VlContainerManagerLogFunc log_func;
    gpointer log_data;

    gboolean configured;
    const VlPolicy *policy;         /* borrowed from the daemon */
    char *policy_dir;
    GPtrArray *containers;          /* Container*, in policy order */
    GHashTable *by_name;            /* name -> Container* */
    GHashTable *domains;            /* name -> Domain* */
    guint64 epoch;

    VlSampler *sampler;
    char *replay_path;              /* nullable: the recording in use */
    gboolean source_overridden;     /* by a test */
    VlExecutor *executor;
    VlAudit *audit;
    char *audit_path;
    char *state_path;               /* the burst state file */
    gboolean state_loaded;          /* read (or set aside) once */
    gboolean dry_run;
    guint tick_s;
    guint timer_id;
    gint64 next_cycle_us;           /* monotonic */

    virConnectPtr vconn;
    int lifecycle_id;
    int metadata_id;
    GCancellable *lookups;          /* cancelled on detach */
    gboolean scanned;

    guint64 cycles;
    gboolean have_cycle;
    gint64 cycle_wall_us;
    guint cycle_domains;
    gint64 cycle_sample_us;
    gint64 cycle_sample_cpu_us;
    gint64 cycle_tick_cpu_us;
    char *cycle_error;              /* nullable: why the last cycle had
                                     * no sample */
    double host_values[VL_HOST_INDICATOR_LAST]; /* of the last cycle */
    GArray *scratch;                /* VlContainerMemberValues */
};

static void G_GNUC_PRINTF(3, 4)
manager_log(VlContainerManager *manager, GLogLevelFlags level,
            const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start(args, fmt);
    message = g_strdup_vprintf(fmt, args);
    va_end(args);
    if (manager->log_func)
        manager->log_func(level, message, manager->log_data);
    else
        g_debug("%s", message);
}

static gint64
now_s(void)
{
    return g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* ---- the burst state file ---------------------------------------------- */

/* Monotonic second <-> Unix second, for the state file. */
static gint64
mono_to_wall(gint64 mono_s)
{
    return g_get_real_time() / G_USEC_PER_SEC + (mono_s - now_s());
}

/*
 * Writes which members are away (or being sent away) and each
 * container's cooldown.  Called whenever one of them changes; the file
 * is small (one line per burst member), so it is simply rewritten.
 */
static void
save_state(VlContainerManager *manager)
{
    g_autoptr(VlBurstState) state = vl_burst_state_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GList) names = NULL;
    gint64 now = now_s();
    GList *l;
    guint i;

    if (!manager->state_path || !manager->state_loaded)
        return;
    /* Sorted, so that the file does not churn with the hash order. */
    names = g_list_sort(g_hash_table_get_keys(manager->domains),
                        (GCompareFunc)strcmp);
    for (l = names; l; l = l->next) {
        Domain *d = g_hash_table_lookup(manager->domains, l->data);
        const char *peer = d->burst_host ? d->burst_host : d->burst_intent;

        if (peer && d->container)
            vl_burst_state_add_member(state, d->name, d->container, peer,
                                      d->burst_since);
    }
    for (i = 0; i < manager->containers->len; i++) {
        Container *c = g_ptr_array_index(manager->containers, i);
        gint64 until = vl_container_state_get_cooldown_until(c->state);

        if (until <= now && !c->done_action)
            continue;
        vl_burst_state_add_container(state, c->name,
                                     until > now ? mono_to_wall(until) : 0,
                                     c->done_action, c->done_wall_s);
    }
    if (!vl_burst_state_save(state, manager->state_path, &error))
        manager_log(manager, G_LOG_LEVEL_WARNING,
                    "Cannot save the containers' state: %s", error->message);
}

/* ---- containers and domains ------------------------------------------ */

/*
 * The order of a group migration (migrate_away, bring_back): the
 * affinity graph of the policy over the members that move, ordered as
 * "virt-lanes evacuate" orders (order.h: exact for small groups, else
 * RCM improved), so that members that talk to each other are split
 * between the hosts for as short a time as possible.  Without an
 * affinity among them, or on any error, name order stays.  The daemon
 * observes no traffic itself (traffic.h is the CLI's), so only the
 * declared affinities count.
 */
static void
order_members(const VlContainerPolicy *policy, GPtrArray *members,
              gpointer user_data G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(VlGraph) graph = NULL;
    g_autoptr(VlOrder) order = NULL;
    g_autoptr(GError) error = NULL;
    guint i;

    if (members->len < 2 || !policy->affinities || policy->affinities->len == 0)
        return;
    for (i = 0; i < members->len; i++)
        g_ptr_array_add(names, g_ptr_array_index(members, i));
    g_ptr_array_add(names, NULL);
    graph = vl_evacuate_graph_build((const char *const *)names->pdata,
                                    policy->affinities, NULL, NULL, &error);
    if (graph && vl_graph_n_edges(graph) == 0)
        return;
    if (graph)
        order = vl_order_plan(graph, (const char *const *)names->pdata, NULL,
                              &error);
    if (!order || order->n != members->len) {
        g_debug("Container '%s': keeping name order: %s", policy->name,
                error ? error->message : "incomplete order");
        return;
    }
    for (i = 0; i < order->n; i++) {
        g_free(g_ptr_array_index(members, i));
        g_ptr_array_index(members, i) = g_strdup(order->names[i]);
    }
}

static void
container_free(Container *c)
{
    if (!c)
        return;
    g_free(c->name);
    vl_container_state_free(c->state);
    g_free(c->last_error);
    g_free(c->done_action);
    g_free(c);
}

static void
domain_free(Domain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->tag);
    g_free(d->burst_host);
    g_free(d->burst_intent);
    g_free(d->container);
    g_free(d);
}

static void
domain_info_free(DomainInfo *info)
{
    if (!info)
        return;
    g_free(info->name);
    g_free(info->tag);
    g_free(info->tag_error);
    g_free(info);
}

static void
lookup_free(Lookup *lookup)
{
    if (!lookup)
        return;
    if (lookup->conn)
        virConnectClose(lookup->conn);
    g_free(lookup->name);
    if (lookup->infos)
        g_ptr_array_unref(lookup->infos);
    g_free(lookup);
}

static Container *
find_container(VlContainerManager *manager, const char *name)
{
    return name ? g_hash_table_lookup(manager->by_name, name) : NULL;
}

const VlContainerPolicy *
vl_container_manager_assign(const VlPolicy *policy, const char *name,
                            const char *tag)
{
    guint i;

    for (i = 0; policy && policy->containers && i < policy->containers->len; i++) {
        const VlContainerPolicy *p = g_ptr_array_index(policy->containers, i);

        if (tag) {
            if (!g_str_equal(tag, p->name))
                continue;
            return g_strcmp0(p->template_domain, name) == 0 ? NULL : p;
        }
        if (g_strcmp0(p->template_domain, name) == 0)
            continue;
        if (vl_container_policy_match_domain(p, name) ||
            (p->standby &&
             g_strv_contains((const char *const *)p->standby, name)))
            return p;
    }
    return NULL;
}

/* The container @d belongs to (vl_container_manager_assign()); an absent
 * domain is in none. */
static Container *
assign(VlContainerManager *manager, Domain *d)
{
    const VlContainerPolicy *p = NULL;

    if (d->state == STATE_ABSENT)
        return NULL;
    p = vl_container_manager_assign(manager->policy, d->name, d->tag);
    return p ? find_container(manager, p->name) : NULL;
}

static VlContainerMemberState
member_state(const Domain *d)
{
    if (d->transition != NO_TRANSITION)
        return d->transition;
    if (d->burst_host)
        return VL_CONTAINER_MEMBER_RUNNING;
    switch (d->state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return VL_CONTAINER_MEMBER_RUNNING;
    case VIR_DOMAIN_SHUTOFF:
        return VL_CONTAINER_MEMBER_OFF;
    case VIR_DOMAIN_SHUTDOWN:
        return VL_CONTAINER_MEMBER_STOPPING;
    default:
        return VL_CONTAINER_MEMBER_OTHER;
    }
}

/* @d runs here again, not by our doing (by hand, or a migration that
 * ended after a restart): it is no longer burst. */
static void
burst_returned(VlContainerManager *manager, Domain *d)
{
    manager_log(manager, G_LOG_LEVEL_MESSAGE,
                "Domain '%s' runs on this host again: no longer counted as moved to '%s'",
                d->name, d->burst_host);
    g_clear_pointer(&d->burst_host, g_free);
    g_clear_pointer(&d->burst_intent, g_free);
    save_state(manager);
}

/* Tells the engine where @d stands now: regrouped, state, host. */
static void
sync_domain(VlContainerManager *manager, Domain *d)
{
    Container *c = assign(manager, d);
    Container *old = find_container(manager, d->container);

    if (old != c) {
        if (old)
            vl_container_forget_member(old->state, d->name);
        if (c && old)
            manager_log(manager, G_LOG_LEVEL_MESSAGE,
                        "Domain '%s' moved from container '%s' to '%s'",
                        d->name, old->name, c->name);
        else if (c)
            manager_log(manager, G_LOG_LEVEL_MESSAGE,
                        "Domain '%s' is a member of container '%s'",
                        d->name, c->name);
        else if (old)
            manager_log(manager, G_LOG_LEVEL_MESSAGE,
                        "Domain '%s' left container '%s'", d->name, old->name);
    }
    g_free(d->container);
    d->container = c ? g_strdup(c->name) : NULL;
    if (c)
        vl_container_note_member_state(c->state, d->name, member_state(d),
                                       d->burst_host, now_s());
}

static void
remove_domain(VlContainerManager *manager, Domain *d)
{
    d->state = STATE_ABSENT;
    sync_domain(manager, d);
    g_hash_table_remove(manager->domains, d->name);
}

static Domain *
ensure_domain(VlContainerManager *manager, const char *name)
{
    Domain *d = g_hash_table_lookup(manager->domains, name);

    if (!d) {
        d = g_new0(Domain, 1);
        d->name = g_strdup(name);
        d->state = VIR_DOMAIN_NOSTATE;
        d->transition = NO_TRANSITION;
        g_hash_table_insert(manager->domains, d->name, d);
    }
    return d;
}

/*
 * Results of lookups launched at @epoch.  An event or a later lookup
 * that touched the domain since then knows better: its state (tag) is
 * kept when d->state_epoch (tag_epoch) is newer than @epoch.
 */
static void
apply_info(VlContainerManager *manager, DomainInfo *info, guint64 epoch)
{
    Domain *d = g_hash_table_lookup(manager->domains, info->name);

    if (!info->exists) {
        if (d && d->state_epoch <= epoch && d->tag_epoch <= epoch &&
            !d->burst_host)
            remove_domain(manager, d);
        return;
    }
    d = ensure_domain(manager, info->name);
    if (info->tag_known && d->tag_epoch <= epoch) {
        g_free(d->tag);
        d->tag = g_strdup(info->tag);
        d->tag_epoch = epoch;
        if (info->tag_error && !d->tag_warned)
            manager_log(manager, G_LOG_LEVEL_WARNING,
                        "Ignoring the container tag of domain '%s': %s",
                        d->name, info->tag_error);
        d->tag_warned = info->tag_error != NULL;
    }
    if (d->state_epoch <= epoch) {
        d->state = info->state;
        d->state_epoch = epoch;
        if (info->state == VIR_DOMAIN_RUNNING && d->burst_host &&
            !vl_executor_is_migrating(manager->executor, d->name))
            burst_returned(manager, d);
    }
    sync_domain(manager, d);
}

/* ---- lookups in worker threads ----------------------------------------- */

static int
read_state(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;
    int reason = 0;

    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return VIR_DOMAIN_NOSTATE;
    return state;
}

gboolean
vl_container_manager_read_tag(virDomainPtr dom, unsigned int xml_flags,
                              char **tag, GError **error)
{
    g_autofree char *xml = NULL;
    char *raw;

    /*
     * The whole XML rather than virDomainGetMetadata(): libvirt hands an
     * element back without its namespace, which metadata.h (rightly)
     * refuses to take for ours.
     */
    raw = virDomainGetXMLDesc(dom, xml_flags);
    if (!raw) {
        vl_error_set_from_virt(error, "Cannot read the XML of domain '%s'",
                               virDomainGetName(dom));
        return FALSE;
    }
    xml = g_strdup(raw);
    free(raw);
    return vl_container_tag_from_domain_xml(xml, strlen(xml), tag, error);
}

static DomainInfo *
read_domain(virDomainPtr dom)
{
    DomainInfo *info = g_new0(DomainInfo, 1);
    g_autoptr(GError) error = NULL;
    char *tag = NULL;

    info->name = g_strdup(virDomainGetName(dom));
    info->exists = TRUE;
    info->state = read_state(dom);
    if (vl_container_manager_read_tag(dom, 0, &tag, &error)) {
        info->tag_known = TRUE;
        info->tag = tag;
    } else if (!g_error_matches(error, VL_ERROR, VL_ERROR_LIBVIRT)) {
        /* Read, but malformed: as if untagged, and said once. */
        info->tag_known = TRUE;
        info->tag_error = g_strdup(error->message);
    }
    return info;
}

static void
lookup_thread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer task_data,
              GCancellable *cancellable G_GNUC_UNUSED)
{
    Lookup *lookup = task_data;
    virDomainPtr *doms = NULL;
    int n;
    int i;

    if (lookup->name) {
        g_autoptr(virDomain) dom = virDomainLookupByName(lookup->conn,
                                                         lookup->name);

        if (dom) {
            g_ptr_array_add(lookup->infos, read_domain(dom));
        } else {
            virErrorPtr err = virGetLastError();
            DomainInfo *info;

            if (!err || err->code != VIR_ERR_NO_DOMAIN) {
                GError *error = NULL;

                vl_error_set_from_virt(&error, "Cannot look up domain '%s'",
                                       lookup->name);
                g_task_return_error(task, error);
                return;
            }
            info = g_new0(DomainInfo, 1);
            info->name = g_strdup(lookup->name);
            info->exists = FALSE;
            info->state = STATE_ABSENT;
            g_ptr_array_add(lookup->infos, info);
        }
        g_task_return_boolean(task, TRUE);
        return;
    }

    n = virConnectListAllDomains(lookup->conn, &doms, 0);
    if (n < 0) {
        GError *error = NULL;

        vl_error_set_from_virt(&error, "Cannot list domains");
        g_task_return_error(task, error);
        return;
    }
    for (i = 0; i < n; i++) {
        if (virDomainGetName(doms[i]))
            g_ptr_array_add(lookup->infos, read_domain(doms[i]));
        virDomainFree(doms[i]);
    }
    free(doms);
    g_task_return_boolean(task, TRUE);
}

static void
on_lookup_done(GObject *source G_GNUC_UNUSED, GAsyncResult *result,
               gpointer user_data)
{
    GTask *task = G_TASK(result);
    VlContainerManager *manager = user_data;
    Lookup *lookup = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    guint i;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    if (!g_task_propagate_boolean(task, &error)) {
        manager_log(manager, G_LOG_LEVEL_WARNING, "%s", error->message);
        return;
    }

    if (!lookup->name) {
        /* A scan: whatever it did not list is gone. */
        g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GPtrArray) gone = g_ptr_array_new();
        GHashTableIter iter;
        gpointer value;

        for (i = 0; i < lookup->infos->len; i++) {
            DomainInfo *info = g_ptr_array_index(lookup->infos, i);

            g_hash_table_add(listed, info->name);
        }
        g_hash_table_iter_init(&iter, manager->domains);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
            Domain *d = value;

            if (!g_hash_table_contains(listed, d->name))
                g_ptr_array_add(gone, d);
        }
        for (i = 0; i < gone->len; i++) {
            Domain *d = g_ptr_array_index(gone, i);

            if (d->state_epoch <= lookup->epoch && !d->burst_host)
                remove_domain(manager, d);
        }
        manager->scanned = TRUE;
    }
    for (i = 0; i < lookup->infos->len; i++)
        apply_info(manager, g_ptr_array_index(lookup->infos, i), lookup->epoch);
}

/* Looks @name up (NULL: every domain) in a thread. */
static void
start_lookup(VlContainerManager *manager, const char *name)
{
    g_autoptr(GTask) task = NULL;
    Lookup *lookup;

    if (!manager->vconn)
        return;
    lookup = g_new0(Lookup, 1);
    virConnectRef(manager->vconn);
    lookup->conn = manager->vconn;
    lookup->name = g_strdup(name);
    lookup->epoch = ++manager->epoch;
    lookup->infos = g_ptr_array_new_with_free_func((GDestroyNotify)domain_info_free);

    task = g_task_new(NULL, manager->lookups, on_lookup_done, manager);
    g_task_set_source_tag(task, start_lookup);
    g_task_set_task_data(task, lookup, (GDestroyNotify)lookup_free);
    g_task_run_in_thread(task, lookup_thread);
}

/* ---- libvirt events ---------------------------------------------------- */

static int
on_lifecycle(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
             int event, int detail, void *opaque)
{
    VlContainerManager *manager = opaque;
    const char *name = virDomainGetName(dom);
    Domain *d;
    int state = -2;

    if (!name)
        return 0;
    vl_executor_handle_lifecycle(manager->executor, name, event, detail);

    switch ((virDomainEventType)event) {
    case VIR_DOMAIN_EVENT_DEFINED:
    case VIR_DOMAIN_EVENT_UNDEFINED:
        start_lookup(manager, name);
        return 0;
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        state = VIR_DOMAIN_RUNNING;
        break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
        state = VIR_DOMAIN_PAUSED;
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        state = VIR_DOMAIN_SHUTOFF;
        /* A transient domain is gone once stopped: find out. */
        start_lookup(manager, name);
        break;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        state = VIR_DOMAIN_PMSUSPENDED;
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        state = VIR_DOMAIN_CRASHED;
        break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
#ifdef VIR_ENUM_SENTINELS
    case VIR_DOMAIN_EVENT_LAST:
#endif
        return 0;
    }

    d = g_hash_table_lookup(manager->domains, name);
    if (!d) {
        start_lookup(manager, name);
        return 0;
    }
    d->state = state;
    d->state_epoch = ++manager->epoch;
    /* During our migration the events describe the migration. */
    if (vl_executor_is_migrating(manager->executor, name))
        return 0;
    if (state == VIR_DOMAIN_RUNNING && d->burst_host)
        burst_returned(manager, d);     /* back by other means */
    if ((d->transition == VL_CONTAINER_MEMBER_STARTING &&
         state == VIR_DOMAIN_RUNNING) ||
        (d->transition == VL_CONTAINER_MEMBER_STOPPING &&
         state == VIR_DOMAIN_SHUTOFF))
        d->transition = NO_TRANSITION;
    sync_domain(manager, d);
    return 0;
}

static void
on_metadata_change(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                   int type, const char *nsuri, void *opaque)
{
    const char *name = virDomainGetName(dom);

    if (!name || type != VIR_DOMAIN_METADATA_ELEMENT ||
        (nsuri && !g_str_equal(nsuri, VL_METADATA_CONTAINER_NS)))
        return;
    start_lookup(opaque, name);
}

void
vl_container_manager_attach(VlContainerManager *manager, virConnectPtr vconn)
{
    if (!manager)
        return;
    vl_container_manager_detach(manager);

    virConnectRef(vconn);
    manager->vconn = vconn;
    manager->lookups = g_cancellable_new();
    manager->scanned = FALSE;
    manager->lifecycle_id =
        virConnectDomainEventRegisterAny(vconn, NULL,
                                         VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                         manager, NULL);
    if (manager->lifecycle_id < 0)
        manager_log(manager, G_LOG_LEVEL_WARNING,
                    "Containers get no lifecycle events from '%s': %s",
                    vl_conn_get_uri(manager->conn), virGetLastErrorMessage());
    manager->metadata_id =
        virConnectDomainEventRegisterAny(vconn, NULL,
                                         VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change),
                                         manager, NULL);
    if (manager->metadata_id < 0)
        manager_log(manager, G_LOG_LEVEL_WARNING,
                    "Containers get no metadata events from '%s': %s",
                    vl_conn_get_uri(manager->conn), virGetLastErrorMessage());
    /* After registering, so that no change between the two is lost. */
    start_lookup(manager, NULL);
}

void
vl_container_manager_detach(VlContainerManager *manager)
{
    if (!manager || !manager->vconn)
        return;
    if (manager->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(manager->vconn, manager->lifecycle_id);
    if (manager->metadata_id >= 0)
        virConnectDomainEventDeregisterAny(manager->vconn, manager->metadata_id);
    manager->lifecycle_id = -1;
    manager->metadata_id = -1;
    g_cancellable_cancel(manager->lookups);
    g_clear_object(&manager->lookups);
    virConnectClose(manager->vconn);
    manager->vconn = NULL;
    manager->scanned = FALSE;
}

/* ---- the audit log ----------------------------------------------------- */

static void
audit(VlContainerManager *manager, const VlContainerDecision *decision,
      VlContainerOutcome outcome, const char *message)
{
    g_autoptr(VlAuditRecord) record = NULL;
    g_autoptr(GError) error = NULL;

    if (!manager->audit)
        return;
    record = vl_container_decision_to_audit(decision, outcome,
                                            g_get_real_time());
    record->error = g_strdup(message);
    if (!vl_audit_append(manager->audit, record, &error))
        manager_log(manager, G_LOG_LEVEL_WARNING, "%s", error->message);
}

/* ---- the executor's reports -------------------------------------------- */

static void
on_member_state(VlExecutor *executor G_GNUC_UNUSED, const char *container,
                const char *member, VlContainerMemberState state,
                const char *host, gpointer user_data)
{
    VlContainerManager *manager = user_data;
    Domain *d = ensure_domain(manager, member);
    gboolean save = FALSE;

    g_debug("Container '%s': the executor reports '%s' %s%s%s", container,
            member, vl_container_member_state_to_string(state),
            host ? " on " : "", host ? host : "");
    switch (state) {
    case VL_CONTAINER_MEMBER_STARTING:
    case VL_CONTAINER_MEMBER_STOPPING:
    case VL_CONTAINER_MEMBER_MIGRATING:
        d->transition = state;
        break;
    case VL_CONTAINER_MEMBER_RUNNING:
        d->transition = NO_TRANSITION;
        if (g_strcmp0(d->burst_host, host) != 0 || d->burst_intent) {
            g_free(d->burst_host);
            d->burst_host = g_strdup(host);
            d->burst_since = g_get_real_time() / G_USEC_PER_SEC;
            g_clear_pointer(&d->burst_intent, g_free);
            save = TRUE;
        }
        if (!host)
            d->state = VIR_DOMAIN_RUNNING;
        break;
    case VL_CONTAINER_MEMBER_OFF:
        d->transition = NO_TRANSITION;
        d->state = VIR_DOMAIN_SHUTOFF;
        if (d->burst_intent) {
            /* It never left: a failed migration away. */
            g_clear_pointer(&d->burst_intent, g_free);
            save = TRUE;
        }
        break;
    case VL_CONTAINER_MEMBER_OTHER:
    case VL_CONTAINER_MEMBER_LAST:
        d->transition = NO_TRANSITION;
        /* Which of paused, crashed, ...: ask. */
        start_lookup(manager, member);
        break;
    }
    d->state_epoch = ++manager->epoch;
    sync_domain(manager, d);
    if (save)
        save_state(manager);
}

static void
on_finished(VlExecutor *executor G_GNUC_UNUSED,
            const VlContainerDecision *decision, VlContainerOutcome outcome,
            const char *message, gpointer user_data)
{
    VlContainerManager *manager = user_data;
    Container *c = find_container(manager, decision->container);
    g_autofree char *text = vl_container_decision_to_string(decision);

    if (c) {
        vl_container_action_finished(c->state, outcome, now_s());
        g_free(c->last_error);
        c->last_error = g_strdup(message);
        g_free(c->done_action);
        c->done_action = g_strdup(vl_container_action_to_string(decision->action));
        c->done_wall_s = g_get_real_time() / G_USEC_PER_SEC;
    }
    /* A migration that failed half way leaves intents behind: the
     * member reports said where each one really is. */
    if (decision->action == VL_CONTAINER_ACTION_MIGRATE_AWAY) {
        guint i;

        for (i = 0; decision->members && decision->members[i]; i++) {
            Domain *d = g_hash_table_lookup(manager->domains, decision->members[i]);

            if (d)
                g_clear_pointer(&d->burst_intent, g_free);
        }
    }
    save_state(manager);
    audit(manager, decision, outcome, message);
    if (outcome == VL_CONTAINER_OUTCOME_SUCCESS)
        manager_log(manager, G_LOG_LEVEL_MESSAGE, "Container '%s': done: %s",
                    decision->container, text);
    else
        manager_log(manager, G_LOG_LEVEL_WARNING, "Container '%s': failed: %s: %s",
                    decision->container, text, message ? message : "unknown error");
}

/* ---- the cycle ------------------------------------------------------- */

static gint64
thread_cpu_us(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* The hosts of the members a BRING_BACK moves, in order. */
static GPtrArray *
member_hosts(VlContainerManager *manager, const VlContainerDecision *d)
{
    GPtrArray *hosts = g_ptr_array_new();
    guint i;

    for (i = 0; d->members && d->members[i]; i++) {
        Domain *dom = g_hash_table_lookup(manager->domains, d->members[i]);

        g_ptr_array_add(hosts, dom ? dom->burst_host : NULL);
    }
    g_ptr_array_add(hosts, NULL);
    return hosts;
}

static void
handle_decision(VlContainerManager *manager, Container *c,
                VlContainerDecision *d)
{
    g_autofree char *text = vl_container_decision_to_string(d);

    if (d->action == VL_CONTAINER_ACTION_NONE) {
        if (!c->ticked || c->last_reason != d->reason ||
            c->last_action != VL_CONTAINER_ACTION_NONE)
            manager_log(manager, G_LOG_LEVEL_DEBUG, "Container '%s': %s",
                        c->name, text);
    } else if (d->advise) {
        manager_log(manager, G_LOG_LEVEL_MESSAGE,
                    "Container '%s': advised, not executed%s: %s", c->name,
                    manager->dry_run ? " (dry run)" : "", text);
        audit(manager, d, VL_CONTAINER_OUTCOME_NONE, NULL);
    } else {
        g_autoptr(GPtrArray) hosts = member_hosts(manager, d);

        manager_log(manager, G_LOG_LEVEL_MESSAGE, "Container '%s': decided: %s",
                    c->name, text);
        audit(manager, d, VL_CONTAINER_OUTCOME_NONE, NULL);
        /* Recorded before they leave: a daemon that dies during the
         * migration finds them on the peer, or back here (then the scan
         * sees them running and drops the record). */
        if (d->action == VL_CONTAINER_ACTION_MIGRATE_AWAY && d->peer) {
            guint i;

            for (i = 0; d->members && d->members[i]; i++) {
                Domain *dom = ensure_domain(manager, d->members[i]);

                g_free(dom->burst_intent);
                dom->burst_intent = g_strdup(d->peer);
                dom->burst_since = g_get_real_time() / G_USEC_PER_SEC;
            }
            save_state(manager);
        }
        vl_executor_submit(manager->executor, manager->vconn, c->policy, d,
                           (const char *const *)hosts->pdata);
    }
    c->ticked = TRUE;
    c->last_action = d->action;
    c->last_reason = d->reason;
}

static void
tick_container(VlContainerManager *manager, Container *c, VlSample *sample,
               VlContainerHost *host, gint64 now)
{
    g_autoptr(VlContainerDecision) d = NULL;
    VlContainerPolicy advise;
    const VlContainerPolicy *policy = c->policy;
    guint n = vl_container_state_get_n_members(c->state);
    guint i;

    /* Every member in name order: the engine then matches by position. */
    g_array_set_size(manager->scratch, n);
    for (i = 0; i < n; i++) {
        VlContainerMemberValues *v = &g_array_index(manager->scratch,
                                                    VlContainerMemberValues, i);
        const VlSampleEntry *entry = NULL;
        VlContainerMemberInfo info;
        int j;

        vl_container_state_get_member(c->state, i, &info);
        v->member = info.name;
        if (sample)
            entry = vl_sample_lookup(sample, info.name);
        for (j = 0; j < VL_INDICATOR_LAST; j++)
            v->values[j] = entry ? entry->values[j] : VL_INDICATOR_UNKNOWN;
    }

    if (manager->dry_run && policy->mode == VL_CONTAINER_MODE_ENFORCE) {
        /* Shallow: the engine reads the policy during the tick only. */
        advise = *policy;
        advise.mode = VL_CONTAINER_MODE_ADVISE;
        policy = &advise;
    }
    /* The host's values are the same for all; each container judges
     * them against its own host_load (unknown without one). */
    host->load = vl_host_load_classify(&policy->host_load,
                                       sample ? sample->host_values : NULL);
    c->host_load = host->load;
    d = vl_container_tick(c->state, policy,
                          (const VlContainerMemberValues *)manager->scratch->data,
                          n, host, now);
    handle_decision(manager, c, d);
}

static void
on_sample(VlSampler *sampler G_GNUC_UNUSED, VlSample *sample,
          const GError *error, gpointer user_data)
{
    VlContainerManager *manager = user_data;
    g_autoptr(VlSample) owned = sample;
    VlContainerHost host = { VL_CONTAINER_HOST_UNKNOWN, 0 };
    gint64 cpu0 = thread_cpu_us();
    gint64 now = now_s();
    guint i;

    g_clear_pointer(&manager->cycle_error, g_free);
    if (!sample) {
        /* Unknown values this cycle: the engine holds nothing. */
        manager->cycle_error = g_strdup(error ? error->message : "no sample");
        manager_log(manager, G_LOG_LEVEL_WARNING,
                    "No statistics this cycle: %s", manager->cycle_error);
    }
    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++)
        manager->host_values[i] = sample ? sample->host_values[i] :
            VL_INDICATOR_UNKNOWN;
    host.migrations_in_flight = vl_executor_get_migrations(manager->executor);
    for (i = 0; i < manager->containers->len; i++)
        tick_container(manager, g_ptr_array_index(manager->containers, i),
                       sample, &host, now);

    manager->cycles++;
    manager->have_cycle = TRUE;
    manager->cycle_wall_us = g_get_real_time();
    manager->cycle_domains = sample ? sample->entries->len : 0;
    manager->cycle_sample_us = sample ? sample->duration_us : 0;
    manager->cycle_sample_cpu_us = sample ? sample->cpu_us : 0;
    manager->cycle_tick_cpu_us = thread_cpu_us() - cpu0;
}

gboolean
vl_container_manager_run_cycle(VlContainerManager *manager)
{
    VlStatsSource *source = vl_sampler_get_source(manager->sampler);
    virConnectPtr vconn = manager->vconn;

    if (vl_sampler_is_running(manager->sampler))
        return FALSE;
    if (vconn && !vl_conn_get_virt(manager->conn))
        vconn = NULL;
    if (vl_stats_source_needs_connection(source) && !vconn) {
        /* Nothing to measure and nobody to act on: skip the cycle. */
        g_debug("Container cycle skipped: not connected");
        return TRUE;
    }
    return vl_sampler_run(manager->sampler, vconn, on_sample, manager);
}

static gboolean
on_timer(gpointer data)
{
    VlContainerManager *manager = data;

    manager->next_cycle_us = g_get_monotonic_time() +
        (gint64)manager->tick_s * G_USEC_PER_SEC;
    if (manager->containers->len == 0)
        return G_SOURCE_CONTINUE;
    if (!vl_container_manager_run_cycle(manager))
        manager_log(manager, G_LOG_LEVEL_WARNING,
                    "Container cycle skipped: the previous sample is still being taken");
    return G_SOURCE_CONTINUE;
}

/* ---- configuration ----------------------------------------------------- */

/*
 * Reads the state file at start: burst members are marked away (the
 * scan then drops those that run here again), cooldowns resume where
 * they were.  A corrupt file is set aside with a warning: the daemon
 * starts without it rather than not at all.
 */
static void
load_state(VlContainerManager *manager)
{
    g_autoptr(VlBurstState) state = NULL;
    g_autoptr(GError) error = NULL;
    gint64 wall = g_get_real_time() / G_USEC_PER_SEC;
    gint64 now = now_s();
    guint i;

    state = vl_burst_state_load(manager->state_path, &error);
    if (!state) {
        g_autoptr(GError) aside_error = NULL;
        g_autofree char *moved = NULL;

        if (!g_error_matches(error, VL_ERROR, VL_ERROR_POLICY))
            manager_log(manager, G_LOG_LEVEL_WARNING,
                        "Cannot read the containers' state file: %s; starting without burst members or cooldowns",
                        error->message);
        else if (vl_burst_state_set_aside(manager->state_path, &moved, &aside_error))
            manager_log(manager, G_LOG_LEVEL_WARNING,
                        "Ignoring the corrupt containers' state file: %s; set aside as '%s', starting without burst members or cooldowns",
                        error->message, moved);
        else
            manager_log(manager, G_LOG_LEVEL_WARNING,
                        "Ignoring the corrupt containers' state file: %s; %s",
                        error->message, aside_error->message);
        return;
    }
    for (i = 0; i < state->members->len; i++) {
        const VlBurstMember *m = g_ptr_array_index(state->members, i);
        Domain *d = ensure_domain(manager, m->member);

        /* Already seen running here (a reload): not away. */
        if (d->burst_host || d->state == VIR_DOMAIN_RUNNING)
            continue;
        d->burst_host = g_strdup(m->peer);
        d->burst_since = m->since;
        manager_log(manager, G_LOG_LEVEL_MESSAGE,
                    "Domain '%s' of container '%s' was moved to '%s' before the restart",
                    m->member, m->container, m->peer);
        sync_domain(manager, d);
    }
    for (i = 0; i < state->containers->len; i++) {
        const VlBurstContainer *bc = g_ptr_array_index(state->containers, i);
        Container *c = find_container(manager, bc->name);

        if (!c)
            continue;
        if (bc->cooldown_until > wall)
            vl_container_state_set_cooldown_until(c->state,
                                                  now + (bc->cooldown_until - wall));
        if (bc->last_action && !c->done_action) {
            c->done_action = g_strdup(bc->last_action);
            c->done_wall_s = bc->last_action_time;
        }
    }
}

/*
 * Where the migration stream of a container move goes: the policy's
 * migration.peers[] whose uri is a container's peer give their
 * migration_address, and this host's migration_address serves
 * bring_back towards home_uri.  Without them libvirt uses the
 * destination's hostname, which in a lab (or on a host whose name
 * resolves to its management address) is not the migration network.
 */
static void
set_migration_uris(VlExecutor *executor, const VlConfig *config,
                   const VlPolicy *policy)
{
    const VlMigrationPolicy *m = policy->migration;
    guint i;

    vl_executor_clear_migration_uris(executor);
    for (i = 0; m && m->peers && i < m->peers->len; i++) {
        const VlPeerConfig *peer = g_ptr_array_index(m->peers, i);
        g_autofree char *uri = NULL;

        if (!peer->migration_address)
            continue;
        uri = vl_migrate_uri_for_address(peer->migration_address);
        vl_executor_set_migration_uri(executor, peer->uri, uri);
    }
    if (m && m->migration_address && config->home_uri) {
        g_autofree char *uri = vl_migrate_uri_for_address(m->migration_address);

        vl_executor_set_migration_uri(executor, config->home_uri, uri);
    }
}

static VlAudit *
open_audit(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_mkdir_with_parents(dir, 0750) < 0) {
        vl_error_set_from_errno(error, errno,
                                "Cannot create the audit log directory '%s'", dir);
        return NULL;
    }
    return vl_audit_open(path, error);
}

gboolean
vl_container_manager_configure(VlContainerManager *manager,
                               const VlConfig *config, const VlPolicy *policy,
                               GError **error)
{
    g_autoptr(VlStatsSource) source = NULL;
    g_autoptr(VlAudit) audit_log = NULL;
    g_autoptr(GPtrArray) containers = NULL;
    g_autoptr(GHashTable) by_name = NULL;
    gboolean reopen = FALSE;
    GHashTableIter iter;
    gpointer value;
    guint i;

    /* A recording is read again on every reload (it may have changed);
     * libvirt is only (re)installed when no test put its own source in. */
    if (config->stats_replay) {
        source = vl_stats_source_new_replay(config->stats_replay, error);
        if (!source)
            return FALSE;
    } else if (manager->replay_path ||
               (!manager->configured && !manager->source_overridden)) {
        source = vl_stats_source_new_libvirt();
    }

    if (policy->containers->len > 0) {
        if (manager->audit && g_strcmp0(manager->audit_path, config->audit_log) == 0) {
            reopen = TRUE;
        } else {
            audit_log = open_audit(config->audit_log, error);
            if (!audit_log)
                return FALSE;
        }
    }
    if (reopen && !vl_audit_reopen(manager->audit, error))
        return FALSE;

    /* Nothing can fail from here on. */
    if (source) {
        if (config->stats_replay)
            manager_log(manager, G_LOG_LEVEL_WARNING,
                        "Replaying recorded statistics from '%s' instead of asking libvirt (a test setting)",
                        config->stats_replay);
        vl_sampler_set_source(manager->sampler, source);
        manager->source_overridden = FALSE;
        g_free(manager->replay_path);
        manager->replay_path = g_strdup(config->stats_replay);
    }
    if (audit_log || policy->containers->len == 0) {
        g_clear_pointer(&manager->audit, vl_audit_free);
        manager->audit = g_steal_pointer(&audit_log);
    }
    g_free(manager->audit_path);
    manager->audit_path = g_strdup(config->audit_log);
    g_free(manager->policy_dir);
    manager->policy_dir = g_strdup(config->policy_dir);
    manager->dry_run = config->dry_run;
    vl_executor_set_home_uri(manager->executor, config->home_uri);
    set_migration_uris(manager->executor, config, policy);

    /* States of containers that keep their name carry over. */
    containers = g_ptr_array_new_with_free_func((GDestroyNotify)container_free);
    by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (i = 0; i < policy->containers->len; i++) {
        VlContainerPolicy *p = g_ptr_array_index(policy->containers, i);
        Container *c = find_container(manager, p->name);
        guint index = 0;

        if (c && g_ptr_array_find(manager->containers, c, &index)) {
            g_hash_table_remove(manager->by_name, p->name);
            g_ptr_array_steal_index(manager->containers, index);
        } else {
            c = g_new0(Container, 1);
            c->name = g_strdup(p->name);
            c->state = vl_container_state_new(p->name);
            vl_container_state_set_order_func(c->state, order_members, NULL);
        }
        c->policy = p;
        g_ptr_array_add(containers, c);
        g_hash_table_insert(by_name, c->name, c);
    }
    for (i = 0; i < manager->containers->len; i++) {
        Container *c = g_ptr_array_index(manager->containers, i);

        manager_log(manager, G_LOG_LEVEL_MESSAGE,
                    "Container '%s' is no longer in the policy", c->name);
    }
    g_ptr_array_unref(manager->containers);
    g_hash_table_unref(manager->by_name);
    manager->containers = g_steal_pointer(&containers);
    manager->by_name = g_steal_pointer(&by_name);
    manager->policy = policy;

    /* Regroup every domain under the new policy. */
    g_hash_table_iter_init(&iter, manager->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        Domain *d = value;

        if (d->container && !find_container(manager, d->container))
            g_clear_pointer(&d->container, g_free);
        sync_domain(manager, d);
    }

    /* Only a policy with containers has state to keep: a daemon without
     * any never touches the file. */
    if (policy->containers->len > 0 &&
        (!manager->state_loaded ||
         g_strcmp0(manager->state_path, config->container_state) != 0)) {
        g_free(manager->state_path);
        manager->state_path = g_strdup(config->container_state);
        if (manager->state_path)
            load_state(manager);
        manager->state_loaded = TRUE;
    }

    if (!manager->configured || manager->tick_s != config->tick_s) {
        manager->tick_s = config->tick_s;
        g_clear_handle_id(&manager->timer_id, g_source_remove);
        manager->timer_id = g_timeout_add_seconds(manager->tick_s, on_timer,
                                                  manager);
        manager->next_cycle_us = g_get_monotonic_time() +
            (gint64)manager->tick_s * G_USEC_PER_SEC;
    }
    manager->configured = TRUE;
    return TRUE;
}

/* ---- the manager ------------------------------------------------------- */

VlContainerManager *
vl_container_manager_new(VlConn *conn, VlContainerManagerLogFunc log_func,
                         gpointer log_data)
{
    VlContainerManager *manager = g_new0(VlContainerManager, 1);
    g_autoptr(VlStatsSource) source = vl_stats_source_new_libvirt();
    VlExecutorHandlers handlers = {
        .member_state = on_member_state,
        .finished = on_finished,
    };
    guint i;

    /* Domain XML is parsed in worker threads: libxml2 wants its global
     * state set up once, from the main thread, before that. */
    xmlInitParser();

    manager->conn = conn;
    manager->log_func = log_func;
    manager->log_data = log_data;
    manager->containers = g_ptr_array_new_with_free_func((GDestroyNotify)container_free);
    manager->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    manager->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify)domain_free);
    manager->sampler = vl_sampler_new(source);
    manager->executor = vl_executor_new(&handlers, manager);
    manager->lifecycle_id = -1;
    manager->metadata_id = -1;
    manager->scratch = g_array_new(FALSE, TRUE, sizeof(VlContainerMemberValues));
    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++)
        manager->host_values[i] = VL_INDICATOR_UNKNOWN;
    return manager;
}

void
vl_container_manager_free(VlContainerManager *manager)
{
    if (!manager)
        return;
    g_clear_handle_id(&manager->timer_id, g_source_remove);
    vl_container_manager_detach(manager);
    /* Jobs still running are abandoned (their threads end unobserved). */
    g_clear_pointer(&manager->executor, vl_executor_free);
    g_clear_pointer(&manager->sampler, vl_sampler_free);
    g_clear_pointer(&manager->audit, vl_audit_free);
    g_ptr_array_unref(manager->containers);
    g_hash_table_unref(manager->by_name);
    g_hash_table_unref(manager->domains);
    g_array_unref(manager->scratch);
    g_free(manager->policy_dir);
    g_free(manager->replay_path);
    g_free(manager->audit_path);
    g_free(manager->state_path);
    g_free(manager->cycle_error);
    g_free(manager);
}

void
vl_container_manager_set_stats_source(VlContainerManager *manager,
                                      VlStatsSource *source)
{
    vl_sampler_set_source(manager->sampler, source);
    manager->source_overridden = TRUE;
}

guint64
vl_container_manager_get_cycles(VlContainerManager *manager)
{
    return manager->cycles;
}

gboolean
vl_container_manager_is_scanned(VlContainerManager *manager)
{
    return manager->scanned;
}

VlExecutor *
vl_container_manager_get_executor(VlContainerManager *manager)
{
    return manager->executor;
}

/* ---- the "containers" reply ---------------------------------------------- */

static json_object *
number_or_null(double value)
{
    return vl_indicator_is_known(value) && isfinite(value) ?
        json_object_new_double(value) : NULL;
}

/* Domain names and libvirt's messages are not necessarily UTF-8; the
 * reply must be (U+FFFD in place of bad bytes, as in the audit log). */
static json_object *
string_or_null(const char *s)
{
    g_autofree char *valid = NULL;

    if (!s)
        return NULL;
    if (g_utf8_validate(s, -1, NULL))
        return json_object_new_string(s);
    valid = g_utf8_make_valid(s, -1);
    return json_object_new_string(valid);
}

static json_object *
strv_to_json(const char *const *strv)
{
    json_object *array = json_object_new_array();

    for (; strv && *strv; strv++)
        json_object_array_add(array, string_or_null(*strv));
    return array;
}

static json_object *
decision_to_json(const VlContainerDecision *d, gint64 now)
{
    json_object *obj = json_object_new_object();
    json_object *crossed = NULL;

    json_object_object_add(obj, "action",
                           json_object_new_string(vl_container_action_to_string(d->action)));
    json_object_object_add(obj, "reason",
                           json_object_new_string(vl_container_reason_to_string(d->reason)));
    json_object_object_add(obj, "age_s", json_object_new_int64(MAX(now - d->time, 0)));
    json_object_object_add(obj, "advise", json_object_new_boolean(d->advise));
    json_object_object_add(obj, "start", string_or_null(d->start));
    json_object_object_add(obj, "define", string_or_null(d->define));
    json_object_object_add(obj, "members",
                           strv_to_json((const char *const *)d->members));
    json_object_object_add(obj, "peer", string_or_null(d->peer));
    if (d->indicator < VL_INDICATOR_LAST &&
        d->threshold < VL_CONTAINER_THRESHOLD_LAST) {
        crossed = json_object_new_object();
        json_object_object_add(crossed, "indicator",
                               json_object_new_string(vl_indicator_to_string(d->indicator)));
        json_object_object_add(crossed, "threshold",
                               json_object_new_string(vl_container_threshold_to_string(d->threshold)));
        json_object_object_add(crossed, "value", number_or_null(d->value));
        json_object_object_add(crossed, "limit", number_or_null(d->limit));
    }
    json_object_object_add(obj, "crossed", crossed);
    return obj;
}

static double
threshold_value(const VlIndicatorThresholds *th, VlContainerThreshold t)
{
    switch (t) {
    case VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER:
        return th->substantially_under_loaded;
    case VL_CONTAINER_THRESHOLD_UNDER:
        return th->under_loaded;
    case VL_CONTAINER_THRESHOLD_OVER:
        return th->overloaded;
    case VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER:
    case VL_CONTAINER_THRESHOLD_LAST:
        break;
    }
    return th->substantially_overloaded;
}

/* [{"threshold", "since_s", "held_in_s"}] of the crossings in progress. */
static json_object *
crossings_to_json(Container *c, const char *member, VlIndicator indicator,
                  gint64 now)
{
    json_object *array = json_object_new_array();
    guint hold_s = c->policy->indicators[indicator].hold_s;
    int t;

    for (t = 0; t < VL_CONTAINER_THRESHOLD_LAST; t++) {
        json_object *obj;
        gint64 since = 0;

        if (!vl_container_state_get_crossing(c->state, member, indicator, t,
                                             &since))
            continue;
        obj = json_object_new_object();
        json_object_object_add(obj, "threshold",
                               json_object_new_string(vl_container_threshold_to_string(t)));
        json_object_object_add(obj, "since_s", json_object_new_int64(MAX(now - since, 0)));
        json_object_object_add(obj, "held_in_s",
                               json_object_new_int64(MAX(since + (gint64)hold_s - now, 0)));
        json_object_array_add(array, obj);
    }
    return array;
}

static const char *const host_load_names[] = {
    "unknown", "under", "in_band", "over",
};
G_STATIC_ASSERT(G_N_ELEMENTS(host_load_names) == VL_CONTAINER_HOST_OVER + 1);

/* null without host_load in the policy; else the thresholds and how the
 * last tick judged the host. */
static json_object *
host_load_to_json(Container *c)
{
    const VlHostLoadPolicy *h = &c->policy->host_load;
    json_object *obj;
    guint i;

    if (!h->enabled)
        return NULL;
    obj = json_object_new_object();
    json_object_object_add(obj, "state",
                           json_object_new_string(host_load_names[c->host_load]));
    json_object_object_add(obj, "hold_s", json_object_new_int64(h->hold_s));
    for (i = 0; i < VL_HOST_INDICATOR_LAST; i++) {
        json_object *t;

        if (!h->indicators[i].enabled)
            continue;
        t = json_object_new_object();
        json_object_object_add(t, "under_loaded",
                               json_object_new_double(h->indicators[i].under_loaded));
        json_object_object_add(t, "overloaded",
                               json_object_new_double(h->indicators[i].overloaded));
        json_object_object_add(obj, vl_host_indicator_to_string(i), t);
    }
    return obj;
}

static json_object *
container_to_json(VlContainerManager *manager, Container *c, gint64 now)
{
    const VlContainerPolicy *p = c->policy;
    json_object *obj = json_object_new_object();
    json_object *members = json_object_new_array();
    json_object *indicators = json_object_new_array();
    const VlContainerDecision *in_flight = vl_container_state_get_in_flight(c->state);
    const VlContainerDecision *last = NULL;
    VlContainerOutcome outcome = VL_CONTAINER_OUTCOME_NONE;
    gint64 cooldown = vl_container_state_get_cooldown_until(c->state);
    json_object *tick = NULL;
    double means[VL_INDICATOR_LAST];
    guint n = vl_container_state_get_n_members(c->state);
    guint active = 0;
    guint i;
    int j;

    json_object_object_add(obj, "name", string_or_null(c->name));
    json_object_object_add(obj, "description", string_or_null(p->description));
    json_object_object_add(obj, "mode",
                           json_object_new_string(vl_container_mode_to_string(p->mode)));
    json_object_object_add(obj, "effective_mode",
                           json_object_new_string(manager->dry_run ? "advise" :
                                                  vl_container_mode_to_string(p->mode)));
    json_object_object_add(obj, "min_active", json_object_new_int64(p->min_active));
    json_object_object_add(obj, "max_active", json_object_new_int64(p->max_active));
    json_object_object_add(obj, "host_load", host_load_to_json(c));

    for (j = 0; j < VL_INDICATOR_LAST; j++)
        means[j] = 0;
    for (i = 0; i < n; i++) {
        VlContainerMemberInfo info;
        json_object *m = json_object_new_object();
        json_object *values = json_object_new_object();
        json_object *crossings = json_object_new_object();
        gboolean standby;

        vl_container_state_get_member(c->state, i, &info);
        standby = info.state == VL_CONTAINER_MEMBER_OFF && !info.host &&
            (info.may_start ||
             (p->standby &&
              g_strv_contains((const char *const *)p->standby, info.name)));
        if (info.state == VL_CONTAINER_MEMBER_RUNNING) {
            active++;
            for (j = 0; j < VL_INDICATOR_LAST; j++)
                means[j] += info.values[j];
        }
        json_object_object_add(m, "name", string_or_null(info.name));
        json_object_object_add(m, "state",
                               json_object_new_string(vl_container_member_state_to_string(info.state)));
        json_object_object_add(m, "host", string_or_null(info.host));
        json_object_object_add(m, "standby", json_object_new_boolean(standby));
        json_object_object_add(m, "state_s", json_object_new_int64(MAX(now - info.state_since, 0)));
        for (j = 0; j < VL_INDICATOR_LAST; j++) {
            if (!p->indicators[j].enabled)
                continue;
            json_object_object_add(values, vl_indicator_to_string(j),
                                   number_or_null(info.values[j]));
            json_object_object_add(crossings, vl_indicator_to_string(j),
                                   crossings_to_json(c, info.name, j, now));
        }
        json_object_object_add(m, "values", values);
        json_object_object_add(m, "crossings", crossings);
        json_object_array_add(members, m);
    }
    json_object_object_add(obj, "active", json_object_new_int64(active));
    json_object_object_add(obj, "members", members);

    for (j = 0; j < VL_INDICATOR_LAST; j++) {
        const VlIndicatorThresholds *th = &p->indicators[j];
        json_object *ind;
        json_object *limits;
        int t;

        if (!th->enabled)
            continue;
        ind = json_object_new_object();
        limits = json_object_new_object();
        json_object_object_add(ind, "indicator",
                               json_object_new_string(vl_indicator_to_string(j)));
        json_object_object_add(ind, "value",
                               number_or_null(active ? means[j] / active
                                                     : VL_INDICATOR_UNKNOWN));
        for (t = 0; t < VL_CONTAINER_THRESHOLD_LAST; t++)
            json_object_object_add(limits, vl_container_threshold_to_string(t),
                                   json_object_new_double(threshold_value(th, t)));
        json_object_object_add(ind, "thresholds", limits);
        json_object_object_add(ind, "hold_s", json_object_new_int64(th->hold_s));
        json_object_object_add(ind, "crossings", crossings_to_json(c, NULL, j, now));
        json_object_array_add(indicators, ind);
    }
    json_object_object_add(obj, "indicators", indicators);

    json_object_object_add(obj, "cooldown_s",
                           json_object_new_int64(cooldown > now ? cooldown - now : 0));
    if (c->ticked) {
        tick = json_object_new_object();
        json_object_object_add(tick, "action",
                               json_object_new_string(vl_container_action_to_string(c->last_action)));
        json_object_object_add(tick, "reason",
                               json_object_new_string(vl_container_reason_to_string(c->last_reason)));
    }
    json_object_object_add(obj, "last_tick", tick);

    if (in_flight) {
        json_object *f = decision_to_json(in_flight, now);
        const char *step = vl_executor_get_step(manager->executor, c->name);

        json_object_object_add(f, "step", string_or_null(step));
        json_object_object_add(obj, "in_flight", f);
    } else {
        json_object_object_add(obj, "in_flight", NULL);
    }

    last = vl_container_state_get_last(c->state, &outcome);
    if (last) {
        json_object *l = decision_to_json(last, now);

        json_object_object_add(l, "outcome",
                               json_object_new_string(vl_container_outcome_to_string(outcome)));
        json_object_object_add(l, "error",
                               outcome == VL_CONTAINER_OUTCOME_FAILURE ?
                               string_or_null(c->last_error) : NULL);
        json_object_object_add(obj, "last", l);
    } else {
        json_object_object_add(obj, "last", NULL);
    }
    return obj;
}

static json_object *
cycle_to_json(VlContainerManager *manager)
{
    json_object *obj;
    g_autofree char *time = NULL;

    if (!manager->have_cycle)
        return NULL;
    obj = json_object_new_object();
    time = vl_timestamp_format(manager->cycle_wall_us);
    json_object_object_add(obj, "time", json_object_new_string(time));
    json_object_object_add(obj, "domains", json_object_new_int64(manager->cycle_domains));
    json_object_object_add(obj, "sample_ms",
                           json_object_new_double(manager->cycle_sample_us / 1000.0));
    json_object_object_add(obj, "sample_cpu_ms",
                           json_object_new_double(manager->cycle_sample_cpu_us / 1000.0));
    json_object_object_add(obj, "tick_cpu_ms",
                           json_object_new_double(manager->cycle_tick_cpu_us / 1000.0));
    json_object_object_add(obj, "error", string_or_null(manager->cycle_error));
    {
        json_object *host = json_object_new_object();
        guint i;

        for (i = 0; i < VL_HOST_INDICATOR_LAST; i++)
            json_object_object_add(host, vl_host_indicator_to_string(i),
                                   number_or_null(manager->host_values[i]));
        json_object_object_add(obj, "host", host);
    }
    return obj;
}

json_object *
vl_container_manager_reply(VlContainerManager *manager, json_object *request)
{
    json_object *reply;
    json_object *array;
    json_object *name_obj = NULL;
    const char *name = NULL;
    gint64 now = now_s();
    gint64 next_us;
    guint i;

    if (request && json_object_object_get_ex(request, "name", &name_obj) &&
        !json_object_is_type(name_obj, json_type_null)) {
        if (!json_object_is_type(name_obj, json_type_string))
            return vl_ipc_reply_new_error("The 'name' of a containers request must be a string");
        name = json_object_get_string(name_obj);
        if (!find_container(manager, name)) {
            g_autofree char *shown = g_strescape(name, NULL);

            return vl_ipc_reply_new_error("No container '%s' in the policy", shown);
        }
    }

    reply = vl_ipc_reply_new_ok();
    json_object_object_add(reply, "policy_dir", string_or_null(manager->policy_dir));
    json_object_object_add(reply, "audit_log",
                           manager->audit ? string_or_null(manager->audit_path) : NULL);
    json_object_object_add(reply, "tick_s", json_object_new_int64(manager->tick_s));
    next_us = manager->next_cycle_us - g_get_monotonic_time();
    json_object_object_add(reply, "next_cycle_s",
                           json_object_new_int64(MAX(next_us, 0) / G_USEC_PER_SEC));
    json_object_object_add(reply, "dry_run", json_object_new_boolean(manager->dry_run));
    json_object_object_add(reply, "stats_source",
                           json_object_new_string(vl_stats_source_get_description(
                               vl_sampler_get_source(manager->sampler))));
    json_object_object_add(reply, "cycles", json_object_new_int64((gint64)manager->cycles));
    json_object_object_add(reply, "last_cycle", cycle_to_json(manager));

    array = json_object_new_array();
    for (i = 0; i < manager->containers->len; i++) {
        Container *c = g_ptr_array_index(manager->containers, i);

        if (!name || g_str_equal(name, c->name))
            json_object_array_add(array, container_to_json(manager, c, now));
    }
    json_object_object_add(reply, "containers", array);
    return reply;
}
