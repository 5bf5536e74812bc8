/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container-priv.h: the decision engine's state, for container.c and
 * its tests only
 */
#pragma once

#include "container.h"

G_BEGIN_DECLS

/* "since" value of a crossing not in progress. */
#define VL_CONTAINER_NEVER G_MININT64

/* The smallest base of the failure back-off, seconds (the 1-min cycle). */
#define VL_CONTAINER_FAILURE_BACKOFF_MIN_S 60
/* After the n-th consecutive failure: base * 2^min(n, this). */
#define VL_CONTAINER_FAILURE_BACKOFF_MAX_SHIFT 4

/* Since when each threshold has been crossed without a break. */
typedef struct {
    gint64 since[VL_CONTAINER_THRESHOLD_LAST];
} VlContainerHysteresis;

typedef struct {
    char *name;
    VlContainerMemberState state;
    char *host;                 /* NULL = home */
    gboolean may_start;         /* we shut it down or defined it */
    gint64 state_since;
    double values[VL_INDICATOR_LAST]; /* this tick's */
    VlContainerHysteresis hyst[VL_INDICATOR_LAST];
} VlContainerMember;

struct _VlContainerState {
    char *name;
    GPtrArray *members;         /* VlContainerMember*, kept in name order */
    GHashTable *by_name;        /* name (borrowed) -> VlContainerMember* */
    VlContainerHysteresis hyst[VL_INDICATOR_LAST];
    gint64 host_over_since;
    gint64 host_under_since;
    gint64 cooldown_until;
    guint cooldown_s;           /* of the policy the in-flight action
                                 * was decided under */
    guint failures;             /* consecutive */
    VlContainerDecision *in_flight;
    VlContainerDecision *last;
    VlContainerOutcome last_outcome;
    guint template_serial;      /* names of domains defined from the
                                 * template: "<container>-<serial>" */
    VlContainerOrderFunc order_func;
    gpointer order_data;
    /* member lists rebuilt by every tick (borrowed pointers) */
    GPtrArray *scratch_running;
    GPtrArray *scratch_standby;
    GPtrArray *scratch_home;
    GPtrArray *scratch_burst;
    GPtrArray *scratch_idle;
};

/* Looks a member up by name (borrowed), or NULL. */
VlContainerMember *vl_container_state_find_member(VlContainerState *state,
                                                  const char *name);

/* The cooldown after the @failures-th consecutive failure. */
gint64 vl_container_failure_cooldown(guint cooldown_s, guint failures);

G_END_DECLS
