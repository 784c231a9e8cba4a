/* bench.d - the static probe core_bench measures untraced (usdt-gen). */
provider benchgen {
	probe request(int64_t id, char *url, uint32_t status);
};
