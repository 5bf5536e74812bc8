/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimator.h: the daemon's live estimator
 *
 * Ties the migration model (estimate.h) to live inputs: the background
 * dirty-rate sampler (dirty-sampler.h), the migration monitor (monitor.h), the
 * history file (history.h) and the policy's lanes.  It answers the IPC
 * requests "estimate" (a table of predicted total time, downtime and
 * convergence for 1..N lanes, with the inputs used and how fresh they
 * are) and "measure" (one dirty-rate measurement now), adds a "migration"
 * object per domain to the status reply, and gives the monitor the plan
 * (lane count, prediction) of each migration that begins.
 *
 * Bandwidth for k lanes: the history's median memory_bps of recent
 * migrations with k lanes ("history"); else the first k lanes declared
 * for the peer in the policy x 0.95 ("declared"); for the lane count of
 * this domain's running migration, the monitor's measurement
 * ("measured").  Guest RAM that QEMU will send as zero pages: RAM the
 * QEMU process never touched (smaps of the guest RAM mapping, local
 * connections only), else none.  Setup plus resume time: the history's
 * median of (job time - processed bytes / memory_bps), else 1.5 s.
 *
 * Everything on the main loop; libvirt calls happen in the sampler's and
 * the monitor's threads.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "domains.h"
#include "ipc.h"
#include "monitor.h"
#include "policy.h"
#include "dirty-sampler.h"
#include "vl-config.h"

G_BEGIN_DECLS

/* Protocol efficiency of a declared lane rate (measured: 0.95). */
#define VL_ESTIMATOR_LINK_EFFICIENCY 0.95
/* Setup + resume when the history says nothing (lab, TCG). */
#define VL_ESTIMATOR_DEFAULT_OVERHEAD_S 1.5
#define VL_ESTIMATOR_MAX_TIME_CAP_S 86400

typedef struct _VlEstimator VlEstimator;

/**
 * vl_estimator_new:
 * @config: (transfer none): read for the [estimator] keys
 * @conn: (nullable): borrowed, must outlive the estimator
 * @domains: (transfer none): the daemon's domain table, borrowed
 * @sampler_ops, @monitor_ops: (nullable): seams for tests; NULL = libvirt
 */
VlEstimator *vl_estimator_new(const VlConfig *config, VlConn *conn,
                              VlDomainTable *domains,
                              const VlDirtySamplerOps *sampler_ops,
                              gpointer sampler_ops_data,
                              const VlMonitorOps *monitor_ops,
                              gpointer monitor_ops_data);
void vl_estimator_free(VlEstimator *estimator);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlEstimator, vl_estimator_free)

/* Applies [estimator] of @config (sampling period, lengths, history). */
gboolean vl_estimator_configure(VlEstimator *estimator, const VlConfig *config,
                                GError **error);

/* @policy: (nullable) (transfer none): must stay valid until replaced. */
void vl_estimator_set_policy(VlEstimator *estimator, const VlPolicy *policy);

/* On every new connection / before it goes away. */
void vl_estimator_attach(VlEstimator *estimator, virConnectPtr vconn);
void vl_estimator_detach(VlEstimator *estimator);

/* Borrowed. */
VlDirtySampler *vl_estimator_get_sampler(VlEstimator *estimator);
VlMonitor *vl_estimator_get_monitor(VlEstimator *estimator);

/*
 * IPC "estimate": {"domain": NAME, "to": PEER (optional), "lanes": N
 * (optional, 1..64), "time_cap_s": S (optional)}.  Replies later when
 * the domain's size must be read first.  Reply format: docs/estimator.md.
 */
void vl_estimator_handle_estimate(VlEstimator *estimator,
                                  VlIpcRequest *request, json_object *msg);

/* IPC "measure": {"domain": NAME, "period_s": 1..60, "reset": BOOL
 * (optional: forget the domain's measurements first)}; replies when done. */
void vl_estimator_handle_measure(VlEstimator *estimator,
                                 VlIpcRequest *request, json_object *msg);

/* Adds "migration" (an object, or null) to each {"name", ...} of the
 * status reply's "domains" array. */
void vl_estimator_add_status(VlEstimator *estimator, json_object *domains);

G_END_DECLS
