/*
 * python.d - CPython's `python` provider as CPython main (3.15) declares it
 * (Include/pydtrace.d): names, argument order and types. 3.15 added the
 * module name as function__entry/return's fourth argument and the
 * cfunction__entry/return probes (calls of C functions: the calling code's
 * file and line, the C function's name and module). bcc's ucalls/uflow/ugc
 * read the first three arguments, so they work unchanged. A string that
 * cannot be encoded to UTF-8 arrives as NULL. python-ext restores this
 * provider on interpreters that lack it.
 */
provider python {
	probe function__entry(const char *filename, const char *funcname, int lineno,
			      const char *module);
	probe function__return(const char *filename, const char *funcname, int lineno,
			       const char *module);
	probe instance__new__start(const char *classname, const char *modname);
	probe instance__new__done(const char *classname, const char *modname);
	probe instance__delete__start(const char *classname, const char *modname);
	probe instance__delete__done(const char *classname, const char *modname);
	probe line(const char *filename, const char *funcname, int lineno);
	probe gc__start(int generation);
	probe gc__done(long collected);
	probe import__find__load__start(const char *modname);
	probe import__find__load__done(const char *modname, int found);
	probe audit(const char *event, void *args);
	probe cfunction__entry(const char *filename, const char *funcname, int lineno,
			       const char *module);
	probe cfunction__return(const char *filename, const char *funcname, int lineno,
				const char *module);
};
