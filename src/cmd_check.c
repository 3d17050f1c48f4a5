// SPDX-License-Identifier: MIT
/*
 * cmd_check.c - zvd check: run the library's checker on an image opened
 * read-only and print every problem it reports. Exit 0 only when clean.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON };

static const struct cli_opt opts[] = {
	[OPT_JSON] = { "json", false },
	{ NULL, false },
};

/* Problems are printed as they come, or kept in text[] (n of them) for
 * the JSON document. */
struct problems {
	bool json;
	bool nomem;
	size_t n;
	size_t cap;
	char **text;
};

static void on_problem(void *arg, const char *problem)
{
	struct problems *p = arg;
	char **t;

	if (!p->json) {
		printf("%s\n", problem);
		p->n++;
		return;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		t = realloc(p->text, p->cap * sizeof(*t));
		if (!t) {
			p->nomem = true;
			return;
		}
		p->text = t;
	}
	p->text[p->n] = strdup(problem);
	if (!p->text[p->n])
		p->nomem = true;
	else
		p->n++;
}

static void print_json(const char *path, const struct problems *p,
		       int count)
{
	struct cli_json j;
	size_t i;

	cli_json_init(&j, stdout);
	cli_json_obj_begin(&j, NULL);
	cli_json_str(&j, "image", path);
	cli_json_bool(&j, "clean", count == 0);
	cli_json_u64(&j, "count", (uint64_t)count);
	cli_json_arr_begin(&j, "problems");
	for (i = 0; i < p->n; i++)
		cli_json_str(&j, NULL, p->text[i]);
	cli_json_arr_end(&j);
	cli_json_obj_end(&j);
	cli_json_done(&j);
}

static void free_problems(struct problems *p)
{
	size_t i;

	for (i = 0; p->text && i < p->n; i++)
		free(p->text[i]);
	free(p->text);
}

int cmd_check(int argc, char **argv)
{
	struct problems p = { 0 };
	struct zvd_backend *be;
	struct cli_args a;
	int rc, count;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_open_backend("check", a.pos[0], ZVD_FILE_READONLY, &be);
	if (rc)
		return rc;
	p.json = a.val[OPT_JSON] != NULL;
	count = zvd_check(be, on_problem, &p);
	zvd_backend_close(be);
	if (count < 0) {
		free_problems(&p);
		return cli_error("check", "%s: the image could not be checked: %s",
				 a.pos[0], strerror(-count));
	}
	if (p.nomem)
		rc = cli_error("check", "out of memory while listing problems");
	if (p.json)
		print_json(a.pos[0], &p, count);
	else if (count == 0)
		printf("clean\n");
	else
		printf("%d problem%s\n", count, count == 1 ? "" : "s");
	free_problems(&p);
	return count || rc ? CLI_EXIT_REFUSED : 0;
}
