/*
 * node.d - node's own `node` provider, as the DTrace builds of node (up to
 * v11, src/node_provider.d) declared it, with the argument layout those
 * builds fired on Linux (systemtap sdt.h): the pointers to node's C structs
 * come first, then the fields tracers read directly. bcc's nodegc/nodestat
 * (ugc -l node, ustat -l node) read gc__start/gc__done's first argument as
 * a 4-byte integer, hence int.
 * node-ext's runtime (node -r usdt/runtime) defines this provider at run
 * time and fires it; see README "Node's own `node` provider".
 */
provider node {
	probe http__server__request(void *req, void *conn, const char *remote, int port,
	                            const char *method, const char *url, int fd);
	probe http__server__response(void *conn, const char *remote, int port, int fd);
	probe http__client__request(void *req, void *conn, const char *remote, int port,
	                            const char *method, const char *url, int fd);
	probe http__client__response(void *conn, const char *remote, int port, int fd);
	probe net__server__connection(void *conn, const char *remote, int port, int fd);
	probe net__stream__end(void *conn, const char *remote, int port, int fd);
	probe gc__start(int type, int flags, void *isolate);
	probe gc__done(int type, int flags, void *isolate);
};
