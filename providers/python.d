/*
 * python.d - CPython's `python` provider in its four-argument form, as CPython
 * main (3.16, Include/pydtrace.d after PR #142397) declares it: names,
 * argument order and types. Released CPythons declare less:
 *   3.8-3.15 releases: function__entry/return(filename, funcname, lineno),
 *     three arguments, no cfunction probes; line only up to 3.11.
 *     A --with-dtrace build fires them on 3.8-3.11 and 3.15 (3.11's entry only
 *     while a line probe or trace hook is active, gh-98894); 3.12-3.14 have no
 *     function or line probes in their notes at all.
 *   CPython main: adds the module name as function__entry/return's fourth
 *     argument and the cfunction__entry/return probes (calls of C functions:
 *     the calling code's file and line, the C function's name and module).
 * We keep main's superset because tools written for main read arguments 0-3
 * and the cfunction probes, and every three-argument tool (bcc's ucalls,
 * uflow, ugc; CPython's own dtracedata scripts) reads only a prefix of it.
 * python-ext restores what an interpreter lacks and never a probe it has: on
 * Debian's 3.15 function__entry/return stay the interpreter's own three-
 * argument ones. A string that cannot be encoded to UTF-8 arrives as NULL.
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
