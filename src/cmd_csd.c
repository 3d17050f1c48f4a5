// SPDX-License-Identifier: MIT
/*
 * cmd_csd.c - zvd csd: computational storage, eBPF programs run next to
 * zone data (the library side is lib/csd, the API include/zvd_csd.h).
 *
 *   zvd csd run IMAGE PROGRAM.o --zone N [--zones A-B] [--arg K=V]...
 *   zvd csd validate PROGRAM.o [--entry NAME]
 *   zvd csd conformance [MEMORY-HEX]      (bpf_conformance plugin mode)
 *
 * Sections: reading files and hex; argument handling (--arg repeats, so
 * it is taken out of argv before cli_parse sees the rest); printing the
 * result records as text or JSON; the three subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zvd_bpf_helpers.h>
#include <zvd_csd.h>

#include "cli.h"

#define CSD_MAX_FILE (64u << 20)
#define CSD_MAX_ARGS 32
#define CSD_DEFAULT_OUT (1u << 20)

/* ---- files and hex ---- */

/* Read all of @fd (at most CSD_MAX_FILE bytes) into a malloc'd buffer. */
static int slurp_fd(int fd, uint8_t **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap), *nb;
	ssize_t r;

	if (!b)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= CSD_MAX_FILE) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = cli_read_full(fd, b + n, cap - n);
		if (r < 0) {
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = b;
	*len = n;
	return 0;
}

static int slurp(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = slurp_fd(fd, out, len);
	close(fd);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode hex digits (whitespace between bytes allowed) of @s[0..n) into
 * a malloc'd buffer. */
static int unhex(const char *s, size_t n, uint8_t **out, size_t *len)
{
	uint8_t *b = malloc(n / 2 + 8);
	size_t i = 0, k = 0;

	if (!b)
		return -ENOMEM;
	while (i < n) {
		int hi, lo;

		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = i + 1 < n ? hexval(s[i + 1]) : -1;
		if (hi < 0 || lo < 0) {
			free(b);
			return -EINVAL;
		}
		b[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	*out = b;
	*len = k;
	return 0;
}

/* ---- arguments ---- */

struct run_args {
	struct zvd_csd_kv kv[CSD_MAX_ARGS];
	char *store[CSD_MAX_ARGS];
	uint32_t n;
};

static void free_args(struct run_args *ra)
{
	uint32_t i;

	for (i = 0; i < ra->n; i++)
		free(ra->store[i]);
}

static int add_arg(struct run_args *ra, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *copy;

	if (!eq || eq == kv || eq - kv > ZVD_CSD_MAX_KEY)
		return cli_usage_error("csd", "--arg '%s': expected KEY=VALUE with a key of 1-%d bytes",
				       kv, ZVD_CSD_MAX_KEY);
	if (ra->n == CSD_MAX_ARGS)
		return cli_usage_error("csd", "more than %d --arg options",
				       CSD_MAX_ARGS);
	copy = strdup(kv);
	if (!copy)
		return cli_error("csd", "out of memory");
	copy[eq - kv] = 0;
	ra->store[ra->n] = copy;
	ra->kv[ra->n].key = copy;
	ra->kv[ra->n].value = copy + (eq - kv) + 1;
	ra->n++;
	return 0;
}

/* Move every --arg K=V (or --arg=K=V) of argv into @ra; @argv keeps the
 * rest, in order. Returns 0 or an exit code. */
static int take_args(int *argc, char **argv, struct run_args *ra)
{
	int i, k = 0, rc;

	for (i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[k++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--arg")) {
			if (i + 1 >= *argc)
				return cli_usage_error("csd", "--arg needs a value");
			rc = add_arg(ra, argv[++i]);
		} else if (!strncmp(argv[i], "--arg=", 6)) {
			rc = add_arg(ra, argv[i] + 6);
		} else {
			argv[k++] = argv[i];
			rc = 0;
		}
		if (rc)
			return rc;
	}
	*argc = k;
	return 0;
}

/* "A-B" or "A" into a first zone and a count. */
static int parse_zones(const char *s, uint32_t *first, uint32_t *nr)
{
	const char *dash = strchr(s, '-'), *why;
	uint32_t a, b;
	char buf[32];

	if (!dash)
		return cli_arg_u32("csd", "--zones", s, first) ? -1
							       : (*nr = 1, 0);
	if ((size_t)(dash - s) >= sizeof(buf))
		goto bad;
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = 0;
	if (cli_parse_u32(buf, &a, &why) || cli_parse_u32(dash + 1, &b, &why) ||
	    b < a)
		goto bad;
	*first = a;
	*nr = b - a + 1;
	return 0;
bad:
	cli_usage_error("csd", "--zones '%s': expected A-B with A <= B", s);
	return -1;
}

/* ---- printing results ---- */

static void json_string(FILE *f, const char *s, size_t n)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Print a record's value: numbers space-separated (text) or as a JSON
 * array, text as a string, bytes as hex. */
static void print_value(FILE *f, const struct zvd_csd_record *r, bool json)
{
	const uint8_t *v = r->val;
	uint32_t i;

	if (r->type == ZVD_CSD_REC_STR) {
		if (json)
			json_string(f, (const char *)v, r->val_len);
		else
			fprintf(f, "%.*s", (int)r->val_len, (const char *)v);
		return;
	}
	if (r->type == ZVD_CSD_REC_BYTES) {
		fputs(json ? "\"" : "", f);
		for (i = 0; i < r->val_len; i++)
			fprintf(f, "%02x", v[i]);
		fputs(json ? "\"" : "", f);
		return;
	}
	fputs(json ? "[" : "", f);
	for (i = 0; i + 8 <= r->val_len; i += 8) {
		uint64_t x;

		memcpy(&x, v + i, 8);
		fputs(i ? (json ? ", " : " ") : "", f);
		if (r->type == ZVD_CSD_REC_I64)
			fprintf(f, "%" PRId64, (int64_t)x);
		else
			fprintf(f, "%" PRIu64, x);
	}
	fputs(json ? "]" : "", f);
}

static int print_records(FILE *f, const void *out, size_t len, bool json)
{
	struct zvd_csd_record r;
	size_t pos = 0;
	bool first = true;
	int rc;

	while ((rc = zvd_csd_record_next(out, len, &pos, &r)) > 0) {
		if (json) {
			fputs(first ? "\n    " : ",\n    ", f);
			json_string(f, r.key, r.key_len);
			fputs(": ", f);
		} else {
			fprintf(f, "%.*s: ", (int)r.key_len, r.key);
		}
		print_value(f, &r, json);
		if (!json)
			fputc('\n', f);
		first = false;
	}
	if (json)
		fputs(first ? "" : "\n  ", f);
	return rc;
}

static void print_cost_text(const struct zvd_csd_result *res)
{
	printf("cost: %" PRIu64 " instructions, %" PRIu64 " helper calls, %"
	       PRIu64 " bytes read, %" PRIu64 " bytes returned, %" PRIu64
	       " bytes appended, %.3f ms\n",
	       res->insns, res->helper_calls, res->bytes_read,
	       res->bytes_returned, res->bytes_appended, res->ns / 1e6);
}

static void print_cost_json(const struct zvd_csd_result *res)
{
	printf("  \"cost\": {\"instructions\": %" PRIu64
	       ", \"helper_calls\": %" PRIu64 ", \"bytes_read\": %" PRIu64
	       ", \"bytes_returned\": %" PRIu64 ", \"bytes_appended\": %" PRIu64
	       ", \"trace_lines\": %" PRIu64 ", \"ns\": %" PRIu64 "}\n",
	       res->insns, res->helper_calls, res->bytes_read,
	       res->bytes_returned, res->bytes_appended, res->trace_lines,
	       res->ns);
}

static int print_result(const struct zvd_csd_result *res, const void *out,
			bool json)
{
	int rc;

	if (!json) {
		printf("r0: %" PRIu64 " (0x%" PRIx64 ")\n", res->r0, res->r0);
		rc = print_records(stdout, out, res->bytes_returned, false);
		print_cost_text(res);
		return rc;
	}
	printf("{\n  \"r0\": %" PRIu64 ",\n  \"results\": {", res->r0);
	rc = print_records(stdout, out, res->bytes_returned, true);
	printf("},\n");
	print_cost_json(res);
	printf("}\n");
	return rc;
}

static void trace_line(void *arg, const char *msg, uint64_t value)
{
	fprintf(stderr, "trace: %s %" PRIu64 " (0x%" PRIx64 ")\n", msg, value,
		value);
}

/* ---- loading ---- */

static int load_prog(const char *path, const char *entry,
		     struct zvd_csd_prog **prog)
{
	struct zvd_csd_diag d = { 0 };
	size_t len;
	uint8_t *elf;
	int rc = slurp(path, &elf, &len);

	if (rc)
		return cli_error("csd", "%s: %s", path, strerror(-rc));
	rc = zvd_csd_prog_load_elf(elf, len, entry, prog, &d);
	free(elf);
	if (rc)
		return cli_error("csd", "%s: %s", path, d.msg);
	return 0;
}

/* ---- zvd csd run ---- */

enum {
	OPT_ZONE, OPT_ZONES, OPT_ENTRY, OPT_MAX_INSNS, OPT_MAX_OUTPUT,
	OPT_ALLOW_APPEND, OPT_TRACE, OPT_JSON,
};

static const struct cli_opt run_opts[] = {
	[OPT_ZONE] = { "zone", true },
	[OPT_ZONES] = { "zones", true },
	[OPT_ENTRY] = { "entry", true },
	[OPT_MAX_INSNS] = { "max-insns", true },
	[OPT_MAX_OUTPUT] = { "max-output", true },
	[OPT_ALLOW_APPEND] = { "allow-append", false },
	[OPT_TRACE] = { "trace", false },
	[OPT_JSON] = { "json", false },
	{ NULL, false },
};

/* Fill @o from the parsed command line. Returns 0 or an exit code. */
static int run_options(const struct cli_args *a, struct zvd_csd_run_opts *o)
{
	uint64_t v;

	if (!a->val[OPT_ZONE])
		return cli_usage_error("csd", "--zone is required");
	if (cli_arg_u32("csd", "--zone", a->val[OPT_ZONE], &o->zone))
		return CLI_EXIT_USAGE;
	if (a->val[OPT_ZONES] &&
	    parse_zones(a->val[OPT_ZONES], &o->first_zone, &o->nr_zones))
		return CLI_EXIT_USAGE;
	if (a->val[OPT_ZONES] && (o->zone < o->first_zone ||
				  o->zone - o->first_zone >= o->nr_zones))
		return cli_usage_error("csd", "--zone %u is not inside --zones %s",
				       o->zone, a->val[OPT_ZONES]);
	if (a->val[OPT_MAX_INSNS]) {
		if (cli_arg_size("csd", "--max-insns", a->val[OPT_MAX_INSNS], &v))
			return CLI_EXIT_USAGE;
		if (!v)
			return cli_usage_error("csd", "--max-insns must be at least 1");
		o->max_insns = v;
	}
	o->out_cap = CSD_DEFAULT_OUT;
	if (a->val[OPT_MAX_OUTPUT]) {
		if (cli_arg_size("csd", "--max-output", a->val[OPT_MAX_OUTPUT], &v))
			return CLI_EXIT_USAGE;
		if (v > CSD_MAX_FILE)
			return cli_usage_error("csd", "--max-output is over 64 MiB");
		o->out_cap = v;
	}
	if (a->val[OPT_ALLOW_APPEND])
		o->flags |= ZVD_CSD_GRANT_APPEND;
	if (a->val[OPT_TRACE])
		o->trace = trace_line;
	return 0;
}

static int do_run(struct zvd_dev *dev, const struct zvd_csd_prog *prog,
		  struct zvd_csd_run_opts *o, bool json)
{
	struct zvd_csd_result res;
	struct zvd_csd_diag d;
	int rc;

	o->out = malloc(o->out_cap ? o->out_cap : 1);
	if (!o->out)
		return cli_error("csd", "out of memory");
	rc = zvd_csd_run(prog, dev, o, &res, &d);
	if (rc) {
		rc = cli_error("csd", "program stopped: %s (%s); %" PRIu64
			       " instructions run",
			       d.msg, strerror(-rc), res.insns);
	} else if (print_result(&res, o->out, json) < 0) {
		rc = cli_error("csd", "the program's result records are malformed");
	}
	free(o->out);
	return rc;
}

static int csd_run(int argc, char **argv)
{
	struct zvd_csd_run_opts o = { 0 };
	struct zvd_csd_prog *prog = NULL;
	struct run_args ra = { .n = 0 };
	struct zvd_dev *dev = NULL;
	struct cli_args a;
	int rc, rc2;

	rc = take_args(&argc, argv, &ra);
	if (rc)
		goto out;
	rc = cli_parse(argc, argv, run_opts, 2, 2, &a);
	if (rc) {
		rc = rc > 0 ? 0 : CLI_EXIT_USAGE;
		goto out;
	}
	rc = run_options(&a, &o);
	if (rc)
		goto out;
	o.args = ra.kv;
	o.nr_args = ra.n;
	rc = load_prog(a.pos[1], a.val[OPT_ENTRY], &prog);
	if (rc)
		goto out;
	rc = cli_open("csd", a.pos[0], !(o.flags & ZVD_CSD_GRANT_APPEND), &dev);
	if (rc)
		goto out;
	rc = do_run(dev, prog, &o, a.val[OPT_JSON] != NULL);
	rc2 = cli_close("csd", dev);
	rc = rc ? rc : rc2;
out:
	zvd_csd_prog_free(prog);
	free_args(&ra);
	return rc;
}

/* ---- zvd csd validate ---- */

static const struct cli_opt validate_opts[] = {
	{ "entry", true },
	{ NULL, false },
};

static int csd_validate(int argc, char **argv)
{
	struct zvd_csd_prog *prog;
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, validate_opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = load_prog(a.pos[0], a.val[0], &prog);
	if (rc)
		return rc;
	printf("%s: valid, %u instruction slots\n", a.pos[0],
	       zvd_csd_prog_len(prog));
	zvd_csd_prog_free(prog);
	return 0;
}

/* ---- zvd csd conformance ---- */

/*
 * The bpf_conformance plugin protocol: the program as hex on standard
 * input, the memory as hex in the first argument; print r0 in hex.
 */
static int csd_conformance(int argc, char **argv)
{
	struct zvd_csd_prog *prog = NULL;
	struct zvd_csd_result res;
	struct zvd_csd_diag d = { 0 };
	uint8_t *text = NULL, *code = NULL, *mem = NULL;
	size_t tlen, clen, mlen = 0;
	int rc;

	if (argc > 2)
		return cli_usage_error("csd", "conformance takes one argument: the memory in hex");
	rc = slurp_fd(0, &text, &tlen);
	if (!rc)
		rc = unhex((const char *)text, tlen, &code, &clen);
	if (!rc)
		rc = unhex(argc == 2 ? argv[1] : "",
			   argc == 2 ? strlen(argv[1]) : 0, &mem, &mlen);
	if (rc) {
		rc = cli_error("csd", "conformance: bad input: %s", strerror(-rc));
		goto out;
	}
	rc = zvd_csd_prog_load_raw(code, clen, &prog, &d);
	if (!rc)
		rc = zvd_csd_exec(prog, mlen ? mem : NULL, mlen, 0, &res, &d);
	if (rc) {
		rc = cli_error("csd", "conformance: %s", d.msg);
		goto out;
	}
	printf("%" PRIx64 "\n", res.r0);
out:
	zvd_csd_prog_free(prog);
	free(text);
	free(code);
	free(mem);
	return rc;
}

int cmd_csd(int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (!sub)
		return cli_usage_error("csd", "missing subcommand (run, validate or conformance)");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		cli_help_print("csd", stdout);
		return 0;
	}
	argv[1] = argv[0]; /* messages and --help name "csd" */
	if (!strcmp(sub, "run"))
		return csd_run(argc - 1, argv + 1);
	if (!strcmp(sub, "validate"))
		return csd_validate(argc - 1, argv + 1);
	if (!strcmp(sub, "conformance"))
		return csd_conformance(argc - 1, argv + 1);
	return cli_usage_error("csd", "unknown subcommand '%s'", sub);
}
