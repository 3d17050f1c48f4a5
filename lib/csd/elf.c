// SPDX-License-Identifier: MIT
/*
 * elf.c - the loader of eBPF ELF objects as `clang -target bpf -O2`
 * writes them (ELF64, little-endian, ET_REL, EM_BPF, SHT_REL relocations).
 *
 * Sections: bounds-checked access to the file; classifying sections
 * (code, writable data, read-only data, ignored); laying out code and
 * data; relocations (R_BPF_64_64 for lddw of data addresses, R_BPF_64_32
 * for bpf-to-bpf calls); finding the entry; putting it together.
 *
 * Every offset, size, index and string read from the file is checked
 * before use: the file is outside input. Code sections are concatenated
 * unchanged (so pc-relative calls inside a section stay valid); data
 * sections are copied into images the VM owns and lddw immediates become
 * guest addresses (region << 32 | offset).
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif
#define R_BPF_NONE 0
#define R_BPF_64_64 1
#define R_BPF_64_32 10

#define MAX_SECTIONS 4096u

enum sec_kind { SEC_IGNORE, SEC_CODE, SEC_DATA, SEC_RODATA };

struct sec {
	const Elf64_Shdr *sh;
	const char *name;
	enum sec_kind kind;
	uint32_t base;	/* code: first slot; data: offset in its image */
};

struct loader {
	const uint8_t *file;
	size_t len;
	const Elf64_Ehdr *eh;
	struct sec *secs;
	uint32_t nsecs;
	const Elf64_Sym *syms;
	uint32_t nsyms;
	const char *strtab;
	size_t strtab_len;
	struct csd_insn *code;
	uint32_t nslots;
	uint8_t *data, *rodata;
	uint32_t data_len, rodata_len;
	struct zvd_csd_diag *diag;
};

#define FAIL(l, ...) csd_diag((l)->diag, -EINVAL, UINT32_MAX, __VA_ARGS__)

/* ---- bounds-checked access ---- */

static bool in_file(const struct loader *l, uint64_t off, uint64_t size)
{
	return off <= l->len && size <= l->len - off;
}

/* NUL-terminated string at @off of a table of @len bytes, or NULL. */
static const char *str_at(const char *tab, size_t len, uint64_t off)
{
	if (!tab || off >= len || !memchr(tab + off, 0, len - off))
		return NULL;
	return tab + off;
}

static int check_header(struct loader *l)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)l->file;

	if (l->len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return FAIL(l, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return FAIL(l, "not a 64-bit little-endian ELF file");
	if (eh->e_type != ET_REL || eh->e_machine != EM_BPF)
		return FAIL(l, "not an eBPF object (ET_REL, EM_BPF)");
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || !eh->e_shnum ||
	    eh->e_shnum > MAX_SECTIONS ||
	    !in_file(l, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) ||
	    eh->e_shoff % 8)
		return FAIL(l, "bad section header table");
	if (eh->e_shstrndx >= eh->e_shnum)
		return FAIL(l, "bad section name table index");
	l->eh = eh;
	return 0;
}

/* ---- classifying sections ---- */

static enum sec_kind classify(const Elf64_Shdr *sh)
{
	if (!(sh->sh_flags & SHF_ALLOC))
		return SEC_IGNORE;
	if (sh->sh_flags & SHF_EXECINSTR)
		return sh->sh_type == SHT_PROGBITS ? SEC_CODE : SEC_IGNORE;
	if (sh->sh_type != SHT_PROGBITS && sh->sh_type != SHT_NOBITS)
		return SEC_IGNORE;
	return sh->sh_flags & SHF_WRITE ? SEC_DATA : SEC_RODATA;
}

static int read_sections(struct loader *l)
{
	const Elf64_Shdr *shs = (const Elf64_Shdr *)(l->file + l->eh->e_shoff);
	const Elf64_Shdr *names = &shs[l->eh->e_shstrndx];
	const char *ntab;
	uint32_t i;

	if (names->sh_type != SHT_STRTAB ||
	    !in_file(l, names->sh_offset, names->sh_size))
		return FAIL(l, "bad section name table");
	ntab = (const char *)l->file + names->sh_offset;
	l->nsecs = l->eh->e_shnum;
	l->secs = calloc(l->nsecs, sizeof(*l->secs));
	if (!l->secs)
		return csd_diag(l->diag, -ENOMEM, UINT32_MAX, "out of memory");
	for (i = 0; i < l->nsecs; i++) {
		struct sec *s = &l->secs[i];

		s->sh = &shs[i];
		s->name = str_at(ntab, names->sh_size, shs[i].sh_name);
		if (!s->name)
			return FAIL(l, "section %u: bad name", i);
		if (shs[i].sh_type != SHT_NOBITS && shs[i].sh_type != SHT_NULL &&
		    !in_file(l, shs[i].sh_offset, shs[i].sh_size))
			return FAIL(l, "section %s lies outside the file",
				    s->name);
		s->kind = classify(&shs[i]);
		if (!strcmp(s->name, ".maps") || !strcmp(s->name, "maps"))
			return FAIL(l, "maps are not supported (section %s)",
				    s->name);
	}
	return 0;
}

static int read_symbols(struct loader *l)
{
	const Elf64_Shdr *sh = NULL, *st;
	uint32_t i;

	for (i = 0; i < l->nsecs; i++) {
		if (l->secs[i].sh->sh_type != SHT_SYMTAB)
			continue;
		if (sh)
			return FAIL(l, "more than one symbol table");
		sh = l->secs[i].sh;
	}
	if (!sh)
		return FAIL(l, "no symbol table");
	if (sh->sh_entsize != sizeof(Elf64_Sym) ||
	    sh->sh_size % sizeof(Elf64_Sym) || sh->sh_offset % 8 ||
	    sh->sh_link >= l->nsecs)
		return FAIL(l, "bad symbol table");
	st = l->secs[sh->sh_link].sh;
	if (st->sh_type != SHT_STRTAB)
		return FAIL(l, "bad symbol string table");
	l->syms = (const Elf64_Sym *)(l->file + sh->sh_offset);
	l->nsyms = (uint32_t)(sh->sh_size / sizeof(Elf64_Sym));
	l->strtab = (const char *)l->file + st->sh_offset;
	l->strtab_len = st->sh_size;
	return 0;
}

/* ---- laying out code and data ---- */

static int layout(struct loader *l)
{
	uint64_t slots = 0, data = 0, ro = 0;
	uint32_t i;

	for (i = 0; i < l->nsecs; i++) {
		struct sec *s = &l->secs[i];
		uint64_t size = s->sh->sh_size;

		if (s->kind != SEC_IGNORE && size > ZVD_CSD_MAX_DATA)
			return csd_diag(l->diag, -E2BIG, UINT32_MAX,
					"section %s is too large", s->name);
		switch (s->kind) {
		case SEC_CODE:
			if (size % 8)
				return FAIL(l, "code section %s is not a whole number of slots",
					    s->name);
			s->base = (uint32_t)slots;
			slots += size / 8;
			if (slots > ZVD_CSD_MAX_INSNS)
				return csd_diag(l->diag, -E2BIG, UINT32_MAX,
						"over %u instruction slots",
						ZVD_CSD_MAX_INSNS);
			break;
		case SEC_DATA:
			s->base = (uint32_t)data;
			data = (data + size + 7) & ~7ull;
			if (data > ZVD_CSD_MAX_DATA)
				return csd_diag(l->diag, -E2BIG, UINT32_MAX,
						"over %u bytes of data",
						ZVD_CSD_MAX_DATA);
			break;
		case SEC_RODATA:
			s->base = (uint32_t)ro;
			ro = (ro + size + 7) & ~7ull;
			if (ro > ZVD_CSD_MAX_RODATA)
				return csd_diag(l->diag, -E2BIG, UINT32_MAX,
						"over %u bytes of read-only data",
						ZVD_CSD_MAX_RODATA);
			break;
		default:
			break;
		}
	}
	if (!slots)
		return FAIL(l, "no code");
	l->nslots = (uint32_t)slots;
	l->data_len = (uint32_t)data;
	l->rodata_len = (uint32_t)ro;
	return 0;
}

static int copy_sections(struct loader *l)
{
	uint32_t i;

	l->code = malloc((size_t)l->nslots * sizeof(*l->code));
	l->data = l->data_len ? calloc(1, l->data_len) : NULL;
	l->rodata = l->rodata_len ? calloc(1, l->rodata_len) : NULL;
	if (!l->code || (l->data_len && !l->data) ||
	    (l->rodata_len && !l->rodata))
		return csd_diag(l->diag, -ENOMEM, UINT32_MAX, "out of memory");
	for (i = 0; i < l->nsecs; i++) {
		const struct sec *s = &l->secs[i];
		const uint8_t *src;
		size_t n = s->sh->sh_size;

		/* only the sections copied were checked to lie in the file:
		 * form no pointer from any other's sh_offset */
		if (s->kind != SEC_CODE && s->kind != SEC_DATA &&
		    s->kind != SEC_RODATA)
			continue;
		if (s->sh->sh_type == SHT_NOBITS || !n)
			continue; /* zero-filled by calloc */
		src = l->file + s->sh->sh_offset;
		if (s->kind == SEC_CODE)
			memcpy(l->code + s->base, src, n);
		else if (s->kind == SEC_DATA)
			memcpy(l->data + s->base, src, n);
		else if (s->kind == SEC_RODATA)
			memcpy(l->rodata + s->base, src, n);
	}
	return 0;
}

/* ---- relocations ---- */

static const char *sym_name(const struct loader *l, const Elf64_Sym *sym)
{
	const char *n = str_at(l->strtab, l->strtab_len, sym->st_name);

	return n && *n ? n : "(unnamed)";
}

/* The section a symbol is defined in, or NULL after a diagnostic. */
static const struct sec *sym_sec(struct loader *l, const Elf64_Sym *sym)
{
	if (sym->st_shndx == SHN_UNDEF) {
		FAIL(l, "undefined symbol %s", sym_name(l, sym));
		return NULL;
	}
	if (sym->st_shndx >= l->nsecs) {
		FAIL(l, "symbol %s has no usable section", sym_name(l, sym));
		return NULL;
	}
	return &l->secs[sym->st_shndx];
}

/* lddw of a data address: imm halves become the guest address. */
static int reloc_lddw(struct loader *l, uint32_t pc, uint64_t room,
		      const Elf64_Sym *sym)
{
	struct csd_insn *i = &l->code[pc];
	const struct sec *s = sym_sec(l, sym);
	uint64_t off, addr;

	if (!s)
		return -EINVAL;
	if (i->op != 0x18 || room < 16)
		return FAIL(l, "slot %u: R_BPF_64_64 on something other than lddw",
			    pc);
	if (s->kind != SEC_DATA && s->kind != SEC_RODATA)
		return FAIL(l, "slot %u: address of %s (only data addresses are supported)",
			    pc, sym_name(l, sym));
	off = sym->st_value + (uint32_t)i->imm;
	if (sym->st_value > s->sh->sh_size || off > s->sh->sh_size)
		return FAIL(l, "slot %u: address outside section %s", pc,
			    s->name);
	addr = CSD_ADDR(s->kind == SEC_DATA ? CSD_R_DATA : CSD_R_RODATA,
			s->base + off);
	i->imm = (int32_t)(uint32_t)addr;
	i[1].imm = (int32_t)(uint32_t)(addr >> 32);
	return 0;
}

/* bpf-to-bpf call: the target slot is the symbol's slot + imm + 1. */
static int reloc_call(struct loader *l, uint32_t pc, const Elf64_Sym *sym)
{
	struct csd_insn *i = &l->code[pc];
	const struct sec *s = sym_sec(l, sym);
	int64_t target;

	if (!s)
		return -EINVAL;
	if (i->op != 0x85 || CSD_SRC(i) != CSD_CALL_LOCAL)
		return FAIL(l, "slot %u: R_BPF_64_32 on something other than a local call",
			    pc);
	if (s->kind != SEC_CODE || sym->st_value % 8 ||
	    sym->st_value >= s->sh->sh_size)
		return FAIL(l, "slot %u: call to %s, which is not code", pc,
			    sym_name(l, sym));
	target = (int64_t)(s->base + sym->st_value / 8) + i->imm + 1;
	if (target < s->base || target >= s->base + (int64_t)(s->sh->sh_size / 8))
		return FAIL(l, "slot %u: call target outside section %s", pc,
			    s->name);
	i->imm = (int32_t)(target - ((int64_t)pc + 1));
	return 0;
}

static int reloc_one(struct loader *l, const struct sec *code,
		     const Elf64_Rel *r)
{
	uint64_t off = r->r_offset;
	uint32_t type = ELF64_R_TYPE(r->r_info), si = ELF64_R_SYM(r->r_info);
	uint32_t pc;

	if (off % 8 || off >= code->sh->sh_size)
		return FAIL(l, "relocation offset %llu outside section %s",
			    (unsigned long long)off, code->name);
	if (si >= l->nsyms)
		return FAIL(l, "relocation symbol %u out of range", si);
	pc = code->base + (uint32_t)(off / 8);
	switch (type) {
	case R_BPF_NONE:
		return 0;
	case R_BPF_64_64:
		return reloc_lddw(l, pc, code->sh->sh_size - off, &l->syms[si]);
	case R_BPF_64_32:
		return reloc_call(l, pc, &l->syms[si]);
	}
	return FAIL(l, "unsupported relocation type %u in %s", type, code->name);
}

static int relocate_section(struct loader *l, const struct sec *rs)
{
	const Elf64_Shdr *sh = rs->sh;
	const struct sec *target;
	const Elf64_Rel *rel;
	uint64_t k, n;
	int err;

	if (sh->sh_info >= l->nsecs)
		return FAIL(l, "relocation section %s: bad target", rs->name);
	target = &l->secs[sh->sh_info];
	if (target->kind == SEC_IGNORE)
		return 0; /* BTF, debug information */
	if (target->kind != SEC_CODE || sh->sh_type == SHT_RELA)
		return FAIL(l, "relocations in %s are not supported (pointers in data)",
			    target->name);
	if (sh->sh_entsize != sizeof(Elf64_Rel) ||
	    sh->sh_size % sizeof(Elf64_Rel) || sh->sh_offset % 8)
		return FAIL(l, "bad relocation section %s", rs->name);
	rel = (const Elf64_Rel *)(l->file + sh->sh_offset);
	n = sh->sh_size / sizeof(Elf64_Rel);
	for (k = 0; k < n; k++) {
		err = reloc_one(l, target, &rel[k]);
		if (err)
			return err;
	}
	return 0;
}

static int relocate(struct loader *l)
{
	uint32_t i;
	int err;

	for (i = 0; i < l->nsecs; i++) {
		uint32_t t = l->secs[i].sh->sh_type;

		if (t != SHT_REL && t != SHT_RELA)
			continue;
		err = relocate_section(l, &l->secs[i]);
		if (err)
			return err;
	}
	return 0;
}

/* ---- the entry ---- */

static bool is_func(const struct loader *l, const Elf64_Sym *sym)
{
	return ELF64_ST_TYPE(sym->st_info) == STT_FUNC &&
	       sym->st_shndx < l->nsecs &&
	       l->secs[sym->st_shndx].kind == SEC_CODE &&
	       sym->st_value % 8 == 0 &&
	       sym->st_value < l->secs[sym->st_shndx].sh->sh_size;
}

static uint32_t func_slot(const struct loader *l, const Elf64_Sym *sym)
{
	return l->secs[sym->st_shndx].base + (uint32_t)(sym->st_value / 8);
}

static bool in_csd_section(const struct loader *l, const Elf64_Sym *sym)
{
	const char *n = l->secs[sym->st_shndx].name;

	return !strcmp(n, "csd") || !strncmp(n, "csd/", 4);
}

static int find_entry(struct loader *l, const char *entry, uint32_t *slot)
{
	const Elf64_Sym *only = NULL, *csd = NULL;
	uint32_t i, nglobal = 0;

	for (i = 1; i < l->nsyms; i++) {
		const Elf64_Sym *s = &l->syms[i];

		if (!is_func(l, s))
			continue;
		if (entry) {
			if (!strcmp(sym_name(l, s), entry)) {
				*slot = func_slot(l, s);
				return 0;
			}
			continue;
		}
		if (ELF64_ST_BIND(s->st_info) != STB_GLOBAL)
			continue;
		nglobal++;
		only = s;
		if (!csd && in_csd_section(l, s))
			csd = s;
	}
	if (entry)
		return FAIL(l, "no function named %s", entry);
	if (csd || nglobal == 1) {
		*slot = func_slot(l, csd ? csd : only);
		return 0;
	}
	return FAIL(l, nglobal ? "several global functions and none in section \"csd\": name the entry"
			       : "no global function to run");
}

/* ---- putting it together ---- */

int zvd_csd_prog_load_elf(const void *elf, size_t len, const char *entry,
			  struct zvd_csd_prog **out, struct zvd_csd_diag *diag)
{
	struct loader l = { .file = elf, .len = len, .diag = diag };
	uint32_t slot = 0;
	int err;

	*out = NULL;
	if ((uintptr_t)elf % 8) {
		/* ELF structures are read in place: keep them aligned */
		void *copy = malloc(len ? len : 1);

		if (!copy)
			return csd_diag(diag, -ENOMEM, UINT32_MAX, "out of memory");
		memcpy(copy, elf, len);
		err = zvd_csd_prog_load_elf(copy, len, entry, out, diag);
		free(copy);
		return err;
	}
	err = check_header(&l);
	if (!err)
		err = read_sections(&l);
	if (!err)
		err = read_symbols(&l);
	if (!err)
		err = layout(&l);
	if (!err)
		err = copy_sections(&l);
	if (!err)
		err = relocate(&l);
	if (!err)
		err = find_entry(&l, entry, &slot);
	free(l.secs);
	if (err) {
		free(l.code);
		free(l.data);
		free(l.rodata);
		return err;
	}
	return csd_prog_build(l.code, l.nslots, slot, l.data, l.data_len,
			      l.rodata, l.rodata_len, out, diag);
}
