/* A libbpf loader with libbpf's debug log on, as a libbpf-based tool prints it when run
 * with its --verbose flag: every libbpf message at every level (LIBBPF_DEBUG included),
 * and the kernel's verifier log at LEVEL (kernel_log_level: on success too).
 *
 *     vdoctor-libbpf-debug OBJECT LEVEL
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/libbpf.h>

static int print_all(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	return vfprintf(stderr, format, args);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: vdoctor-libbpf-debug OBJECT LEVEL\n");
		return 2;
	}
	libbpf_set_print(print_all);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_level = (__u32)atoi(argv[2]));
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		fprintf(stderr, "failed to open %s\n", argv[1]);
		return 1;
	}
	int err = bpf_object__load(obj);
	if (err)
		fprintf(stderr, "failed to load BPF object: %d\n", err);
	bpf_object__close(obj);
	return err ? 1 : 0;
}
