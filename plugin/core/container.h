/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * container.h: the virtual-container decision engine
 *
 * A virtual container is a named group of domains providing one service
 * (VlContainerPolicy in policy.h).  Once per cycle the daemon hands every
 * container's state the members' indicator values (indicators.h) and the
 * time, and gets back at most one decision.  The engine is pure and
 * deterministic: no libvirt call, no clock, no I/O, no randomness; the
 * same inputs give the same decisions.  The rules, exactly as implemented
 * here, are in docs/containers.md; the executor's side of the contract
 * (what it must report back) too.
 *
 * Times are monotonic seconds chosen by the caller (the daemon passes
 * g_get_monotonic_time() / G_USEC_PER_SEC, tests pass trace times).
 */
#pragma once

#include <glib.h>

#include "audit.h"
#include "policy.h"

G_BEGIN_DECLS

typedef enum {
    VL_CONTAINER_MEMBER_OFF,       /* defined, not running */
    VL_CONTAINER_MEMBER_STARTING,
    VL_CONTAINER_MEMBER_RUNNING,
    VL_CONTAINER_MEMBER_STOPPING,
    VL_CONTAINER_MEMBER_MIGRATING,
    VL_CONTAINER_MEMBER_OTHER,     /* paused, crashed, suspended: neither
                                    * active nor startable */
    VL_CONTAINER_MEMBER_LAST
} VlContainerMemberState;

typedef enum {
    VL_CONTAINER_ACTION_NONE,
    VL_CONTAINER_ACTION_START_STANDBY,
    VL_CONTAINER_ACTION_DEFINE_FROM_TEMPLATE,
    VL_CONTAINER_ACTION_REPLACE,
    VL_CONTAINER_ACTION_SHUTDOWN_MEMBER,
    VL_CONTAINER_ACTION_COMBINE,
    VL_CONTAINER_ACTION_MIGRATE_AWAY,
    VL_CONTAINER_ACTION_BRING_BACK,
    VL_CONTAINER_ACTION_LAST
} VlContainerAction;

typedef enum {
    /* why an action was decided */
    VL_CONTAINER_REASON_BELOW_MIN_ACTIVE,
    VL_CONTAINER_REASON_ABOVE_MAX_ACTIVE,
    VL_CONTAINER_REASON_HOST_OVERLOADED,
    VL_CONTAINER_REASON_OVERLOADED,
    VL_CONTAINER_REASON_MEMBER_OVERLOADED,
    VL_CONTAINER_REASON_UNDER_LOADED,
    VL_CONTAINER_REASON_MEMBERS_UNDER_LOADED,
    VL_CONTAINER_REASON_HOST_UNDER_LOADED,
    VL_CONTAINER_REASON_STANDBY_RATIO,
    /* why nothing was */
    VL_CONTAINER_REASON_IN_BAND,
    VL_CONTAINER_REASON_HOLDING,       /* a crossing not yet held hold_s */
    VL_CONTAINER_REASON_UNKNOWN,       /* an indicator has no value */
    VL_CONTAINER_REASON_IN_FLIGHT,     /* our previous action still runs */
    VL_CONTAINER_REASON_MEMBER_BUSY,   /* a member starts, stops or migrates */
    VL_CONTAINER_REASON_COOLDOWN,
    VL_CONTAINER_REASON_AT_MAX_ACTIVE,
    VL_CONTAINER_REASON_AT_MIN_ACTIVE,
    VL_CONTAINER_REASON_NO_STANDBY,    /* nothing to start, no template */
    VL_CONTAINER_REASON_RATIO,         /* would break active_standby_ratio */
    VL_CONTAINER_REASON_WOULD_OVERLOAD, /* the rest would cross overloaded */
    VL_CONTAINER_REASON_LAST
} VlContainerReason;

/* The four thresholds of VlIndicatorThresholds, lowest first. */
typedef enum {
    VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_UNDER,
    VL_CONTAINER_THRESHOLD_UNDER,
    VL_CONTAINER_THRESHOLD_OVER,
    VL_CONTAINER_THRESHOLD_SUBSTANTIALLY_OVER,
    VL_CONTAINER_THRESHOLD_LAST
} VlContainerThreshold;

typedef enum {
    VL_CONTAINER_OUTCOME_NONE,     /* nothing decided yet */
    VL_CONTAINER_OUTCOME_ADVISED,  /* advise mode: decided, not executed */
    VL_CONTAINER_OUTCOME_SUCCESS,
    VL_CONTAINER_OUTCOME_FAILURE,
} VlContainerOutcome;

/* The load of this host, as the daemon classifies it each cycle. */
typedef enum {
    VL_CONTAINER_HOST_UNKNOWN,
    VL_CONTAINER_HOST_UNDER,       /* low enough to take burst members back */
    VL_CONTAINER_HOST_IN_BAND,
    VL_CONTAINER_HOST_OVER,        /* members should leave */
} VlContainerHostLoad;

/*
 * What the daemon knows of this host, shared by every container's tick
 * in one cycle.  vl_container_tick() increments migrations_in_flight
 * when it decides MIGRATE_AWAY or BRING_BACK, so that at most one
 * migration action starts per host and cycle (oVirt's rule).
 */
typedef struct {
    VlContainerHostLoad load;
    guint migrations_in_flight;    /* to or from this host, any domain */
} VlContainerHost;

/* One member's indicator values this tick (VL_INDICATOR_UNKNOWN = NaN). */
typedef struct {
    const char *member;            /* borrowed */
    double values[VL_INDICATOR_LAST];
} VlContainerMemberValues;

/*
 * A decision.  What the executor does for each action is in
 * docs/containers.md; in short:
 *   START_STANDBY         start @start
 *   DEFINE_FROM_TEMPLATE  define @define from policy->template_domain;
 *                         start it when @start is set (scale out), keep
 *                         it off otherwise (a new standby)
 *   REPLACE               (define @define,) start @start, then shut down
 *                         @members[0]
 *   SHUTDOWN_MEMBER       shut down @members[0]
 *   COMBINE               (define @define,) start @start, then shut down
 *                         @members[0] and @members[1]
 *   MIGRATE_AWAY          migrate @members, in that order, to @peer
 *   BRING_BACK            migrate @members, in that order, back home
 */
typedef struct {
    VlContainerAction action;
    VlContainerReason reason;
    gboolean advise;               /* advise mode: never executed */
    gint64 time;                   /* the tick's time */
    char *container;
    char *start;                   /* nullable: the domain to start */
    char *define;                  /* nullable: to define from the template */
    GStrv members;                 /* nullable: shut down or moved, in order */
    char *peer;                    /* nullable: MIGRATE_AWAY destination */
    /* the crossing that fired it, when one did */
    VlIndicator indicator;         /* VL_INDICATOR_LAST = none */
    VlContainerThreshold threshold;
    double value;                  /* the container's or member's value */
    double limit;                  /* the threshold */
    double values[VL_INDICATOR_LAST]; /* container values this tick */
} VlContainerDecision;

void vl_container_decision_free(VlContainerDecision *decision);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlContainerDecision, vl_container_decision_free)

/*
 * One line, e.g. "start_standby reason=overloaded start=web-3
 * crossed=cpu.overloaded", "none reason=cooldown"; " advise" is appended
 * in advise mode.  Used in logs and the trace tests' *.expected files.
 */
char *vl_container_decision_to_string(const VlContainerDecision *decision);

const char *vl_container_action_to_string(VlContainerAction action);
const char *vl_container_reason_to_string(VlContainerReason reason);
const char *vl_container_threshold_to_string(VlContainerThreshold threshold);
const char *vl_container_member_state_to_string(VlContainerMemberState state);
const char *vl_container_outcome_to_string(VlContainerOutcome outcome);

/**
 * vl_container_decision_to_audit:
 * @decision: (transfer none): the decision
 * @outcome: VL_CONTAINER_OUTCOME_NONE for the decision itself ("decided"
 *     or "advised"), SUCCESS/FAILURE for its completion
 * @time_us: wall-clock time of the record
 *
 * Returns (transfer full) the audit record of @decision.
 */
VlAuditRecord *
vl_container_decision_to_audit(const VlContainerDecision *decision,
                               VlContainerOutcome outcome, gint64 time_us);

/*
 * VlContainerOrderFunc: orders the members of a group migration
 * (MIGRATE_AWAY, BRING_BACK).  @members holds the names (char *, owned by
 * the array) in name order; reorder them in place, without adding or
 * removing any.  The default keeps name order; the affinity-graph
 * ordering (docs/containers.md) plugs in here.
 */
typedef void (*VlContainerOrderFunc)(const VlContainerPolicy *policy,
                                     GPtrArray *members, gpointer user_data);

typedef struct _VlContainerState VlContainerState;

/* A container with no members, nothing in flight and no cooldown. */
VlContainerState *vl_container_state_new(const char *name);
void vl_container_state_free(VlContainerState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlContainerState, vl_container_state_free)

const char *vl_container_state_get_name(VlContainerState *state);

/* @func is called during vl_container_tick(); NULL restores name order. */
void vl_container_state_set_order_func(VlContainerState *state,
                                       VlContainerOrderFunc func,
                                       gpointer user_data);

/**
 * vl_container_note_member_state:
 * @member: (transfer none): the domain's name; added when new
 * @mstate: its lifecycle state
 * @host: (transfer none) (nullable): the libvirt URI of the host it runs
 *     on when that is not its home (a burst member), NULL at home
 * @now: monotonic seconds
 *
 * The daemon reports every member it discovers (tagged domains, glob
 * matches, the policy's standby list) and every lifecycle change of one
 * (libvirt lifecycle events).  Any change of state or host restarts the
 * hold of every threshold: crossings measured on another set of members
 * do not count.
 */
void vl_container_note_member_state(VlContainerState *state,
                                    const char *member,
                                    VlContainerMemberState mstate,
                                    const char *host, gint64 now);

/* The member was undefined: forget it.  Returns FALSE if unknown. */
gboolean vl_container_forget_member(VlContainerState *state,
                                    const char *member);

/**
 * vl_container_tick:
 * @state: the container's state
 * @policy: (transfer none): its policy (may change between ticks: SIGHUP)
 * @values: (transfer none) (nullable): this tick's member values; members
 *     without an entry have every indicator unknown (given in name order,
 *     the order the state keeps its members in, they are matched faster)
 * @n_values: the number of entries in @values
 * @host: (nullable) (inout): this host's view; NULL = unknown load
 * @now: monotonic seconds, never decreasing
 *
 * Returns (transfer full) the decision, VL_CONTAINER_ACTION_NONE with a
 * reason when there is nothing to do.  In enforce mode any other action
 * is now in flight: no further decision until the daemon calls
 * vl_container_action_finished().  In advise mode the decision is flagged
 * advise, nothing is in flight and the cooldown starts at once.
 */
VlContainerDecision *vl_container_tick(VlContainerState *state,
                                       const VlContainerPolicy *policy,
                                       const VlContainerMemberValues *values,
                                       guint n_values,
                                       VlContainerHost *host,
                                       gint64 now);

/**
 * vl_container_action_finished:
 * @outcome: VL_CONTAINER_OUTCOME_SUCCESS or VL_CONTAINER_OUTCOME_FAILURE
 * @now: monotonic seconds
 *
 * The executor finished the in-flight action.  Starts the cooldown:
 * cooldown_s (of the policy the action was decided under) after a
 * success; after the n-th consecutive failure
 * max(cooldown_s, 60) * 2^min(n, 4), i.e. growing up to 16 times.
 * Returns FALSE (and changes nothing) when no action was in flight.
 */
gboolean vl_container_action_finished(VlContainerState *state,
                                      VlContainerOutcome outcome,
                                      gint64 now);

/* The in-flight decision (borrowed), or NULL. */
const VlContainerDecision *
vl_container_state_get_in_flight(VlContainerState *state);

/* The last decided action (borrowed), or NULL, and its outcome. */
const VlContainerDecision *
vl_container_state_get_last(VlContainerState *state,
                            VlContainerOutcome *outcome);

/* Monotonic second until which no action is decided (0 = none). */
gint64 vl_container_state_get_cooldown_until(VlContainerState *state);

/* Restores a cooldown (the daemon's state file, after a restart); never
 * shortens the one running. */
void vl_container_state_set_cooldown_until(VlContainerState *state,
                                           gint64 until);

/* One member as the engine sees it (for status displays). */
typedef struct {
    const char *name;              /* borrowed */
    VlContainerMemberState state;
    const char *host;              /* borrowed; NULL = at home */
    gboolean may_start;            /* we shut it down or defined it */
    gint64 state_since;            /* monotonic seconds */
    const double *values;          /* borrowed: VL_INDICATOR_LAST values of
                                    * the last tick, NaN = unknown */
} VlContainerMemberInfo;

/* The number of members. */
guint vl_container_state_get_n_members(VlContainerState *state);

/* Member @index in name order; FALSE when @index is out of range.  The
 * borrowed pointers stay valid until the members change. */
gboolean vl_container_state_get_member(VlContainerState *state, guint index,
                                       VlContainerMemberInfo *info);

/**
 * vl_container_state_get_crossing:
 * @member: (nullable): a member's name, or NULL for the container value
 * @since: (out): monotonic second the crossing was first seen
 *
 * Whether @indicator's value has been crossing @threshold without a
 * break since the last tick (docs/containers.md, "Thresholds and
 * holding"); FALSE when it is not, or @member is unknown.
 */
gboolean vl_container_state_get_crossing(VlContainerState *state,
                                         const char *member,
                                         VlIndicator indicator,
                                         VlContainerThreshold threshold,
                                         gint64 *since);

G_END_DECLS
