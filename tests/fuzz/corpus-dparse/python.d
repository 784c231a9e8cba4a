/*
 * python.d - CPython's `python` provider, exactly as a --with-dtrace CPython
 * declares it (Include/pydtrace.d): names, argument order and types, so
 * bcc's ucalls/uflow/ugc and existing scripts read these probes unchanged.
 * python-ext restores this provider on interpreters that lack it.
 */
provider python {
	probe function__entry(const char *filename, const char *funcname, int lineno);
	probe function__return(const char *filename, const char *funcname, int lineno);
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
};
