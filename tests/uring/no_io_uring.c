/*
 * no-io-uring: runs a command with io_uring forbidden, as a container's seccomp profile does
 * (Docker's default has done so since 2023), to test what the io_uring model does there.
 *
 *   no-io-uring [--errno EPERM|ENOSYS] COMMAND [ARG]...
 *
 * A seccomp filter makes io_uring_setup, io_uring_enter and io_uring_register fail with the
 * given errno (EPERM by default, like Docker's; ENOSYS is a kernel without io_uring). The
 * filter is inherited by every process the command starts, so `no-io-uring make test` runs a
 * whole test suite on a machine "without" io_uring.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "no-io-uring: add this architecture's AUDIT_ARCH_ value"
#endif

static int usage(void)
{
	fprintf(stderr, "usage: no-io-uring [--errno EPERM|ENOSYS] COMMAND [ARG]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	int err = EPERM;
	int i = 1;
	if (i < argc && strcmp(argv[i], "--errno") == 0) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i + 1], "EPERM") == 0)
			err = EPERM;
		else if (strcmp(argv[i + 1], "ENOSYS") == 0)
			err = ENOSYS;
		else {
			fprintf(stderr, "no-io-uring: --errno: '%s' is not EPERM or ENOSYS\n", argv[i + 1]);
			return usage();
		}
		i += 2;
	}
	if (i >= argc || argv[i][0] == '-')
		return usage();

	struct sock_filter code[] = {
		/* Another ABI's system call numbers mean other calls: let those through. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
	/* Without privileges, a filter needs no_new_privs: no set-uid program can then escape it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "no-io-uring: cannot install the seccomp filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "no-io-uring: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
