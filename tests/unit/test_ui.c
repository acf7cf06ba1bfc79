/*
 * test_ui.c - hvviz without colour: NO_COLOR and monochrome terminals keep every highlight.
 *
 * The rule is "never colour alone": each role must carry an attribute that shows on a
 * black-and-white terminal (reverse, bold, underline), and NO_COLOR (no-color.org: "present
 * and not an empty string") must turn colour off even where the terminal has it. And a
 * record's line cut to the window never shows a value cut short (ui_cut_at_word).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../viz/viz.h" /* hv/ has a vizlink.h, but keep the path explicit */

static SCREEN *screen_of(const char *term)
{
	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	cr_assert(out && in);
	SCREEN *s = newterm(term, out, in);
	cr_assert(s, "no terminfo entry for %s (ncurses-base)", term);
	return s;
}

static void end_screen(SCREEN *s)
{
	endwin();
	delscreen(s);
}

Test(ui, no_color_turns_colour_off_on_a_colour_terminal)
{
	SCREEN *s = screen_of("xterm-256color");
	struct app a = { 0 };
	setenv("NO_COLOR", "1", 1);
	ui_init_colors(&a);
	cr_assert_eq(a.color, 0, "NO_COLOR=1 must disable colour");
	unsetenv("NO_COLOR");
	setenv("NO_COLOR", "", 1);
	ui_init_colors(&a);
	cr_assert_eq(a.color, 1, "an empty NO_COLOR does not count (no-color.org)");
	unsetenv("NO_COLOR");
	end_screen(s);
}

Test(ui, a_monochrome_terminal_has_no_colour)
{
	/* vt100 has no colours at all (terminfo: no `colors` capability). */
	SCREEN *s = screen_of("vt100");
	struct app a = { 0 };
	unsetenv("NO_COLOR");
	ui_init_colors(&a);
	cr_assert_eq(a.color, 0);
	end_screen(s);
}

/* Without colour, every role that marks something still has a visible attribute, and the
 * current event is never drawn like a touched entry. */
Test(ui, every_highlight_has_an_attribute_without_colour)
{
	struct app a = { .color = 0 };
	enum ui_role marked[] = { UI_TITLE, UI_CURRENT, UI_TOUCHED, UI_ERROR, UI_HEADER };
	for (size_t i = 0; i < sizeof marked / sizeof marked[0]; i++) {
		attr_t at = ui_attr(&a, marked[i]);
		cr_assert(at & (A_REVERSE | A_BOLD | A_UNDERLINE), "role %d has no attribute", marked[i]);
		cr_assert_eq(at & A_COLOR, 0, "role %d uses a colour with colour off", marked[i]);
	}
	cr_assert_neq(ui_attr(&a, UI_CURRENT), ui_attr(&a, UI_TOUCHED));
}

/* Bars tell their two series apart by character, not colour. */
Test(ui, bars_differ_by_character)
{
	SCREEN *s = screen_of("xterm");
	resize_term(5, 40);
	struct app a = { .color = 0 };
	ui_bar(&a, stdscr, 0, 0, 10, 5, 10, UI_BAR_A);
	ui_bar(&a, stdscr, 1, 0, 10, 1, 1000, UI_BAR_B); /* tiny but not zero: one mark */
	ui_bar(&a, stdscr, 2, 0, 10, 0, 10, UI_BAR_A);
	char row[3][16];
	for (int y = 0; y < 3; y++)
		mvinnstr(y, 0, row[y], 10);
	cr_assert_str_eq(row[0], "#####     ");
	cr_assert_str_eq(row[1], "=         ");
	cr_assert_str_eq(row[2], "          ");
	end_screen(s);
}

/* The sysret of chapter 6's mark screen at 80 columns: "arg=0x12" must not become "arg=0". */
Test(ui, a_cut_record_line_ends_at_a_whole_field)
{
	char line[160] = "dump: 1594 86662.570 vcpu0 ring sysret prot32 0->3 vector=0x80 nr=4(write) "
			 "arg=0x12 task=1 rip=0x400033 flags=guest-clock";
	ui_cut_at_word(line, 80);
	cr_assert_str_eq(line, "dump: 1594 86662.570 vcpu0 ring sysret prot32 0->3 vector=0x80 "
			       "nr=4(write) ...");
	cr_assert_leq(strlen(line), 80);
	char fits[] = "dump: 0 113.008 vcpu0 run-call";
	ui_cut_at_word(fits, 80);
	cr_assert_str_eq(fits, "dump: 0 113.008 vcpu0 run-call", "a line that fits is left alone");
	char word[] = "0123456789012345678901234567890123456789"; /* no space: cut, still marked */
	ui_cut_at_word(word, 20);
	cr_assert_str_eq(word, "0123456789012345 ...");
}
