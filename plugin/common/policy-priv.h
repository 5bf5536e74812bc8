/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-priv.h: policy.c internals exposed for tests only
 */
#pragma once

#include "policy.h"

G_BEGIN_DECLS

/* String checks: NULL when @value is fine, else an allocated reason
 * (the message tail that follows "FILE: PATH: "). */
char *vl_policy_check_container_name(const char *value);
char *vl_policy_check_domain_name(const char *value);
char *vl_policy_check_glob(const char *value);
char *vl_policy_check_uri(const char *value);
char *vl_policy_check_interface_name(const char *value);
char *vl_policy_check_address(const char *value);
char *vl_policy_check_address_prefix(const char *value);

/* Every key the schema knows, as a path with "[]" for array elements
 * and "*" for an indicator name, e.g. ".migration.peers[].lanes[].address"
 * or ".containers[].indicators.*.hold_s".  "description" is left out
 * (every object takes it).  Caller frees. */
GStrv vl_policy_schema_keys(void);

G_END_DECLS
