/*
 * A libzmq peer for ringmq's interop tests of the draft socket types, against the
 * draft-enabled libzmq that scripts/draft-libzmq.sh builds into .venv-drafts/ (Debian's
 * libzmq exports none of the draft functions). The test harness compiles it with
 *   cc -DZMQ_BUILD_DRAFT_API -I PREFIX/include draft_peer.c -L PREFIX/lib -lzmq
 *      -Wl,-rpath,PREFIX/lib
 *
 *   draft_peer --type TYPE (--bind EP | --connect EP) [--timeout MS] SCENARIO [N]
 *
 * TYPE is one of CLIENT SERVER SCATTER GATHER PEER CHANNEL RADIO DISH. A PEER given
 * --connect connects with zmq_connect_peer. --hello MSG and --disconnect-msg MSG set
 * ZMQ_HELLO_MSG and ZMQ_DISCONNECT_MSG.
 * It prints `READY <endpoint>` once bound/connected (then, PEER with --connect,
 * `PEER <routing id in hex>`), then runs the scenario:
 *   echo       send every message back (SERVER, PEER: to the routing id it came
 *              from; prints `FROM <hex routing id>` for the first) until one whose
 *              body is END (echoed too)
 *   ask        send the standard payloads (see payloads(); PEER: to the routing id of
 *              its --connect) and check each reply is identical; prints `OK`
 *   send N     send N numbered messages ("0", "1", ...)
 *   recv N     receive N messages, print `GOT <count> <bytes>`
 *   sendmore   check that a multipart send is refused with EINVAL; prints `REFUSED`
 *   broadcast  RADIO: N rounds, 5 ms apart, of a message in group `news` ("news-<i>")
 *              then one in group `tv`, or the one of --group G ("<group>-<i>")
 *   dishrecv N DISH (joined with --join GROUP, repeatable): receive N messages, each
 *              in a joined group with a body starting with the group; prints
 *              `GOT <count> <group of the first>`
 *   biggroup   DISH: check that zmq_join refuses a 256-byte group with EINVAL and takes
 *              255 bytes; prints `REFUSED`
 * Exit status 0 means the scenario completed; a timeout exits 3, a mismatch 4.
 */
#define _POSIX_C_SOURCE 200809L
#ifndef ZMQ_BUILD_DRAFT_API
#define ZMQ_BUILD_DRAFT_API
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define BIG (16u << 20)

static void die(const char *what) {
    if (zmq_errno() == EAGAIN) {
        printf("TIMEOUT %s\n", what);
        fflush(stdout);
        exit(3);
    }
    fprintf(stderr, "draft_peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
}

static void mismatch(const char *what) {
    fprintf(stderr, "draft_peer: mismatch: %s\n", what);
    exit(4);
}

static int sock_type(const char *name) {
    static const struct {
        const char *n;
        int t;
    } types[] = {{"CLIENT", ZMQ_CLIENT}, {"SERVER", ZMQ_SERVER}, {"SCATTER", ZMQ_SCATTER},
                 {"GATHER", ZMQ_GATHER}, {"PEER", ZMQ_PEER},     {"CHANNEL", ZMQ_CHANNEL},
                 {"RADIO", ZMQ_RADIO},   {"DISH", ZMQ_DISH}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].n, name) == 0)
            return types[i].t;
    fprintf(stderr, "draft_peer: unknown socket type %s\n", name);
    exit(2);
}

/* Whether replies go to a routing id (the message's, or the connected peer's). */
static int routed(int t) { return t == ZMQ_SERVER || t == ZMQ_PEER; }

static void send_body(void *s, const void *data, size_t len, uint32_t to) {
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) < 0)
        die("msg_init_size");
    if (len)
        memcpy(zmq_msg_data(&m), data, len);
    if (to && zmq_msg_set_routing_id(&m, to) < 0)
        die("set_routing_id");
    if (zmq_msg_send(&m, s, 0) < 0)
        die("send");
}

static int body_is(zmq_msg_t *m, const char *s) {
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* The standard single-frame payloads of `ask`: hello, an empty body, 16 MiB, the
   largest short frame and the smallest long one, END. */
static size_t payloads(const char **data, size_t *len, char *big, char *b255, char *b256) {
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)(i % 251);
    memset(b255, 'x', 255);
    memset(b256, 'y', 256);
    const char *d[] = {"hello", "", big, b255, b256, "END"};
    size_t l[] = {5, 0, BIG, 255, 256, 3};
    for (size_t i = 0; i < 6; i++) {
        data[i] = d[i];
        len[i] = l[i];
    }
    return 6;
}

int main(int argc, char **argv) {
    const char *type = NULL, *bind = NULL, *connect = NULL;
    const char *joins[8];
    const char *group = "tv";
    const char *hello = NULL, *disconnect_msg = NULL;
    int njoins = 0;
    int timeout = 20000, argi = 1;
    for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
        const char *o = argv[argi];
        if (argi + 1 >= argc) {
            fprintf(stderr, "draft_peer: %s needs a value\n", o);
            return 2;
        }
        const char *v = argv[++argi];
        if (strcmp(o, "--type") == 0)
            type = v;
        else if (strcmp(o, "--bind") == 0)
            bind = v;
        else if (strcmp(o, "--connect") == 0)
            connect = v;
        else if (strcmp(o, "--timeout") == 0)
            timeout = atoi(v);
        else if (strcmp(o, "--group") == 0)
            group = v;
        else if (strcmp(o, "--hello") == 0)
            hello = v;
        else if (strcmp(o, "--disconnect-msg") == 0)
            disconnect_msg = v;
        else if (strcmp(o, "--join") == 0 && njoins < 8)
            joins[njoins++] = v;
        else {
            fprintf(stderr, "draft_peer: unsupported option %s\n", o);
            return 2;
        }
    }
    if (!type || !!bind == !!connect || argi >= argc) {
        fprintf(stderr, "usage: draft_peer --type T (--bind EP|--connect EP) [opts] SCENARIO [N]\n");
        return 2;
    }
    const char *scenario = argv[argi];
    long n = argi + 1 < argc ? atol(argv[argi + 1]) : 0;
    int t = sock_type(type);

    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, t);
    if (!s)
        die("socket");
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    if (hello && zmq_setsockopt(s, ZMQ_HELLO_MSG, hello, strlen(hello)) < 0)
        die("ZMQ_HELLO_MSG");
    if (disconnect_msg &&
        zmq_setsockopt(s, ZMQ_DISCONNECT_MSG, disconnect_msg, strlen(disconnect_msg)) < 0)
        die("ZMQ_DISCONNECT_MSG");

    char endpoint[512];
    uint32_t peer_id = 0;
    if (bind) {
        if (zmq_bind(s, bind) < 0)
            die("bind");
        size_t len = sizeof endpoint;
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len);
    } else {
        if (t == ZMQ_PEER) {
            peer_id = zmq_connect_peer(s, connect);
            if (!peer_id)
                die("connect_peer");
        } else if (zmq_connect(s, connect) < 0)
            die("connect");
        snprintf(endpoint, sizeof endpoint, "%s", connect);
    }
    for (int j = 0; j < njoins; j++)
        if (zmq_join(s, joins[j]) < 0)
            die("join");
    printf("READY %s\n", endpoint);
    if (peer_id)
        printf("PEER %08x\n", peer_id);
    fflush(stdout);

    zmq_msg_t m;
    if (strcmp(scenario, "echo") == 0) {
        int first = 1, end = 0;
        while (!end) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0)
                die("recv");
            uint32_t from = routed(t) ? zmq_msg_routing_id(&m) : 0;
            if (routed(t) && !from)
                mismatch("no routing id on a received message");
            if (first && routed(t)) {
                printf("FROM %08x\n", from);
                fflush(stdout);
            }
            first = 0;
            end = body_is(&m, "END");
            /* The received message keeps its routing id: send it straight back. */
            if (zmq_msg_send(&m, s, 0) < 0)
                die("send");
        }
    } else if (strcmp(scenario, "ask") == 0) {
        if (t == ZMQ_SERVER || (t == ZMQ_PEER && !peer_id))
            mismatch("ask needs a CLIENT, a CHANNEL, or a PEER given --connect");
        char *big = malloc(BIG), b255[255], b256[256];
        if (!big)
            mismatch("out of memory");
        const char *data[6];
        size_t len[6];
        size_t np = payloads(data, len, big, b255, b256);
        for (size_t k = 0; k < np; k++) {
            send_body(s, data[k], len[k], peer_id);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0)
                die("recv");
            if (zmq_msg_size(&m) != len[k] || memcmp(zmq_msg_data(&m), data[k], len[k]) != 0)
                mismatch("reply payload");
            if (peer_id && zmq_msg_routing_id(&m) != peer_id)
                mismatch("reply routing id");
            zmq_msg_close(&m);
        }
        free(big);
        printf("OK\n");
        fflush(stdout);
    } else if (strcmp(scenario, "send") == 0) {
        for (long i = 0; i < n; i++) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld", i);
            send_body(s, buf, (size_t)len, peer_id);
        }
    } else if (strcmp(scenario, "recv") == 0) {
        long total = 0;
        for (long i = 0; i < n; i++) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0)
                die("recv");
            total += (long)zmq_msg_size(&m);
            zmq_msg_close(&m);
        }
        printf("GOT %ld %ld\n", n, total);
        fflush(stdout);
    } else if (strcmp(scenario, "sendmore") == 0) {
        if (zmq_send(s, "part", 4, ZMQ_SNDMORE) >= 0 || zmq_errno() != EINVAL)
            mismatch("a multipart send was not refused with EINVAL");
        printf("REFUSED\n");
        fflush(stdout);
    } else if (strcmp(scenario, "broadcast") == 0) {
        for (long i = 0; i < n; i++) {
            const char *groups[] = {"news", group};
            for (int g = 0; g < 2; g++) {
                char buf[300];
                int len = snprintf(buf, sizeof buf, "%s-%ld", groups[g], i);
                zmq_msg_init_size(&m, (size_t)len);
                memcpy(zmq_msg_data(&m), buf, (size_t)len);
                if (zmq_msg_set_group(&m, groups[g]) < 0)
                    die("set_group");
                if (zmq_msg_send(&m, s, 0) < 0)
                    die("send");
            }
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    } else if (strcmp(scenario, "dishrecv") == 0) {
        char first[256] = "";
        for (long i = 0; i < n; i++) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0)
                die("recv");
            const char *g = zmq_msg_group(&m);
            int joined = 0;
            for (int j = 0; j < njoins; j++)
                joined |= strcmp(g, joins[j]) == 0;
            if (!joined)
                mismatch("a message of a group not joined");
            size_t gl = strlen(g);
            if (zmq_msg_size(&m) < gl || memcmp(zmq_msg_data(&m), g, gl) != 0)
                mismatch("body does not start with its group");
            if (i == 0)
                snprintf(first, sizeof first, "%s", g);
            zmq_msg_close(&m);
        }
        printf("GOT %ld %s\n", n, first);
        fflush(stdout);
    } else if (strcmp(scenario, "biggroup") == 0) {
        /* DISH: zmq_join refuses a group over ZMQ_GROUP_MAX_LENGTH (255 since 4.3.3)
           with EINVAL. */
        if (t != ZMQ_DISH)
            mismatch("biggroup needs a DISH");
        char g[257];
        memset(g, 'g', 256);
        g[256] = 0;
        if (zmq_join(s, g) >= 0 || zmq_errno() != EINVAL)
            mismatch("a 256-byte join was not refused with EINVAL");
        g[255] = 0;
        if (zmq_join(s, g) < 0)
            die("join of 255 bytes");
        printf("REFUSED\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "draft_peer: unknown scenario %s\n", scenario);
        return 2;
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
