/*
 * vm.d - probes for a small interpreter or virtual machine.
 *
 * A generic provider a language runtime can adopt as is: the events every
 * interpreter has, with the arguments a tracer needs to make sense of them.
 * examples/minivm places these probes through the header usdt-gen makes
 * from this file.
 *
 *   function__entry / function__return   name, source file, line of definition
 *   gc__start                            heap bytes in use before collecting
 *   gc__done                             objects freed, heap bytes in use after
 *   object__alloc / object__free         kind of object, size in bytes
 *   error                                message, source file, line
 *
 * Counts and sizes are signed 64-bit: tools (usdt list) read 8-byte unsigned
 * arguments as pointers or strings.
 */
provider vm {
	probe function__entry(char *name, char *file, int line);
	probe function__return(char *name, char *file, int line);
	probe gc__start(int64_t heap_bytes);
	probe gc__done(int64_t freed, int64_t heap_bytes);
	probe object__alloc(char *kind, int64_t size);
	probe object__free(char *kind, int64_t size);
	probe error(char *message, char *file, int line);
};
