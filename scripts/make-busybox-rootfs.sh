#!/usr/bin/env bash
# Make a busybox root filesystem from Debian's busybox-static.
#   make-busybox-rootfs.sh DIR         -> fills DIR (created if missing)
#   make-busybox-rootfs.sh --tar FILE  -> writes a rootfs tar to FILE ('-' for stdout)
# The tree: /bin/busybox with a symlink per applet, /etc/passwd, /etc/group,
# and the usual empty directories. Deterministic (fixed mtimes, sorted tar).
set -euo pipefail
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "busybox-static is not installed ($bb); apt-get install busybox-static" >&2; exit 1; }
file "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' || {
  echo "$bb is not statically linked; install busybox-static" >&2; exit 1; }

fill() {
  local d=$1
  mkdir -p "$d"/{bin,dev,etc,home,proc,root,sys,tmp,var/spool/mail,var/www,usr/bin,usr/sbin,sbin}
  chmod 1777 "$d/tmp"
  chmod 700 "$d/root"
  install -m 0755 "$bb" "$d/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$d/bin/$applet"
  done
  cat > "$d/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
  cat > "$d/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:mail
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
G
  find "$d" -exec touch -h -d '2024-01-01T00:00:00Z' {} +
}

if [ "${1:-}" = "--tar" ]; then
  out=${2:?usage: $0 --tar FILE}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  fill "$tmp/rootfs"
  if [ "$out" = - ]; then
    tar --sort=name --numeric-owner --owner=0 --group=0 -C "$tmp/rootfs" -cf - .
  else
    tar --sort=name --numeric-owner --owner=0 --group=0 -C "$tmp/rootfs" -cf "$out" .
  fi
else
  fill "${1:?usage: $0 DIR | --tar FILE}"
fi
