/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * burst-state.h: what the containers' engine must remember across a
 * daemon restart
 *
 * Which members the daemon moved (burst) to which peer, and each
 * container's cooldown and last action, in a small JSON file under the
 * daemon's state directory ([containers] state_file, by default
 * VL_STATEDIR/containers-state.json).  The home host keeps a burst
 * member's persistent definition shut off, so without this file a
 * restarted daemon would take it for an ordinary standby.  The format is
 * in docs/containers.md ("Burst state").  Times are wall-clock Unix
 * seconds (monotonic time does not survive a restart).  The library
 * does not log.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VL_BURST_STATE_VERSION 1
/* Largest file read: far above 10 000 members. */
#define VL_BURST_STATE_MAX_SIZE (4 * 1024 * 1024)

typedef struct {
    char *member;           /* the domain's name */
    char *container;
    char *peer;             /* libvirt URI of the host it runs on */
    gint64 since;           /* Unix seconds it was sent there */
} VlBurstMember;

typedef struct {
    char *name;
    gint64 cooldown_until;  /* Unix seconds, 0 = none */
    char *last_action;      /* nullable: "migrate_away", ... */
    gint64 last_action_time; /* Unix seconds, 0 = none */
} VlBurstContainer;

typedef struct {
    GPtrArray *members;     /* VlBurstMember*, owned */
    GPtrArray *containers;  /* VlBurstContainer*, owned */
} VlBurstState;

VlBurstState *vl_burst_state_new(void);
void vl_burst_state_free(VlBurstState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlBurstState, vl_burst_state_free)

/* Appends copies of the strings (@peer and @container non-NULL). */
void vl_burst_state_add_member(VlBurstState *state, const char *member,
                               const char *container, const char *peer,
                               gint64 since);
/* Appends a container (@last_action nullable). */
void vl_burst_state_add_container(VlBurstState *state, const char *name,
                                  gint64 cooldown_until,
                                  const char *last_action,
                                  gint64 last_action_time);

/**
 * vl_burst_state_parse:
 * @name: names the data in errors (the file)
 *
 * Strict JSON; errors name the file and the line (syntax) or the JSON
 * path (content), e.g. "state.json: .members[0].peer: missing key
 * 'peer'".  A member listed twice is an error.
 */
VlBurstState *vl_burst_state_parse(const char *name, const char *data,
                                   gsize length, GError **error);

/**
 * vl_burst_state_load:
 * @path: the file
 * @error: (out) (optional): VL_ERROR_IO when it cannot be read,
 *     VL_ERROR_POLICY when its content is bad
 *
 * Returns (transfer full): the state; an empty one when @path does not
 * exist (the first start).  Refuses anything but a regular file.
 */
VlBurstState *vl_burst_state_load(const char *path, GError **error);

/* The JSON text (one line and a newline).  Caller frees. */
char *vl_burst_state_to_string(const VlBurstState *state);

/**
 * vl_burst_state_save:
 *
 * Atomically: writes "PATH.tmp" (0600), fsyncs it, renames it over
 * @path and fsyncs the directory, so a crash leaves the old file or the
 * new one, never half of one.  Creates the directory (0750) if needed.
 */
gboolean vl_burst_state_save(const VlBurstState *state, const char *path,
                             GError **error);

/**
 * vl_burst_state_set_aside:
 * @moved_to: (out) (optional) (transfer full): where it went
 *
 * Renames a bad file to "PATH.corrupt" (replacing an older one), so
 * that the admin can look at it and the daemon starts afresh.
 */
gboolean vl_burst_state_set_aside(const char *path, char **moved_to,
                                  GError **error);

G_END_DECLS
