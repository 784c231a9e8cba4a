/* static.d - the static probe static_bench measures untraced (via usdt-gen). */
provider benchgen {
	probe request(int64_t id, char *url, uint32_t status, int8_t retry);
};
