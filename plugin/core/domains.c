/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <config.h>

#include <string.h>

#include "domains.h"
#include "timestamp.h"
#include "virt-error.h"
#include "vl-autoptr.h"
#include "vl-virt-autoptr.h"

struct _VlDomainInfo {
    char *name;
    char *uuid;
    char *state;
    /* A ring: events[(head + i) % MAX] is the i-th oldest of count. */
    VlDomainEvent events[VL_DOMAIN_EVENTS_MAX];
    guint head;
    guint count;
};

struct _VlDomainTable {
    GHashTable *by_name;    /* char *name -> VlDomainInfo * (owned) */
    VlDomainEventFunc observer;
    gpointer observer_data;
};

const char *
vl_event_source_to_string(VlEventSource source)
{
    switch (source) {
    case VL_EVENT_SOURCE_HOOK:
        return "hook";
    case VL_EVENT_SOURCE_LIBVIRT:
        return "libvirt";
    case VL_EVENT_SOURCE_QEMU:
        return "qemu";
    }
    return "unknown";
}

const char *
vl_domain_state_to_string(int state)
{
    switch ((virDomainState)state) {
    case VIR_DOMAIN_NOSTATE:
        return "nostate";
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "blocked";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shutoff";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
#ifdef VIR_ENUM_SENTINELS
    case VIR_DOMAIN_LAST:
        break;
#endif
    }
    return "unknown";
}

static void
domain_info_free(VlDomainInfo *info)
{
    guint i;

    if (!info)
        return;
    for (i = 0; i < VL_DOMAIN_EVENTS_MAX; i++)
        g_free(info->events[i].event);
    g_free(info->name);
    g_free(info->uuid);
    g_free(info->state);
    g_free(info);
}

VlDomainTable *
vl_domain_table_new(void)
{
    VlDomainTable *table = g_new0(VlDomainTable, 1);

    table->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify)domain_info_free);
    return table;
}

void
vl_domain_table_free(VlDomainTable *table)
{
    if (!table)
        return;
    g_clear_pointer(&table->by_name, g_hash_table_unref);
    g_free(table);
}

VlDomainInfo *
vl_domain_table_lookup(VlDomainTable *table, const char *name)
{
    return g_hash_table_lookup(table->by_name, name);
}

guint
vl_domain_table_size(VlDomainTable *table)
{
    return g_hash_table_size(table->by_name);
}

static VlDomainInfo *
ensure(VlDomainTable *table, const char *name, const char *uuid)
{
    VlDomainInfo *info = g_hash_table_lookup(table->by_name, name);

    if (!info) {
        info = g_new0(VlDomainInfo, 1);
        info->name = g_strdup(name);
        info->state = g_strdup("unknown");
        /* The key is the entry's own name: freed with the entry. */
        g_hash_table_insert(table->by_name, info->name, info);
    }
    if (uuid && g_strcmp0(info->uuid, uuid) != 0) {
        g_free(info->uuid);
        info->uuid = g_strdup(uuid);
    }
    return info;
}

void
vl_domain_table_record(VlDomainTable *table,
                       const char *name,
                       const char *uuid,
                       VlEventSource source,
                       const char *event)
{
    VlDomainInfo *info = ensure(table, name, uuid);
    VlDomainEvent *slot;

    if (info->count < VL_DOMAIN_EVENTS_MAX) {
        slot = &info->events[(info->head + info->count) % VL_DOMAIN_EVENTS_MAX];
        info->count++;
    } else {
        /* Full: overwrite the oldest, which makes the next one oldest. */
        slot = &info->events[info->head];
        info->head = (info->head + 1) % VL_DOMAIN_EVENTS_MAX;
    }
    g_free(slot->event);
    slot->event = g_strdup(event);
    slot->source = source;
    slot->time_us = g_get_real_time();
    if (table->observer)
        table->observer(name, source, event, table->observer_data);
}

void
vl_domain_table_set_observer(VlDomainTable *table,
                             VlDomainEventFunc func,
                             gpointer user_data)
{
    table->observer = func;
    table->observer_data = user_data;
}

void
vl_domain_table_set_state(VlDomainTable *table,
                          const char *name,
                          const char *uuid,
                          const char *state)
{
    VlDomainInfo *info = ensure(table, name, uuid);

    if (g_strcmp0(info->state, state) != 0) {
        g_free(info->state);
        info->state = g_strdup(state);
    }
}

gboolean
vl_domain_table_sync(VlDomainTable *table, virConnectPtr conn, GError **error)
{
    virDomainPtr *doms = NULL;
    g_autoptr(GHashTable) seen = NULL;
    GHashTableIter iter;
    gpointer value;
    int n;
    int i;

    n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        vl_error_set_from_virt(error, "Cannot list domains");
        return FALSE;
    }

    seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = doms[i];
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        const char *name = virDomainGetName(dom);
        int state = VIR_DOMAIN_NOSTATE;
        int reason = 0;

        if (!name)
            continue;
        if (virDomainGetUUIDString(dom, uuid) < 0)
            uuid[0] = '\0';
        /* The domain may vanish between the list and this call. */
        if (virDomainGetState(dom, &state, &reason, 0) < 0)
            state = VIR_DOMAIN_NOSTATE;
        vl_domain_table_set_state(table, name, uuid[0] ? uuid : NULL,
                                  vl_domain_state_to_string(state));
        g_hash_table_add(seen, g_strdup(name));
    }
    free(doms);

    g_hash_table_iter_init(&iter, table->by_name);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        VlDomainInfo *info = value;

        if (!g_hash_table_contains(seen, info->name)) {
            g_free(info->state);
            info->state = g_strdup("absent");
        }
    }
    return TRUE;
}

json_object *
vl_domain_event_to_json(const VlDomainEvent *event)
{
    json_object *obj = json_object_new_object();
    g_autofree char *stamp = vl_timestamp_format(event->time_us);

    json_object_object_add(obj, "time", json_object_new_string(stamp));
    json_object_object_add(obj, "source",
                           json_object_new_string(vl_event_source_to_string(event->source)));
    json_object_object_add(obj, "event", json_object_new_string(event->event));
    return obj;
}

static json_object *
domain_info_to_json(const VlDomainInfo *info)
{
    json_object *obj = json_object_new_object();
    json_object *events = json_object_new_array();
    guint i;

    json_object_object_add(obj, "name", json_object_new_string(info->name));
    json_object_object_add(obj, "uuid",
                           info->uuid ? json_object_new_string(info->uuid) : NULL);
    json_object_object_add(obj, "state", json_object_new_string(info->state));
    for (i = 0; i < info->count; i++)
        json_object_array_add(events,
                              vl_domain_event_to_json(vl_domain_info_get_event(info, i)));
    json_object_object_add(obj, "events", events);
    return obj;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    const VlDomainInfo *ia = *(VlDomainInfo *const *)a;
    const VlDomainInfo *ib = *(VlDomainInfo *const *)b;

    return strcmp(ia->name, ib->name);
}

json_object *
vl_domain_table_to_json(VlDomainTable *table)
{
    json_object *array = json_object_new_array();
    g_autoptr(GPtrArray) infos = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;
    guint i;

    g_hash_table_iter_init(&iter, table->by_name);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(infos, value);
    g_ptr_array_sort(infos, compare_names);

    for (i = 0; i < infos->len; i++)
        json_object_array_add(array, domain_info_to_json(infos->pdata[i]));
    return array;
}

const char *
vl_domain_info_get_name(const VlDomainInfo *info)
{
    return info->name;
}

const char *
vl_domain_info_get_uuid(const VlDomainInfo *info)
{
    return info->uuid;
}

const char *
vl_domain_info_get_state(const VlDomainInfo *info)
{
    return info->state;
}

guint
vl_domain_info_get_n_events(const VlDomainInfo *info)
{
    return info->count;
}

const VlDomainEvent *
vl_domain_info_get_event(const VlDomainInfo *info, guint index)
{
    g_return_val_if_fail(index < info->count, NULL);
    return &info->events[(info->head + index) % VL_DOMAIN_EVENTS_MAX];
}
