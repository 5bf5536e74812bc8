/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-lanesd: placeholder until the daemon lands. */
#include <config.h>

#include <glib.h>

int
main(int argc G_GNUC_UNUSED, char **argv G_GNUC_UNUSED)
{
    return 0;
}
