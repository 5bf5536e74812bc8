/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-helper.c: VlContainerPolicy values built in C for the container
 * tests and bench, without the policy parser
 */
#include <config.h>

#include "policy-helper.h"

/*
 * The policy parser (plugin/common/policy.c) owns vl_indicator_to_string().
 * Until it is merged, this weak copy stands in; once policy.o is linked
 * its strong definition wins without a clash.  Keep the keys those of
 * docs/policy.md.
 */
__attribute__((weak)) const char *
vl_indicator_to_string(VlIndicator indicator)
{
    switch (indicator) {
    case VL_INDICATOR_CPU:
        return "cpu";
    case VL_INDICATOR_NET_RX:
        return "net_rx";
    case VL_INDICATOR_NET_TX:
        return "net_tx";
    case VL_INDICATOR_BLOCK_IO:
        return "block_io";
    case VL_INDICATOR_MEMORY:
        return "memory";
    case VL_INDICATOR_LAST:
        break;
    }
    return NULL;
}

VlContainerPolicy *
vl_test_container_policy_new(const char *name)
{
    VlContainerPolicy *policy = g_new0(VlContainerPolicy, 1);

    policy->name = g_strdup(name);
    policy->mode = VL_CONTAINER_MODE_ENFORCE;
    policy->min_active = 1;
    policy->max_active = 4;
    policy->cooldown_s = 300;
    policy->shutdown_timeout_s = 120;
    policy->affinities = g_ptr_array_new();
    vl_test_container_policy_set_indicator(policy, VL_INDICATOR_CPU,
                                           10, 20, 75, 90, 120);
    return policy;
}

void
vl_test_container_policy_free(VlContainerPolicy *policy)
{
    if (!policy)
        return;
    g_free(policy->name);
    g_free(policy->description);
    g_strfreev(policy->member_globs);
    g_strfreev(policy->standby);
    g_free(policy->template_domain);
    g_strfreev(policy->peers);
    if (policy->affinities)
        g_ptr_array_unref(policy->affinities);
    g_free(policy);
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
