/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-helper.h: VlContainerPolicy values built in C for the container
 * tests and bench, without the policy parser
 */
#pragma once

#include <glib.h>

#include "policy.h"

G_BEGIN_DECLS

/*
 * A container policy with the peers' defaults (docs/containers.md): enforce,
 * min_active 1, max_active 4, cooldown 300 s, cpu enabled with thresholds
 * 10/20/75/90 % held 120 s, every other indicator disabled, no standby,
 * template, peers or ratio.  Free with vl_test_container_policy_free().
 */
VlContainerPolicy *vl_test_container_policy_new(const char *name);
void vl_test_container_policy_free(VlContainerPolicy *policy);

void vl_test_container_policy_set_indicator(VlContainerPolicy *policy,
                                            VlIndicator indicator,
                                            double substantially_under,
                                            double under, double over,
                                            double substantially_over,
                                            guint hold_s);

/* Replaces *@field with the comma-separated @list (NULL or "" = empty). */
void vl_test_strv_set(GStrv *field, const char *list);

G_END_DECLS
