// SPDX-License-Identifier: MIT
/*
 * cli_help.c - the help text of every zvd command. docs/zvd.1.md says
 * the same things at more length; tests/cli/help.sh checks that every
 * synopsis and option printed here appears there too.
 */
#include <string.h>

#include "cli.h"

struct cli_help {
	const char *name;
	const char *synopsis;
	const char *body;
};

static const struct cli_help helps[] = {
	{ "create",
	  "zvd create IMAGE [--size S] [--zone-size S] [--zone-capacity S] "
	  "[--conventional-zones N] [--block-size 512|4096] [--max-open N] "
	  "[--max-active N] [--max-append S]",
	  "Create a new zoned image in the file IMAGE (which must not exist).\n"
	  "Defaults: 4 GiB, 128 MiB zones of 124 MiB capacity, 4 KiB blocks,\n"
	  "12 open / 12 active zones, 1 MiB append limit, no conventional zones.\n"
	  "\n"
	  "  --size S                 device size, a whole number of zones\n"
	  "  --zone-size S            zone size (capacity follows it unless given)\n"
	  "  --zone-capacity S        writable bytes of each sequential zone\n"
	  "  --conventional-zones N   conventional zones at the start\n"
	  "  --block-size 512|4096    logical block size\n"
	  "  --max-open N             open zone limit (0 = none)\n"
	  "  --max-active N           active zone limit (0 = none)\n"
	  "  --max-append S           zone append limit (0 = the zone capacity)\n" },
	{ "info", "zvd info IMAGE [--json]",
	  "Show the geometry, the number of zones in each condition, the open\n"
	  "and active zone counts and the space the image uses.\n"
	  "\n"
	  "  --json                   print one JSON object\n" },
	{ "report",
	  "zvd report IMAGE [--json] [--zone N] [--filter all|empty|"
	  "implicit-open|explicit-open|closed|full|read-only|offline|"
	  "not-write-pointer]",
	  "List zones: index, type, condition, start, length, capacity, write\n"
	  "pointer (in bytes) and the counters written, writes, resets and\n"
	  "finishes. The write pointer of a read-only or offline zone is not\n"
	  "valid: '-' in the table, null in JSON.\n"
	  "\n"
	  "  --json                   print a JSON array of one object per zone\n"
	  "  --zone N                 only zone N\n"
	  "  --filter COND            only zones in condition COND\n" },
	{ "open", "zvd open IMAGE (N | --all)",
	  "Open zone N explicitly, or with --all every closed zone.\n" },
	{ "close", "zvd close IMAGE (N | --all)",
	  "Close zone N, or with --all every open zone.\n" },
	{ "finish", "zvd finish IMAGE (N | --all)",
	  "Finish zone N (make it full), or with --all every open or closed\n"
	  "zone.\n" },
	{ "reset", "zvd reset IMAGE (N | --all)",
	  "Reset zone N (make it empty and free its space), or with --all every\n"
	  "open, closed or full zone.\n" },
	{ "write",
	  "zvd write IMAGE N [--input FILE] [--offset O] [--pad] [--fua]",
	  "Write the input at zone N's write pointer, in pieces of 1 MiB, and\n"
	  "print the bytes written and the new write pointer. The input length\n"
	  "must be a multiple of the block size. All of it is durable when the\n"
	  "command succeeds.\n"
	  "\n"
	  "  --input FILE             read from FILE instead of standard input\n"
	  "  --offset O               absolute byte offset to write at; required\n"
	  "                           for a conventional zone\n"
	  "  --pad                    zero-pad the last block of the input\n"
	  "  --fua                    make each piece durable as it is written\n" },
	{ "append", "zvd append IMAGE N [--input FILE] [--pad] [--fua] [--json]",
	  "Zone-append the input (at most the append limit) to zone N and print\n"
	  "the byte offset where it landed.\n"
	  "\n"
	  "  --input FILE             read from FILE instead of standard input\n"
	  "  --pad                    zero-pad the last block of the input\n"
	  "  --fua                    durable before the append completes\n"
	  "  --json                   print {\"offset\": ..., \"length\": ...}\n" },
	{ "read", "zvd read IMAGE --offset O --length L [--output FILE]",
	  "Read L bytes at byte offset O (both multiples of the block size).\n"
	  "\n"
	  "  --offset O               where to start, in bytes\n"
	  "  --length L               how much to read, in bytes\n"
	  "  --output FILE            write to FILE (created or truncated)\n"
	  "                           instead of standard output\n" },
	{ "check", "zvd check IMAGE [--json]",
	  "Check an image without changing it: print each problem, then\n"
	  "'clean' or the number of problems. Exit status 0 only when clean.\n"
	  "\n"
	  "  --json                   print {\"clean\": ..., \"problems\": [...]}\n" },
	{ "fail", "zvd fail IMAGE N read-only|offline",
	  "Fault injection: put sequential zone N read-only (data kept) or\n"
	  "offline (data gone). Nothing comes back from offline.\n" },
	{ "help", "zvd help [COMMAND]", "Show help about zvd or a command.\n" },
};

#define NR_HELPS (sizeof(helps) / sizeof(helps[0]))

static const struct cli_help *find_help(const char *cmd)
{
	size_t i;

	for (i = 0; i < NR_HELPS; i++)
		if (!strcmp(helps[i].name, cmd))
			return &helps[i];
	return NULL;
}

static void print_overview(FILE *f)
{
	size_t i;

	fprintf(f,
		"zvd %s - emulated zoned block devices in a file\n"
		"\n"
		"usage:\n",
		ZVD_CLI_VERSION);
	for (i = 0; i < NR_HELPS; i++)
		fprintf(f, "  %s\n", helps[i].synopsis);
	fprintf(f,
		"  zvd --version\n"
		"\n"
		"Sizes and offsets are in bytes, with an optional binary suffix:\n"
		"K, M, G, T (or KiB, MiB, GiB, TiB). Errors go to standard error;\n"
		"the exit status is 0 on success, 1 when the device or the system\n"
		"refused, 2 for a wrong command line.\n"
		"Run 'zvd help COMMAND' or 'zvd COMMAND --help' for details.\n");
}

void cli_help_synopsis(const char *cmd, FILE *f)
{
	const struct cli_help *h = find_help(cmd);

	if (h)
		fprintf(f, "%s\n", h->synopsis);
}

int cli_help_print(const char *cmd, FILE *f)
{
	const struct cli_help *h;

	if (!cmd) {
		print_overview(f);
		return 0;
	}
	h = find_help(cmd);
	if (!h)
		return -1;
	fprintf(f, "usage: %s\n\n%s", h->synopsis, h->body);
	return 0;
}
