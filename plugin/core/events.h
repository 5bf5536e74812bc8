/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.h: libvirt and QEMU events into the domain table
 *
 * On every (re)connection the owner calls vl_events_attach(), which
 * registers for LIFECYCLE, MIGRATION_ITERATION, JOB_COMPLETED and
 * METADATA_CHANGE domain events and the raw QEMU "MIGRATION" monitor
 * event, then seeds the table from the domain list.  Each event appends
 * a record to its domain's ring and updates its state.  Event strings:
 *   "lifecycle EVENT DETAIL"   libvirt's names, lowercase, e.g.
 *                              "lifecycle stopped destroyed"
 *   "migration-iteration N"
 *   "job-completed"
 *   "metadata-change TYPE"     description, title or element
 *   "qemu MIGRATION STATUS"    STATUS from the event's data, e.g. setup
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "domains.h"

G_BEGIN_DECLS

typedef struct _VlEvents VlEvents;

/* @table is borrowed and must outlive the VlEvents. */
VlEvents *vl_events_new(VlDomainTable *table);
void vl_events_free(VlEvents *events);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEvents, vl_events_free)

/**
 * vl_events_attach:
 * @events: not attached yet
 * @vconn: (transfer none): the connection; a reference is kept until
 *         vl_events_detach()
 * @error: (out) (optional): VL_ERROR_LIBVIRT when a domain event or the
 *         domain list is refused
 *
 * The QEMU monitor event is optional (not every driver has it, e.g.
 * test:///): its absence is only a g_debug().  On failure the callbacks
 * that were registered stay until vl_events_detach().
 */
gboolean vl_events_attach(VlEvents *events, virConnectPtr vconn, GError **error);

/* Deregisters everything (errors on a dead connection are ignored). */
void vl_events_detach(VlEvents *events);

/* TRUE when the QEMU "MIGRATION" monitor event is being received. */
gboolean vl_events_has_qemu_monitor(VlEvents *events);

/* "lifecycle started booted" for (VIR_DOMAIN_EVENT_STARTED,
 * VIR_DOMAIN_EVENT_STARTED_BOOTED); unknown values print as numbers.
 * Caller frees the result. */
char *vl_events_lifecycle_to_string(int event, int detail);

/* "qemu MIGRATION setup" for the QEMU monitor event @event with the JSON
 * data @details (nullable); parts that are missing, malformed or not
 * short tokens print as "?".  Caller frees the result. */
char *vl_events_qemu_to_string(const char *event, const char *details);

G_END_DECLS
