/*
 * elf_notes.c - read the `.note.stapsdt` notes of an ELF file.
 *
 * The notes of sys/sdt.h probes are not in any loaded segment, so they are
 * read from the file: ELF header, section headers, section names, the note
 * section. Everything is read with bounds checks against the file size, in
 * the file's own byte order; a note whose strings run out of its descriptor
 * makes the file malformed rather than being read past.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_notes.h"

#define MAX_SECTIONS (1u << 20)

struct src {
	int fd;
	const uint8_t *mem;
	uint64_t size;
	bool swap; /* file byte order differs from ours */
	bool is64;
	bool libusdt_image; /* exports __usdt_stubs */
};

static int read_at(const struct src *s, uint64_t off, void *buf, uint64_t len)
{
	if (off > s->size || len > s->size - off)
		return -EINVAL;
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(s->fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -EIO : -EINVAL; /* shrank under us */
		p += r;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static uint16_t u16(const struct src *s, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return s->swap ? __builtin_bswap16(v) : v;
}

static uint32_t u32(const struct src *s, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return s->swap ? __builtin_bswap32(v) : v;
}

static uint64_t u64(const struct src *s, const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return s->swap ? __builtin_bswap64(v) : v;
}

static uint64_t addr(const struct src *s, const uint8_t *p)
{
	return s->is64 ? u64(s, p) : u32(s, p);
}

/* Field f of an ELF header T (Ehdr, Shdr, Phdr) of the file's class, read at
 * its own width and byte order. */
static uint64_t uget(const struct src *s, const uint8_t *p, size_t size)
{
	return size == 8 ? u64(s, p) : size == 4 ? u32(s, p) : u16(s, p);
}
#define FIELD(s, p, T, f)                                                                  \
	((s)->is64 ? uget(s, (p) + offsetof(Elf64_##T, f), sizeof(((Elf64_##T *)0)->f)) : \
		     uget(s, (p) + offsetof(Elf32_##T, f), sizeof(((Elf32_##T *)0)->f)))

struct shdr {
	uint32_t name, type;
	uint64_t addr, offset, size;
	uint32_t link;
};

static void get_shdr(const struct src *s, const uint8_t *p, struct shdr *h)
{
	h->name = (uint32_t)FIELD(s, p, Shdr, sh_name);
	h->type = (uint32_t)FIELD(s, p, Shdr, sh_type);
	h->addr = FIELD(s, p, Shdr, sh_addr);
	h->offset = FIELD(s, p, Shdr, sh_offset);
	h->size = FIELD(s, p, Shdr, sh_size);
	h->link = (uint32_t)FIELD(s, p, Shdr, sh_link);
}

/* A section's contents, read whole (bounded by the file). */
static int load(const struct src *s, const struct shdr *h, uint8_t **out)
{
	if (h->type == SHT_NOBITS || h->offset > s->size || h->size > s->size - h->offset)
		return -EINVAL;
	uint8_t *p = usdt__malloc(h->size ? h->size : 1);
	if (!p)
		return -ENOMEM;
	int err = read_at(s, h->offset, p, h->size);
	if (err) {
		usdt__free(p);
		return err;
	}
	*out = p;
	return 0;
}

static int walk_notes(const struct src *s, const uint8_t *n, uint64_t size, bool have_base,
		      uint64_t base_addr, usdt__note_fn fn, void *ctx)
{
	size_t asz = s->is64 ? 8 : 4;
	uint64_t off = 0;
	while (size - off >= 12) {
		uint32_t namesz = u32(s, n + off), descsz = u32(s, n + off + 4), type = u32(s, n + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_off > size || next > size || (uint64_t)descsz > size - desc_off)
			return -EINVAL;
		if (type == 3 && namesz == 8 && !memcmp(n + name_off, "stapsdt", 8)) {
			if (descsz < 3 * asz + 3)
				return -EINVAL;
			const uint8_t *d = n + desc_off;
			struct usdt__note note = { .pc = addr(s, d), .sema = addr(s, d + 2 * asz),
						   .ptr_size = (unsigned)asz,
						   .libusdt_image = s->libusdt_image };
			uint64_t note_base = addr(s, d + asz);
			/* Three strings, each ending inside the descriptor. */
			const char *str[3];
			size_t at = 3 * asz;
			for (int k = 0; k < 3; k++) {
				const void *nul = at < descsz ? memchr(d + at, 0, descsz - at) : NULL;
				if (!nul)
					return -EINVAL;
				str[k] = (const char *)d + at;
				at = (size_t)((const uint8_t *)nul - d) + 1;
			}
			note.provider = str[0];
			note.name = str[1];
			note.args = str[2];
			/* Prelink-style moves: the note remembers where .stapsdt.base was. */
			if (have_base && note_base)
				note.pc += base_addr - note_base;
			int r = fn(&note, ctx);
			if (r)
				return r;
		}
		off = next;
	}
	return 0;
}

/* The ELF header, its class and byte order recorded in s. */
static int read_ehdr(struct src *s, uint8_t eh[sizeof(Elf64_Ehdr)])
{
	if (s->size < EI_NIDENT || read_at(s, 0, eh, EI_NIDENT) || memcmp(eh, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (eh[EI_CLASS] != ELFCLASS32 && eh[EI_CLASS] != ELFCLASS64)
		return -ENOEXEC;
	if (eh[EI_DATA] != ELFDATA2LSB && eh[EI_DATA] != ELFDATA2MSB)
		return -ENOEXEC;
	s->is64 = eh[EI_CLASS] == ELFCLASS64;
	s->swap = (eh[EI_DATA] == ELFDATA2MSB) != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
	size_t ehsize = s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	return read_at(s, 0, eh, ehsize) ? -EINVAL : 0;
}

/* libusdt's images export __usdt_stubs: look for it in the dynamic string
 * table (small, read once) so callers can tell its images from the rest. */
static int is_libusdt_image(struct src *s, const uint8_t *raw)
{
	static const char sym[] = "\0__usdt_stubs"; /* with both NULs */
	struct shdr h;
	get_shdr(s, raw, &h);
	/* Ours holds a soname and two symbol names: a big table is someone
	 * else's, and not reading it keeps a walk cheap in large programs. */
	if (h.type != SHT_STRTAB || h.size > 4096)
		return 0;
	uint8_t *str;
	int err = load(s, &h, &str);
	if (err)
		return err == -ENOMEM ? err : 0; /* a bad table only means "no" */
	s->libusdt_image = h.size >= sizeof(sym) && memmem(str, h.size, sym, sizeof(sym));
	usdt__free(str);
	return 0;
}

static int walk(struct src *s, usdt__note_fn fn, void *ctx)
{
	uint8_t eh[sizeof(Elf64_Ehdr)];
	int herr = read_ehdr(s, eh);
	if (herr)
		return herr;
	uint64_t shoff = FIELD(s, eh, Ehdr, e_shoff);
	uint32_t shentsize = (uint32_t)FIELD(s, eh, Ehdr, e_shentsize);
	uint32_t shnum = (uint32_t)FIELD(s, eh, Ehdr, e_shnum);
	uint32_t shstrndx = (uint32_t)FIELD(s, eh, Ehdr, e_shstrndx);
	if (!shoff)
		return 0; /* no sections: no notes to find */
	if (shentsize < (s->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
		return -EINVAL;
	uint8_t first[sizeof(Elf64_Shdr)];
	struct shdr h0;
	if (read_at(s, shoff, first, shentsize < sizeof(first) ? shentsize : sizeof(first)))
		return -EINVAL;
	get_shdr(s, first, &h0);
	/* Many sections: the real counts live in section 0. */
	if (shnum == 0)
		shnum = h0.size > MAX_SECTIONS ? MAX_SECTIONS + 1 : (uint32_t)h0.size;
	if (shstrndx == SHN_XINDEX)
		shstrndx = h0.link;
	if (shnum > MAX_SECTIONS || shstrndx >= shnum)
		return -EINVAL;
	uint64_t table = (uint64_t)shnum * shentsize;
	if (shoff > s->size || table > s->size - shoff)
		return -EINVAL; /* before allocating: the table must fit in the file */
	uint8_t *sh = usdt__malloc(table);
	if (!sh)
		return -ENOMEM;
	int err = read_at(s, shoff, sh, table);
	if (err)
		goto out;
	struct shdr strh, h, notes = { 0 };
	get_shdr(s, sh + (uint64_t)shstrndx * shentsize, &strh);
	uint8_t *names = NULL, *ndata = NULL;
	if ((err = load(s, &strh, &names)))
		goto out;
	bool have_notes = false, have_base = false;
	uint64_t base_addr = 0;
	uint32_t dynstr = 0;
	for (uint32_t i = 0; i < shnum; i++) {
		get_shdr(s, sh + (uint64_t)i * shentsize, &h);
		if (h.name >= strh.size || !memchr(names + h.name, 0, strh.size - h.name))
			continue;
		const char *nm = (const char *)names + h.name;
		if (!strcmp(nm, ".note.stapsdt") && h.type == SHT_NOTE && !have_notes) {
			notes = h;
			have_notes = true;
		} else if (!strcmp(nm, ".stapsdt.base")) {
			have_base = true;
			base_addr = h.addr;
		} else if (h.type == SHT_DYNSYM && h.link < shnum) {
			dynstr = h.link;
		}
	}
	usdt__free(names);
	if (!have_notes)
		goto out;
	if (dynstr && (err = is_libusdt_image(s, sh + (uint64_t)dynstr * shentsize)))
		goto out;
	if ((err = load(s, &notes, &ndata)))
		goto out;
	err = walk_notes(s, ndata, notes.size, have_base, base_addr, fn, ctx);
	usdt__free(ndata);
out:
	usdt__free(sh);
	return err;
}

static int load_base(struct src *s, uint64_t *base)
{
	uint8_t eh[sizeof(Elf64_Ehdr)];
	int err = read_ehdr(s, eh);
	if (err)
		return err;
	uint64_t phoff = FIELD(s, eh, Ehdr, e_phoff);
	uint32_t phentsize = (uint32_t)FIELD(s, eh, Ehdr, e_phentsize);
	uint32_t phnum = (uint32_t)FIELD(s, eh, Ehdr, e_phnum);
	if (phentsize < (s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return -EINVAL;
	for (uint32_t i = 0; i < phnum; i++) {
		uint8_t ph[sizeof(Elf64_Phdr)];
		uint64_t at = phoff + (uint64_t)i * phentsize;
		if (at < phoff || read_at(s, at, ph, s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
			return -EINVAL;
		if (FIELD(s, ph, Phdr, p_type) != PT_LOAD)
			continue;
		uint64_t vaddr = FIELD(s, ph, Phdr, p_vaddr), off = FIELD(s, ph, Phdr, p_offset);
		*base = (vaddr - off) & ~(uint64_t)0xfff;
		return 0;
	}
	return -EINVAL;
}

static int fd_src(int fd, struct src *s)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	*s = (struct src){ .fd = fd, .size = (uint64_t)st.st_size };
	return 0;
}

int usdt__elf_notes_fd(int fd, usdt__note_fn fn, void *ctx)
{
	struct src s;
	int err = fd_src(fd, &s);
	return err ? err : walk(&s, fn, ctx);
}

int usdt__elf_load_base_fd(int fd, uint64_t *base)
{
	struct src s;
	int err = fd_src(fd, &s);
	return err ? err : load_base(&s, base);
}

int usdt__elf_load_base_mem(const void *data, size_t len, uint64_t *base)
{
	struct src s = { .fd = -1, .mem = data, .size = len };
	return load_base(&s, base);
}

int usdt__elf_notes_mem(const void *data, size_t len, usdt__note_fn fn, void *ctx)
{
	struct src s = { .fd = -1, .mem = data, .size = len };
	return walk(&s, fn, ctx);
}
