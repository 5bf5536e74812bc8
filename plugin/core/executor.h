/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * executor.h: carrying out container decisions on libvirt
 *
 * VlExecutor runs every enforce-mode decision of the engine
 * (container.h) as a job of steps (docs/containers.md, "The executor"):
 *
 *   START_STANDBY          start
 *   DEFINE_FROM_TEMPLATE   define [, start]
 *   REPLACE                [define,] start, shut down members[0]
 *   SHUTDOWN_MEMBER        shut down members[0]
 *   COMBINE                [define,] start, shut down members[0], [1]
 *   MIGRATE_AWAY           migrate each member to the peer, in order
 *   BRING_BACK             migrate each member home, in order
 *
 * Every libvirt call runs in a GTask worker thread and every wait is a
 * main-loop timeout or a lifecycle event, so nothing blocks the main
 * loop.  Each step is verified against libvirt after it ran (the domain
 * really runs, is really off, is defined with a new name, UUID and
 * MACs, is no longer active here after a migration away).  The executor
 * reports, always from the main loop and never from inside
 * vl_executor_submit():
 *   - member_state(): the transitions it causes (starting, stopping,
 *     migrating) and the real state of each member it touched once a
 *     step is over, successful or not;
 *   - finished(): exactly once per submitted decision.
 * The library does not log.
 */
#pragma once

#include <glib-object.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "container.h"

G_BEGIN_DECLS

/* qemu-img may take this long to create an overlay. */
#define VL_EXECUTOR_QEMU_IMG_TIMEOUT_S 60

typedef struct _VlExecutor VlExecutor;

typedef struct {
    /* @host: NULL at home, else the peer's URI (a burst member). */
    void (*member_state)(VlExecutor *executor, const char *container,
                         const char *member, VlContainerMemberState state,
                         const char *host, gpointer user_data);
    /* @decision is borrowed; @message is NULL on success, else why the
     * job failed (one line, naming the step). */
    void (*finished)(VlExecutor *executor,
                     const VlContainerDecision *decision,
                     VlContainerOutcome outcome, const char *message,
                     gpointer user_data);
} VlExecutorHandlers;

/**
 * VlExecutorMigrateFunc:
 * @dom: (transfer none): the domain, on the connection of the host it
 *     runs on
 * @dest_uri: the destination's libvirt URI, as that host reaches it
 *
 * The migration hook point: runs in a worker thread and returns once
 * the migration is over.  The default is a plain
 * virDomainMigrateToURI3(@dom, @dest_uri, VIR_MIGRATE_PARAM_URI = the
 * destination's migration URI when one is set
 * (vl_executor_set_migration_uri()), else no parameters,
 * VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_LIVE).  virt-lanesd replaces it
 * with the lanes capability, vl_mover_migrate() (mover.h): the estimate,
 * lanes on both hosts when it exceeds the threshold, multifd channels
 * spread over them, as "virt-lanes migrate" does.
 */
typedef gboolean (*VlExecutorMigrateFunc)(virDomainPtr dom,
                                          const char *dest_uri,
                                          gpointer user_data,
                                          GError **error);

/* @handlers: (transfer none): copied. */
VlExecutor *vl_executor_new(const VlExecutorHandlers *handlers,
                            gpointer user_data);
/* Jobs still running are abandoned: their threads finish, unobserved,
 * and no handler is called any more. */
void vl_executor_free(VlExecutor *executor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlExecutor, vl_executor_free)

/* The qemu-img program (default "qemu-img", found in PATH). */
void vl_executor_set_qemu_img(VlExecutor *executor, const char *path);
/* This host's libvirt URI as peers reach it; BRING_BACK fails without. */
void vl_executor_set_home_uri(VlExecutor *executor, const char *uri);
/* NULL restores the default.  @user_data is borrowed: it must outlive
 * every migration step, also those of jobs vl_executor_free() abandons. */
void vl_executor_set_migrate_func(VlExecutor *executor,
                                  VlExecutorMigrateFunc func,
                                  gpointer user_data);
/* The same for reference-counted data: @ref (on the main loop, when a
 * migration step starts) gives the step's thread a reference that it
 * drops with @unref when the step is over; the executor drops its own
 * with @unref when the function is replaced or the executor freed.
 * @ref and @unref are both set or both NULL. */
void vl_executor_set_migrate_func_full(VlExecutor *executor,
                                       VlExecutorMigrateFunc func,
                                       gpointer user_data,
                                       GBoxedCopyFunc ref,
                                       GDestroyNotify unref);

/**
 * vl_executor_submit:
 * @conn: (transfer none) (nullable): the connection (a reference is held
 *     for the job); NULL fails the job
 * @policy: (transfer none): the container's policy; what the job needs
 *     (template, shutdown timeout, destroy_on_timeout) is copied
 * @decision: (transfer none): an enforce-mode decision other than NONE
 *     (copied)
 * @member_hosts: (transfer none) (nullable): for BRING_BACK, the host URI
 *     of each of @decision->members, in the same order
 *
 * Starts the job.  finished() is called exactly once, later.
 */
void vl_executor_submit(VlExecutor *executor, virConnectPtr conn,
                        const VlContainerPolicy *policy,
                        const VlContainerDecision *decision,
                        const char *const *member_hosts);

/**
 * vl_executor_set_migration_uri:
 * @dest_uri: a destination's libvirt URI (a peer, or the home URI)
 * @migration_uri: (nullable): where QEMU's migration stream goes for it,
 *     e.g. "tcp://198.19.0.2" (the policy's migration_address); NULL
 *     removes it
 *
 * For the default migration: without one, the destination's libvirtd
 * offers its hostname, which the source may not resolve or may reach
 * over the wrong network.  Looked up when a migration step starts (also
 * for a URI that vl_migrate_uri_equal() finds equal).
 */
void vl_executor_set_migration_uri(VlExecutor *executor, const char *dest_uri,
                                   const char *migration_uri);
void vl_executor_clear_migration_uris(VlExecutor *executor);
/* The migration URI for @dest_uri (borrowed), or NULL. */
const char *vl_executor_get_migration_uri(VlExecutor *executor,
                                          const char *dest_uri);

/* Feeds a libvirt lifecycle event (the shutdown step waits for
 * VIR_DOMAIN_EVENT_STOPPED). */
void vl_executor_handle_lifecycle(VlExecutor *executor, const char *domain,
                                  int event, int detail);

/* Whether a job is migrating @domain right now (its libvirt lifecycle
 * events then describe the migration, not a state of the member). */
gboolean vl_executor_is_migrating(VlExecutor *executor, const char *domain);

/* Migrations running (for VlContainerHost.migrations_in_flight). */
guint vl_executor_get_migrations(VlExecutor *executor);

/* What @container's job is doing, e.g. "step 2 of 2: shutting down
 * 'web-1'" (borrowed), or NULL when it has none. */
const char *vl_executor_get_step(VlExecutor *executor, const char *container);

G_END_DECLS
