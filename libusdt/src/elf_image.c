/*
 * elf_image.c - writes a provider's ELF image: a shared object with no code
 * but one stub per probe, one semaphore per probe, and one .note.stapsdt
 * note per probe, in the layout tracers expect of sys/sdt.h objects.
 *
 *   segment R   : ELF and program headers, build-id note (PT_NOTE), .hash,
 *                 .dynsym, .dynstr, .stapsdt.base
 *   segment R+X : .text, the stubs (probe i at text + i * stride)
 *   segment R+W : .dynamic, .probes (semaphore i at probes + 2 * i)
 *   not loaded  : .note.stapsdt, .shstrtab, section headers
 *
 * Segments are page aligned with vaddr == file offset, so tools that map
 * addresses to offsets either by section or by segment agree. Alignment is
 * one page, not 2 MiB: no address-space holes.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum {
	SH_NULL,
	SH_BUILDID,
	SH_HASH,
	SH_DYNSYM,
	SH_DYNSTR,
	SH_BASE,
	SH_TEXT,
	SH_DYNAMIC,
	SH_PROBES,
	SH_NOTES,
	SH_SHSTRTAB,
	SH_COUNT
};

enum { PH_TEXT_R, PH_TEXT_X, PH_DATA, PH_DYNAMIC, PH_NOTE, PH_STACK, PH_COUNT };

#define NSYMS 3
#define NDYN 7
#define BUILD_ID_SIZE 20
#define BUILD_ID_NOTE_SIZE (12 + 4 + BUILD_ID_SIZE)

static const char shstrtab[] = "\0.note.gnu.build-id\0.hash\0.dynsym\0.dynstr\0.stapsdt.base\0"
			       ".text\0.dynamic\0.probes\0.note.stapsdt\0.shstrtab";

static uint32_t shname(const char *name)
{
	/* Offsets into shstrtab; the table is tiny and built once per image. */
	for (size_t i = 1; i < sizeof(shstrtab);) {
		if (!strcmp(shstrtab + i, name))
			return (uint32_t)i;
		i += strlen(shstrtab + i) + 1;
	}
	return 0;
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static const char sym_stubs[] = "__usdt_stubs";
static const char sym_semas[] = "__usdt_semaphores";

int usdt__image_build(const struct usdt__arch *arch, usdt_site site, const char *provider,
		      const struct usdt__image_probe *probes, size_t nprobes, void **bufp,
		      size_t *lenp, struct usdt__image_layout *layout)
{
	const uint8_t *stub;
	size_t stub_len;
	if (site == USDT_SITE_DEFAULT)
		site = arch->default_site;
	if (site == USDT_SITE_NOP5 && arch->stub_nop5) {
		stub = arch->stub_nop5;
		stub_len = arch->stub_nop5_len;
	} else if (site == USDT_SITE_NOP1 || site == USDT_SITE_NOP5) {
		if (site == USDT_SITE_NOP5)
			return usdt__fail(EINVAL, "5-byte-nop sites do not exist on %s", arch->name);
		stub = arch->stub_nop1;
		stub_len = arch->stub_nop1_len;
	} else {
		return usdt__fail(EINVAL, "unknown probe site kind %d", (int)site);
	}
	uint32_t stride = 1;
	while (stride < stub_len)
		stride <<= 1;

	size_t plen = strlen(provider);
	char soname[USDT_MAX_NAME + 16];
	int sonamelen = snprintf(soname, sizeof(soname), "libusdt-%s.so", provider);
	uint64_t page = arch->page_size;

	/* Pass 1: the layout. */
	uint64_t off = sizeof(Elf64_Ehdr) + PH_COUNT * sizeof(Elf64_Phdr);
	uint64_t buildid_off = align_up(off, 4);
	uint64_t hash_off = align_up(buildid_off + BUILD_ID_NOTE_SIZE, 8);
	uint64_t hash_size = (2 + 1 + NSYMS) * 4; /* nbucket, nchain, 1 bucket, chains */
	uint64_t dynsym_off = align_up(hash_off + hash_size, 8);
	uint64_t dynstr_off = dynsym_off + NSYMS * sizeof(Elf64_Sym);
	uint64_t dynstr_size = 1 + (uint64_t)sonamelen + 1 + sizeof(sym_stubs) + sizeof(sym_semas);
	uint64_t base_off = dynstr_off + dynstr_size;
	uint64_t seg0_end = base_off + 1;

	uint64_t text_off = align_up(seg0_end, page);
	uint64_t text_size = (uint64_t)nprobes * stride;
	uint64_t dyn_off = align_up(text_off + text_size, page);
	uint64_t dyn_size = NDYN * sizeof(Elf64_Dyn);
	uint64_t probes_off = dyn_off + dyn_size;
	uint64_t probes_size = (uint64_t)nprobes * 2;
	uint64_t seg2_end = probes_off + probes_size;

	uint64_t notes_off = align_up(seg2_end, 4);
	uint64_t notes_size = 0;
	for (size_t i = 0; i < nprobes; i++)
		notes_size += usdt__note_size(plen, strlen(probes[i].name), strlen(probes[i].spec));
	uint64_t shstr_off = notes_off + notes_size;
	uint64_t sh_off = align_up(shstr_off + sizeof(shstrtab), 8);
	uint64_t total = sh_off + SH_COUNT * sizeof(Elf64_Shdr);

	uint8_t *buf = usdt__calloc(1, total);
	if (!buf)
		return usdt__fail(ENOMEM, "cannot allocate a %llu-byte image for provider %s",
				  (unsigned long long)total, provider);

	/* ELF header. */
	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh.e_type = ET_DYN;
	eh.e_machine = arch->e_machine;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(Elf64_Ehdr);
	eh.e_shoff = sh_off;
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = PH_COUNT;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = SH_COUNT;
	eh.e_shstrndx = SH_SHSTRTAB;
	memcpy(buf, &eh, sizeof(eh));

	/* Program headers. */
	Elf64_Phdr ph[PH_COUNT] = { 0 };
	ph[PH_TEXT_R] = (Elf64_Phdr){ PT_LOAD, PF_R, 0, 0, 0, seg0_end, seg0_end, page };
	ph[PH_TEXT_X] = (Elf64_Phdr){ PT_LOAD, PF_R | PF_X, text_off, text_off, text_off,
				      text_size, text_size, page };
	ph[PH_DATA] = (Elf64_Phdr){ PT_LOAD, PF_R | PF_W, dyn_off, dyn_off, dyn_off,
				    seg2_end - dyn_off, seg2_end - dyn_off, page };
	ph[PH_DYNAMIC] = (Elf64_Phdr){ PT_DYNAMIC, PF_R | PF_W, dyn_off, dyn_off, dyn_off,
				       dyn_size, dyn_size, 8 };
	ph[PH_NOTE] = (Elf64_Phdr){ PT_NOTE, PF_R, buildid_off, buildid_off, buildid_off,
				    BUILD_ID_NOTE_SIZE, BUILD_ID_NOTE_SIZE, 4 };
	/* Without PT_GNU_STACK the loader would make the stack executable. */
	ph[PH_STACK] = (Elf64_Phdr){ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16 };
	memcpy(buf + eh.e_phoff, ph, sizeof(ph));

	/* Build-id note; the id itself is filled in last. */
	uint8_t *bn = buf + buildid_off;
	uint32_t w[3] = { 4, BUILD_ID_SIZE, NT_GNU_BUILD_ID };
	memcpy(bn, w, 12);
	memcpy(bn + 12, "GNU", 4);

	/* .hash: one bucket chaining all symbols, enough for dlsym. */
	uint32_t hash[2 + 1 + NSYMS] = { 1, NSYMS, NSYMS - 1, 0, 0, 1 };
	memcpy(buf + hash_off, hash, sizeof(hash));

	/* .dynstr and .dynsym. */
	uint8_t *ds = buf + dynstr_off;
	uint32_t soname_idx = 1;
	memcpy(ds + soname_idx, soname, (size_t)sonamelen + 1);
	uint32_t stubs_idx = soname_idx + (uint32_t)sonamelen + 1;
	memcpy(ds + stubs_idx, sym_stubs, sizeof(sym_stubs));
	uint32_t semas_idx = stubs_idx + sizeof(sym_stubs);
	memcpy(ds + semas_idx, sym_semas, sizeof(sym_semas));
	Elf64_Sym syms[NSYMS] = { 0 };
	syms[1] = (Elf64_Sym){ stubs_idx, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), STV_DEFAULT,
			       SH_TEXT, text_off, text_size };
	syms[2] = (Elf64_Sym){ semas_idx, ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT), STV_DEFAULT,
			       SH_PROBES, probes_off, probes_size };
	memcpy(buf + dynsym_off, syms, sizeof(syms));

	/* .text: stubs padded with traps. */
	uint8_t *t = buf + text_off;
	for (size_t i = 0; i < nprobes; i++, t += stride) {
		memcpy(t, stub, stub_len);
		memset(t + stub_len, arch->pad_byte, stride - stub_len);
	}

	/* .dynamic. The loader relocates these in place, hence a writable segment. */
	Elf64_Dyn dyn[NDYN] = {
		{ DT_HASH, { hash_off } },     { DT_STRTAB, { dynstr_off } },
		{ DT_SYMTAB, { dynsym_off } }, { DT_STRSZ, { dynstr_size } },
		{ DT_SYMENT, { sizeof(Elf64_Sym) } }, { DT_SONAME, { soname_idx } },
		{ DT_NULL, { 0 } },
	};
	memcpy(buf + dyn_off, dyn, sizeof(dyn));
	/* .probes stays zero: every semaphore starts disabled. */

	/* .note.stapsdt */
	uint8_t *n = buf + notes_off;
	for (size_t i = 0; i < nprobes; i++) {
		const char *nm = probes[i].name, *sp = probes[i].spec;
		n += usdt__note_write(n, text_off + i * stride, base_off, probes_off + 2 * i, provider,
				      plen, nm, strlen(nm), sp, strlen(sp));
	}
	memcpy(buf + shstr_off, shstrtab, sizeof(shstrtab));

	/* Section headers. */
	Elf64_Shdr sh[SH_COUNT] = { 0 };
	sh[SH_BUILDID] = (Elf64_Shdr){ shname(".note.gnu.build-id"), SHT_NOTE, SHF_ALLOC,
				       buildid_off, buildid_off, BUILD_ID_NOTE_SIZE, 0, 0, 4, 0 };
	sh[SH_HASH] = (Elf64_Shdr){ shname(".hash"), SHT_HASH, SHF_ALLOC, hash_off, hash_off,
				    hash_size, SH_DYNSYM, 0, 8, 4 };
	sh[SH_DYNSYM] = (Elf64_Shdr){ shname(".dynsym"), SHT_DYNSYM, SHF_ALLOC, dynsym_off,
				      dynsym_off, NSYMS * sizeof(Elf64_Sym), SH_DYNSTR, 1, 8,
				      sizeof(Elf64_Sym) };
	sh[SH_DYNSTR] = (Elf64_Shdr){ shname(".dynstr"), SHT_STRTAB, SHF_ALLOC, dynstr_off,
				      dynstr_off, dynstr_size, 0, 0, 1, 0 };
	sh[SH_BASE] = (Elf64_Shdr){ shname(".stapsdt.base"), SHT_PROGBITS, SHF_ALLOC, base_off,
				    base_off, 1, 0, 0, 1, 0 };
	sh[SH_TEXT] = (Elf64_Shdr){ shname(".text"), SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR,
				    text_off, text_off, text_size, 0, 0, stride, 0 };
	sh[SH_DYNAMIC] = (Elf64_Shdr){ shname(".dynamic"), SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE,
				       dyn_off, dyn_off, dyn_size, SH_DYNSTR, 0, 8,
				       sizeof(Elf64_Dyn) };
	sh[SH_PROBES] = (Elf64_Shdr){ shname(".probes"), SHT_PROGBITS, SHF_ALLOC | SHF_WRITE,
				      probes_off, probes_off, probes_size, 0, 0, 2, 0 };
	sh[SH_NOTES] = (Elf64_Shdr){ shname(".note.stapsdt"), SHT_NOTE, 0, 0, notes_off,
				     notes_size, 0, 0, 4, 0 };
	sh[SH_SHSTRTAB] = (Elf64_Shdr){ shname(".shstrtab"), SHT_STRTAB, 0, 0, shstr_off,
					sizeof(shstrtab), 0, 0, 1, 0 };
	memcpy(buf + sh_off, sh, sizeof(sh));

	/* The build-id is the hash of everything else: same definition, same id. */
	uint64_t h[2];
	usdt__hash128(buf, total, h);
	uint8_t *id = layout->build_id;
	memcpy(id, h, 16);
	uint32_t extra = (uint32_t)(h[0] ^ (h[1] >> 32) ^ (uint64_t)total);
	memcpy(id + 16, &extra, 4);
	memcpy(bn + 16, id, BUILD_ID_SIZE);

	layout->text_vaddr = text_off;
	layout->probes_vaddr = probes_off;
	layout->stride = stride;
	*bufp = buf;
	*lenp = total;
	return 0;
}
