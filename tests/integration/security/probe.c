/* probe: try syscalls a container must not be allowed, print "name=errno" (0 = it worked).
   Built static at test time so it runs in a busybox rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long try(const char *name) {
    if (!strcmp(name, "unshare")) return unshare(CLONE_NEWUTS);
    if (!strcmp(name, "mount")) return mount("none", "/tmp", "tmpfs", 0, 0);
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "k", "v", 1, -3);
    if (!strcmp(name, "request_key")) return syscall(SYS_request_key, "user", "k", 0, 0);
    if (!strcmp(name, "personality")) return syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
    if (!strcmp(name, "personality0")) return syscall(SYS_personality, 0xffffffff) < 0 ? -1 : 0;
    if (!strcmp(name, "clone_newns")) {
        long pid = syscall(SYS_clone, CLONE_NEWNS | 17 /* SIGCHLD */, 0, 0, 0, 0);
        if (pid == 0) _exit(0);
        return pid < 0 ? -1 : 0;
    }
    if (!strcmp(name, "clone3")) return syscall(SYS_clone3, 0, 0);
    if (!strcmp(name, "vsock")) return socket(40, SOCK_STREAM, 0);
    if (!strcmp(name, "init_module")) return syscall(SYS_init_module, 0, 0, "");
    if (!strcmp(name, "finit_module")) return syscall(SYS_finit_module, -1, "", 0);
    if (!strcmp(name, "sethostname")) return sethostname("x", 1);
    if (!strcmp(name, "setns")) return syscall(SYS_setns, -1, 0);
    if (!strcmp(name, "chroot")) return chroot("/");
    if (!strcmp(name, "getpid")) return getpid() > 0 ? 0 : -1;
    if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
    if (!strcmp(name, "io_uring_setup")) return syscall(SYS_io_uring_setup, 1, 0);
    if (!strcmp(name, "umount2")) return umount2("/proc", MNT_DETACH);
    if (!strcmp(name, "pivot_root")) return syscall(SYS_pivot_root, "/", "/");
    if (!strcmp(name, "reboot")) return syscall(SYS_reboot, 0, 0, 0, 0);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = try(argv[i]);
        printf("%s=%s\n", argv[i], r >= 0 ? "ok" : strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    }
    return 0;
}
