// SPDX-License-Identifier: MIT
/*
 * cli_json.c - a tiny streaming JSON printer for --json output: objects,
 * arrays, unsigned numbers, strings, booleans and null, indented two
 * spaces a level. The caller nests the calls correctly; keys are given
 * inside objects and NULL inside arrays.
 */
#include "cli.h"

void cli_json_init(struct cli_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma = false;
}

static void put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Start a value: separator, new line, indentation and key. */
static void start_value(struct cli_json *j, const char *key)
{
	if (j->need_comma)
		fputc(',', j->f);
	if (j->depth > 0)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	if (key) {
		put_string(j->f, key);
		fputs(": ", j->f);
	}
	j->need_comma = true;
}

static void open_container(struct cli_json *j, const char *key, char c)
{
	start_value(j, key);
	fputc(c, j->f);
	j->depth++;
	j->need_comma = false;
}

static void close_container(struct cli_json *j, char c)
{
	j->depth--;
	if (j->need_comma)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(c, j->f);
	j->need_comma = true;
}

void cli_json_obj_begin(struct cli_json *j, const char *key)
{
	open_container(j, key, '{');
}

void cli_json_obj_end(struct cli_json *j)
{
	close_container(j, '}');
}

void cli_json_arr_begin(struct cli_json *j, const char *key)
{
	open_container(j, key, '[');
}

void cli_json_arr_end(struct cli_json *j)
{
	close_container(j, ']');
}

void cli_json_u64(struct cli_json *j, const char *key, uint64_t v)
{
	start_value(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_double(struct cli_json *j, const char *key, double v)
{
	start_value(j, key);
	fprintf(j->f, "%.3f", v);
}

void cli_json_str(struct cli_json *j, const char *key, const char *s)
{
	start_value(j, key);
	put_string(j->f, s);
}

void cli_json_bool(struct cli_json *j, const char *key, bool v)
{
	start_value(j, key);
	fputs(v ? "true" : "false", j->f);
}

void cli_json_null(struct cli_json *j, const char *key)
{
	start_value(j, key);
	fputs("null", j->f);
}

void cli_json_done(struct cli_json *j)
{
	fputc('\n', j->f);
}
