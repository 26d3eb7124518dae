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
 * load prints and goes through the same parser. libbpf's debug lines are dropped except that
 * one (an accepted program's log is printed at debug level).
 *
 * Output, on stdout (one line each, fields separated by one space, '%' and whitespace inside a
 * field written as %XX):
 *
 *     @@VDOCTOR UNAME <release>
 *     @@VDOCTOR PROGRAM <object> <name> <section> <accepted 0|1> <errno> <length> <crc32>
 *     <the text: zlib-compressed, base64, 76 characters a line>
 *     @@VDOCTOR END
 *     @@VDOCTOR OBJECT-FAILED <object> <errno> <length> <crc32>     (the object did not open)
 *     <text> / @@VDOCTOR END
 *     @@VDOCTOR DONE
 *
 * The text is compressed and encoded because a serial line may add '\r' and the kernel may
 * print in the middle of it; <length> and <crc32> (of the uncompressed text) let the host tell
 * a damaged block from a good one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <bpf/libbpf.h>
#include <zlib.h>

/* What libbpf printed since the last reset. */
static char *text;
static size_t text_len, text_cap;

static void text_reset(void)
{
	text_len = 0;
	if (text)
		text[0] = '\0';
}

static int text_reserve(size_t more)
{
	size_t cap = text_cap ? text_cap : 1 << 16;
	char *grown;

	if (text_len + more + 1 <= text_cap)
		return 0;
	while (cap < text_len + more + 1)
		cap *= 2;
	grown = realloc(text, cap);
	if (!grown)
		return -1;
	text = grown;
	text_cap = cap;
	return 0;
}

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list again;
	int need;

	/* libbpf prints an accepted program's verifier log at debug level; keep only that. */
	if (level == LIBBPF_DEBUG && !strstr(fmt, "PROG LOAD LOG"))
		return 0;
	va_copy(again, args);
	need = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (need < 0 || text_reserve((size_t)need + 1))
		return 0;
	vsnprintf(text + text_len, (size_t)need + 1, fmt, args);
	text_len += (size_t)need;
	/* Each message ends a line, as the host loader keeps them (loader.py, _log_text). */
	if (text_len && text[text_len - 1] != '\n') {
		text[text_len++] = '\n';
		text[text_len] = '\0';
	}
	return 0;
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

static void put_base64(const unsigned char *data, size_t len)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, column = 0;

	for (i = 0; i < len; i += 3) {
		unsigned long word = (unsigned long)data[i] << 16;
		char quad[4];

		if (i + 1 < len)
			word |= (unsigned long)data[i + 1] << 8;
		if (i + 2 < len)
			word |= data[i + 2];
		quad[0] = digits[(word >> 18) & 63];
		quad[1] = digits[(word >> 12) & 63];
		quad[2] = i + 1 < len ? digits[(word >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? digits[word & 63] : '=';
		fwrite(quad, 1, 4, stdout);
		column += 4;
		if (column == 76) {
			putchar('\n');
			column = 0;
		}
	}
	if (column)
		putchar('\n');
}

/* The captured text after a marker line that already has its fields; then the END marker. */
static void put_text_block(void)
{
	uLongf packed_len = compressBound(text_len);
	unsigned char *packed = malloc(packed_len);
	unsigned long crc = crc32(0L, (const Bytef *)(text ? text : ""), (uInt)text_len);

	printf(" %zu %08lx\n", text_len, crc);
	if (packed && compress2(packed, &packed_len, (const Bytef *)(text ? text : ""),
				text_len, 6) == Z_OK)
		put_base64(packed, packed_len);
	free(packed);
	puts("@@VDOCTOR END");
	fflush(stdout);
}

static int load_one(const char *path, int index, int log_level)
{
	struct bpf_object *obj;
	struct bpf_program *prog, *target = NULL;
	int i = 0, err;

	text_reset();
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -errno;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_autoload(prog, i == index);
		if (i == index)
			target = prog;
		i++;
	}
	if (!target) {
		bpf_object__close(obj);
		return -ENOENT;
	}
	bpf_program__set_log_level(target, (__u32)log_level | 4);
	err = bpf_object__load(obj);

	fputs("@@VDOCTOR PROGRAM", stdout);
	put_field(path);
	put_field(bpf_program__name(target));
	put_field(bpf_program__section_name(target));
	printf(" %d %d", err == 0, err < 0 ? -err : err);
	put_text_block();
	bpf_object__close(obj);
	return 0;
}

static void load_object(const char *path, int log_level)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int count = 0, i, err;

	text_reset();
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		err = errno;
		fputs("@@VDOCTOR OBJECT-FAILED", stdout);
		put_field(path);
		printf(" %d", err);
		put_text_block();
		return;
	}
	bpf_object__for_each_program(prog, obj)
		count++;
	bpf_object__close(obj);

	for (i = 0; i < count; i++) {
		err = load_one(path, i, log_level);
		if (err) {
			fputs("@@VDOCTOR OBJECT-FAILED", stdout);
			put_field(path);
			printf(" %d", -err);
			put_text_block();
			return;
		}
	}
}

int main(int argc, char **argv)
{
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
	free(text);
	return 0;
}
