/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Our <metadata> elements: the migration plan and the container tag,
 * formatted, parsed back, found in and inserted into domain XML; and
 * hostile XML (huge, entities, wrong namespace, missing attributes) that
 * must give a clear error and never more.
 */
#include <config.h>

#include <string.h>

#include "metadata.h"
#include "test-util.h"
#include "vl-error.h"

#define NS "https://virt-lanes.org/xmlns/plan/1.0"
#define CNS "https://virt-lanes.org/xmlns/lanes/1.0"

static VlMigrationPlan *
sample_plan(void)
{
    VlMigrationPlan *plan = vl_migration_plan_new();

    plan->id = g_strdup("web-3.1738412345");
    plan->source_host = g_strdup("host-a");
    plan->source_migration_address = g_strdup("198.19.0.1");
    plan->channels = 6;
    g_ptr_array_add(plan->lanes, vl_plan_lane_new("198.18.11.1", "198.18.11.2"));
    g_ptr_array_add(plan->lanes, vl_plan_lane_new("fd00:12::1", "fd00:12::2"));
    return plan;
}

static void
assert_same_plan(const VlMigrationPlan *a, const VlMigrationPlan *b)
{
    guint i;

    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->source_host, b->source_host);
    ck_assert_str_eq(a->source_migration_address, b->source_migration_address);
    ck_assert_uint_eq(a->channels, b->channels);
    ck_assert_uint_eq(a->lanes->len, b->lanes->len);
    for (i = 0; i < a->lanes->len; i++) {
        VlPlanLane *la = g_ptr_array_index(a->lanes, i);
        VlPlanLane *lb = g_ptr_array_index(b->lanes, i);

        ck_assert_str_eq(la->source_address, lb->source_address);
        ck_assert_str_eq(la->dest_address, lb->dest_address);
    }
}

START_TEST(test_plan_round_trip)
{
    g_autoptr(VlMigrationPlan) plan = sample_plan();
    g_autoptr(VlMigrationPlan) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = vl_migration_plan_format(plan, &error);

    ck_assert_msg(xml != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(xml,
                     "<lanesplan:plan xmlns:lanesplan=\"" NS "\" id=\"web-3.1738412345\" channels=\"6\">\n"
                     "  <lanesplan:source host=\"host-a\" migration-address=\"198.19.0.1\"/>\n"
                     "  <lanesplan:lane source-address=\"198.18.11.1\" dest-address=\"198.18.11.2\"/>\n"
                     "  <lanesplan:lane source-address=\"fd00:12::1\" dest-address=\"fd00:12::2\"/>\n"
                     "</lanesplan:plan>");
    back = vl_migration_plan_parse(xml, strlen(xml), &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    assert_same_plan(plan, back);
}
END_TEST

START_TEST(test_plan_for_set_metadata)
{
    g_autoptr(VlMigrationPlan) plan = sample_plan();
    g_autoptr(VlMigrationPlan) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *bare = vl_migration_plan_format_for_metadata(plan, &error);
    /* What libvirt 9.0 made of it (virsh metadata --set, then dumpxml):
     * the element and its children moved into our namespace, a second
     * prefix declared on the way. */
    const char *stored =
        "<domain><metadata>\n"
        "    <p:plan xmlns:p=\"" NS "\" xmlns:lanesplan=\"" NS "\" id=\"web-3.1738412345\" channels=\"6\">\n"
        "      <p:source host=\"host-a\" migration-address=\"198.19.0.1\"/>\n"
        "      <p:lane source-address=\"198.18.11.1\" dest-address=\"198.18.11.2\"/>\n"
        "      <p:lane source-address=\"fd00:12::1\" dest-address=\"fd00:12::2\"/>\n"
        "    </p:plan>\n"
        "  </metadata></domain>";

    ck_assert_msg(bare != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(bare,
                     "<plan id=\"web-3.1738412345\" channels=\"6\">"
                     "<source host=\"host-a\" migration-address=\"198.19.0.1\"/>"
                     "<lane source-address=\"198.18.11.1\" dest-address=\"198.18.11.2\"/>"
                     "<lane source-address=\"fd00:12::1\" dest-address=\"fd00:12::2\"/>"
                     "</plan>");
    ck_assert(vl_migration_plan_from_domain_xml(stored, strlen(stored), &back, &error));
    ck_assert_ptr_nonnull(back);
    assert_same_plan(plan, back);
}
END_TEST

START_TEST(test_plan_other_prefix_and_canonical)
{
    /* Found by URI, whatever the prefix; addresses come back canonical. */
    const char *xml = "<p:plan xmlns:p='" NS "' id='x'><!-- a comment -->\n"
                      "  <p:source host='h' migration-address='FD00:0:0::1'/></p:plan>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VlMigrationPlan) plan = vl_migration_plan_parse(xml, strlen(xml), &error);

    ck_assert_msg(plan != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(plan->source_migration_address, "fd00::1");
    ck_assert_uint_eq(plan->channels, 0);
    ck_assert_uint_eq(plan->lanes->len, 0);
}
END_TEST

static const char domain_head[] =
    "<domain type='kvm'>\n"
    "  <name>web 'one' \"&amp;\"</name>\n"
    "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n";

START_TEST(test_plan_in_domain_xml)
{
    g_autoptr(VlMigrationPlan) plan = sample_plan();
    g_autoptr(VlMigrationPlan) found = NULL;
    g_autoptr(VlMigrationPlan) none = NULL;
    g_autoptr(VlMigrationPlan) replaced = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *plain = g_strconcat(domain_head,
                                         "  <metadata><x:y xmlns:x='urn:other'>keep</x:y></metadata>\n"
                                         "</domain>\n", NULL);
    g_autofree char *with = NULL;
    g_autofree char *again = NULL;
    g_autofree char *container = NULL;

    ck_assert(vl_migration_plan_from_domain_xml(plain, strlen(plain), &none, &error));
    ck_assert_ptr_null(none);

    with = vl_migration_plan_insert_into_domain_xml(plain, strlen(plain), plan, &error);
    ck_assert_msg(with != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_nonnull(strstr(with, "<x:y xmlns:x=\"urn:other\">keep</x:y>"));
    ck_assert_ptr_nonnull(strstr(with, "<name>web 'one' \"&amp;\"</name>"));
    ck_assert(vl_migration_plan_from_domain_xml(with, strlen(with), &found, &error));
    ck_assert_ptr_nonnull(found);
    assert_same_plan(plan, found);

    /* Inserting again replaces: still exactly one plan. */
    g_free(plan->id);
    plan->id = g_strdup("second");
    again = vl_migration_plan_insert_into_domain_xml(with, strlen(with), plan, &error);
    ck_assert_ptr_nonnull(again);
    ck_assert(vl_migration_plan_from_domain_xml(again, strlen(again), &replaced, &error));
    ck_assert_str_eq(replaced->id, "second");
    ck_assert_ptr_null(strstr(again, "web-3.1738412345"));

    /* The plan does not hide a container tag, nor the other way round. */
    ck_assert(vl_container_tag_from_domain_xml(again, strlen(again), &container, &error));
    ck_assert_ptr_null(container);
}
END_TEST

START_TEST(test_insert_creates_metadata)
{
    g_autoptr(VlMigrationPlan) plan = sample_plan();
    g_autoptr(VlMigrationPlan) found = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *bare = g_strconcat(domain_head, "</domain>", NULL);
    g_autofree char *with = vl_migration_plan_insert_into_domain_xml(bare, strlen(bare),
                                                                     plan, &error);

    ck_assert_ptr_nonnull(with);
    ck_assert_ptr_nonnull(strstr(with, "<metadata><lanesplan:plan"));
    ck_assert(vl_migration_plan_from_domain_xml(with, strlen(with), &found, &error));
    ck_assert_ptr_nonnull(found);
}
END_TEST

START_TEST(test_plan_format_refuses_bad_plan)
{
    g_autoptr(VlMigrationPlan) plan = sample_plan();
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;

    g_free(plan->id);
    plan->id = g_strdup("has space");
    xml = vl_migration_plan_format(plan, &error);
    ck_assert_ptr_null(xml);
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    g_clear_error(&error);

    g_free(plan->id);
    plan->id = g_strdup("ok");
    g_ptr_array_add(plan->lanes, vl_plan_lane_new("198.18.1.1", "fd00::1"));
    xml = vl_migration_plan_format(plan, &error);
    ck_assert_ptr_null(xml);
    ck_assert_ptr_nonnull(strstr(error->message, "one family"));
}
END_TEST

/* Hostile or wrong XML: each gives VL_ERROR_INVALID naming the problem. */
static const struct {
    const char *name;
    const char *xml;
    const char *expect;
} bad_domains[] = {
    { "empty", "", "is empty" },
    { "not-xml", "this is not XML", "Cannot parse the domain XML: line 1:" },
    { "unclosed", "<domain>\n<metadata>\n</domain>", "Cannot parse the domain XML: line 3:" },
    { "not-domain", "<network/>", "root element is not <domain>" },
    { "billion-laughs",
      "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'>"
      "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
      "<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'><!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>"
      "]><domain><name>&e;</name></domain>", "document type declaration" },
    { "xxe",
      "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
      "<domain><name>&x;</name></domain>", "document type declaration" },
    { "external-dtd",
      "<!DOCTYPE domain SYSTEM 'http://198.18.0.1/evil.dtd'><domain/>",
      "document type declaration" },
    { "undeclared-entity", "<domain><name>&x;</name></domain>", "Cannot parse" },
    { "missing-id",
      "<domain><metadata><p:plan xmlns:p='" NS "'><p:source host='a' migration-address='198.19.0.1'/>"
      "</p:plan></metadata></domain>", "Missing attribute 'id' on <plan>" },
    { "missing-source",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'/></metadata></domain>",
      "Missing <source> in <plan>" },
    { "missing-address",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'><p:source host='a'/></p:plan>"
      "</metadata></domain>", "Missing attribute 'migration-address' on <source>" },
    { "bad-address",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1; reboot'/></p:plan></metadata></domain>",
      "Attribute 'migration-address' on <source> is not an IP address: '198.19.0.1; reboot'" },
    { "address-with-prefix",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1/32'/></p:plan></metadata></domain>",
      "is not an IP address" },
    { "bad-id",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='a&#10;b'>"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "Invalid plan id 'a\\x0ab'" },
    { "bad-host",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a b' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "Attribute 'host' on <source>" },
    { "channels-256",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x' channels='256'>"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "'channels' on <plan> must be 0 to 255, not '256'" },
    { "channels-negative",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x' channels='-1'>"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "not '-1'" },
    { "unknown-attribute",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x' colour='red'>"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "Unknown attribute 'colour' on <plan>" },
    { "unknown-element",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/><p:extra/></p:plan></metadata></domain>",
      "Unknown element <extra> in <plan>" },
    { "foreign-child",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/><lane/></p:plan></metadata></domain>",
      "Unexpected element <lane> in <plan> (not in namespace" },
    { "text",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>junk"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan></metadata></domain>",
      "Unexpected text in <plan>" },
    { "two-sources",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/>"
      "<p:source host='b' migration-address='198.19.0.2'/></p:plan></metadata></domain>",
      "More than one <source>" },
    { "lane-mixed-families",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/>"
      "<p:lane source-address='198.18.11.1' dest-address='fd00::2'/></p:plan></metadata></domain>",
      "two different addresses of one family" },
    { "lane-missing-dest",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/>"
      "<p:lane source-address='198.18.11.1'/></p:plan></metadata></domain>",
      "Missing attribute 'dest-address' on <lane>" },
    { "two-plans",
      "<domain><metadata><p:plan xmlns:p='" NS "' id='x'>"
      "<p:source host='a' migration-address='198.19.0.1'/></p:plan>"
      "<q:plan xmlns:q='" NS "' id='y'><q:source host='a' migration-address='198.19.0.1'/>"
      "</q:plan></metadata></domain>", "more than one <plan>" },
    { "not-utf8", "<domain><name>\xff\xfe</name></domain>", "Cannot parse" },
};

START_TEST(test_hostile_domain_xml)
{
    g_autoptr(GError) error = NULL;
    VlMigrationPlan *plan = (VlMigrationPlan *) 0x1; /* must stay untouched */

    ck_assert(!vl_migration_plan_from_domain_xml(bad_domains[_i].xml,
                                                 strlen(bad_domains[_i].xml), &plan, &error));
    ck_assert(plan == (VlMigrationPlan *) 0x1);
    ck_assert_msg(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID), "%s: %s",
                  bad_domains[_i].name, error ? error->message : "no error");
    ck_assert_msg(strstr(error->message, bad_domains[_i].expect) != NULL,
                  "%s: '%s' lacks '%s'", bad_domains[_i].name, error->message,
                  bad_domains[_i].expect);
    ck_assert_msg(!strchr(error->message, '\n'), "%s: message spans lines",
                  bad_domains[_i].name);
}
END_TEST

START_TEST(test_huge_and_nul)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) huge = g_string_new("<domain><description>");
    const char with_nul[] = "<domain><name>a\0b</name></domain>";
    VlMigrationPlan *plan = NULL;
    gint64 t0 = g_get_monotonic_time();

    while (huge->len <= VL_METADATA_XML_MAX)
        g_string_append(huge, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    g_string_append(huge, "</description></domain>");
    ck_assert(!vl_migration_plan_from_domain_xml(huge->str, huge->len, &plan, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "too large"));
    g_clear_error(&error);

    ck_assert(!vl_migration_plan_from_domain_xml(with_nul, sizeof(with_nul) - 1, &plan, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "Cannot parse"));
    g_clear_error(&error);

    /* Deep nesting stops at libxml2's depth limit, with an error. */
    g_string_assign(huge, "<domain>");
    while (huge->len < 100000)
        g_string_append(huge, "<a>");
    ck_assert(!vl_migration_plan_from_domain_xml(huge->str, huge->len, &plan, &error));
    ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
    ck_assert_int_lt(g_get_monotonic_time() - t0, 10 * G_USEC_PER_SEC);
}
END_TEST

START_TEST(test_wrong_namespace_is_not_ours)
{
    /* A <plan> in another namespace, or in none, is someone else's. */
    const char *xml = "<domain><metadata>"
                      "<p:plan xmlns:p='https://virt-lanes.org/xmlns/plan/2.0' id='x'/>"
                      "<plan id='y'/>"
                      "<lanes:plan xmlns:lanes='" CNS "' id='z'/>"
                      "</metadata><plan xmlns='" NS "' id='outside-metadata'/></domain>";
    g_autoptr(GError) error = NULL;
    VlMigrationPlan *plan = (VlMigrationPlan *) 0x1;

    ck_assert_msg(vl_migration_plan_from_domain_xml(xml, strlen(xml), &plan, &error), "%s",
                  error ? error->message : "");
    ck_assert_ptr_null(plan);
}
END_TEST

START_TEST(test_container_tag)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *with_ns = vl_container_tag_format("web", TRUE, &error);
    g_autofree char *bare = vl_container_tag_format("web", FALSE, &error);
    g_autofree char *name = NULL;
    g_autofree char *name2 = NULL;
    g_autofree char *name3 = NULL;
    g_autofree char *bad = NULL;
    g_autofree char *domain = NULL;
    /* What virDomainGetMetadata returns: the element with a default ns. */
    const char *from_libvirt = "<container xmlns=\"" CNS "\" name=\"db-1.x\"/>";

    ck_assert_str_eq(with_ns, "<lanes:container xmlns:lanes='" CNS "' name='web'/>");
    ck_assert_str_eq(bare, "<container name='web'/>");
    name = vl_container_tag_parse(with_ns, strlen(with_ns), &error);
    ck_assert_str_eq(name, "web");
    name2 = vl_container_tag_parse(from_libvirt, strlen(from_libvirt), &error);
    ck_assert_str_eq(name2, "db-1.x");

    domain = g_strconcat(domain_head, "<metadata>", with_ns, "</metadata></domain>", NULL);
    ck_assert(vl_container_tag_from_domain_xml(domain, strlen(domain), &name3, &error));
    ck_assert_str_eq(name3, "web");

    bad = vl_container_tag_format("we b", TRUE, &error);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(error->message, "Invalid container name 'we b'"));
    g_clear_error(&error);

    /* Without our namespace, or with a bad or missing name. */
    ck_assert_ptr_null(vl_container_tag_parse("<container name='web'/>", 23, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "Expected a <container> element in namespace"));
    g_clear_error(&error);
    {
        const char *x = "<container xmlns='" CNS "' name='web;rm'/>";

        ck_assert_ptr_null(vl_container_tag_parse(x, strlen(x), &error));
        ck_assert_ptr_nonnull(strstr(error->message, "Invalid container name 'web;rm'"));
        g_clear_error(&error);
    }
    {
        const char *x = "<container xmlns='" CNS "'/>";

        ck_assert_ptr_null(vl_container_tag_parse(x, strlen(x), &error));
        ck_assert_ptr_nonnull(strstr(error->message, "Missing attribute 'name' on <container>"));
        g_clear_error(&error);
    }
    {
        const char *x = "<container xmlns='" CNS "' name='web'><x/></container>";

        ck_assert_ptr_null(vl_container_tag_parse(x, strlen(x), &error));
        ck_assert(g_error_matches(error, VL_ERROR, VL_ERROR_INVALID));
        g_clear_error(&error);
    }
}
END_TEST

START_TEST(test_plan_ids)
{
    ck_assert(vl_metadata_plan_id_is_valid("web-3.1738412345"));
    ck_assert(vl_metadata_plan_id_is_valid("a:b_c"));
    ck_assert(!vl_metadata_plan_id_is_valid(""));
    ck_assert(!vl_metadata_plan_id_is_valid("a/b"));
    ck_assert(!vl_metadata_plan_id_is_valid("a'b"));
    ck_assert(!vl_metadata_plan_id_is_valid("\xc3\xa9"));
    ck_assert(vl_metadata_plan_id_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    ck_assert(!vl_metadata_plan_id_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

static Suite *
metadata_suite(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc;

    tc = tcase_create("plan");
    tcase_add_test(tc, test_plan_round_trip);
    tcase_add_test(tc, test_plan_for_set_metadata);
    tcase_add_test(tc, test_plan_other_prefix_and_canonical);
    tcase_add_test(tc, test_plan_in_domain_xml);
    tcase_add_test(tc, test_insert_creates_metadata);
    tcase_add_test(tc, test_plan_format_refuses_bad_plan);
    tcase_add_test(tc, test_plan_ids);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_loop_test(tc, test_hostile_domain_xml, 0, G_N_ELEMENTS(bad_domains));
    tcase_add_test(tc, test_huge_and_nul);
    tcase_add_test(tc, test_wrong_namespace_is_not_ours);
    suite_add_tcase(s, tc);

    tc = tcase_create("container");
    tcase_add_test(tc, test_container_tag);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return vl_test_run_suite(metadata_suite());
}
