/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake-migrate.h: a fake virt-lanesd and a fake libvirt job, shared by the
 * tests of the migration drivers (evacuate's migrator, the daemon's
 * mover): every request and every job is recorded, and each can be told
 * to fail or to wait.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "migrate.h"

G_BEGIN_DECLS

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *requests;        /* "lanes-up PLAN lane1,lane2", "lanes-down PLAN" */
    GPtrArray *queries;         /* "estimate DOMAIN", "measure DOMAIN S", "lanes" */
    gboolean hold_lanes_up;     /* lanes-up waits until released */
    gboolean refuse_lanes_up;   /* lanes-up is answered "ok": false */
    char *fail_lane;            /* this lane does not come up */
    gboolean fail_with_lanes;   /* jobs whose XML carries a plan fail */
    gboolean hold_jobs;         /* jobs run until aborted */
    char *fail_domain;          /* its jobs fail, with lanes or not */
    double sampled_bps;         /* "estimate": a fresh sampled rate; < 0: none */
    double measured_bps;        /* "measure": the rate; < 0: an error */
    guint jobs;
    guint jobs_ended;           /* vl_fake_job_ops' migrate() returned */
    guint aborts;
    GPtrArray *job_log;         /* "channels=N parallel=yes|no plan=yes|no uri=..." */
    GPtrArray *dest_plans;      /* the plan id in each job's destination XML */
    GPtrArray *dest_lanes;      /* each plan's lanes, "198.18.11.2,198.18.12.2" */
    GPtrArray *announced;       /* "DOMAIN links=N channels=N" */
    guint lanes_up_jobs;        /* jobs_ended when lanes-up came */
    guint lanes_down_jobs;      /* ... lanes-down */
} VlFakeDaemon;

/* Nothing held or failing; no sampled rate, 1 MiB/s measured. */
void vl_fake_daemon_init(VlFakeDaemon *f);
void vl_fake_daemon_clear(VlFakeDaemon *f);

/* A VlMigrateDaemonCall; @data is the VlFakeDaemon.  Answers "lanes-up"
 * (every lane asked for up, but fail_lane), "lanes-down", "lanes" (none
 * held), "estimate", "measure" and "migration-plan". */
json_object *vl_fake_daemon_call(gpointer data, json_object *request,
                                 guint timeout_ms, GError **error);

/* Releases a held "lanes-up" (a GSourceFunc; @data is the fake). */
gboolean vl_fake_daemon_release_lanes(gpointer data);

/* VlMigrateJobDataNew and its free function; @user_data is the fake. */
gpointer vl_fake_job_new(gpointer user_data, virDomainPtr dom,
                         const char *dest_uri, virTypedParameterPtr params,
                         int nparams, unsigned int flags);
void vl_fake_job_free(gpointer data);
extern const VlMigrateJobOps vl_fake_job_ops;

/* Points the members that every driver's config shares (the daemon call
 * and the job's seam) at the fake @f, polling every 20 ms. */
#define VL_FAKE_MIGRATE_CONFIGURE(config, f) \
    do { \
        (config).call = vl_fake_daemon_call; \
        (config).call_data = (f); \
        (config).job_ops = &vl_fake_job_ops; \
        (config).job_data_new = vl_fake_job_new; \
        (config).job_data_free = vl_fake_job_free; \
        (config).job_user_data = (f); \
        (config).poll_ms = 20; \
    } while (0)

/* Entries of @list starting with @prefix. */
guint vl_fake_count_prefix(GPtrArray *list, const char *prefix);

/* Whether a job has started (a VlTestCondition; @data is the fake). */
gboolean vl_fake_job_running(gpointer data);

G_END_DECLS
