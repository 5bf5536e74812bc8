/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container-manager.h: the daemon's side of the virtual containers
 *
 * VlContainerManager ties the pure decision engine (container.h) to
 * libvirt, for virt-lanesd:
 *   - membership: which domain belongs to which container (its
 *     <lanes:container name='…'/> metadata tag, else the first container
 *     in policy order whose name globs or standby list name it; a
 *     container's template is never a member), kept up to date from
 *     libvirt's lifecycle and metadata-change events, with a full scan
 *     on every (re)connection;
 *   - the cycle: every tick_s one sample (sampler.h, in a worker
 *     thread), then vl_container_tick() for every container, in policy
 *     order, with one VlContainerHost for the cycle;
 *   - the executor (executor.h) for enforce-mode decisions, nothing for
 *     advise mode or a dry run;
 *   - the audit log (audit.h): every decision and every outcome;
 *   - the "containers" IPC reply.
 * Everything runs on the main loop; libvirt calls and statistics go to
 * worker threads.  The rules are in docs/containers.md.  The library
 * does not log: admin-facing messages go to a VlContainerManagerLogFunc.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "conn.h"
#include "executor.h"
#include "policy.h"
#include "stats-source.h"
#include "vl-config.h"

G_BEGIN_DECLS

typedef struct _VlContainerManager VlContainerManager;

/* @level is G_LOG_LEVEL_MESSAGE, _WARNING or _DEBUG. */
typedef void (*VlContainerManagerLogFunc)(GLogLevelFlags level,
                                          const char *message,
                                          gpointer user_data);

/**
 * vl_container_manager_new:
 * @conn: (transfer none): the daemon's connection; must outlive the
 *     manager
 * @log_func: (nullable): admin-facing messages
 *
 * Not configured yet: no policy, no cycle.
 */
VlContainerManager *vl_container_manager_new(VlConn *conn,
                                             VlContainerManagerLogFunc log_func,
                                             gpointer log_data);
void vl_container_manager_free(VlContainerManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlContainerManager, vl_container_manager_free)

/**
 * vl_container_manager_configure:
 * @config: (transfer none): [daemon] policy_dir (for display) and the
 *     [containers] keys
 * @policy: (transfer none): the daemon's policy, already read; borrowed
 *     until the next successful configure() or the manager's end
 * @error: (out) (optional): the recording or audit log error
 *
 * All or nothing: reads the stats_replay recording when set and opens
 * (or, at the same path, reopens: logrotate) the audit log when any
 * container is defined; only when all of that worked does anything
 * change.  The first successful call starts the cycle timer; later ones
 * apply a new tick_s at once.  Container states survive for containers
 * that keep their name, and every domain is regrouped.
 */
gboolean vl_container_manager_configure(VlContainerManager *manager,
                                        const VlConfig *config,
                                        const VlPolicy *policy,
                                        GError **error);

/* A connection is up (@vconn borrowed, referenced until detach): event
 * callbacks are registered and every domain is scanned in a thread.
 * Both accept a NULL @manager. */
void vl_container_manager_attach(VlContainerManager *manager,
                                 virConnectPtr vconn);
void vl_container_manager_detach(VlContainerManager *manager);

/**
 * vl_container_manager_reply:
 * @request: (transfer none): the "containers" request; an optional
 *     "name" string selects one container
 *
 * The reply, documented in docs/containers.md ("The containers
 * request"): ok with "containers", or an error for a bad request or an
 * unknown name.  Caller owns the result.
 */
json_object *vl_container_manager_reply(VlContainerManager *manager,
                                        json_object *request);

/**
 * vl_container_manager_read_tag:
 * @dom: (transfer none): the domain
 * @xml_flags: for virDomainGetXMLDesc(): 0 for the current (live)
 *     definition, VIR_DOMAIN_XML_INACTIVE for the persistent one
 * @tag: (out) (transfer full): the container the domain is tagged with,
 *     NULL when it is not tagged
 * @error: (out) (optional): VL_ERROR_LIBVIRT when libvirt failed,
 *     VL_ERROR_INVALID when the tag is malformed
 *
 * Reads the container tag of @dom (blocks on libvirt: call it from a
 * worker thread in the daemon).
 */
gboolean vl_container_manager_read_tag(virDomainPtr dom,
                                       unsigned int xml_flags,
                                       char **tag, GError **error);

/**
 * vl_container_manager_assign:
 * @policy: (nullable): the policy (borrowed)
 * @name: the domain's name
 * @tag: (nullable): the container the domain is tagged with
 *
 * The membership rule (docs/containers.md, "Membership"): a tagged domain
 * belongs to the container of its tag and to no other (none if the
 * policy has no such container); an untagged one to the first container
 * in policy order whose name_globs match it or whose standby list names
 * it; a container's template is never its member.
 *
 * Returns: (transfer none) (nullable): the container's policy
 */
const VlContainerPolicy *vl_container_manager_assign(const VlPolicy *policy,
                                                     const char *name,
                                                     const char *tag);

/* ---- for tests ------------------------------------------------------ */

/* Replaces the statistics source; a later configure() keeps it unless
 * its stats_replay is set or changes. */
void vl_container_manager_set_stats_source(VlContainerManager *manager,
                                           VlStatsSource *source);

/* Starts a cycle now, unless one is running (returns FALSE then). */
gboolean vl_container_manager_run_cycle(VlContainerManager *manager);

/* Cycles completed (sample taken and every container ticked). */
guint64 vl_container_manager_get_cycles(VlContainerManager *manager);

/* Whether the domain scan of the current connection has landed. */
gboolean vl_container_manager_is_scanned(VlContainerManager *manager);

/* The executor (borrowed), e.g. to set qemu-img or the migrate hook. */
VlExecutor *vl_container_manager_get_executor(VlContainerManager *manager);

G_END_DECLS
