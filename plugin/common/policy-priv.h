/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-priv.h: policy.c internals exposed for tests only
 */
#pragma once

#include "policy.h"

G_BEGIN_DECLS

/* Every key the schema knows, as a path with "[]" for array elements
 * and "*" for an indicator name, e.g. ".migration.peers[].lanes[].address"
 * or ".containers[].indicators.*.hold_s".  "description" is left out
 * (every object takes it).  Caller frees. */
GStrv vl_policy_schema_keys(void);

G_END_DECLS
