/* A UDP answerer for the routing-mesh tests (the busybox of the test image has no
 * UDP server): each datagram to PORT is answered to its sender with this host's
 * name, a space and the datagram, so a client sees which task answered. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: udpecho PORT\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("udpecho");
        return 1;
    }
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    size_t n = strlen(name);
    char out[2048];
    memcpy(out, name, n);
    out[n++] = ' ';
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t got = recvfrom(s, out + n, sizeof out - n, 0, (struct sockaddr *)&peer, &len);
        if (got < 0)
            continue;
        sendto(s, out, n + (size_t)got, 0, (struct sockaddr *)&peer, len);
    }
}
