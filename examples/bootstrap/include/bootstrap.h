/* What the BPF side of the bootstrap example sends to user space through its ring buffer. */
#ifndef BOOTSTRAP_H
#define BOOTSTRAP_H

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 127

enum event_kind {
	EVENT_EXEC = 1,
	EVENT_UNLINK = 2,
};

struct event {
	int pid;
	int ppid;
	enum event_kind kind;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN];
};

#endif /* BOOTSTRAP_H */
