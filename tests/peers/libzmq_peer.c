/*
 * A libzmq peer (the system's libzmq, e.g. Debian's libzmq3-dev 4.3.4) for ringmq's
 * interop tests: the same command line and scenarios as tests/peers/pyzmq_peer.py
 * (without the security options). The test harness compiles it with
 * `cc libzmq_peer.c -lzmq`.
 *
 *   libzmq_peer --type TYPE (--bind EP | --connect EP) [--identity ID]
 *               [--subscribe TOPIC]... [--heartbeat-ivl MS] [--heartbeat-ttl MS]
 *               [--heartbeat-timeout MS] [--timeout MS]
 *               [--route-to ID] [--delimiter] [--unsubscribe TOPIC]...
 *               [--await-cancel] SCENARIO [N]
 *
 * It prints `READY <endpoint>` once bound/connected, then runs the scenario:
 *   echo       send every message back until one whose first or last frame is END
 *              (ROUTER: prints `FROM <routing id>` for the first message)
 *   recv N     receive N messages, print `GOT <count> <bytes>`
 *   send N     send N numbered messages ("0", "1", ...)
 *   count      receive until a message whose first or last frame is END, ignoring
 *              sync probes (first frame ending in "-SYNC"; prints `SYNCED` once a
 *              probe matching every --subscribe topic arrived, after cancelling the
 *              --unsubscribe topics), print `GOT <count> <bytes>` (END not counted)
 *   publish N  send sync probes (`<topic>-SYNC` for each topic and END) every 10 ms
 *              until a line arrives on stdin, then N messages [TOPIC-i, ""] over the
 *              topics alpha beta gamma delta, then [END]; with --await-cancel (XPUB),
 *              it first waits, after the go-ahead, for an unsubscription message
 *   ask        send the standard payloads (see payloads()) and check each reply is
 *              identical; --route-to ID prefixes the routing id (ROUTER, which
 *              retries while the peer is unknown), --delimiter an empty frame
 *              (DEALER to REP); prints `OK`
 * Exit status 0 means the scenario completed; a timeout exits 3, a mismatch 4.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_FRAMES 64
#define BIG (16u << 20)

typedef struct {
    size_t n;
    zmq_msg_t f[MAX_FRAMES];
} multipart_t;

static const char *TOPICS[] = {"alpha", "beta", "gamma", "delta"};

static void die(const char *what) {
    if (zmq_errno() == EAGAIN) {
        printf("TIMEOUT %s\n", what);
        fflush(stdout);
        exit(3);
    }
    fprintf(stderr, "libzmq_peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
}

static void mismatch(const char *what) {
    fprintf(stderr, "libzmq_peer: mismatch: %s\n", what);
    exit(4);
}

static void recv_multipart(void *s, multipart_t *m) {
    m->n = 0;
    int more = 1;
    while (more) {
        if (m->n == MAX_FRAMES)
            mismatch("too many frames");
        zmq_msg_t *f = &m->f[m->n];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, s, 0) < 0)
            die("recv");
        m->n++;
        more = zmq_msg_more(f);
    }
}

static void close_multipart(multipart_t *m) {
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->f[i]);
    m->n = 0;
}

static int frame_is(zmq_msg_t *f, const char *s) {
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

static int is_end(multipart_t *m) {
    return m->n > 0 && (frame_is(&m->f[0], "END") || frame_is(&m->f[m->n - 1], "END"));
}

static void send_frame(void *s, const void *data, size_t len, int more) {
    for (;;) {
        if (zmq_send(s, data, len, more ? ZMQ_SNDMORE : 0) >= 0)
            return;
        die("send");
    }
}

static int sock_type(const char *name) {
    static const struct {
        const char *n;
        int t;
    } types[] = {{"PAIR", ZMQ_PAIR},     {"PUB", ZMQ_PUB},   {"SUB", ZMQ_SUB},
                 {"REQ", ZMQ_REQ},       {"REP", ZMQ_REP},   {"DEALER", ZMQ_DEALER},
                 {"ROUTER", ZMQ_ROUTER}, {"PULL", ZMQ_PULL}, {"PUSH", ZMQ_PUSH},
                 {"XPUB", ZMQ_XPUB},     {"XSUB", ZMQ_XSUB}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].n, name) == 0)
            return types[i].t;
    fprintf(stderr, "libzmq_peer: unknown socket type %s\n", name);
    exit(2);
}

/* The standard payloads of `ask` (the same in pyzmq_peer.py). */
typedef struct {
    size_t n;
    const char *data[4];
    size_t len[4];
} payload_t;

static char short_frame[255], long_frame[256];

static size_t payloads(payload_t *out, char *big) {
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)(i % 251);
    memset(short_frame, 'x', sizeof short_frame);
    memset(long_frame, 'y', sizeof long_frame);
    out[0] = (payload_t){1, {"hello"}, {5}};
    out[1] = (payload_t){1, {""}, {0}};
    out[2] = (payload_t){4, {"", "a", "", ""}, {0, 1, 0, 0}};
    out[3] = (payload_t){1, {big}, {BIG}};
    /* the largest short frame and the smallest long one */
    out[4] = (payload_t){2, {short_frame, long_frame}, {255, 256}};
    out[5] = (payload_t){1, {"END"}, {3}};
    return 6;
}

static int stdin_ready(int ms) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv) {
    const char *type = NULL, *bind = NULL, *connect = NULL, *identity = NULL;
    const char *route_to = NULL, *subs[16], *unsubs[16];
    size_t nsubs = 0, nunsubs = 0;
    int await_cancel = 0;
    int hb = 0, hb_ttl = 0, hb_timeout = 0, timeout = 20000, delimiter = 0, argi = 1;
    for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
        const char *o = argv[argi];
        if (strcmp(o, "--delimiter") == 0) {
            delimiter = 1;
            continue;
        }
        if (strcmp(o, "--await-cancel") == 0) {
            await_cancel = 1;
            continue;
        }
        if (argi + 1 >= argc) {
            fprintf(stderr, "libzmq_peer: %s needs a value\n", o);
            return 2;
        }
        const char *v = argv[++argi];
        if (strcmp(o, "--type") == 0)
            type = v;
        else if (strcmp(o, "--bind") == 0)
            bind = v;
        else if (strcmp(o, "--connect") == 0)
            connect = v;
        else if (strcmp(o, "--identity") == 0)
            identity = v;
        else if (strcmp(o, "--route-to") == 0)
            route_to = v;
        else if (strcmp(o, "--subscribe") == 0 && nsubs < 16)
            subs[nsubs++] = v;
        else if (strcmp(o, "--unsubscribe") == 0 && nunsubs < 16)
            unsubs[nunsubs++] = v;
        else if (strcmp(o, "--heartbeat-ivl") == 0)
            hb = atoi(v);
        else if (strcmp(o, "--heartbeat-ttl") == 0)
            hb_ttl = atoi(v);
        else if (strcmp(o, "--heartbeat-timeout") == 0)
            hb_timeout = atoi(v);
        else if (strcmp(o, "--timeout") == 0)
            timeout = atoi(v);
        else {
            fprintf(stderr, "libzmq_peer: unsupported option %s\n", o);
            return 2;
        }
    }
    if (!type || !!bind == !!connect || argi >= argc) {
        fprintf(stderr, "usage: libzmq_peer --type T (--bind EP|--connect EP) [opts] SCENARIO [N]\n");
        return 2;
    }
    const char *scenario = argv[argi];
    long n = argi + 1 < argc ? atol(argv[argi + 1]) : 0;
    int t = sock_type(type);

    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, t);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    if (identity && zmq_setsockopt(s, ZMQ_ROUTING_ID, identity, strlen(identity)) < 0)
        die("ROUTING_ID");
    if (hb && zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) < 0)
        die("HEARTBEAT_IVL");
    if (hb_ttl && zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) < 0)
        die("HEARTBEAT_TTL");
    if (hb_timeout && zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) < 0)
        die("HEARTBEAT_TIMEOUT");
    if (t == ZMQ_ROUTER && route_to) {
        int one = 1;
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
    if (t == ZMQ_SUB)
        for (size_t i = 0; i < nsubs; i++)
            if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, subs[i], strlen(subs[i])) < 0)
                die("SUBSCRIBE");

    char endpoint[512];
    if (bind) {
        if (zmq_bind(s, bind) < 0)
            die("bind");
        size_t len = sizeof endpoint;
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len);
    } else {
        if (zmq_connect(s, connect) < 0)
            die("connect");
        snprintf(endpoint, sizeof endpoint, "%s", connect);
    }
    if (t == ZMQ_XSUB)
        for (size_t i = 0; i < nsubs; i++) {
            char buf[256];
            size_t len = strlen(subs[i]);
            if (len > 250)
                mismatch("topic too long");
            buf[0] = 1;
            memcpy(buf + 1, subs[i], len);
            send_frame(s, buf, len + 1, 0);
        }
    printf("READY %s\n", endpoint);
    fflush(stdout);

    multipart_t m;
    if (strcmp(scenario, "echo") == 0) {
        int first = 1;
        for (;;) {
            recv_multipart(s, &m);
            if (first && t == ZMQ_ROUTER) {
                printf("FROM %.*s\n", (int)zmq_msg_size(&m.f[0]), (char *)zmq_msg_data(&m.f[0]));
                fflush(stdout);
            }
            first = 0;
            int end = is_end(&m);
            for (size_t i = 0; i < m.n; i++)
                if (zmq_msg_send(&m.f[i], s, i + 1 < m.n ? ZMQ_SNDMORE : 0) < 0)
                    die("send");
            m.n = 0;
            if (end)
                break;
        }
    } else if (strcmp(scenario, "recv") == 0) {
        long total = 0;
        for (long i = 0; i < n; i++) {
            recv_multipart(s, &m);
            for (size_t j = 0; j < m.n; j++)
                total += (long)zmq_msg_size(&m.f[j]);
            close_multipart(&m);
        }
        printf("GOT %ld %ld\n", n, total);
        fflush(stdout);
    } else if (strcmp(scenario, "send") == 0) {
        for (long i = 0; i < n; i++) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld", i);
            send_frame(s, buf, (size_t)len, 0);
        }
    } else if (strcmp(scenario, "count") == 0) {
        long count = 0, total = 0;
        int seen[16] = {0}, synced = 0;
        for (;;) {
            recv_multipart(s, &m);
            zmq_msg_t *f0 = &m.f[0];
            size_t l0 = zmq_msg_size(f0);
            const char *d0 = zmq_msg_data(f0);
            if (l0 >= 5 && memcmp(d0 + l0 - 5, "-SYNC", 5) == 0) {
                int all = 1;
                for (size_t i = 0; i < nsubs; i++) {
                    size_t sl = strlen(subs[i]);
                    if (l0 >= sl && memcmp(d0, subs[i], sl) == 0)
                        seen[i] = 1;
                    all &= seen[i];
                }
                if (all && !synced) {
                    synced = 1;
                    for (size_t i = 0; i < nunsubs; i++) {
                        if (t == ZMQ_SUB) {
                            if (zmq_setsockopt(s, ZMQ_UNSUBSCRIBE, unsubs[i], strlen(unsubs[i])) < 0)
                                die("UNSUBSCRIBE");
                        } else {
                            char buf[256];
                            size_t len = strlen(unsubs[i]);
                            if (len > 250)
                                mismatch("topic too long");
                            buf[0] = 0;
                            memcpy(buf + 1, unsubs[i], len);
                            send_frame(s, buf, len + 1, 0);
                        }
                    }
                    printf("SYNCED\n");
                    fflush(stdout);
                }
                close_multipart(&m);
                continue;
            }
            if (is_end(&m)) {
                close_multipart(&m);
                break;
            }
            count++;
            for (size_t j = 0; j < m.n; j++)
                total += (long)zmq_msg_size(&m.f[j]);
            close_multipart(&m);
        }
        printf("GOT %ld %ld\n", count, total);
        fflush(stdout);
    } else if (strcmp(scenario, "publish") == 0) {
        while (!stdin_ready(10)) {
            char buf[64];
            for (size_t i = 0; i < 5; i++) {
                int len = snprintf(buf, sizeof buf, "%s-SYNC", i < 4 ? TOPICS[i] : "END");
                send_frame(s, buf, (size_t)len, 0);
            }
        }
        while (await_cancel) {
            recv_multipart(s, &m);
            await_cancel = !(zmq_msg_size(&m.f[0]) > 0 && ((char *)zmq_msg_data(&m.f[0]))[0] == 0);
            close_multipart(&m);
        }
        for (long i = 0; i < n; i++) {
            char buf[64];
            int len = snprintf(buf, sizeof buf, "%s-%ld", TOPICS[i % 4], i);
            send_frame(s, buf, (size_t)len, 1);
            send_frame(s, "", 0, 0);
        }
        send_frame(s, "END", 3, 0);
    } else if (strcmp(scenario, "ask") == 0) {
        char *big = malloc(BIG);
        if (!big)
            mismatch("out of memory");
        payload_t p[6];
        size_t np = payloads(p, big);
        for (size_t k = 0; k < np; k++) {
            for (;;) {
                if (route_to) {
                    if (zmq_send(s, route_to, strlen(route_to), ZMQ_SNDMORE) < 0) {
                        if (zmq_errno() == EHOSTUNREACH) {
                            sleep_ms(10);
                            continue;
                        }
                        die("send");
                    }
                }
                break;
            }
            if (delimiter)
                send_frame(s, "", 0, 1);
            for (size_t i = 0; i < p[k].n; i++)
                send_frame(s, p[k].data[i], p[k].len[i], i + 1 < p[k].n);
            recv_multipart(s, &m);
            size_t skip = (route_to ? 1 : 0) + (delimiter ? 1 : 0);
            if (m.n != skip + p[k].n)
                mismatch("reply frame count");
            if (route_to && !frame_is(&m.f[0], route_to))
                mismatch("reply routing id");
            for (size_t i = 0; i < p[k].n; i++) {
                zmq_msg_t *f = &m.f[skip + i];
                if (zmq_msg_size(f) != p[k].len[i] ||
                    memcmp(zmq_msg_data(f), p[k].data[i], p[k].len[i]) != 0)
                    mismatch("reply payload");
            }
            close_multipart(&m);
        }
        free(big);
        printf("OK\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "libzmq_peer: unknown scenario %s\n", scenario);
        return 2;
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
