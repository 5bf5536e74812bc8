/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * domains.h: what the daemon knows about each domain
 *
 * One VlDomainInfo per domain name: its UUID, its state and a ring of
 * its last VL_DOMAIN_EVENTS_MAX events, from libvirt, from QEMU's
 * monitor and from the hook.  Lives on the main loop; not thread-safe.
 *
 * An event record serialises as
 *   {"time": "2026-01-31T12:34:56.789Z", "source": "hook", "event": "prepare begin"}
 * (time in UTC with milliseconds; source "hook", "libvirt" or "qemu").
 * This format is fixed: integration tests and the lab parse it.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

#define VL_DOMAIN_EVENTS_MAX 64

typedef enum {
    VL_EVENT_SOURCE_HOOK,
    VL_EVENT_SOURCE_LIBVIRT,
    VL_EVENT_SOURCE_QEMU,
} VlEventSource;

typedef struct {
    gint64 time_us;         /* g_get_real_time() when recorded */
    VlEventSource source;
    char *event;            /* e.g. "lifecycle started booted" */
} VlDomainEvent;

typedef struct _VlDomainInfo VlDomainInfo;
typedef struct _VlDomainTable VlDomainTable;

/* "hook", "libvirt" or "qemu" (static string). */
const char *vl_event_source_to_string(VlEventSource source);

/* libvirt's name for a virDomainState, e.g. "running" (static string). */
const char *vl_domain_state_to_string(int state);

VlDomainTable *vl_domain_table_new(void);
void vl_domain_table_free(VlDomainTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlDomainTable, vl_domain_table_free)

/* The entry for @name, or NULL (borrowed, valid until the table changes). */
VlDomainInfo *vl_domain_table_lookup(VlDomainTable *table, const char *name);

guint vl_domain_table_size(VlDomainTable *table);

/*
 * Appends @event (copied) to the ring of @name, stamped now, creating
 * the entry when the name is new; the oldest event is dropped beyond
 * VL_DOMAIN_EVENTS_MAX.  @uuid (nullable, copied) updates the UUID.
 */
void vl_domain_table_record(VlDomainTable *table,
                            const char *name,
                            const char *uuid,
                            VlEventSource source,
                            const char *event);

/*
 * Called after every vl_domain_table_record() with what was recorded
 * (borrowed, valid for the call), so that the daemon can act on events
 * (e.g. take a destination's lanes down when its incoming migration
 * ends).  One observer; NULL removes it.
 */
typedef void (*VlDomainEventFunc)(const char *name,
                                  VlEventSource source,
                                  const char *event,
                                  gpointer user_data);
void vl_domain_table_set_observer(VlDomainTable *table,
                                  VlDomainEventFunc func,
                                  gpointer user_data);

/* Sets the state of @name (creating the entry); @uuid as above. */
void vl_domain_table_set_state(VlDomainTable *table,
                               const char *name,
                               const char *uuid,
                               const char *state);

/**
 * vl_domain_table_sync:
 * @table: the table
 * @conn: (transfer none): an open connection
 * @error: (out) (optional): VL_ERROR_LIBVIRT
 *
 * Seeds names, UUIDs and states from virConnectListAllDomains().  Entries
 * of domains that libvirt no longer lists keep their events and get the
 * state "absent".  Blocks on one libvirt call per domain: meant for the
 * moment a connection is (re)made.
 */
gboolean vl_domain_table_sync(VlDomainTable *table,
                              virConnectPtr conn,
                              GError **error);

/* [{"name", "uuid" (string or null), "state", "events": [...]}, ...],
 * sorted by name.  Caller owns the result. */
json_object *vl_domain_table_to_json(VlDomainTable *table);

/* One event record (format above).  Caller owns the result. */
json_object *vl_domain_event_to_json(const VlDomainEvent *event);

const char *vl_domain_info_get_name(const VlDomainInfo *info);
const char *vl_domain_info_get_uuid(const VlDomainInfo *info);   /* nullable */
const char *vl_domain_info_get_state(const VlDomainInfo *info);
guint vl_domain_info_get_n_events(const VlDomainInfo *info);

/* Event @index of the ring, 0 being the oldest kept (borrowed). */
const VlDomainEvent *vl_domain_info_get_event(const VlDomainInfo *info,
                                              guint index);

G_END_DECLS
