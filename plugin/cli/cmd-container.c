/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-lanes container add|remove DOMAIN NAME: sets or clears the
 * container tag in a domain's metadata, on the CLI's own libvirt
 * connection (--connect).  The daemon sees libvirt's metadata-change
 * event and regroups the domain.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "commands.h"
#include "container-manager.h"
#include "metadata.h"
#include "virt-error.h"
#include "vl-error.h"
#include "vl-virt-autoptr.h"

/* libvirt prints every error to stderr by default: ours are enough. */
static void
quiet_errors(void *data G_GNUC_UNUSED, virErrorPtr error G_GNUC_UNUSED)
{
}

/* @s made fit for a terminal line (caller frees). */
static char *
shown(const char *s)
{
    return g_strescape(s, NULL);
}

/* The container @dom is tagged with in @xml_flags' view, or NULL ("" for
 * a malformed tag); FALSE when it cannot be read. */
static gboolean
read_tag(virDomainPtr dom, unsigned int xml_flags, char **tag, GError **error)
{
    g_autoptr(GError) local = NULL;

    *tag = NULL;
    if (vl_container_manager_read_tag(dom, xml_flags, tag, &local))
        return TRUE;
    if (g_error_matches(local, VL_ERROR, VL_ERROR_LIBVIRT)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    /* A malformed tag is replaced by "add" and refused by "remove". */
    *tag = g_strdup("");
    return TRUE;
}

static int
usage(const char *problem)
{
    if (problem)
        fprintf(stderr, "virt-lanes container: %s\n", problem);
    fprintf(stderr,
            "Usage: virt-lanes [--connect URI] container add DOMAIN CONTAINER\n"
            "       virt-lanes [--connect URI] container remove DOMAIN CONTAINER\n");
    return 2;
}

int
vl_cmd_container(const VlCliOptions *opts, int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *domain_shown = NULL;
    g_autofree char *name_shown = NULL;
    g_autofree char *tag = NULL;
    g_autofree char *xml = NULL;
    const char *sub;
    const char *domain;
    const char *name;
    gboolean add;
    unsigned int flags = 0;
    unsigned int read_flags;
    GOptionEntry entries[] = { { NULL } };

    octx = g_option_context_new("add|remove DOMAIN CONTAINER - tag a domain as a container member, or untag it");
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error))
        return usage(error->message);
    if (argc != 4)
        return usage(argc < 4 ? "Expected add|remove, a domain and a container"
                              : "Too many arguments");
    sub = argv[1];
    domain = argv[2];
    name = argv[3];
    domain_shown = shown(domain);
    name_shown = shown(name);
    if (g_str_equal(sub, "add")) {
        add = TRUE;
    } else if (g_str_equal(sub, "remove")) {
        add = FALSE;
    } else {
        g_autofree char *sub_shown = shown(sub);
        g_autofree char *problem = g_strdup_printf("Unknown sub-command '%s'",
                                                   sub_shown);

        return usage(problem);
    }
    if (!*domain)
        return usage("The domain name is empty");
    if (!vl_metadata_container_name_is_valid(name)) {
        g_autofree char *problem =
            g_strdup_printf("Invalid container name '%s': 1 to 64 characters among 'A-Z a-z 0-9 _ . -'",
                            name_shown);

        return usage(problem);
    }

    virSetErrorFunc(NULL, quiet_errors);
    conn = virConnectOpen(opts->uri);
    if (!conn) {
        vl_error_set_from_virt(&error, "Cannot connect to '%s'", opts->uri);
        fprintf(stderr, "virt-lanes: %s\n", error->message);
        return 1;
    }
    dom = virDomainLookupByName(conn, domain);
    if (!dom) {
        vl_error_set_from_virt(&error, "Cannot find domain '%s'", domain_shown);
        fprintf(stderr, "virt-lanes: %s\n", error->message);
        return 1;
    }

    /* The definition and, while it runs, the live domain alike: a tag
     * only in one of them would vanish at the next start or stop. */
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainIsActive(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    read_flags = (flags & VIR_DOMAIN_AFFECT_CONFIG) ? VIR_DOMAIN_XML_INACTIVE : 0;
    if (!read_tag(dom, read_flags, &tag, &error)) {
        fprintf(stderr, "virt-lanes: %s\n", error->message);
        return 1;
    }

    if (add) {
        /* Setting the same tag again is harmless: no "already" case. */
        xml = vl_container_tag_format(name, FALSE, &error);
        if (!xml) {
            fprintf(stderr, "virt-lanes: %s\n", error->message);
            return 1;
        }
    } else if (!tag) {
        fprintf(stderr, "virt-lanes: Domain '%s' is in no container\n",
                domain_shown);
        return 1;
    } else if (!g_str_equal(tag, name)) {
        g_autofree char *tag_shown = shown(tag);

        fprintf(stderr, "virt-lanes: Domain '%s' is in container '%s', not '%s'\n",
                domain_shown, tag_shown, name_shown);
        return 1;
    }

    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                             add ? VL_METADATA_CONTAINER_PREFIX : NULL,
                             VL_METADATA_CONTAINER_NS, flags) < 0) {
        vl_error_set_from_virt(&error, "Cannot %s the container tag of domain '%s'",
                               add ? "set" : "remove", domain_shown);
        fprintf(stderr, "virt-lanes: %s\n", error->message);
        return 1;
    }
    if (add)
        printf("Domain '%s' added to container '%s'\n", domain_shown, name_shown);
    else
        printf("Domain '%s' removed from container '%s'\n", domain_shown,
               name_shown);
    return 0;
}
