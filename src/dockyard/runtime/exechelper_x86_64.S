# dockyard exec helper (x86_64), see runtime/exechelper.py: execve(argv[0], argv + 1,
# envp). If that fails: "exec PATH: <reason>\n" on stderr (runc's words; the reason
# as Go's strerror for the usual errors, else "errno N"), exit 1.
# With fewer than two arguments (run as a script's interpreter through
# /proc/self/exe) it exits 127.
    .text
    .globl _start
_start:
    mov     (%rsp), %rcx            # argc
    cmp     $2, %rcx
    jb      usage
    lea     8(%rsp), %rsi           # argv
    lea     16(%rsp,%rcx,8), %rdx   # envp: after argv's NULL
    mov     (%rsi), %rdi            # the program's path
    mov     %rdi, %r9
    add     $8, %rsi                # its argv
    mov     $59, %eax               # execve
    syscall
    neg     %rax
    mov     %rax, %r8               # errno
    mov     $1, %eax                # write(2, "exec ")
    mov     $2, %edi
    lea     prefix(%rip), %rsi
    mov     $prefix_end - prefix, %edx
    syscall
    mov     %r9, %rsi               # the path
    xor     %edx, %edx
length:
    cmpb    $0, (%rsi,%rdx)
    je      counted
    inc     %rdx
    jmp     length
counted:
    mov     $1, %eax
    mov     $2, %edi
    syscall
    mov     $1, %eax                # ": "
    mov     $2, %edi
    lea     colon(%rip), %rsi
    mov     $2, %edx
    syscall
    lea     reasons(%rip), %rsi     # entries: errno, length, text; 0 ends
find:
    movzbl  (%rsi), %eax
    test    %eax, %eax
    jz      number
    movzbl  1(%rsi), %edx
    cmp     %rax, %r8
    je      found
    lea     2(%rsi,%rdx), %rsi
    jmp     find
found:
    add     $2, %rsi
    mov     $2, %edi
    mov     $1, %eax
    syscall
    mov     $1, %eax                # the newline
    mov     $2, %edi
    lea     newline(%rip), %rsi
    mov     $1, %edx
    syscall
    jmp     failed
number:
    sub     $32, %rsp               # "errno N\n", the number written backwards
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
    sub     $6, %rsi
    movl    $0x6e727265, (%rsi)     # "errn"
    movw    $0x206f, 4(%rsi)        # "o "
    lea     32(%rsp), %rdx
    sub     %rsi, %rdx
    mov     $2, %edi
    mov     $1, %eax
    syscall
failed:
    mov     $1, %edi
    jmp     leave
usage:
    mov     $127, %edi
leave:
    mov     $231, %eax              # exit_group
    syscall
prefix:
    .ascii  "exec "
prefix_end:
colon:
    .ascii  ": "
newline:
    .ascii  "\n"
    .macro reason errno, text
    .byte   \errno, 9f - 8f
8:  .ascii  "\text"
9:
    .endm
reasons:
    reason  1, "operation not permitted"
    reason  2, "no such file or directory"
    reason  7, "argument list too long"
    reason  8, "exec format error"
    reason  12, "cannot allocate memory"
    reason  13, "permission denied"
    reason  20, "not a directory"
    reason  26, "text file busy"
    reason  36, "file name too long"
    reason  40, "too many levels of symbolic links"
    .byte   0
