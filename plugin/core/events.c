/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "events.h"
#include "virt-error.h"
#include "vl-autoptr.h"

typedef struct {
    int id;
    const char *what;
    virConnectDomainEventGenericCallback callback;
} DomainEventSpec;

enum {
    EV_LIFECYCLE,
    EV_MIGRATION_ITERATION,
    EV_JOB_COMPLETED,
    EV_METADATA_CHANGE,
    EV_COUNT,
};

struct _VlEvents {
    VlDomainTable *table;
    virConnectPtr vconn;
    int ids[EV_COUNT];
    int qemu_id;
};

/* libvirt's names for virDomainEventType and each type's detail enum,
 * indexed by value (virsh prints the same words). */
static const char *const lifecycle_events[] = {
    "defined", "undefined", "started", "suspended", "resumed",
    "stopped", "shutdown", "pmsuspended", "crashed",
};

static const char *const detail_defined[] = {
    "added", "updated", "renamed", "from_snapshot",
};
static const char *const detail_undefined[] = {
    "removed", "renamed",
};
static const char *const detail_started[] = {
    "booted", "migrated", "restored", "from_snapshot", "wakeup",
};
static const char *const detail_suspended[] = {
    "paused", "migrated", "ioerror", "watchdog", "restored",
    "from_snapshot", "api_error", "postcopy", "postcopy_failed",
};
static const char *const detail_resumed[] = {
    "unpaused", "migrated", "from_snapshot", "postcopy", "postcopy_failed",
};
static const char *const detail_stopped[] = {
    "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
    "from_snapshot",
};
static const char *const detail_shutdown[] = {
    "finished", "guest", "host",
};
static const char *const detail_pmsuspended[] = {
    "memory", "disk",
};
static const char *const detail_crashed[] = {
    "panicked", "crashloaded",
};

static const struct {
    const char *const *names;
    gsize n;
} lifecycle_details[] = {
    { detail_defined, G_N_ELEMENTS(detail_defined) },
    { detail_undefined, G_N_ELEMENTS(detail_undefined) },
    { detail_started, G_N_ELEMENTS(detail_started) },
    { detail_suspended, G_N_ELEMENTS(detail_suspended) },
    { detail_resumed, G_N_ELEMENTS(detail_resumed) },
    { detail_stopped, G_N_ELEMENTS(detail_stopped) },
    { detail_shutdown, G_N_ELEMENTS(detail_shutdown) },
    { detail_pmsuspended, G_N_ELEMENTS(detail_pmsuspended) },
    { detail_crashed, G_N_ELEMENTS(detail_crashed) },
};

G_STATIC_ASSERT(G_N_ELEMENTS(lifecycle_events) ==
                G_N_ELEMENTS(lifecycle_details));

char *
vl_events_lifecycle_to_string(int event, int detail)
{
    g_autofree char *ev = NULL;
    g_autofree char *det = NULL;

    if (event >= 0 && (gsize)event < G_N_ELEMENTS(lifecycle_events)) {
        ev = g_strdup(lifecycle_events[event]);
        if (detail >= 0 && (gsize)detail < lifecycle_details[event].n)
            det = g_strdup(lifecycle_details[event].names[detail]);
    } else {
        ev = g_strdup_printf("%d", event);
    }
    if (!det)
        det = g_strdup_printf("%d", detail);
    return g_strdup_printf("lifecycle %s %s", ev, det);
}

/* The state a lifecycle event leaves the domain in, or NULL to keep it. */
static const char *
state_after(int event, const char *current)
{
    switch ((virDomainEventType)event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        /* A new definition is shut off; a redefinition changes nothing. */
        if (!current || g_str_equal(current, "unknown") ||
            g_str_equal(current, "absent"))
            return "shutoff";
        return NULL;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        /* A running domain just becomes transient. */
        if (current && g_str_equal(current, "shutoff"))
            return "absent";
        return NULL;
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        return "running";
    case VIR_DOMAIN_EVENT_SUSPENDED:
        return "paused";
    case VIR_DOMAIN_EVENT_STOPPED:
        return "shutoff";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
        /* "The guest finished shutting down": STOPPED follows. */
        return NULL;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED:
        return "crashed";
#ifdef VIR_ENUM_SENTINELS
    case VIR_DOMAIN_EVENT_LAST:
        break;
#endif
    }
    return NULL;
}

static void
record(VlEvents *events, virDomainPtr dom, VlEventSource source,
       const char *what)
{
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    const char *name = virDomainGetName(dom);

    if (!name)
        return;
    /* Both are local lookups in the virDomain object, no round trip. */
    if (virDomainGetUUIDString(dom, uuid) < 0)
        uuid[0] = '\0';
    vl_domain_table_record(events->table, name, uuid[0] ? uuid : NULL,
                           source, what);
    g_debug("Domain '%s': %s event '%s'", name,
            vl_event_source_to_string(source), what);
}

static int
on_lifecycle(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
             int event, int detail, void *opaque)
{
    VlEvents *events = opaque;
    g_autofree char *what = vl_events_lifecycle_to_string(event, detail);
    const char *name = virDomainGetName(dom);
    VlDomainInfo *info = NULL;
    const char *state;

    record(events, dom, VL_EVENT_SOURCE_LIBVIRT, what);
    if (name)
        info = vl_domain_table_lookup(events->table, name);
    if (info) {
        state = state_after(event, vl_domain_info_get_state(info));
        if (state)
            vl_domain_table_set_state(events->table, name, NULL, state);
    }
    return 0;
}

static void
on_migration_iteration(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                       int iteration, void *opaque)
{
    g_autofree char *what = g_strdup_printf("migration-iteration %d",
                                            iteration);

    record(opaque, dom, VL_EVENT_SOURCE_LIBVIRT, what);
}

static void
on_job_completed(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                 virTypedParameterPtr params G_GNUC_UNUSED,
                 int nparams G_GNUC_UNUSED, void *opaque)
{
    record(opaque, dom, VL_EVENT_SOURCE_LIBVIRT, "job-completed");
}

static void
on_metadata_change(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                   int type, const char *nsuri G_GNUC_UNUSED, void *opaque)
{
    static const char *const types[] = { "description", "title", "element" };
    g_autofree char *what = NULL;

    if (type >= 0 && (gsize)type < G_N_ELEMENTS(types))
        what = g_strdup_printf("metadata-change %s", types[type]);
    else
        what = g_strdup_printf("metadata-change %d", type);
    record(opaque, dom, VL_EVENT_SOURCE_LIBVIRT, what);
}

/* QEMU's words are short lowercase tokens; anything else is not kept
 * verbatim, so that the record stays one clean line. */
static gboolean
is_token(const char *s, gsize max)
{
    gsize n = 0;

    if (!s || !*s)
        return FALSE;
    for (; *s; s++, n++) {
        if (n >= max || !(g_ascii_isalnum(*s) || *s == '-' || *s == '_'))
            return FALSE;
    }
    return TRUE;
}

char *
vl_events_qemu_to_string(const char *event, const char *details)
{
    g_autoptr(json_object) data = NULL;
    const char *status = NULL;
    json_object *field = NULL;

    if (details)
        data = json_tokener_parse(details);
    if (data && json_object_is_type(data, json_type_object) &&
        json_object_object_get_ex(data, "status", &field) &&
        json_object_is_type(field, json_type_string))
        status = json_object_get_string(field);

    return g_strdup_printf("qemu %s %s",
                           is_token(event, 64) ? event : "?",
                           is_token(status, 64) ? status : "?");
}

static void
on_qemu_monitor(virConnectPtr vconn G_GNUC_UNUSED, virDomainPtr dom,
                const char *event, long long seconds G_GNUC_UNUSED,
                unsigned int micros G_GNUC_UNUSED, const char *details,
                void *opaque)
{
    g_autofree char *what = vl_events_qemu_to_string(event, details);

    record(opaque, dom, VL_EVENT_SOURCE_QEMU, what);
}

static const DomainEventSpec domain_events[EV_COUNT] = {
    [EV_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE, "lifecycle",
                       VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle) },
    [EV_MIGRATION_ITERATION] = { VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                 "migration iteration",
                                 VIR_DOMAIN_EVENT_CALLBACK(on_migration_iteration) },
    [EV_JOB_COMPLETED] = { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, "job completed",
                           VIR_DOMAIN_EVENT_CALLBACK(on_job_completed) },
    [EV_METADATA_CHANGE] = { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                             "metadata change",
                             VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change) },
};

VlEvents *
vl_events_new(VlDomainTable *table)
{
    VlEvents *events = g_new0(VlEvents, 1);
    int i;

    events->table = table;
    for (i = 0; i < EV_COUNT; i++)
        events->ids[i] = -1;
    events->qemu_id = -1;
    return events;
}

void
vl_events_free(VlEvents *events)
{
    if (!events)
        return;
    vl_events_detach(events);
    g_free(events);
}

gboolean
vl_events_attach(VlEvents *events, virConnectPtr vconn, GError **error)
{
    int i;

    g_return_val_if_fail(events->vconn == NULL, FALSE);

    virConnectRef(vconn);
    events->vconn = vconn;

    for (i = 0; i < EV_COUNT; i++) {
        events->ids[i] = virConnectDomainEventRegisterAny(vconn, NULL,
                                                          domain_events[i].id,
                                                          domain_events[i].callback,
                                                          events, NULL);
        if (events->ids[i] < 0) {
            vl_error_set_from_virt(error, "Cannot register for %s events",
                                   domain_events[i].what);
            return FALSE;
        }
    }

    /* libvirt-qemu: the earliest sign of an outgoing migration. */
    events->qemu_id = virConnectDomainQemuMonitorEventRegister(vconn, NULL,
                                                               "MIGRATION",
                                                               on_qemu_monitor,
                                                               events, NULL, 0);
    if (events->qemu_id < 0)
        g_debug("No QEMU monitor events on this connection: %s",
                virGetLastErrorMessage());

    /* After registering, so that no event between the two is lost; an
     * event that races with the list is applied after it. */
    return vl_domain_table_sync(events->table, vconn, error);
}

void
vl_events_detach(VlEvents *events)
{
    int i;

    if (!events->vconn)
        return;
    for (i = 0; i < EV_COUNT; i++) {
        if (events->ids[i] >= 0)
            virConnectDomainEventDeregisterAny(events->vconn, events->ids[i]);
        events->ids[i] = -1;
    }
    if (events->qemu_id >= 0)
        virConnectDomainQemuMonitorEventDeregister(events->vconn,
                                                   events->qemu_id);
    events->qemu_id = -1;
    virConnectClose(events->vconn);
    events->vconn = NULL;
}

gboolean
vl_events_has_qemu_monitor(VlEvents *events)
{
    return events->qemu_id >= 0;
}
