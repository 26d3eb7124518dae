// SPDX-License-Identifier: MIT
/*
 * vdoctor_guest_load: loads every program of some BPF objects into the running kernel, one
 * program at a time, and prints what libbpf printed for each, for the host to parse.
 *
 * It runs as /init's child inside a QEMU guest (verifier_doctor/kernel/qemu.py), linked
 * statically against libbpf so that one binary runs on every guest kernel.
 *
 *     vdoctor_guest_load LOG_LEVEL [OPTION N]... OBJECT... [[OPTION N]... OBJECT...]...
 *
 * The options (--runs, --again, --cpus, --dump, --log-bytes; described below) hold for the
 * objects after them, until an option names a new value.
 *
 * For each object and each of its programs, the object is opened anew with only that program
 * autoloaded (a rejected program must not hide the verdict on its neighbours), its verifier log
 * level set to LOG_LEVEL | 4 (statistics; BPF_LOG_STATS, Linux 5.2), and loaded. libbpf keeps
 * its own log buffer (16 MiB, doubled and retried on ENOSPC; with --log-bytes N, a buffer of N
 * bytes of ours instead, printed here the same way) and prints the log itself between
 * "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --", so the text is exactly what a host
 * load prints (verifier_doctor/kernel/loader.py) and goes through the same parser: libbpf's
 * warnings and notices, each ending a line, and of its debug lines only that log (an accepted
 * program's log is printed at debug level).
 *
 * With --runs N (N >= 1), each accepted program is then run with BPF_PROG_TEST_RUN as the host
 * runner does it (verifier_doctor/kernel/runner.py): packet types (socket filter, sched_cls,
 * sched_act, XDP, cgroup_skb, lwt_*, flow dissector) once with repeat = N on the runner's
 * 64-byte Ethernet+IPv4+UDP frame, the kernel timing each run; raw_tracepoint (12 zero u64
 * arguments) and syscall (a zeroed 4 KiB context) programs N times with no data, timed here by
 * the wall clock. Other types are not run. With --cpus K (K >= 2) that first run happens on K
 * threads at once, the thread i pinned to CPU i, each with repeat = N (one RUN line each, in CPU
 * order); the loader itself runs on CPU 0. With --again M (M >= 1) each accepted program is run
 * once more after that, with repeat = M, on CPU 0 (one more RUN line).
 *
 * With --dump 1, after the runs, the contents of each of the object's array maps (key 0, every
 * possible CPU's value of a per-CPU array one after the other, each rounded up to 8 bytes, as the
 * kernel copies them) and of each arena, read through libbpf's mmap() of it in this process,
 * follow in MAP blocks.
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
 *     @@VDOCTOR RUN <retval> <duration_ns> <repeat> <errno> <type>   (--runs, accepted programs)
 *     @@VDOCTOR MAP <name> <type> <value_size> <address>   (--dump 1, accepted programs)
 *     <bytes>
 *     @@VDOCTOR END 1 0 <length> <crc32>
 *     @@VDOCTOR DONE
 *
 * RUN lines and MAP blocks belong to the PROGRAM block just before them. <type> of a MAP is the
 * map type's number, <address> (hex) where this process maps an arena, else 0. <retval> is the program's return
 * value (of the last run, unsigned), <duration_ns> the time of one run, <repeat> the number of
 * runs, <errno> 0 or the positive errno of the failed run, <type> libbpf's name of the program
 * type. A type that cannot be test-run gives <repeat> 0 and <errno> EOPNOTSUPP.
 *
 * <text> is libbpf's output, zlib-compressed and base64-encoded (76 characters a line) as it is
 * printed, so a log of hundreds of MiB is never held twice in the guest's memory, and a serial
 * line adding '\r' cannot damage it. <length> and <crc32> are those of the uncompressed text,
 * so the host can tell a damaged block from a good one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
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

/* While a freplace program's candidate targets load, libbpf's output is not kept. */
static int quiet;
/* Whether libbpf printed a verifier log for the load under way. */
static int saw_verifier_log;
/* --log-bytes N: the verifier log goes to a buffer of N bytes of ours, whose end a kernel since
 * 6.4 keeps when the log is longer, and is printed here as libbpf prints its own. */
static long log_bytes;
static char *log_buf;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (quiet)
		return 0;
	/* libbpf prints an accepted program's verifier log at debug level; keep only that. */
	if (level == LIBBPF_DEBUG && !strstr(fmt, "PROG LOAD LOG"))
		return 0;
	if (strstr(fmt, "PROG LOAD LOG"))
		saw_verifier_log = 1;
	vfprintf(text_sink, fmt, args);
	fflush(text_sink);
	/* Each message ends a line, as the host loader keeps them (loader.py, _log_text). */
	if (text_last != '\n') {
		fputc('\n', text_sink);
		fflush(text_sink);
	}
	return 0;
}

/* --- test runs (as verifier_doctor/kernel/runner.py) ------------------------------------------- */

/* runner.default_packet(): Ethernet + IPv4 + UDP, 192.0.2.1:4242 -> 192.0.2.2:9 (TEST-NET-1),
 * 64 bytes; tests/test_qemu_matrix.py checks that the two stay the same. */
static const unsigned char default_packet[64] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00,
	0x00, 0x32, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11,
	0xb6, 0xb6, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00,
	0x02, 0x02, 0x10, 0x92, 0x00, 0x09, 0x00, 0x1e,
	0x00, 0x00, 0x76, 0x64, 0x6f, 0x63, 0x74, 0x6f,
	0x72, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x70,
	0x61, 0x63, 0x6b, 0x65, 0x74, 0x21, 0x21, 0x21,
};

/* Numbers, not enum names, so that types newer than the build's headers compile too. */
static int is_packet_type(int type)
{
	switch (type) {
	case 1:  /* socket_filter */
	case 3:  /* sched_cls */
	case 4:  /* sched_act */
	case 6:  /* xdp */
	case 8:  /* cgroup_skb */
	case 10: /* lwt_in */
	case 11: /* lwt_out */
	case 12: /* lwt_xmit */
	case 19: /* lwt_seg6local */
	case 22: /* flow_dissector */
		return 1;
	}
	return 0;
}

#define RAW_TRACEPOINT_TYPE 17
#define SYSCALL_TYPE 31

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

struct run_result {
	struct bpf_program *prog;
	int runs, cpu;
	unsigned int retval;
	unsigned long long duration;
	int repeat, err;
};

static void *run_once(void *arg)
{
	static unsigned char raw_tp_ctx[12 * 8]; /* MAX_BPF_FUNC_ARGS zero arguments */
	static unsigned char syscall_ctx[4096];
	struct run_result *r = arg;
	unsigned char packet[sizeof(default_packet)];
	int type = (int)bpf_program__type(r->prog);
	int fd = bpf_program__fd(r->prog), i;

	if (r->cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(r->cpu, &one);
		sched_setaffinity(0, sizeof(one), &one); /* this thread only */
	}
	r->repeat = r->runs;
	r->err = 0;
	if (is_packet_type(type)) {
		LIBBPF_OPTS(bpf_test_run_opts, opts);

		memcpy(packet, default_packet, sizeof(packet));
		opts.data_in = packet;
		opts.data_size_in = sizeof(packet);
		opts.repeat = r->runs;
		r->err = bpf_prog_test_run_opts(fd, &opts);
		r->retval = opts.retval;
		r->duration = opts.duration;
	} else if (type == RAW_TRACEPOINT_TYPE || type == SYSCALL_TYPE) {
		LIBBPF_OPTS(bpf_test_run_opts, opts);
		unsigned long long start;

		if (type == RAW_TRACEPOINT_TYPE) {
			opts.ctx_in = raw_tp_ctx;
			opts.ctx_size_in = sizeof(raw_tp_ctx);
		} else {
			opts.ctx_in = syscall_ctx;
			opts.ctx_size_in = sizeof(syscall_ctx);
		}
		start = now_ns();
		for (i = 0; i < r->runs && !r->err; i++) {
			r->err = bpf_prog_test_run_opts(fd, &opts);
			r->retval = opts.retval;
		}
		r->duration = (now_ns() - start) / (unsigned long long)r->runs;
	} else {
		r->err = -EOPNOTSUPP;
		r->repeat = 0;
	}
	if (r->err) {
		r->retval = 0;
		r->duration = 0;
	}
	return NULL;
}

static void print_run(const struct run_result *r)
{
	int type = (int)bpf_program__type(r->prog);
	const char *type_name = libbpf_bpf_prog_type_str((enum bpf_prog_type)type);
	char unknown[32];

	if (!type_name) {
		snprintf(unknown, sizeof(unknown), "type %d", type);
		type_name = unknown;
	}
	printf("@@VDOCTOR RUN %u %llu %d %d", r->retval, r->duration, r->repeat,
	       r->err < 0 ? -r->err : r->err);
	put_field(type_name);
	putchar('\n');
	fflush(stdout);
}

#define MAX_CPUS 64

/* The program's runs: on `cpus` threads at once (one per CPU) when cpus >= 2, else here. */
static void run_program(struct bpf_program *prog, int runs, int cpus)
{
	struct run_result results[MAX_CPUS];
	pthread_t threads[MAX_CPUS];
	int i;

	if (cpus < 2) {
		results[0] = (struct run_result){ .prog = prog, .runs = runs, .cpu = -1 };
		run_once(&results[0]);
		print_run(&results[0]);
		return;
	}
	for (i = 0; i < cpus; i++) {
		results[i] = (struct run_result){ .prog = prog, .runs = runs, .cpu = i };
		if (pthread_create(&threads[i], NULL, run_once, &results[i])) {
			results[i].err = -errno;
			results[i].repeat = runs;
			threads[i] = 0;
		}
	}
	for (i = 0; i < cpus; i++) {
		if (threads[i])
			pthread_join(threads[i], NULL);
		print_run(&results[i]);
	}
}

/* --- map contents (--dump 1) ------------------------------------------------------------------ */

#define ARENA_TYPE 33 /* BPF_MAP_TYPE_ARENA, Linux 6.9 */

static void dump_map(struct bpf_map *map)
{
	int type = (int)bpf_map__type(map);
	unsigned long long address = 0;
	size_t size = 0;
	void *data = NULL, *copy = NULL;
	__u32 key = 0;

	if (type == ARENA_TYPE) {
		data = bpf_map__initial_value(map, &size); /* libbpf's mmap() of the arena */
		address = (unsigned long long)(unsigned long)data;
	} else if ((type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) &&
		   bpf_map__key_size(map) == sizeof(key)) {
		size = bpf_map__value_size(map);
		if (type == BPF_MAP_TYPE_PERCPU_ARRAY)
			size = (size + 7) / 8 * 8 * (size_t)libbpf_num_possible_cpus();
		copy = calloc(1, size);
		if (copy && bpf_map_lookup_elem(bpf_map__fd(map), &key, copy) == 0)
			data = copy;
	}
	if (!data) {
		free(copy);
		return;
	}
	fputs("@@VDOCTOR MAP", stdout);
	put_field(bpf_map__name(map));
	printf(" %d %u %llx", type, bpf_map__value_size(map), address);
	block_begin();
	text_write(NULL, data, size);
	block_end(1, 0);
	free(copy);
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

static int is_freplace(const char *section)
{
	return strncmp(section, "freplace/", 9) == 0;
}

/* Whether loaded program `fd` holds function `name`: the kernel's func_info, named by the
 * object's BTF (the one libbpf loaded with it). */
static int holds_function(int fd, struct bpf_object *obj, const char *name)
{
	struct bpf_prog_info info;
	struct bpf_func_info *records;
	const struct btf *btf = bpf_object__btf(obj);
	__u32 size = sizeof(info), count, i;
	int found = 0;

	memset(&info, 0, sizeof(info));
	if (!btf || bpf_prog_get_info_by_fd(fd, &info, &size) || !info.nr_func_info)
		return 0;
	count = info.nr_func_info;
	records = calloc(count, sizeof(*records));
	if (!records)
		return 0;
	memset(&info, 0, sizeof(info));
	info.nr_func_info = count;
	info.func_info_rec_size = sizeof(*records);
	info.func_info = (__u64)(unsigned long)records;
	size = sizeof(info);
	if (bpf_prog_get_info_by_fd(fd, &info, &size) == 0) {
		for (i = 0; i < count && !found; i++) {
			const struct btf_type *type = btf__type_by_id(btf, records[i].type_id);

			found = type && strcmp(btf__name_by_offset(btf, type->name_off), name) == 0;
		}
	}
	free(records);
	return found;
}

/*
 * After a load that failed before the verifier: one line per map, its type, its entries and
 * libbpf's probe of this kernel for the type, in the words of the host loader
 * (kernel/loader.py, _map_facts), which parsing/messages.py reads.
 */
static void say_map_facts(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		int type = (int)bpf_map__type(map);
		const char *name = libbpf_bpf_map_type_str((enum bpf_map_type)type);
		int probed = libbpf_probe_bpf_map_type((enum bpf_map_type)type, NULL);
		char unknown[32];

		if (!name) {
			snprintf(unknown, sizeof(unknown), "type %d", type);
			name = unknown;
		}
		fprintf(text_sink, "vdoctor: map '%s' is of type %s (max_entries %u); libbpf's probe of this "
			"kernel: %s maps %s\n", bpf_map__name(map), name, bpf_map__max_entries(map), name,
			probed == 1 ? "available" : probed == 0 ? "not available" : "unknown");
	}
}

/* Loads program `index` of `path` with its log level; a freplace program against the first
 * program of the object that loads and holds the function it replaces (as loader.py does on
 * the host), else as libbpf alone would, after a line saying no program holds it. */
static int load_one(const char *path, int index, char **sections, int count, int log_level,
		    struct bpf_object **obj, struct bpf_program **prog, struct bpf_object **held)
{
	const char *function = strchr(sections[index], '/') ? strchr(sections[index], '/') + 1 : "";
	struct bpf_program *target = NULL;
	int j, err;

	*held = NULL;
	for (j = 0; is_freplace(sections[index]) && j < count && !*held; j++) {
		if (j == index || is_freplace(sections[j]) || strcmp(sections[j], ".text") == 0)
			continue;
		quiet = 1;
		*held = open_with_only(path, j, &target);
		if (!*held || !target || bpf_object__load(*held) ||
		    !holds_function(bpf_program__fd(target), *held, function)) {
			bpf_object__close(*held);
			*held = NULL;
		}
		quiet = 0;
	}
	if (is_freplace(sections[index]) && !*held)
		fprintf(text_sink, "vdoctor: this freplace program cannot be loaded without a target: it "
			"replaces a global function of a loaded program, and no program of %s that loads "
			"here holds a global function %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
			function);
	*obj = open_with_only(path, index, prog);
	if (!*obj)
		return -errno;
	if (!*prog)
		return -ENOENT;
	bpf_program__set_log_level(*prog, (__u32)log_level | 4);
	if (log_bytes) {
		log_buf[0] = '\0';
		bpf_program__set_log_buf(*prog, log_buf, (size_t)log_bytes);
	}
	if (*held)
		bpf_program__set_attach_target(*prog, bpf_program__fd(target), function);
	saw_verifier_log = 0;
	err = bpf_object__load(*obj);
	if (log_bytes && log_buf[0]) {
		fprintf(text_sink, "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
			bpf_program__name(*prog), log_buf);
		saw_verifier_log = 1;
	}
	if (err && !saw_verifier_log)
		say_map_facts(*obj);
	return err ? err : check_global_data_mmap(*obj);
}

struct plan {
	int runs, again, cpus, dump;
};

static void load_object(const char *path, int log_level, const struct plan *plan)
{
	struct bpf_object *obj, *held;
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
		err = load_one(path, i, sections, count, log_level, &obj, &prog, &held);
		block_end(err == 0, err);
		if (err == 0 && plan->runs > 0)
			run_program(prog, plan->runs, plan->cpus);
		if (err == 0 && plan->runs > 0 && plan->again > 0)
			run_program(prog, plan->again, 1);
		if (err == 0 && plan->dump) {
			struct bpf_map *map;

			bpf_object__for_each_map(map, obj)
				dump_map(map);
		}
		bpf_object__close(obj);
		bpf_object__close(held);
		free(names[i]);
		free(sections[i]);
	}
	free(names);
	free(sections);
}

/* The value of option argv[i] (argv[i + 1]) as a number in [low, high], or exits. */
static long option_value(int argc, char **argv, int i, long low, long high)
{
	char *end;
	long value = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;

	if (i + 1 >= argc || *end || value < low || value > high) {
		fprintf(stderr, "%s: %s takes %ld..%ld, not '%s'\n", argv[0], argv[i], low, high,
			i + 1 < argc ? argv[i + 1] : "");
		exit(2);
	}
	return value;
}

int main(int argc, char **argv)
{
	static const cookie_io_functions_t sink_io = { .write = text_write };
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct plan plan = { .runs = 0, .again = 0, .cpus = 1, .dump = 0 };
	struct utsname uts;
	cpu_set_t first_cpu;
	char *end;
	long log_level;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LOG_LEVEL [--runs N] [--again N] [--cpus N] [--dump 0|1] "
			"[--log-bytes N] OBJECT...\n", argv[0]);
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
	/* One CPU for everything but --cpus runs, so that a program run again finds the blocks
	 * its first run freed in that CPU's cache. */
	CPU_ZERO(&first_cpu);
	CPU_SET(0, &first_cpu);
	sched_setaffinity(0, sizeof(first_cpu), &first_cpu);

	uname(&uts);
	fputs("@@VDOCTOR UNAME", stdout);
	put_field(uts.release);
	putchar('\n');
	fflush(stdout);

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0)
			plan.runs = (int)option_value(argc, argv, i++, 0, 1000000000L);
		else if (strcmp(argv[i], "--again") == 0)
			plan.again = (int)option_value(argc, argv, i++, 0, 1000000000L);
		else if (strcmp(argv[i], "--cpus") == 0)
			plan.cpus = (int)option_value(argc, argv, i++, 1, MAX_CPUS);
		else if (strcmp(argv[i], "--dump") == 0)
			plan.dump = (int)option_value(argc, argv, i++, 0, 1);
		else if (strcmp(argv[i], "--log-bytes") == 0) {
			log_bytes = option_value(argc, argv, i++, 0, 1L << 30);
			free(log_buf);
			log_buf = log_bytes ? malloc(log_bytes + 1) : NULL;
			if (log_bytes && !log_buf) {
				perror("malloc");
				return 1;
			}
		} else
			load_object(argv[i], (int)log_level, &plan);
	}
	puts("@@VDOCTOR DONE");
	fflush(stdout);
	return 0;
}
