/*
 * image_test.c - the ELF image a provider loads, parsed back with libelf:
 * notes, argument specs, semaphores, build-id, .stapsdt.base, segments,
 * symbols and soname are what tracers expect.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>

#include "arch.h"
#include "testlib.h"
#include "usdt.h"

struct parsed {
	int nnotes;
	char provider[8][80], name[8][80], args[8][200];
	uint64_t pc[8], base[8], sema[8];
	uint64_t base_addr, text_addr, text_size, probes_addr, probes_size, probes_flags;
	uint64_t text_flags;
	size_t build_id_len;
	bool pt_note_has_build_id, gnu_stack, stack_exec;
	int nload;
	uint64_t max_align;
	char soname[128];
	int sized_syms;
};

static int parse(const char *path, struct parsed *o)
{
	memset(o, 0, sizeof(*o));
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -1;
	size_t shstrndx;
	elf_getshdrstrndx(e, &shstrndx);
	Elf_Scn *scn = NULL;
	Elf_Scn *dynstr = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		const char *nm = elf_strptr(e, shstrndx, sh.sh_name);
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!strcmp(nm, ".stapsdt.base"))
			o->base_addr = sh.sh_addr;
		else if (!strcmp(nm, ".text"))
			o->text_addr = sh.sh_addr, o->text_size = sh.sh_size, o->text_flags = sh.sh_flags;
		else if (!strcmp(nm, ".probes"))
			o->probes_addr = sh.sh_addr, o->probes_size = sh.sh_size, o->probes_flags = sh.sh_flags;
		else if (!strcmp(nm, ".dynstr"))
			dynstr = scn;
		else if (!strcmp(nm, ".note.gnu.build-id")) {
			GElf_Nhdr nh;
			size_t no, dof;
			if (gelf_getnote(d, 0, &nh, &no, &dof) && nh.n_type == NT_GNU_BUILD_ID)
				o->build_id_len = nh.n_descsz;
		} else if (!strcmp(nm, ".note.stapsdt")) {
			size_t off = 0, no, dof;
			GElf_Nhdr nh;
			while ((off = gelf_getnote(d, off, &nh, &no, &dof)) > 0 && o->nnotes < 8) {
				const char *desc = (const char *)d->d_buf + dof;
				int i = o->nnotes++;
				memcpy(&o->pc[i], desc, 8);
				memcpy(&o->base[i], desc + 8, 8);
				memcpy(&o->sema[i], desc + 16, 8);
				const char *s = desc + 24;
				snprintf(o->provider[i], 80, "%s", s);
				s += strlen(s) + 1;
				snprintf(o->name[i], 80, "%s", s);
				s += strlen(s) + 1;
				snprintf(o->args[i], 200, "%s", s);
			}
		} else if (sh.sh_type == SHT_DYNSYM) {
			for (size_t i = 1; i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym sym;
				gelf_getsym(d, (int)i, &sym);
				if (sym.st_size)
					o->sized_syms++;
			}
		} else if (sh.sh_type == SHT_DYNAMIC) {
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Dyn dyn;
				gelf_getdyn(d, (int)i, &dyn);
				if (dyn.d_tag == DT_SONAME)
					snprintf(o->soname, sizeof(o->soname), "%llu",
								       (unsigned long long)dyn.d_un.d_val);
			}
		}
	}
	if (dynstr && o->soname[0]) {
		size_t idx = strtoull(o->soname, NULL, 10);
		snprintf(o->soname, sizeof(o->soname), "%s", elf_strptr(e, elf_ndxscn(dynstr), idx));
	}
	size_t nph;
	elf_getphdrnum(e, &nph);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		gelf_getphdr(e, (int)i, &ph);
		if (ph.p_type == PT_LOAD) {
			o->nload++;
			if (ph.p_align > o->max_align)
				o->max_align = ph.p_align;
			if (ph.p_vaddr % ph.p_align != ph.p_offset % ph.p_align)
				o->max_align = ~0ull;
		}
		if (ph.p_type == PT_NOTE)
			o->pt_note_has_build_id = o->build_id_len > 0;
		if (ph.p_type == PT_GNU_STACK)
			o->gnu_stack = true, o->stack_exec = ph.p_flags & PF_X;
	}
	elf_end(e);
	close(fd);
	return 0;
}

TEST(notes_describe_every_probe)
{
	usdt_provider *p = usdt_provider_new("imgtest");
	usdt_type t3[] = { USDT_INT32, USDT_STRING, USDT_UINT64 };
	usdt_type t12[12];
	for (int i = 0; i < 12; i++)
		t12[i] = i % 2 ? USDT_UINT16 : USDT_INT8;
	CHECK(usdt_probe_new(p, "three", t3, 3));
	CHECK(usdt_probe_new(p, "none", NULL, 0));
	CHECK(usdt_probe_new(p, "twelve", t12, 12));
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	struct parsed o;
	CHECK_EQ_INT(parse(usdt_provider_path(p), &o), 0);
	CHECK_EQ_INT(o.nnotes, 3);
	CHECK_STREQ(o.provider[0], "imgtest");
	CHECK_STREQ(o.name[0], "three");
	char want[512];
	static const char *const s3[] = { "-4", "8", "8" };
	CHECK_STREQ(o.args[0], ta_spec(s3, 3, want, sizeof(want)));
	CHECK_STREQ(o.name[1], "none");
	CHECK_STREQ(o.args[1], "");
	/* Registers first, then the stack slots above sp at the stub's entry. */
	static const char *const s12[] = { "-1", "2", "-1", "2", "-1", "2", "-1", "2", "-1", "2", "-1", "2" };
	CHECK_STREQ(o.args[2], ta_spec(s12, 12, want, sizeof(want)));
	for (int i = 0; i < 3; i++) {
		CHECK(o.pc[i] >= o.text_addr && o.pc[i] < o.text_addr + o.text_size);
		CHECK(o.sema[i] >= o.probes_addr && o.sema[i] + 2 <= o.probes_addr + o.probes_size);
		CHECK_EQ_INT(o.base[i], o.base_addr);
	}
	CHECK(o.sema[0] != o.sema[1] && o.sema[1] != o.sema[2]);
	CHECK(o.base_addr != 0);
	usdt_provider_free(p);
}

TEST(image_is_well_formed_for_tracers)
{
	usdt_provider *p = usdt_provider_new("wellformed");
	CHECK(usdt_probe_new_sig(p, "a", "int"));
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	struct parsed o;
	CHECK_EQ_INT(parse(usdt_provider_path(p), &o), 0);
	CHECK_EQ_INT(o.build_id_len, 20);
	CHECK(o.pt_note_has_build_id);
	CHECK(o.gnu_stack && !o.stack_exec);
	CHECK_EQ_INT(o.nload, 3);
	/* The architecture's largest page size (64 KiB on arm64: one image maps on
	 * 4K, 16K and 64K kernels), no 2 MiB holes, congruent segments. */
	CHECK_EQ_INT(o.max_align, TA_PAGE_ALIGN);
	CHECK((o.probes_flags & SHF_WRITE) && !(o.probes_flags & SHF_EXECINSTR));
	CHECK(o.text_flags & SHF_EXECINSTR);
	CHECK_STREQ(o.soname, "libusdt-wellformed.so");
	CHECK_EQ_INT(o.sized_syms, 2);
	/* readelf, the reference reader, agrees and does not warn. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "readelf -a -n %s 2>&1 | grep -ci warning", usdt_provider_path(p));
	FILE *f = popen(cmd, "r");
	int warnings = -1;
	CHECK(fscanf(f, "%d", &warnings) == 1);
	pclose(f);
	CHECK_EQ_INT(warnings, 0);
	usdt_provider_free(p);
}

TEST(loaded_probe_points_into_the_image)
{
	usdt_provider *p = usdt_provider_new("pointing");
	usdt_probe *a = usdt_probe_new_sig(p, "a", "long");
	CHECK(usdt_probe_address(a) == 0);
	CHECK(!usdt_probe_enabled(a));
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	uintptr_t addr = usdt_probe_address(a);
	CHECK(addr != 0);
	/* The probe address holds the default site's stub (a 5-byte nop on x86-64). */
	CHECK(!memcmp((void *)addr, ta_default_stub, sizeof(ta_default_stub)));
	CHECK_EQ_INT(*usdt_probe_semaphore(a), 0);
	/* The semaphore lies in this process's mapping of the image file. */
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;
	uintptr_t sema = (uintptr_t)usdt_probe_semaphore(a);
	while (fgets(line, sizeof(line), m)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && sema >= lo && sema < hi)
			found = strstr(line, usdt_provider_path(p)) && !strcmp(perms, "rw-p");
	}
	fclose(m);
	CHECK(found);
	usdt_provider_free(p);
}

TEST(nop1_site_is_selectable)
{
	struct usdt_provider_opts o = { .sz = sizeof(o), .site = USDT_SITE_NOP1 };
	usdt_provider *p = usdt_provider_new_opts("nopone", &o);
	usdt_probe *a = usdt_probe_new_sig(p, "a", "int");
	CHECK_EQ_INT(usdt_provider_load(p), 0);
	CHECK(!memcmp((void *)usdt_probe_address(a), ta_nop1_stub, sizeof(ta_nop1_stub)));
	usdt_provider_free(p);
}

TEST(same_definition_same_file_different_definition_other_file)
{
	char p1[512], p2[512], p3[512];
	usdt_provider *a = usdt_provider_new("samedef");
	usdt_probe_new_sig(a, "x", "int, char *");
	usdt_provider_load(a);
	snprintf(p1, sizeof(p1), "%s", usdt_provider_path(a));
	usdt_provider_free(a);
	usdt_provider *b = usdt_provider_new("samedef");
	usdt_probe_new_sig(b, "x", "int, char *");
	usdt_provider_load(b);
	snprintf(p2, sizeof(p2), "%s", usdt_provider_path(b));
	usdt_provider_free(b);
	usdt_provider *c = usdt_provider_new("samedef");
	usdt_probe_new_sig(c, "x", "int, long");
	usdt_provider_load(c);
	snprintf(p3, sizeof(p3), "%s", usdt_provider_path(c));
	usdt_provider_free(c);
	CHECK_STREQ(p1, p2);
	CHECK(strcmp(p1, p3) != 0);
	CHECK(strstr(p1, "/samedef-") != NULL);
}

TEST_MAIN()
