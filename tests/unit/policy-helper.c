/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-helper.c: VlContainerPolicy values built in C for the container
 * tests and bench, without going through JSON
 */
#include <config.h>

#include "policy-helper.h"

VlContainerPolicy *
vl_test_container_policy_new(const char *name)
{
    VlContainerPolicy *policy = vl_container_policy_new();

    g_free(policy->name);
    policy->name = g_strdup(name);
    policy->mode = VL_CONTAINER_MODE_ENFORCE;
    policy->min_active = 1;
    policy->max_active = 4;
    policy->cooldown_s = 300;
    policy->shutdown_timeout_s = 120;
    vl_test_container_policy_set_indicator(policy, VL_INDICATOR_CPU,
                                           10, 20, 75, 90, 120);
    return policy;
}

void
vl_test_container_policy_free(VlContainerPolicy *policy)
{
    vl_container_policy_free(policy);
}

void
vl_test_container_policy_set_indicator(VlContainerPolicy *policy,
                                       VlIndicator indicator,
                                       double substantially_under,
                                       double under, double over,
                                       double substantially_over,
                                       guint hold_s)
{
    VlIndicatorThresholds *th = &policy->indicators[indicator];

    th->enabled = TRUE;
    th->substantially_under_loaded = substantially_under;
    th->under_loaded = under;
    th->overloaded = over;
    th->substantially_overloaded = substantially_over;
    th->hold_s = hold_s;
}

void
vl_test_strv_set(GStrv *field, const char *list)
{
    g_strfreev(*field);
    *field = NULL;
    if (list && *list)
        *field = g_strsplit(list, ",", -1);
}
