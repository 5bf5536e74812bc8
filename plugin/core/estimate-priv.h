/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * estimate-priv.h: pieces of the migration model exposed for the unit
 * tests only.  Every function here expects input that passed
 * vl_estimate_check().
 */
#pragma once

#include "estimate.h"

G_BEGIN_DECLS

/* f(t): distinct bytes dirtied @seconds after a clean bitmap. */
double vl_estimate_dirtied_bytes(const VlEstimateInput *input,
                                 double seconds);

/* Wire bytes of a first pass over all of the guest's RAM. */
double vl_estimate_first_pass_wire_bytes(const VlEstimateInput *input);

/*
 * TRUE when f(t) >= @bps * t somewhere in (@t_lo, @t_hi]: passes cannot
 * shrink below that t, so pre-copy never gets down to a downtime of @t_lo.
 */
gboolean vl_estimate_has_fixed_point(const VlEstimateInput *input,
                                     double bps, double t_lo, double t_hi);

G_END_DECLS
