# dockyard exec helper (x86_64): execve(argv[0], argv + 1, envp); on failure write
# "dockyard: exec user process failed: errno N" to stderr and exit 1; with fewer than
# two arguments (run as a script's interpreter through /proc/self/exe) exit 127.
    .text
    .globl _start
_start:
    mov     (%rsp), %rcx            # argc
    cmp     $2, %rcx
    jb      usage
    lea     8(%rsp), %rsi           # argv
    lea     16(%rsp,%rcx,8), %rdx   # envp: after argv's NULL
    mov     (%rsi), %rdi            # the program's path
    add     $8, %rsi                # its argv
    mov     $59, %eax               # execve
    syscall
    neg     %rax
    mov     %rax, %r8               # errno
    mov     $1, %eax                # write(2, msg, len)
    mov     $2, %edi
    lea     msg(%rip), %rsi
    mov     $msg_end - msg, %edx
    syscall
    sub     $32, %rsp               # the number, written backwards, then "\n"
    lea     31(%rsp), %rsi
    movb    $10, (%rsi)
    mov     %r8, %rax
    mov     $10, %ecx
digit:
    xor     %edx, %edx
    div     %rcx
    add     $48, %dl
    dec     %rsi
    mov     %dl, (%rsi)
    test    %rax, %rax
    jnz     digit
    lea     32(%rsp), %rdx
    sub     %rsi, %rdx
    mov     $2, %edi
    mov     $1, %eax
    syscall
    mov     $1, %edi
    jmp     leave
usage:
    mov     $127, %edi
leave:
    mov     $231, %eax              # exit_group
    syscall
msg:
    .ascii  "dockyard: exec user process failed: errno "
msg_end:
