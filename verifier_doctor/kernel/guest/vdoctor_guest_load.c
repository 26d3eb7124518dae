// SPDX-License-Identifier: MIT
/*
 * vdoctor_guest_load: loads every program of some BPF objects into the running kernel, one
 * program at a time, and prints what libbpf printed for each, for the host to parse.
 *
 * It runs as /init's child inside a QEMU guest (verifier_doctor/kernel/qemu.py), linked
 * statically against libbpf so that one binary runs on every guest kernel.
 *
 *     vdoctor_guest_load LOG_LEVEL OBJECT...
 *
 * For each object and each of its programs, the object is opened anew with only that program
 * autoloaded (a rejected program must not hide the verdict on its neighbours), its verifier log
 * level set to LOG_LEVEL | 4 (statistics; BPF_LOG_STATS, Linux 5.2), and loaded. libbpf keeps
 * its own log buffer (16 MiB, doubled and retried on ENOSPC) and prints the log itself between
 * "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --", so the text is exactly what a host
 * load prints (verifier_doctor/kernel/loader.py) and goes through the same parser: libbpf's
 * warnings and notices, each ending a line, and of its debug lines only that log (an accepted
 * program's log is printed at debug level).
 *
 * Output, on stdout; fields are separated by one space, with '%', whitespace and control
 * characters inside a field written as %XX (an empty field as %00):
 *
 *     @@VDOCTOR UNAME <release>
 *     @@VDOCTOR OPEN <object>                    (listing the object's programs)
 *     <text>
 *     @@VDOCTOR END <opened 0|1> <errno> <length> <crc32>
 *     @@VDOCTOR PROGRAM <object> <name> <section>     (one per program, if it opened)
 *     <text>
 *     @@VDOCTOR END <accepted 0|1> <errno> <length> <crc32>
 *     @@VDOCTOR DONE
 *
 * <text> is libbpf's output, zlib-compressed and base64-encoded (76 characters a line) as it is
 * printed, so a log of hundreds of MiB is never held twice in the guest's memory, and a serial
 * line adding '\r' cannot damage it. <length> and <crc32> are those of the uncompressed text,
 * so the host can tell a damaged block from a good one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpf/libbpf.h>
#include <zlib.h>

/* --- base64, 76 characters a line, on stdout ------------------------------------------- */

static unsigned char b64_carry[3];
static int b64_carried, b64_column;

static void b64_quad(const unsigned char *in, int n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long word = (unsigned long)in[0] << 16;
	char quad[4];

	if (n > 1)
		word |= (unsigned long)in[1] << 8;
	if (n > 2)
		word |= in[2];
	quad[0] = digits[(word >> 18) & 63];
	quad[1] = digits[(word >> 12) & 63];
	quad[2] = n > 1 ? digits[(word >> 6) & 63] : '=';
	quad[3] = n > 2 ? digits[word & 63] : '=';
	fwrite(quad, 1, 4, stdout);
	b64_column += 4;
	if (b64_column == 76) {
		putchar('\n');
		b64_column = 0;
	}
}

static void b64_write(const unsigned char *data, size_t len)
{
	while (len) {
		b64_carry[b64_carried++] = *data++;
		len--;
		if (b64_carried == 3) {
			b64_quad(b64_carry, 3);
			b64_carried = 0;
		}
	}
}

static void b64_finish(void)
{
	if (b64_carried)
		b64_quad(b64_carry, b64_carried);
	if (b64_column)
		putchar('\n');
	b64_carried = b64_column = 0;
}

/* --- a text block: libbpf's output, deflated and encoded as it comes -------------------- */

static z_stream deflater;
static unsigned long text_crc;
static size_t text_len;
static int text_last = '\n';
static FILE *text_sink; /* a stdio stream over text_write, for libbpf's vfprintf */

static void deflate_some(int flush)
{
	unsigned char out[1 << 16];

	do {
		deflater.next_out = out;
		deflater.avail_out = sizeof(out);
		if (deflate(&deflater, flush) == Z_STREAM_ERROR)
			return;
		b64_write(out, sizeof(out) - deflater.avail_out);
	} while (deflater.avail_out == 0);
}

static ssize_t text_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	if (!size)
		return 0;
	text_crc = crc32(text_crc, (const Bytef *)buf, (uInt)size);
	text_len += size;
	text_last = (unsigned char)buf[size - 1];
	deflater.next_in = (Bytef *)buf;
	deflater.avail_in = (uInt)size;
	deflate_some(Z_NO_FLUSH);
	return (ssize_t)size;
}

/* A field on a marker line: '%', whitespace and control characters written as %XX. */
static void put_field(const char *s)
{
	putchar(' ');
	if (!s || !*s) {
		fputs("%00", stdout);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == 0x7f)
			printf("%%%02X", c);
		else
			putchar(c);
	}
}

/* Starts a block; the caller has printed "@@VDOCTOR KIND" and its fields. */
static void block_begin(void)
{
	putchar('\n');
	memset(&deflater, 0, sizeof(deflater));
	deflateInit(&deflater, 6);
	text_crc = crc32(0L, Z_NULL, 0);
	text_len = 0;
	text_last = '\n';
}

static void block_end(int ok, int err)
{
	fflush(text_sink);
	deflater.next_in = Z_NULL;
	deflater.avail_in = 0;
	deflate_some(Z_FINISH);
	deflateEnd(&deflater);
	b64_finish();
	printf("@@VDOCTOR END %d %d %zu %08lx\n", ok, err < 0 ? -err : err, text_len, text_crc);
	fflush(stdout);
}

/*
 * libbpf >= 1.5 mmap()s .bss/.data/.rodata right after creating them (skeletons of every
 * version do); the kernel refuses that when the value holds a bpf_spin_lock or a timer
 * (-ENOTSUPP, 524). The libbpf 1.4 linked here does not, so check it the same way as the
 * host loader (kernel/loader.py), in the same words.
 */
static int check_global_data_mmap(struct bpf_object *obj)
{
	long page = sysconf(_SC_PAGESIZE);
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		size_t size;
		void *mem;

		if (!bpf_map__is_internal(map) || !(bpf_map__map_flags(map) & BPF_F_MMAPABLE))
			continue;
		size = ((size_t)bpf_map__value_size(map) + page - 1) / page * page;
		mem = mmap(NULL, size, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);
		if (mem == MAP_FAILED) {
			int err = errno;

			fprintf(text_sink, "vdoctor: map '%s': failed to mmap() global data: error -%d; the kernel "
				"refuses to memory-map global data that holds a bpf_spin_lock or a timer, so libbpf >= 1.5 "
				"and skeletons fail the load here\n", bpf_map__name(map), err);
			return -err;
		}
		munmap(mem, size);
	}
	return 0;
}

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* libbpf prints an accepted program's verifier log at debug level; keep only that. */
	if (level == LIBBPF_DEBUG && !strstr(fmt, "PROG LOAD LOG"))
		return 0;
	vfprintf(text_sink, fmt, args);
	fflush(text_sink);
	/* Each message ends a line, as the host loader keeps them (loader.py, _log_text). */
	if (text_last != '\n') {
		fputc('\n', text_sink);
		fflush(text_sink);
	}
	return 0;
}

/* --- loading -------------------------------------------------------------------------------- */

/* Opens `path` with only program number `index` autoloaded; returns it in *target. */
static struct bpf_object *open_with_only(const char *path, int index, struct bpf_program **target)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int i = 0;

	*target = NULL;
	if (!obj)
		return NULL;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_autoload(prog, i == index);
		if (i++ == index)
			*target = prog;
	}
	return obj;
}

static void load_object(const char *path, int log_level)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char **names = NULL, **sections = NULL;
	int count = 0, i, err = 0;

	fputs("@@VDOCTOR OPEN", stdout);
	put_field(path);
	block_begin();
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		err = -errno;
	else {
		bpf_object__for_each_program(prog, obj)
			count++;
		names = calloc(count ? count : 1, sizeof(*names));
		sections = calloc(count ? count : 1, sizeof(*sections));
		i = 0;
		bpf_object__for_each_program(prog, obj) {
			names[i] = strdup(bpf_program__name(prog));
			sections[i] = strdup(bpf_program__section_name(prog));
			i++;
		}
		bpf_object__close(obj);
	}
	block_end(obj != NULL, err);

	for (i = 0; i < count; i++) {
		fputs("@@VDOCTOR PROGRAM", stdout);
		put_field(path);
		put_field(names[i]);
		put_field(sections[i]);
		block_begin();
		obj = open_with_only(path, i, &prog);
		if (!obj) {
			err = -errno;
		} else if (!prog) {
			err = -ENOENT;
		} else {
			bpf_program__set_log_level(prog, (__u32)log_level | 4);
			err = bpf_object__load(obj);
			if (err == 0)
				err = check_global_data_mmap(obj);
		}
		bpf_object__close(obj);
		block_end(err == 0, err);
		free(names[i]);
		free(sections[i]);
	}
	free(names);
	free(sections);
}

int main(int argc, char **argv)
{
	static const cookie_io_functions_t sink_io = { .write = text_write };
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct utsname uts;
	char *end;
	long log_level;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LOG_LEVEL OBJECT...\n", argv[0]);
		return 2;
	}
	log_level = strtol(argv[1], &end, 10);
	if (*end || log_level < 0 || log_level > 7) {
		fprintf(stderr, "%s: log level must be 0..7, not '%s'\n", argv[0], argv[1]);
		return 2;
	}
	text_sink = fopencookie(NULL, "w", sink_io);
	if (!text_sink) {
		perror("fopencookie");
		return 1;
	}
	/* Before 5.11 BPF memory counts against RLIMIT_MEMLOCK (libbpf 1.x also raises it). */
	setrlimit(RLIMIT_MEMLOCK, &unlimited);
	libbpf_set_print(capture_print);

	uname(&uts);
	fputs("@@VDOCTOR UNAME", stdout);
	put_field(uts.release);
	putchar('\n');
	fflush(stdout);

	for (i = 2; i < argc; i++)
		load_object(argv[i], (int)log_level);
	puts("@@VDOCTOR DONE");
	fflush(stdout);
	return 0;
}
