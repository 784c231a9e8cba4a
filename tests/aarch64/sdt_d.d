/* Static probes for the arm64 full-system level (tests/aarch64/guest.sh).
 * bpftrace 0.17 reads at most arg0-arg7 on arm64 ("aarch64 doesn't support
 * arg8"), so eight() is for bpftrace and twelve() for gdb. */
provider a64sdt {
	probe eight(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f,
		    char *s, int64_t g);
	probe twelve(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f,
		     int64_t g, uint64_t h, char *s, long i, unsigned long j, int k);
	probe tick(int n);
};
