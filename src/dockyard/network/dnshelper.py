"""Exec'd inside a container's network namespace (via nsenter): binds the embedded
DNS server's sockets on 127.0.0.11:53 there and hands them to the daemon over
SCM_RIGHTS, then exits. The daemon serves them from its own event loop without
ever entering the namespace. Usage: python -m dockyard.network.dnshelper FD
"""

import socket
import sys


def main() -> None:
    chan = socket.socket(fileno=int(sys.argv[1]))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.11", 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.11", 53))
    tcp.listen(16)
    socket.send_fds(chan, [b"ok"], [udp.fileno(), tcp.fileno()])


if __name__ == "__main__":
    main()
