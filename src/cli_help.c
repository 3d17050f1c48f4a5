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
	  "[--max-active N] [--max-append S] [--profile zns|null_blk] "
	  "[--backing BASE] | zvd create IMAGE --conventional [--size S]",
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
	  "  --max-append S           zone append limit (0 = the zone capacity)\n"
	  "  --profile zns|null_blk   whose zone behaviour to copy exactly\n"
	  "                           (default zns; see docs/PROFILES.md)\n"
	  "  --backing BASE           layer IMAGE over the image BASE, which it\n"
	  "                           reads through until written (takes BASE's\n"
	  "                           geometry; no geometry option with it)\n"
	  "  --conventional           create a volume instead: an ordinary\n"
	  "                           random-write disk of --size bytes (default\n"
	  "                           4 GiB, a multiple of 4096), thin and\n"
	  "                           log-structured (docs/VOLUMES.md)\n" },
	{ "set", "zvd set IMAGE --profile zns|null_blk",
	  "Change the image's zone-model profile: zns (the NVMe ZNS state\n"
	  "machine, QEMU's device where the specification leaves a choice) or\n"
	  "null_blk (Linux 6.12 null_blk, quirks included). Zone states are\n"
	  "kept; docs/PROFILES.md lists every difference.\n"
	  "\n"
	  "  --profile P              zns or null_blk\n" },
	{ "info", "zvd info IMAGE[@SNAPSHOT] [--json]",
	  "Show the geometry, the number of zones in each condition, the open\n"
	  "and active zone counts, the space the image uses, its backing image\n"
	  "and its snapshots (id, creation time, bytes only that snapshot\n"
	  "holds, clones depending on it). For a volume, the log instead of\n"
	  "zones: bytes written by users and rewritten by garbage collection,\n"
	  "write amplification, live data, segments.\n"
	  "\n"
	  "  --json                   print one JSON object\n" },
	{ "report",
	  "zvd report IMAGE[@SNAPSHOT] [--json] [--zone N] [--filter all|empty|"
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
	{ "read", "zvd read IMAGE[@SNAPSHOT] --offset O --length L [--output FILE]",
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
	{ "serve",
	  "zvd serve --ublk IMAGE [--queues N] [--depth D] [--id N] [--mem] "
	  "[--cache PATH [--cache-size S]] [--durable-remote] | "
	  "zvd serve --nbd IMAGE[@SNAPSHOT]... [--socket PATH | --tcp [HOST]:PORT] "
	  "[--readonly] [--tls off|on|require] [--tls-psk FILE | --tls-creds DIR "
	  "[--tls-verify-peer]] [--cache PATH [--cache-size S]] [--durable-remote]",
	  "--ublk: present IMAGE as a host-managed zoned block device /dev/ublkbN\n"
	  "(Linux ublk; needs root, Linux 6.6+ with zoned ublk, and a\n"
	  "power-of-two zone size). Prints the device path on standard output\n"
	  "once it is live; SIGINT or SIGTERM flushes the image, removes the\n"
	  "device and exits.\n"
	  "\n"
	  "--nbd: serve each IMAGE (or read-only snapshot IMAGE@SNAPSHOT) as an\n"
	  "NBD export named by its file name (vol.img, vol.img@s1; \"\" is the\n"
	  "first), on the Unix socket IMAGE.nbd.sock (mode 0600) next to the\n"
	  "first image unless told otherwise. Once listening it prints the\n"
	  "socket path (or HOST:PORT) and then one URI per export on standard\n"
	  "output. SIGINT or SIGTERM finishes the requests in flight, flushes\n"
	  "and closes the images, removes the socket and exits. See docs/NBD.md.\n"
	  "\n"
	  "  --ublk                   the front end: a ublk block device\n"
	  "  --queues N               hardware queues, one thread each\n"
	  "                           (default: CPUs, at most 4)\n"
	  "  --depth D                requests in flight per queue (default 64)\n"
	  "  --id N                   ublk device id (default: the kernel picks);\n"
	  "                           a dead device left with that id is removed\n"
	  "  --mem                    serve an in-memory copy of IMAGE (for\n"
	  "                           benchmarks; changes are lost at exit)\n"
	  "  --nbd                    the front end: an NBD server\n"
	  "  --socket PATH            listen on the Unix socket PATH\n"
	  "  --tcp [HOST]:PORT        listen on TCP instead (HOST default\n"
	  "                           127.0.0.1; PORT 0: any free port)\n"
	  "  --readonly               open every image read-only; needed to serve\n"
	  "                           an image together with its snapshots\n"
	  "  --tls off|on|require     TLS (STARTTLS): off (default), offered, or\n"
	  "                           required of every client (the default when\n"
	  "                           credentials are given)\n"
	  "  --tls-psk FILE           pre-shared keys, lines username:hexkey\n"
	  "                           (psktool's format)\n"
	  "  --tls-creds DIR          X.509: DIR/ca-cert.pem, server-cert.pem,\n"
	  "                           server-key.pem\n"
	  "  --tls-verify-peer        X.509: require a client certificate\n"
	  "  --cache PATH             an image on RADOS (rados://POOL/NAME): keep\n"
	  "                           its write-back log in the local file PATH\n"
	  "                           (created if missing); a flush returns once\n"
	  "                           it is durable there. Without it writes wait\n"
	  "                           in memory and a flush waits for the cluster\n"
	  "  --cache-size S           size of that log (default 1G); writes wait\n"
	  "                           when the cluster is that far behind\n"
	  "  --durable-remote         a flush also waits until the cluster has\n"
	  "                           everything up to it\n"
	  "                           signed by DIR/ca-cert.pem\n" },
	{ "up", "zvd up [IMAGE] [--queues N] [--depth D] [--id N]",
	  "Serve IMAGE (default ./zvd.img, created with the default geometry\n"
	  "if missing) with the best front end this host has: ublk. Without\n"
	  "ublk it says so and points to 'zvd vm'. Options as for serve.\n"
	  "\n"
	  "  --queues N               hardware queues, one thread each\n"
	  "  --depth D                requests in flight per queue\n"
	  "  --id N                   ublk device id\n" },
	{ "vm",
	  "zvd vm [IMAGE] [--run SCRIPT] [--nvme-zns SPEC] [--timeout S] "
	  "[--out DIR] [--share DIR[:PATH]] [--disk FILE] [--mem MIB] "
	  "[--cpus N] [--accel kvm|tcg|auto] [--verbose] [-- ARGS]",
	  "Boot Debian's Linux 6.12 (ublk, null_blk, nvme, f2fs, btrfs, nbd) in\n"
	  "QEMU with a busybox userland, blkzone, zbd, fio, mkfs.f2fs and\n"
	  "mkfs.btrfs; the source tree is shared at /host and this zvd is on the\n"
	  "guest's PATH. For hosts whose kernel has no ublk. Without --run: a\n"
	  "shell on the console, IMAGE's directory shared at the same path, so\n"
	  "'zvd serve --ublk IMAGE' works inside. The kernel and guest are\n"
	  "cached (ZVD_VM_CACHE, default /var/cache/zvd-vm); missing Debian\n"
	  "packages are installed when run as root. Runs scripts/vm/zvd-vm\n"
	  "(its --help lists every option).\n"
	  "\n"
	  "  --run SCRIPT             run SCRIPT in the guest, print its output and\n"
	  "                           exit with its status (124: timed out)\n"
	  "  --nvme-zns SPEC          add a QEMU NVMe ZNS namespace, SPEC like\n"
	  "                           size=256M,zone_size=4M,max_open=14\n"
	  "  --timeout S              power off after S seconds (default 900)\n"
	  "  --out DIR                host directory the guest sees as /vmrun\n"
	  "  --share DIR[:PATH]       share DIR at PATH (default the same path)\n"
	  "  --disk FILE              add FILE as a virtio disk\n"
	  "  --mem MIB                guest memory (default 2048)\n"
	  "  --cpus N                 virtual CPUs (default 2)\n"
	  "  --accel kvm|tcg|auto     accelerator (auto: KVM if it works)\n"
	  "  --verbose                show the kernel's boot messages\n" },
	{ "snapshot", "zvd snapshot create|delete IMAGE NAME | zvd snapshot list IMAGE [--json]",
	  "Take a snapshot NAME of everything written to IMAGE so far (data and\n"
	  "every zone's state), delete one (its space comes back), or list them:\n"
	  "id, name, creation time, bytes only that snapshot holds, clones.\n"
	  "Read a snapshot as IMAGE@NAME (read, report, info, convert export,\n"
	  "clone). NAME: 1 to 64 characters of A-Z a-z 0-9 . _ -, not starting\n"
	  "with '.' or '-'. On an image a server holds, the request goes to the\n"
	  "server through IMAGE.zvd-ctl.\n"
	  "\n"
	  "  --json                   list: print a JSON array\n" },
	{ "rollback", "zvd rollback IMAGE NAME",
	  "Make IMAGE read exactly as snapshot NAME does (data and zone states).\n"
	  "Every snapshot is kept. Refused while a server holds the image.\n" },
	{ "clone", "zvd clone IMAGE@NAME NEW",
	  "Create the image NEW, writable, reading as snapshot NAME of IMAGE and\n"
	  "sharing its data. The snapshot cannot be deleted while NEW exists.\n" },
	{ "rebase", "zvd rebase IMAGE --backing NEWBASE [--progress] [--quiet]",
	  "Make NEWBASE the backing image of IMAGE without changing what IMAGE\n"
	  "reads (what differs is copied into IMAGE first).\n"
	  "\n"
	  "  --backing NEWBASE        the new backing image\n"
	  "  --progress               show progress even when stderr is no terminal\n"
	  "  --quiet                  show no progress\n" },
	{ "flatten", "zvd flatten IMAGE [--progress] [--quiet]",
	  "Copy into IMAGE everything it reads from its backing image or origin,\n"
	  "and drop the dependency. What IMAGE reads does not change.\n"
	  "\n"
	  "  --progress               show progress even when stderr is no terminal\n"
	  "  --quiet                  show no progress\n" },
	{ "delete", "zvd delete IMAGE",
	  "Delete the image file IMAGE. A clone is first unregistered from its\n"
	  "origin. Refused while IMAGE is open or clones of its snapshots exist.\n" },
	{ "break-lock", "zvd break-lock rados://POOL/NAME",
	  "Break the lock on an image on RADOS whose server died (a live\n"
	  "server's lock lapses 30 s after it stops renewing it). The holder is\n"
	  "blocklisted first, so a server that is alive after all can write no\n"
	  "more. Prints who held the lock.\n" },
	{ "gc", "zvd gc IMAGE",
	  "Collect garbage now: give back the space no snapshot, clone or zone\n"
	  "references, compact the journal and shrink the file. (It also runs in\n"
	  "the background.)\n" },
	{ "convert",
	  "zvd convert import RAW IMAGE [create's geometry options | --conventional [--size S]] [--progress] [--quiet] | "
	  "zvd convert export IMAGE[@SNAPSHOT] RAW [--progress] [--quiet]",
	  "import: create IMAGE (which must not exist) from the raw file RAW, whose\n"
	  "byte X becomes the device's byte X (a disk image, or a QEMU ZNS data\n"
	  "file: give its geometry). Size: --size, or RAW's rounded up to whole\n"
	  "zones. A sequential zone's write pointer becomes the end of its last\n"
	  "non-zero block below the capacity; a zone left partly written is\n"
	  "closed, or finished when the active limit is reached. With\n"
	  "--conventional IMAGE is a volume (RAW's size rounded up to 4 KiB, or\n"
	  "--size) holding RAW's non-zero blocks.\n"
	  "export: write the image or snapshot to RAW (which must not exist) as a\n"
	  "sparse raw file of the device's size.\n"
	  "\n"
	  "  --size S ... --max-append S   import: as for create\n"
	  "  --conventional           import: make a volume (docs/VOLUMES.md)\n"
	  "  --progress               show progress even when stderr is no terminal\n"
	  "  --quiet                  show no progress\n" },
	{ "csd",
	  "zvd csd run IMAGE PROGRAM.o --zone N [--zones A-B] [--arg K=V]... "
	  "[--entry NAME] [--max-insns N] [--max-output S] [--allow-append] "
	  "[--trace] [--json] | zvd csd validate PROGRAM.o [--entry NAME] | "
	  "zvd csd conformance [MEMORY-HEX]",
	  "Computational storage: run an eBPF program (built with clang -target\n"
	  "bpf -O2, see include/zvd_bpf_helpers.h and examples/csd) next to the\n"
	  "data of zone N in a sandbox, and print its result records and what it\n"
	  "cost: instructions, helper calls, bytes read, returned and appended,\n"
	  "time. The program may read only the granted zones, up to their write\n"
	  "pointers, and touch only its own memory; a violation stops it with an\n"
	  "error (exit status 1), never harms the image.\n"
	  "\n"
	  "  --zone N                 the zone the program runs on (ctx->zone)\n"
	  "  --zones A-B              zones it may read (must include N; default N)\n"
	  "  --arg K=V                an argument for the program (repeatable)\n"
	  "  --entry NAME             the function to run (default: the one in\n"
	  "                           section \"csd\", or the only global one)\n"
	  "  --max-insns N            instruction budget (default 2^40)\n"
	  "  --max-output S           cap on returned bytes (default 1 MiB)\n"
	  "  --allow-append           let the program append to zone N (opens the\n"
	  "                           image read-write)\n"
	  "  --trace                  print the program's trace lines to stderr\n"
	  "  --json                   print {\"r0\", \"results\", \"cost\"}\n"
	  "\n"
	  "'validate' loads and checks a program without running it.\n"
	  "'conformance' is the bpf_conformance plugin: the program as hex on\n"
	  "standard input, the memory as hex in MEMORY-HEX; prints r0 in hex.\n" },
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
		"  zvd [--ceph-conf FILE] [--ceph-id NAME] [--keyring FILE] COMMAND ...\n"
		"\n"
		"An IMAGE named rados://POOL/NAME lives in a Ceph pool (see\n"
		"docs/RADOS.md); the options before the command say how to reach\n"
		"the cluster (else CEPH_CONF, CEPH_ID, CEPH_ARGS).\n"
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
