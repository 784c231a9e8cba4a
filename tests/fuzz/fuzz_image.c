/*
 * fuzz_image.c - random provider definitions -> the ELF image writer ->
 * the image read back by an independent reader written here, and by the
 * library's own note reader (elf_notes.c): both must find exactly the
 * probes defined, at the planned stubs and semaphores, with the planned
 * build-id, the symbols, and the same bytes when written twice.
 *
 * Input: [site][provider name len][name bytes] then per probe
 * [name len][name bytes][argc][type]*argc, names folded into the valid
 * alphabet (the writer is only ever given checked names).
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf_notes.h"
#include "internal.h"

#define MAXP 300

struct in {
	const uint8_t *d;
	size_t n, i;
};

static unsigned byte(struct in *in)
{
	return in->i < in->n ? in->d[in->i++] : 0;
}

static void name(struct in *in, char *out)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
	size_t len = byte(in) % USDT_MAX_NAME + 1;
	for (size_t k = 0; k < len; k++)
		out[k] = alpha[byte(in) % (k ? 63 : 53)];
	out[len] = 0;
}

struct def {
	char provider[USDT_MAX_NAME + 1];
	char names[MAXP][USDT_MAX_NAME + 1];
	char specs[MAXP][USDT_MAX_ARGS * 24];
	struct usdt__image_probe probes[MAXP];
	size_t n;
	usdt_site site;
};

static struct def D;

#define NEED(c) do { if (!(c)) abort(); } while (0)

static const uint8_t *img;
static size_t imglen;

static const void *at(uint64_t off, uint64_t len)
{
	NEED(off <= imglen && len <= imglen - off);
	return img + off;
}

static const Elf64_Shdr *section(const Elf64_Ehdr *eh, const char *want)
{
	const Elf64_Shdr *sh = at(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr));
	NEED(eh->e_shstrndx < eh->e_shnum);
	const Elf64_Shdr *str = &sh[eh->e_shstrndx];
	const char *names = at(str->sh_offset, str->sh_size);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		NEED(sh[i].sh_name < str->sh_size);
		NEED(memchr(names + sh[i].sh_name, 0, str->sh_size - sh[i].sh_name));
		if (!strcmp(names + sh[i].sh_name, want))
			return &sh[i];
	}
	return NULL;
}

static size_t seen;

static int note_cb(const struct usdt__note *n, void *ctx)
{
	const struct usdt__image_layout *lay = ctx;
	NEED(seen < D.n);
	NEED(!strcmp(n->provider, D.provider));
	NEED(!strcmp(n->name, D.names[seen]));
	NEED(!strcmp(n->args, D.specs[seen]));
	NEED(n->pc == lay->text_vaddr + (uint64_t)lay->stride * seen);
	NEED(n->sema == lay->probes_vaddr + 2 * seen);
	seen++;
	return 0;
}

static void check(const struct usdt__image_layout *lay, const struct usdt__arch *arch)
{
	const Elf64_Ehdr *eh = at(0, sizeof(Elf64_Ehdr));
	NEED(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64);
	NEED(eh->e_type == ET_DYN && eh->e_machine == arch->e_machine);
	NEED(eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_phentsize == sizeof(Elf64_Phdr));
	/* Sections inside the file, and loaded ones inside a PT_LOAD. */
	const Elf64_Phdr *ph = at(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr));
	const Elf64_Shdr *sh = at(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr));
	for (unsigned i = 1; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_NOBITS)
			at(sh[i].sh_offset, sh[i].sh_size);
		if (!(sh[i].sh_flags & SHF_ALLOC))
			continue;
		int inside = 0;
		for (unsigned k = 0; k < eh->e_phnum; k++)
			inside |= ph[k].p_type == PT_LOAD && sh[i].sh_addr >= ph[k].p_vaddr &&
				  sh[i].sh_addr + sh[i].sh_size <= ph[k].p_vaddr + ph[k].p_memsz &&
				  sh[i].sh_addr - ph[k].p_vaddr == sh[i].sh_offset - ph[k].p_offset;
		NEED(inside);
	}
	for (unsigned k = 0; k < eh->e_phnum; k++)
		if (ph[k].p_type == PT_LOAD) {
			at(ph[k].p_offset, ph[k].p_filesz);
			NEED(ph[k].p_offset % arch->page_size == ph[k].p_vaddr % arch->page_size);
		}

	/* Build-id note. */
	const Elf64_Shdr *bid = section(eh, ".note.gnu.build-id");
	NEED(bid && bid->sh_size == 16 + 20);
	const uint8_t *b = at(bid->sh_offset, bid->sh_size);
	NEED(!memcmp(b + 12, "GNU", 4) && !memcmp(b + 16, lay->build_id, 20));

	/* Stubs: each probe's site holds the stub; semaphores start at zero. */
	const Elf64_Shdr *text = section(eh, ".text");
	NEED(text && text->sh_addr == lay->text_vaddr && text->sh_size == D.n * lay->stride);
	const Elf64_Shdr *probes = section(eh, ".probes");
	NEED(probes && probes->sh_addr == lay->probes_vaddr && probes->sh_size == 2 * D.n);
	const uint8_t *sem = at(probes->sh_offset, probes->sh_size);
	for (size_t i = 0; i < 2 * D.n; i++)
		NEED(sem[i] == 0);

	/* Symbols: names inside .dynstr, the two that matter present. */
	const Elf64_Shdr *dynsym = section(eh, ".dynsym"), *dynstr = section(eh, ".dynstr");
	NEED(dynsym && dynstr && dynsym->sh_entsize == sizeof(Elf64_Sym));
	const Elf64_Sym *sym = at(dynsym->sh_offset, dynsym->sh_size);
	const char *str = at(dynstr->sh_offset, dynstr->sh_size);
	int found = 0;
	for (size_t i = 0; i < dynsym->sh_size / sizeof(Elf64_Sym); i++) {
		NEED(sym[i].st_name < dynstr->sh_size);
		NEED(memchr(str + sym[i].st_name, 0, dynstr->sh_size - sym[i].st_name));
		found += !strcmp(str + sym[i].st_name, "__usdt_stubs") && sym[i].st_value == lay->text_vaddr;
		found += !strcmp(str + sym[i].st_name, "__usdt_semaphores") &&
			 sym[i].st_value == lay->probes_vaddr;
	}
	NEED(found == 2);

	/* Probe notes, read by hand. */
	const Elf64_Shdr *notes = section(eh, ".note.stapsdt");
	const Elf64_Shdr *base = section(eh, ".stapsdt.base");
	NEED(notes && base && notes->sh_type == SHT_NOTE && !(notes->sh_flags & SHF_ALLOC));
	const uint8_t *p = at(notes->sh_offset, notes->sh_size), *end = p + notes->sh_size;
	size_t i = 0;
	while (p < end) {
		NEED(end - p >= 12);
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p, 4);
		memcpy(&descsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		NEED(namesz == 8 && type == 3 && !memcmp(p + 12, "stapsdt", 8));
		const uint8_t *desc = p + 20;
		NEED(descsz >= 24 && (size_t)(end - desc) >= ((descsz + 3u) & ~3u));
		uint64_t pc, nbase, sema;
		memcpy(&pc, desc, 8);
		memcpy(&nbase, desc + 8, 8);
		memcpy(&sema, desc + 16, 8);
		NEED(i < D.n);
		NEED(pc == lay->text_vaddr + (uint64_t)lay->stride * i);
		NEED(nbase == base->sh_addr);
		NEED(sema == lay->probes_vaddr + 2 * i);
		const char *s = (const char *)desc + 24, *dend = (const char *)desc + descsz;
		const char *want[3] = { D.provider, D.names[i], D.specs[i] };
		for (int k = 0; k < 3; k++) {
			size_t l = strlen(want[k]);
			NEED(dend - s >= (long)l + 1 && !memcmp(s, want[k], l + 1));
			s += l + 1;
		}
		NEED(s == dend);
		p = desc + ((descsz + 3u) & ~3u);
		i++;
	}
	NEED(i == D.n);

	/* The library's own reader agrees. */
	seen = 0;
	NEED(usdt__elf_notes_mem(img, imglen, note_cb, (void *)lay) == 0);
	NEED(seen == D.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };
	const struct usdt__arch *arch = usdt__arch_host();
	unsigned s = byte(&in) % 3;
	D.site = s == 0 ? USDT_SITE_DEFAULT : s == 1 ? USDT_SITE_NOP5 : USDT_SITE_NOP1;
	name(&in, D.provider);
	D.n = 0;
	while (in.i < in.n && D.n < MAXP) {
		size_t k = D.n;
		name(&in, D.names[k]);
		uint8_t types[USDT_MAX_ARGS];
		size_t argc = byte(&in) % (USDT_MAX_ARGS + 1);
		for (size_t a = 0; a < argc; a++)
			types[a] = (uint8_t)(byte(&in) % (USDT_TYPE_COUNT_ - 1) + 1);
		int sl = usdt__spec_format(arch, types, argc, D.specs[k], sizeof(D.specs[k]));
		NEED(sl >= 0 && (size_t)sl == strlen(D.specs[k]));
		D.probes[k] = (struct usdt__image_probe){ D.names[k], D.specs[k],
							  (uint16_t)strlen(D.names[k]), (uint16_t)sl };
		D.n++;
	}
	if (!D.n)
		return 0;
	void *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	struct usdt__image_layout lay, lay2;
	if (usdt__image_build(arch, D.site, D.provider, D.probes, D.n, &buf, &len, &lay))
		return 0; /* NOP5 on an architecture without it */
	img = buf;
	imglen = len;
	check(&lay, arch);
	/* Same definition, same bytes. */
	NEED(!usdt__image_build(arch, D.site, D.provider, D.probes, D.n, &buf2, &len2, &lay2));
	NEED(len == len2 && !memcmp(buf, buf2, len) && !memcmp(&lay, &lay2, sizeof(lay)));
	usdt__free(buf);
	usdt__free(buf2);
	return 0;
}
