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
 */
provider vm {
	probe function__entry(char *name, char *file, int line);
	probe function__return(char *name, char *file, int line);
	probe gc__start(uint64_t heap_bytes);
	probe gc__done(uint64_t freed, uint64_t heap_bytes);
	probe object__alloc(char *kind, uint64_t size);
	probe object__free(char *kind, uint64_t size);
	probe error(char *message, char *file, int line);
};
