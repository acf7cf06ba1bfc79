/*
 * test_grade.c - the labs' grader keeps its promises (labs/grade.sh, labs/labtool.sh).
 *
 * Each test makes a tiny fake lab in its own temporary directory (LAB_DIR): a tests file whose
 * tests are shell scripts of kind `cmd` (exit 0 passes), so that what the "student code" does
 * (hang, flood, crash, not compile) is under the test's control, and GRADE_BUILD replaces the
 * build. No KVM is needed (GRADE_WHERE=host). Checked: a build that fails scores 0 everywhere
 * with the compiler's errors; a hanging test is killed at its limit and the rest still run; a
 * flood of output is capped; a crash names its signal; the total budget scores the tests it
 * leaves out 0; results.json is valid JSON in every one of those cases and after a SIGTERM.
 * And labtool.sh: a starter replaces lab N's region by its stub and strips other labs'
 * markers; check finds an unbalanced region. Run from the repository root (make does).
 * Textbook chapter 7 "For instructors", section "Grading".
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* A file in the fake lab. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* A fake lab: ok.sh, hang.sh, flood.sh, crash.sh and the given tests file. */
static const char *fake_lab(const char *tests)
{
	const char *dir = tmp_path("lab");
	mkdir(dir, 0755);
	put(dir, "ok.sh", "echo fine\n");
	put(dir, "hang.sh", "echo waiting; exec sleep 1000\n");
	put(dir, "flood.sh", "yes 'a line of flood'\n");
	put(dir, "crash.sh", "echo about to crash; kill -SEGV $$\n");
	put(dir, "fails.sh", "echo 'expected 3, got 4'; exit 1\n");
	put(dir, "bad.c", "int main(void) { return undeclared_thing; }\n");
	put(dir, "tests", tests);
	return dir;
}

/* The results.json is valid JSON (jq, or python3), with the fields Gradescope reads. */
static void assert_json(const char *json)
{
	struct hv_result r;
	char prog[1024];
	snprintf(prog, sizeof(prog),
		 "if command -v jq >/dev/null; then jq -e '(.score|type==\"number\") and "
		 "all(.tests[]; has(\"name\") and has(\"score\") and has(\"max_score\") and "
		 "has(\"output\") and has(\"visibility\"))' '%s'; else python3 -m json.tool '%s'; fi",
		 json, json);
	cmd_exec(&r, (const char *[]){ "sh", "-c", prog, NULL });
	cr_assert_eq(r.status, 0, "%s is not valid results.json: %s%s", json, r.out, r.err);
}

/* The value of a jq filter on the file (jq, else python3 is not tried: skip the detail). */
static void jq(char *out, size_t len, const char *json, const char *filter)
{
	struct hv_result r;
	char prog[1024];
	snprintf(prog, sizeof(prog), "jq -r '%s' '%s' 2>/dev/null || python3 -c 'print(\"no-jq\")'",
		 filter, json);
	cmd_exec(&r, (const char *[]){ "sh", "-c", prog, NULL });
	size_t n = strcspn(r.out, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, r.out, n);
	out[n] = 0;
}

static void grade(struct hv_result *r, const char *lab, const char *json, const char *build,
		  const char *budget)
{
	char e1[600], e2[600], e3[64];
	snprintf(e1, sizeof(e1), "LAB_DIR=%s", lab);
	snprintf(e2, sizeof(e2), "GRADE_BUILD=%s", build);
	snprintf(e3, sizeof(e3), "GRADE_BUDGET=%s", budget);
	cmd_exec_env(r, (const char *[]){ e1, e2, e3, "GRADE_WHERE=host", "GRADE_USER=", NULL },
		     (const char *[]){ "bash", "labs/grade.sh", "--hidden", "--json", json, NULL });
}

Test(grade, a_build_that_fails_scores_0_everywhere_with_the_compiler_errors)
{
	const char *lab = fake_lab("1 visible cmd ok.sh\n2 hidden cmd ok.sh\n");
	const char *json = tmp_path("r.json");
	char build[600], v[256];
	snprintf(build, sizeof(build), "cc -c -o %s/bad.o %s/bad.c", lab, lab);
	struct hv_result r;
	grade(&r, lab, json, build, "900");
	cr_assert_neq(r.status, 0);
	cr_assert(strstr(r.out, "undeclared_thing"), "no compiler error in the output: %s", r.out);
	cr_assert(strstr(r.out, "Score: 0/3"), "%s", r.out);
	assert_json(json);
	jq(v, sizeof(v), json, ".score");
	if (strcmp(v, "no-jq"))
		cr_assert_str_eq(v, "0");
	jq(v, sizeof(v), json, ".output | test(\"undeclared_thing\")");
	if (strcmp(v, "no-jq"))
		cr_assert_str_eq(v, "true");
}

Test(grade, a_hanging_test_is_killed_at_its_limit_and_the_rest_are_graded, .timeout = 60)
{
	const char *lab = fake_lab("1 visible cmd hang.sh timeout=2\n1 visible cmd ok.sh\n");
	const char *json = tmp_path("r.json");
	struct hv_result r;
	grade(&r, lab, json, "true", "900");
	cr_assert(strstr(r.out, "hang.sh: FAIL (timed out after 2 s)"), "%s", r.out);
	cr_assert(strstr(r.out, "ok.sh: OK ("), "%s", r.out);
	cr_assert(strstr(r.out, "Score: 1/2"), "%s", r.out);
	assert_json(json);
}

Test(grade, an_output_flood_is_capped_and_fails, .timeout = 60)
{
	const char *lab = fake_lab("1 visible cmd flood.sh\n1 visible cmd ok.sh\n");
	const char *json = tmp_path("r.json");
	struct hv_result r;
	grade(&r, lab, json, "true", "900");
	cr_assert(strstr(r.out, "flood.sh: FAIL (more than 64 KiB of output"), "%s", r.out);
	cr_assert(strstr(r.out, "Score: 1/2"), "%s", r.out);
	struct stat st;
	cr_assert_eq(stat(json, &st), 0);
	cr_assert_lt(st.st_size, 64 * 1024, "results.json is %lld bytes", (long long)st.st_size);
	assert_json(json);
}

Test(grade, a_crash_scores_0_and_names_the_signal)
{
	const char *lab = fake_lab("1 visible cmd crash.sh\n1 visible cmd fails.sh\n");
	const char *json = tmp_path("r.json");
	struct hv_result r;
	grade(&r, lab, json, "true", "900");
	cr_assert(strstr(r.out, "crash.sh: FAIL (crashed: killed by SIGSEGV)"), "%s", r.out);
	cr_assert(strstr(r.out, "fails.sh: FAIL (failed (exit status 1))"), "%s", r.out);
	cr_assert(strstr(r.out, "    expected 3, got 4"), "the failure's lines: %s", r.out);
	cr_assert(strstr(r.out, "Score: 0/2"), "%s", r.out);
	assert_json(json);
}

Test(grade, the_budget_scores_the_tests_it_leaves_out_0, .timeout = 60)
{
	const char *lab = fake_lab("1 visible cmd ok.sh\n1 visible cmd hang.sh\n1 hidden cmd ok.sh\n");
	const char *json = tmp_path("r.json");
	char v[256];
	struct hv_result r;
	grade(&r, lab, json, "true", "3");
	cr_assert(strstr(r.out, "hang.sh: FAIL (timed out after"), "%s", r.out);
	cr_assert(strstr(r.out, "ok.sh: FAIL (not started: the grading budget of 3 s"), "%s", r.out);
	cr_assert(strstr(r.out, "Score: 1/3"), "%s", r.out);
	assert_json(json);
	jq(v, sizeof(v), json, "[.tests[].visibility] | join(\",\")");
	if (strcmp(v, "no-jq"))
		cr_assert_str_eq(v, "visible,visible,after_published");
}

Test(grade, results_json_is_valid_after_a_sigterm_mid_run, .timeout = 60)
{
	const char *lab = fake_lab("1 visible cmd ok.sh\n1 visible cmd hang.sh\n1 visible cmd ok.sh\n");
	const char *json = tmp_path("r.json");
	char e1[600];
	snprintf(e1, sizeof(e1), "LAB_DIR=%s", lab);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int devnull = open("/dev/null", 1);
		dup2(devnull, 1);
		dup2(devnull, 2);
		setenv("LAB_DIR", lab, 1);
		setenv("GRADE_BUILD", "true", 1);
		setenv("GRADE_WHERE", "host", 1);
		setenv("GRADE_USER", "", 1);
		execlp("bash", "bash", "labs/grade.sh", "--json", json, (char *)NULL);
		_exit(127);
	}
	/* Until hang.sh runs: ok.sh's result is in the JSON. */
	for (int i = 0; i < 200; i++) {
		char v[256];
		jq(v, sizeof(v), json, ".tests[0].status");
		if (!strcmp(v, "passed") || !strcmp(v, "no-jq"))
			break;
		usleep(50000);
	}
	usleep(300000);
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "grade.sh went on after SIGTERM");
	assert_json(json);
	char v[256];
	jq(v, sizeof(v), json, "[.tests[].score] | map(tostring) | join(\",\")");
	if (strcmp(v, "no-jq"))
		cr_assert_str_eq(v, "1,0,0");
	jq(v, sizeof(v), json, ".tests[1].output | test(\"stopped\")");
	if (strcmp(v, "no-jq"))
		cr_assert_str_eq(v, "true");
	/* The hanging test's sleep went with it. */
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", "sleep 1; pgrep -x -f 'sleep 1000' || true", NULL });
	cr_assert_str_eq(r.out, "", "the test's process survived the grader: %s", r.out);
}

/* A git repository with one C file holding a lab 1 region and a lab 2 region. */
static const char *fake_repo(const char *c_text)
{
	const char *dir = tmp_path("repo");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/labs/01-one %s/labs/02-two/hidden %s/src && cd %s && git init -q . && "
		 "echo 'x' >labs/02-two/hidden/test_lab2.c && echo '# one' >labs/01-one/README.md && "
		 "echo '1 visible cmd ok.sh' >labs/01-one/tests",
		 dir, dir, dir, dir);
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", cmd, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	char src[600];
	snprintf(src, sizeof(src), "%s/src", dir);
	put(src, "f.c", c_text);
	snprintf(cmd, sizeof(cmd), "cd %s && git add -A && git -c user.name=t -c user.email=t@t "
		 "commit -qm one", dir);
	cmd_exec(&r, (const char *[]){ "sh", "-c", cmd, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	return dir;
}

#define TEN_LINES "\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n\tr++;\n"

Test(grade, labtool_starter_puts_the_stub_in_and_strips_other_labs_markers)
{
	const char *repo = fake_repo(
		"int f(int r)\n{\n"
		"\t/* LAB 1 BEGIN f: add ten */\n" TEN_LINES
		"\t/* LAB 1 STUB\n\t// TODO(lab 1): add ten\n\treturn -1;\n\tLAB 1 END */\n"
		"\t/* LAB 2 BEGIN g: ten more */\n" TEN_LINES
		"\t/* LAB 2 STUB\n\t// TODO(lab 2): ten more\n\tLAB 2 END */\n"
		"\treturn r;\n}\n");
	char cmd[8192], out[600];
	snprintf(out, sizeof(out), "%s", tmp_path("starter"));
	snprintf(cmd, sizeof(cmd), "cd %s && sh %s/labs/labtool.sh starter 1 %s && cat %s/src/f.c && "
		 "cat %s/labs/LAB && find %s/labs && git -C %s rev-list --count HEAD",
		 repo, getcwd((char[512]){ 0 }, 512), out, out, out, out, out);
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", cmd, NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\t// TODO(lab 1): add ten\n\treturn -1;\n\t\r++;") ||
			  strstr(r.out, "\t// TODO(lab 1): add ten\n\treturn -1;\n\tr++;"),
		  "lab 1's stub then lab 2's reference: %s", r.out);
	cr_assert_null(strstr(r.out, "LAB "), "a marker is left: %s", r.out);
	cr_assert_null(strstr(r.out, "hidden"), "labs/02-two/hidden was copied: %s", r.out);
	cr_assert(strstr(r.out, "}\n1\n"), "labs/LAB is not 1: %s", r.out);
	cr_assert(strlen(r.out) > 2 && !strcmp(r.out + strlen(r.out) - 3, "\n1\n"), "not one commit: %s", r.out);
}

Test(grade, labtool_check_finds_a_region_without_end_or_todo)
{
	const char *repo = fake_repo("int f(int r)\n{\n"
				     "\t/* LAB 1 BEGIN f: add ten */\n" TEN_LINES
				     "\t/* LAB 1 STUB\n\treturn -1;\n\tLAB 1 END */\n"
				     "\t/* LAB 1 BEGIN g: no end */\n" TEN_LINES "\treturn r;\n}\n");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd %s && O=/nonexistent sh %s/labs/labtool.sh check 1", repo,
		 getcwd((char[512]){ 0 }, 512));
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", cmd, NULL });
	cr_assert_neq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "has no \"TODO(lab 1):\" line"), "%s", r.out);
	cr_assert(strstr(r.out, "region \"g\" (line 17) has no END"), "%s", r.out);
	cr_assert(strstr(r.out, "kind \"cmd\" is not unit, integration or answer"), "%s", r.out);
}
