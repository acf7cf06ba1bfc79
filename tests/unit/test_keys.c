/*
 * test_keys.c - hvviz's key table: one meaning per key per view, help for every binding, and
 * the names scripts use.
 *
 * The key table (viz/keys.c) drives both the dispatcher and the help screen, so what these
 * tests prove about the table holds for what a student sees under `?`.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../viz/viz.h" /* hv/ has a viz.h of its own (hv run --viz) */

/* "No key does two things in one view": two bindings of one key may not both apply in the
 * same view, whether both are global, both belong to one view, or one is global and the
 * other a view's own (the view's would silently hide the global one there). */
Test(keys, no_key_does_two_things_in_one_view)
{
	for (size_t i = 0; i < viz_key_count; i++)
		for (size_t j = i + 1; j < viz_key_count; j++) {
			if (viz_keys[i].key != viz_keys[j].key)
				continue;
			int vi = viz_keys[i].view, vj = viz_keys[j].view;
			cr_assert(vi != vj && vi != VIEW_ANY && vj != VIEW_ANY,
				  "key '%s' is bound twice in one view (entries %zu and %zu)",
				  viz_keys[i].name, i, j);
		}
}

Test(keys, every_binding_has_a_name_and_a_help_line)
{
	for (size_t i = 0; i < viz_key_count; i++) {
		cr_assert(viz_keys[i].name && viz_keys[i].name[0], "entry %zu has no name", i);
		cr_assert(viz_keys[i].help && strlen(viz_keys[i].help) > 5, "'%s' has no help",
			  viz_keys[i].name);
		cr_assert(viz_keys[i].action > A_NONE && viz_keys[i].action < A_COUNT);
	}
}

/*
 * The help screen (viz/app.c) prints "%-14s %s": the keys of one action, then its help, inside
 * a frame of an 80-column screen, which leaves 80 - 4 = 76 columns. So a help text may have
 * 76 - 15 = 61 characters, and a view's own key also carries "Timeline: " in front. Longer,
 * the end of the sentence is clipped where a student cannot see it.
 */
Test(keys, every_help_line_fits_an_80_column_help_screen)
{
	for (size_t i = 0; i < viz_key_count; i++) {
		size_t prefix = viz_keys[i].view == VIEW_ANY ? 0 : strlen("Virtqueue: ");
		cr_assert_leq(strlen(viz_keys[i].help) + prefix, 61, "'%s': '%s' is too long",
			      viz_keys[i].name, viz_keys[i].help);
	}
}

/* The keys the issue names, with the meaning it gives them. */
Test(keys, the_documented_keys_do_what_the_issue_says)
{
	struct { int key; enum action act; } want[] = {
		{ ' ', A_NEXT }, { KEY_RIGHT, A_NEXT }, { 'l', A_NEXT }, { KEY_LEFT, A_PREV },
		{ 'h', A_PREV }, { KEY_UP, A_UP }, { 'k', A_UP }, { KEY_DOWN, A_DOWN }, { 'j', A_DOWN },
		{ 'g', A_GOTO }, { KEY_HOME, A_HOME }, { KEY_END, A_END }, { '/', A_SEARCH },
		{ 'n', A_SEARCH_NEXT }, { 'N', A_SEARCH_PREV }, { 'b', A_BREAK }, { 'c', A_CONTINUE },
		{ '?', A_HELP }, { 'q', A_QUIT }, { 27, A_CLOSE }, { '\t', A_VIEW_NEXT },
	};
	for (int v = 0; v < VIEW_COUNT; v++)
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
			cr_assert_eq(keys_lookup(want[i].key, v), want[i].act, "key %d in view %d",
				     want[i].key, v);
}

/* View-only keys work in their view and nowhere else. */
Test(keys, view_keys_apply_only_in_their_view)
{
	cr_assert_eq(keys_lookup('f', VIEW_TIMELINE), A_FILTER);
	cr_assert_eq(keys_lookup('f', VIEW_PATH), A_NONE);
	cr_assert_eq(keys_lookup(']', VIEW_VIRTQ), A_QUEUE_NEXT);
	cr_assert_eq(keys_lookup(']', VIEW_STATS), A_NONE);
	cr_assert_eq(keys_lookup('x', VIEW_PATH), A_NONE);
}

Test(keys, script_names_map_to_keys)
{
	cr_assert_eq(keys_code_of_name("Right"), KEY_RIGHT);
	cr_assert_eq(keys_code_of_name("tab"), '\t');
	cr_assert_eq(keys_code_of_name("Enter"), '\n');
	cr_assert_eq(keys_code_of_name("Esc"), 27);
	cr_assert_eq(keys_code_of_name("q"), 'q');
	cr_assert_eq(keys_code_of_name("T"), 'T');
	/* A word that is no key name is not a key: the caller types it letter by letter. */
	cr_assert_eq(keys_code_of_name("syscall"), -1);
}
