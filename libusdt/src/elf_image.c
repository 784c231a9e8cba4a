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
 *
 * The image is planned (layout and build-id) from the definition, then its
 * bytes are streamed to a sink through a small buffer: a 100,000-probe
 * image is never held in memory whole.
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
#define HASH_SIZE ((2 + 1 + NSYMS) * 4) /* nbucket, nchain, 1 bucket, chains */
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

/* Bump when the bytes written for a definition change: it is part of every
 * build-id, so caches never mix images of two writer versions. */
static const char writer_id[] = "libusdt-image-1";

int usdt__image_plan(const struct usdt__arch *arch, usdt_site site, const char *provider,
		     const struct usdt__image_probe *probes, size_t nprobes,
		     struct usdt__image_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	if (site == USDT_SITE_DEFAULT)
		site = arch->default_site;
	if (site == USDT_SITE_NOP5 && arch->stub_nop5) {
		pl->stub = arch->stub_nop5;
		pl->stub_len = arch->stub_nop5_len;
	} else if (site == USDT_SITE_NOP1) {
		pl->stub = arch->stub_nop1;
		pl->stub_len = arch->stub_nop1_len;
	} else if (site == USDT_SITE_NOP5) {
		return usdt__fail(EINVAL, "5-byte-nop sites do not exist on %s", arch->name);
	} else {
		return usdt__fail(EINVAL, "unknown probe site kind %d", (int)site);
	}
	uint32_t stride = 1;
	while (stride < pl->stub_len)
		stride <<= 1;
	pl->arch = arch;
	pl->provider = provider;
	pl->provider_len = strlen(provider);
	pl->probes = probes;
	pl->nprobes = nprobes;
	pl->soname_len = (size_t)snprintf(pl->soname, sizeof(pl->soname), "libusdt-%s.so", provider);
	uint64_t page = arch->page_size;

	uint64_t off = sizeof(Elf64_Ehdr) + PH_COUNT * sizeof(Elf64_Phdr);
	pl->buildid_off = align_up(off, 4);
	pl->hash_off = align_up(pl->buildid_off + BUILD_ID_NOTE_SIZE, 8);
	pl->dynsym_off = align_up(pl->hash_off + HASH_SIZE, 8);
	pl->dynstr_off = pl->dynsym_off + NSYMS * sizeof(Elf64_Sym);
	pl->dynstr_size = 1 + pl->soname_len + 1 + sizeof(sym_stubs) + sizeof(sym_semas);
	pl->base_off = pl->dynstr_off + pl->dynstr_size;
	pl->seg0_end = pl->base_off + 1;
	pl->text_off = align_up(pl->seg0_end, page);
	pl->text_size = (uint64_t)nprobes * stride;
	pl->dyn_off = align_up(pl->text_off + pl->text_size, page);
	pl->probes_off = pl->dyn_off + NDYN * sizeof(Elf64_Dyn);
	pl->probes_size = (uint64_t)nprobes * 2;
	pl->seg2_end = pl->probes_off + pl->probes_size;
	pl->notes_off = align_up(pl->seg2_end, 4);

	/* The build-id hashes the definition, which determines every byte. */
	struct usdt__hasher h;
	usdt__hasher_init(&h);
	usdt__hasher_update(&h, writer_id, sizeof(writer_id));
	usdt__hasher_update(&h, arch->name, strlen(arch->name) + 1);
	usdt__hasher_update(&h, pl->stub, pl->stub_len);
	usdt__hasher_update(&h, provider, pl->provider_len + 1);
	uint64_t notes = 0;
	for (size_t i = 0; i < nprobes; i++) {
		notes += usdt__note_size(pl->provider_len, probes[i].name_len, probes[i].spec_len);
		usdt__hasher_update(&h, probes[i].name, probes[i].name_len + 1u);
		usdt__hasher_update(&h, probes[i].spec, probes[i].spec_len + 1u);
	}
	uint64_t id[2];
	usdt__hasher_final(&h, id);
	memcpy(pl->layout.build_id, id, 16);
	uint32_t extra = (uint32_t)(id[0] ^ (id[1] >> 32) ^ nprobes);
	memcpy(pl->layout.build_id + 16, &extra, 4);

	pl->notes_size = notes;
	pl->shstr_off = pl->notes_off + notes;
	pl->sh_off = align_up(pl->shstr_off + sizeof(shstrtab), 8);
	pl->size = pl->sh_off + SH_COUNT * sizeof(Elf64_Shdr);
	pl->layout.text_vaddr = pl->text_off;
	pl->layout.probes_vaddr = pl->probes_off;
	pl->layout.stride = stride;
	return 0;
}

/* A small buffer between the generator and the sink. */
struct emitter {
	uint8_t *buf;
	size_t n, cap;
	uint64_t off; /* file offset of buf[0] */
	usdt__sink_fn sink;
	void *ctx;
	int err;
};

static void flush(struct emitter *e)
{
	if (e->n && !e->err)
		e->err = e->sink(e->buf, e->n, e->ctx);
	e->off += e->n;
	e->n = 0;
}

/* Contiguous room for len bytes (len <= cap). */
static uint8_t *reserve(struct emitter *e, size_t len)
{
	if (e->cap - e->n < len)
		flush(e);
	uint8_t *p = e->buf + e->n;
	e->n += len;
	return p;
}

static void put(struct emitter *e, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		if (e->n == e->cap)
			flush(e);
		size_t take = e->cap - e->n < len ? e->cap - e->n : len;
		memcpy(e->buf + e->n, p, take);
		e->n += take;
		p += take;
		len -= take;
	}
}

static void fill_to(struct emitter *e, uint64_t off, uint8_t byte)
{
	while (e->off + e->n < off) {
		if (e->n == e->cap)
			flush(e);
		size_t take = e->cap - e->n;
		if (take > off - e->off - e->n)
			take = (size_t)(off - e->off - e->n);
		memset(e->buf + e->n, byte, take);
		e->n += take;
	}
}

int usdt__image_emit(const struct usdt__image_plan *pl, usdt__sink_fn sink, void *ctx)
{
	struct emitter e = { .cap = 64 * 1024, .sink = sink, .ctx = ctx };
	e.buf = usdt__malloc(e.cap);
	if (!e.buf)
		return usdt__fail(ENOMEM, "out of memory writing image of %s", pl->provider);
	uint64_t page = pl->arch->page_size;

	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh.e_type = ET_DYN;
	eh.e_machine = pl->arch->e_machine;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(Elf64_Ehdr);
	eh.e_shoff = pl->sh_off;
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = PH_COUNT;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = SH_COUNT;
	eh.e_shstrndx = SH_SHSTRTAB;
	put(&e, &eh, sizeof(eh));

	uint64_t seg2 = pl->seg2_end - pl->dyn_off, dyn_size = NDYN * sizeof(Elf64_Dyn);
	Elf64_Phdr ph[PH_COUNT] = {
		[PH_TEXT_R] = { PT_LOAD, PF_R, 0, 0, 0, pl->seg0_end, pl->seg0_end, page },
		[PH_TEXT_X] = { PT_LOAD, PF_R | PF_X, pl->text_off, pl->text_off, pl->text_off,
				pl->text_size, pl->text_size, page },
		[PH_DATA] = { PT_LOAD, PF_R | PF_W, pl->dyn_off, pl->dyn_off, pl->dyn_off, seg2, seg2,
			      page },
		[PH_DYNAMIC] = { PT_DYNAMIC, PF_R | PF_W, pl->dyn_off, pl->dyn_off, pl->dyn_off,
				 dyn_size, dyn_size, 8 },
		[PH_NOTE] = { PT_NOTE, PF_R, pl->buildid_off, pl->buildid_off, pl->buildid_off,
			      BUILD_ID_NOTE_SIZE, BUILD_ID_NOTE_SIZE, 4 },
		/* Without PT_GNU_STACK the loader would make the stack executable. */
		[PH_STACK] = { PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16 },
	};
	put(&e, ph, sizeof(ph));

	fill_to(&e, pl->buildid_off, 0);
	uint32_t nh[3] = { 4, BUILD_ID_SIZE, NT_GNU_BUILD_ID };
	put(&e, nh, 12);
	put(&e, "GNU", 4);
	put(&e, pl->layout.build_id, BUILD_ID_SIZE);

	/* .hash: one bucket chaining all symbols, enough for dlsym. */
	fill_to(&e, pl->hash_off, 0);
	uint32_t hash[HASH_SIZE / 4] = { 1, NSYMS, NSYMS - 1, 0, 0, 1 };
	put(&e, hash, sizeof(hash));

	uint32_t soname_idx = 1;
	uint32_t stubs_idx = soname_idx + (uint32_t)pl->soname_len + 1;
	uint32_t semas_idx = stubs_idx + sizeof(sym_stubs);
	fill_to(&e, pl->dynsym_off, 0);
	Elf64_Sym syms[NSYMS] = {
		{ 0 },
		{ stubs_idx, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), STV_DEFAULT, SH_TEXT, pl->text_off,
		  pl->text_size },
		{ semas_idx, ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT), STV_DEFAULT, SH_PROBES,
		  pl->probes_off, pl->probes_size },
	};
	put(&e, syms, sizeof(syms));
	put(&e, "", 1);
	put(&e, pl->soname, pl->soname_len + 1);
	put(&e, sym_stubs, sizeof(sym_stubs));
	put(&e, sym_semas, sizeof(sym_semas));
	put(&e, "", 1); /* .stapsdt.base */

	/* .text: stubs padded with traps. */
	fill_to(&e, pl->text_off, 0);
	uint8_t slot[16];
	uint32_t stride = pl->layout.stride;
	memcpy(slot, pl->stub, pl->stub_len);
	memset(slot + pl->stub_len, pl->arch->pad_byte, stride - pl->stub_len);
	for (size_t i = 0; i < pl->nprobes; i++)
		memcpy(reserve(&e, stride), slot, stride);

	/* .dynamic; the loader relocates it in place, hence a writable segment. */
	fill_to(&e, pl->dyn_off, 0);
	Elf64_Dyn dyn[NDYN] = {
		{ DT_HASH, { pl->hash_off } },     { DT_STRTAB, { pl->dynstr_off } },
		{ DT_SYMTAB, { pl->dynsym_off } }, { DT_STRSZ, { pl->dynstr_size } },
		{ DT_SYMENT, { sizeof(Elf64_Sym) } }, { DT_SONAME, { soname_idx } },
		{ DT_NULL, { 0 } },
	};
	put(&e, dyn, sizeof(dyn));
	/* .probes: every semaphore starts at zero. */
	fill_to(&e, pl->seg2_end, 0);

	fill_to(&e, pl->notes_off, 0);
	for (size_t i = 0; i < pl->nprobes; i++) {
		const struct usdt__image_probe *p = &pl->probes[i];
		size_t sz = usdt__note_size(pl->provider_len, p->name_len, p->spec_len);
		usdt__note_write(reserve(&e, sz), pl->text_off + i * stride, pl->base_off,
				 pl->probes_off + 2 * i, pl->provider, pl->provider_len, p->name,
				 p->name_len, p->spec, p->spec_len);
	}
	put(&e, shstrtab, sizeof(shstrtab));
	fill_to(&e, pl->sh_off, 0);

	Elf64_Shdr sh[SH_COUNT] = {
		[SH_BUILDID] = { shname(".note.gnu.build-id"), SHT_NOTE, SHF_ALLOC, pl->buildid_off,
				 pl->buildid_off, BUILD_ID_NOTE_SIZE, 0, 0, 4, 0 },
		[SH_HASH] = { shname(".hash"), SHT_HASH, SHF_ALLOC, pl->hash_off, pl->hash_off,
			      HASH_SIZE, SH_DYNSYM, 0, 8, 4 },
		[SH_DYNSYM] = { shname(".dynsym"), SHT_DYNSYM, SHF_ALLOC, pl->dynsym_off, pl->dynsym_off,
				NSYMS * sizeof(Elf64_Sym), SH_DYNSTR, 1, 8, sizeof(Elf64_Sym) },
		[SH_DYNSTR] = { shname(".dynstr"), SHT_STRTAB, SHF_ALLOC, pl->dynstr_off, pl->dynstr_off,
				pl->dynstr_size, 0, 0, 1, 0 },
		[SH_BASE] = { shname(".stapsdt.base"), SHT_PROGBITS, SHF_ALLOC, pl->base_off,
			      pl->base_off, 1, 0, 0, 1, 0 },
		[SH_TEXT] = { shname(".text"), SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, pl->text_off,
			      pl->text_off, pl->text_size, 0, 0, stride, 0 },
		[SH_DYNAMIC] = { shname(".dynamic"), SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, pl->dyn_off,
				 pl->dyn_off, dyn_size, SH_DYNSTR, 0, 8, sizeof(Elf64_Dyn) },
		[SH_PROBES] = { shname(".probes"), SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, pl->probes_off,
				pl->probes_off, pl->probes_size, 0, 0, 2, 0 },
		[SH_NOTES] = { shname(".note.stapsdt"), SHT_NOTE, 0, 0, pl->notes_off, pl->notes_size, 0,
			       0, 4, 0 },
		[SH_SHSTRTAB] = { shname(".shstrtab"), SHT_STRTAB, 0, 0, pl->shstr_off, sizeof(shstrtab),
				  0, 0, 1, 0 },
	};
	put(&e, sh, sizeof(sh));
	flush(&e);
	usdt__free(e.buf);
	if (!e.err && e.off != pl->size)
		return usdt__fail(EPROTO, "image of %s: wrote %llu bytes, planned %llu", pl->provider,
				  (unsigned long long)e.off, (unsigned long long)pl->size);
	return e.err;
}

struct mem_sink {
	uint8_t *p;
	size_t n;
};

static int to_memory(const void *data, size_t len, void *ctx)
{
	struct mem_sink *m = ctx;
	memcpy(m->p + m->n, data, len);
	m->n += len;
	return 0;
}

int usdt__image_build(const struct usdt__arch *arch, usdt_site site, const char *provider,
		      const struct usdt__image_probe *probes, size_t nprobes, void **bufp,
		      size_t *lenp, struct usdt__image_layout *layout)
{
	struct usdt__image_plan pl;
	int err = usdt__image_plan(arch, site, provider, probes, nprobes, &pl);
	if (err)
		return err;
	struct mem_sink m = { usdt__malloc(pl.size), 0 };
	if (!m.p)
		return usdt__fail(ENOMEM, "cannot allocate a %llu-byte image for provider %s",
				  (unsigned long long)pl.size, provider);
	err = usdt__image_emit(&pl, to_memory, &m);
	if (err) {
		usdt__free(m.p);
		return err;
	}
	*bufp = m.p;
	*lenp = m.n;
	*layout = pl.layout;
	return 0;
}
