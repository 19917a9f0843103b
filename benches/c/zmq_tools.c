/*
 * The libzmq baseline of ringmq's `compare`: libzmq's perf tools and the extra roles
 * of `bench_peer`, on the system libzmq (`cc -O2 zmq_tools.c -lzmq`, done by
 * ringmq_bench::build_zmq_tools). Written for ringmq; output lines match libzmq's
 * perf/ programs and ringmq's tools so the same parser reads both.
 *
 *   zmq_tools local_lat  <bind-ep>    <size> <roundtrips>
 *   zmq_tools remote_lat <connect-ep> <size> <roundtrips>
 *   zmq_tools local_thr  <bind-ep>    <size> <count>
 *   zmq_tools remote_thr <connect-ep> <size> <count>
 *   zmq_tools pub        <bind-ep>    <size> <count> <subscribers>
 *   zmq_tools subs       <connect-ep> <count> <subscribers>
 *   zmq_tools router     <bind-ep>    <total-requests>
 *   zmq_tools dealers    <connect-ep> <size> <peers> <rounds>
 *   zmq_tools scale_dealers <connect-ep> <size> <idle-peers> <rounds>
 *   zmq_tools mem_push   <connect-ep> <size> <count> <hwm>
 *   zmq_tools stall_pull <bind-ep>    <hwm> <seconds>
 *   zmq_tools inproc_thr <inproc-ep>  <size> <count>
 *   zmq_tools inproc_lat <inproc-ep>  <size> <roundtrips>
 *   zmq_tools hs_server  <bind-ep>    <connections>
 *   zmq_tools hs_clients <connect-ep> <connections>
 *
 * inproc_thr / inproc_lat (issue 12) are libzmq's perf/inproc_thr and inproc_lat in
 * one process: the main thread binds a PULL (prints the throughput) or a REP, a second
 * thread of the same context connects a PUSH or a REQ (prints the latency).
 *
 * scale_dealers (the idle-peer scale row): <idle-peers> DEALERs connect in batches
 * of SCALE_BATCH, each sends one request and waits for its echo, then stays silent;
 * then one more DEALER makes SCALE_WARMUP untimed and <rounds> timed round trips and
 * prints `median round trip:` and `p99 round trip:`. A libzmq socket holds an
 * eventfd besides its connection, so 10,000 DEALERs would not fit in one process
 * under a limit of 20,000 descriptors: the idle DEALERs are shared between this
 * process (which also runs the active one) and forked helpers, at most
 * IDLE_PER_PROCESS each, that report through a pipe when theirs are connected and
 * exit when this process closes the pipe it holds for them (environment variable
 * ZMQ_TOOLS_IDLE_PER_PROCESS overrides IDLE_PER_PROCESS, for tests).
 *
 * Add `--curve` as the last argument for CURVE with ringmq's fixed test keys
 * (ringmq_bench::tools::CURVE_KEYS); the binding side is the server.
 * Exit status 1 on any error (message on stderr).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static const char *SERVER_PUBLIC = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char *SERVER_SECRET = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
static const char *CLIENT_PUBLIC = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const char *CLIENT_SECRET = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

static int curve = 0;

static void die(const char *what) {
    fprintf(stderr, "zmq_tools: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void check(int rc, const char *what) {
    if (rc < 0)
        die(what);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static unsigned long long unix_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

static void setint(void *s, int opt, int v) {
    check(zmq_setsockopt(s, opt, &v, sizeof v), "setsockopt");
}

/* A socket of `type` with its options, CURVE (as the server when `bind`) when asked. */
static void *new_socket(void *ctx, int type, int bind, int sndhwm, int rcvhwm) {
    void *s = zmq_socket(ctx, type);
    if (!s)
        die("zmq_socket");
    if (sndhwm >= 0)
        setint(s, ZMQ_SNDHWM, sndhwm);
    if (rcvhwm >= 0)
        setint(s, ZMQ_RCVHWM, rcvhwm);
    if (curve) {
        if (bind) {
            setint(s, ZMQ_CURVE_SERVER, 1);
            check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, SERVER_SECRET, 40), "secret key");
        } else {
            check(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, SERVER_PUBLIC, 40), "server key");
            check(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, CLIENT_PUBLIC, 40), "public key");
            check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, CLIENT_SECRET, 40), "secret key");
        }
    }
    if (type == ZMQ_SUB)
        check(zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0), "subscribe");
    if (type == ZMQ_XPUB)
        setint(s, ZMQ_XPUB_VERBOSE, 1);
    return s;
}

/* A socket of `type`, bound (server side) or connected to `ep`, CURVE when asked. */
static void *open_socket(void *ctx, int type, const char *ep, int bind, int sndhwm,
                         int rcvhwm) {
    void *s = new_socket(ctx, type, bind, sndhwm, rcvhwm);
    check(bind ? zmq_bind(s, ep) : zmq_connect(s, ep), bind ? "bind" : "connect");
    return s;
}

static void recv_size(void *s, zmq_msg_t *msg, size_t size) {
    check(zmq_msg_recv(msg, s, 0), "recv");
    if (zmq_msg_size(msg) != size) {
        fprintf(stderr, "zmq_tools: message of the wrong size\n");
        exit(1);
    }
}

static void print_thr(size_t size, unsigned long count, double elapsed_us) {
    if (elapsed_us < 1)
        elapsed_us = 1;
    unsigned long throughput = (unsigned long)((double)count / elapsed_us * 1e6);
    double megabits = (double)(throughput * size * 8) / 1e6;
    printf("message size: %d [B]\n", (int)size);
    printf("message count: %lu\n", count);
    printf("mean throughput: %lu [msg/s]\n", throughput);
    printf("mean throughput: %.3f [Mb/s]\n", megabits);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The scale row's constants, as in ringmq_bench::tools. */
#define SCALE_BATCH 100
#define SCALE_WARMUP 100
#define IDLE_PER_PROCESS 5000

static void *new_zmq_ctx(int max_sockets) {
    void *ctx = zmq_ctx_new();
    if (!ctx)
        die("zmq_ctx_new");
    if (max_sockets > zmq_ctx_get(ctx, ZMQ_MAX_SOCKETS))
        check(zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, max_sockets), "ZMQ_MAX_SOCKETS");
    return ctx;
}

/* `n` DEALERs connected to `ep` in batches of SCALE_BATCH, each having had one
 * request of `size` bytes echoed; returns the array of sockets. */
static void **idle_dealers(void *ctx, const char *ep, size_t size, unsigned long n) {
    void **ds = calloc(n + 1, sizeof *ds);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (unsigned long first = 0; first < n; first += SCALE_BATCH) {
        unsigned long end = first + SCALE_BATCH < n ? first + SCALE_BATCH : n;
        for (unsigned long i = first; i < end; i++)
            ds[i] = open_socket(ctx, ZMQ_DEALER, ep, 0, -1, -1);
        for (unsigned long i = first; i < end; i++) {
            zmq_msg_t out;
            zmq_msg_init_size(&out, size);
            memset(zmq_msg_data(&out), 0, size);
            check(zmq_msg_send(&out, ds[i], 0), "send");
        }
        for (unsigned long i = first; i < end; i++)
            recv_size(ds[i], &msg, size);
    }
    zmq_msg_close(&msg);
    return ds;
}

static void close_all(void **ds, unsigned long n) {
    for (unsigned long i = 0; i < n; i++) {
        setint(ds[i], ZMQ_LINGER, 0);
        zmq_close(ds[i]);
    }
    free(ds);
}

static int scale_dealers(const char *ep, size_t size, unsigned long idle, unsigned long rounds) {
    /* ZMQ_TOOLS_IDLE_PER_PROCESS overrides the share (tests run the helpers small). */
    const char *env = getenv("ZMQ_TOOLS_IDLE_PER_PROCESS");
    unsigned long per = env && strtoul(env, NULL, 10) > 0 ? strtoul(env, NULL, 10) : IDLE_PER_PROCESS;
    unsigned long procs = (idle + per - 1) / per;
    if (procs == 0)
        procs = 1;
    unsigned long share = idle / procs;
    double setup = now_us();
    /* Helper k holds `share` idle peers; this process the rest. */
    int ready[2], stop[2];
    pid_t *helpers = calloc(procs, sizeof *helpers);
    if (pipe(ready) < 0 || pipe(stop) < 0) {
        perror("zmq_tools: pipe");
        exit(1);
    }
    fflush(stdout);
    for (unsigned long k = 1; k < procs; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("zmq_tools: fork");
            exit(1);
        }
        if (pid == 0) {
            close(ready[0]);
            close(stop[1]);
            void *ctx = new_zmq_ctx((int)share + 16);
            void **ds = idle_dealers(ctx, ep, size, share);
            char one = 1, buf;
            if (write(ready[1], &one, 1) != 1)
                _exit(1);
            close(ready[1]);
            /* Silent until the parent closes the pipe (or exits). */
            while (read(stop[0], &buf, 1) > 0) {
            }
            close_all(ds, share);
            zmq_ctx_term(ctx);
            _exit(0);
        }
        helpers[k] = pid;
    }
    close(ready[1]);
    close(stop[0]);
    unsigned long mine = idle - share * (procs - 1);
    void *ctx = new_zmq_ctx((int)mine + 16);
    void **ds = idle_dealers(ctx, ep, size, mine);
    for (unsigned long k = 1; k < procs; k++) {
        char buf;
        if (read(ready[0], &buf, 1) != 1) {
            fprintf(stderr, "zmq_tools: a helper process failed\n");
            exit(1);
        }
    }
    printf("setup: %.0f [ms]\n", (now_us() - setup) / 1e3);
    void *s = open_socket(ctx, ZMQ_DEALER, ep, 0, -1, -1);
    double *lat = calloc(rounds + 1, sizeof *lat);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (unsigned long i = 0; i < SCALE_WARMUP + rounds; i++) {
        zmq_msg_t out;
        zmq_msg_init_size(&out, size);
        memset(zmq_msg_data(&out), 0, size);
        double t = now_us();
        check(zmq_msg_send(&out, s, 0), "send");
        recv_size(s, &msg, size);
        if (i >= SCALE_WARMUP)
            lat[i - SCALE_WARMUP] = now_us() - t;
    }
    zmq_msg_close(&msg);
    qsort(lat, rounds, sizeof *lat, cmp_double);
    unsigned long p99 = rounds * 99 / 100;
    if (p99 >= rounds && rounds > 0)
        p99 = rounds - 1;
    printf("round trips: %lu\n", rounds);
    printf("median round trip: %.3f [us]\n", rounds ? lat[rounds / 2] : 0.0);
    printf("p99 round trip: %.3f [us]\n", rounds ? lat[p99] : 0.0);
    fflush(stdout);
    free(lat);
    zmq_close(s);
    close_all(ds, mine);
    close(stop[1]);
    int failed = 0;
    for (unsigned long k = 1; k < procs; k++) {
        int status;
        if (waitpid(helpers[k], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            failed = 1;
    }
    free(helpers);
    zmq_ctx_term(ctx);
    if (failed) {
        fprintf(stderr, "zmq_tools: a helper process failed\n");
        return 1;
    }
    return 0;
}

/* The connecting thread of inproc_thr / inproc_lat. */
struct inproc_peer {
    void *ctx;
    const char *ep;
    unsigned long size, count;
    int lat;
};

static void *inproc_peer_main(void *arg) {
    struct inproc_peer *a = arg;
    void *s = open_socket(a->ctx, a->lat ? ZMQ_REQ : ZMQ_PUSH, a->ep, 0, -1, -1);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    double start = now_us();
    for (unsigned long i = 0; i < a->count; i++) {
        zmq_msg_t out;
        zmq_msg_init_size(&out, a->size);
        memset(zmq_msg_data(&out), 0, a->size);
        check(zmq_msg_send(&out, s, 0), "send");
        if (a->lat)
            recv_size(s, &msg, a->size);
    }
    if (a->lat) {
        double elapsed = now_us() - start;
        printf("message size: %d [B]\n", (int)a->size);
        printf("roundtrip count: %d\n", (int)a->count);
        printf("average latency: %.3f [us]\n", elapsed / (a->count * 2.0));
    }
    zmq_msg_close(&msg);
    zmq_close(s);
    return NULL;
}

static void inproc(void *ctx, const char *ep, unsigned long size, unsigned long count, int lat) {
    void *s = open_socket(ctx, lat ? ZMQ_REP : ZMQ_PULL, ep, 1, -1, -1);
    struct inproc_peer peer = {ctx, ep, size, count, lat};
    pthread_t t;
    if (pthread_create(&t, NULL, inproc_peer_main, &peer) != 0) {
        fprintf(stderr, "zmq_tools: pthread_create failed\n");
        exit(1);
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (lat) {
        for (unsigned long i = 0; i < count; i++) {
            recv_size(s, &msg, size);
            check(zmq_msg_send(&msg, s, 0), "send");
        }
    } else {
        recv_size(s, &msg, size);
        double start = now_us();
        for (unsigned long i = 1; i < count; i++)
            recv_size(s, &msg, size);
        print_thr(size, count, now_us() - start);
    }
    zmq_msg_close(&msg);
    pthread_join(t, NULL);
    zmq_close(s);
}

/* A `Name: N kB` field of /proc/self/status (0 when missing). */
static unsigned long status_kb(const char *field) {
    unsigned long kb = 0;
    size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) {
            kb = strtoul(line + n, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[argc - 1], "--curve") == 0) {
        curve = 1;
        argc--;
    }
    int three = argc == 4 && (strcmp(argv[1], "router") == 0 || strcmp(argv[1], "hs_server") == 0 ||
                              strcmp(argv[1], "hs_clients") == 0);
    if (argc < 5 && !three) {
        fprintf(stderr, "usage: zmq_tools ROLE ENDPOINT N... [--curve]\n");
        return 1;
    }
    const char *role = argv[1], *ep = argv[2];
    unsigned long a = strtoul(argv[3], NULL, 10);
    unsigned long b = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    unsigned long c = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;
    if (strcmp(role, "scale_dealers") == 0)
        return scale_dealers(ep, a, b, c); /* forks: before any libzmq context */
    void *ctx = zmq_ctx_new();
    if (!ctx)
        die("zmq_ctx_new");
    zmq_msg_t msg;

    if (strcmp(role, "local_lat") == 0) {
        void *s = open_socket(ctx, ZMQ_REP, ep, 1, -1, -1);
        zmq_msg_init(&msg);
        for (unsigned long i = 0; i < b; i++) {
            recv_size(s, &msg, a);
            check(zmq_msg_send(&msg, s, 0), "send");
        }
        zmq_msg_close(&msg);
        zmq_close(s);
    } else if (strcmp(role, "remote_lat") == 0) {
        void *s = open_socket(ctx, ZMQ_REQ, ep, 0, -1, -1);
        zmq_msg_init(&msg);
        double start = now_us();
        for (unsigned long i = 0; i < b; i++) {
            zmq_msg_t out;
            zmq_msg_init_size(&out, a);
            memset(zmq_msg_data(&out), 0, a);
            check(zmq_msg_send(&out, s, 0), "send");
            recv_size(s, &msg, a);
        }
        double elapsed = now_us() - start;
        printf("message size: %d [B]\n", (int)a);
        printf("roundtrip count: %d\n", (int)b);
        printf("average latency: %.3f [us]\n", elapsed / (b * 2.0));
        zmq_msg_close(&msg);
        zmq_close(s);
    } else if (strcmp(role, "local_thr") == 0) {
        void *s = open_socket(ctx, ZMQ_PULL, ep, 1, -1, -1);
        zmq_msg_init(&msg);
        recv_size(s, &msg, a);
        double start = now_us();
        for (unsigned long i = 1; i < b; i++)
            recv_size(s, &msg, a);
        print_thr(a, b, now_us() - start);
        zmq_msg_close(&msg);
        zmq_close(s);
    } else if (strcmp(role, "remote_thr") == 0) {
        void *s = open_socket(ctx, ZMQ_PUSH, ep, 0, -1, -1);
        for (unsigned long i = 0; i < b; i++) {
            zmq_msg_init_size(&msg, a);
            memset(zmq_msg_data(&msg), 0, a);
            check(zmq_msg_send(&msg, s, 0), "send");
        }
        zmq_close(s); /* default linger: everything is delivered by zmq_ctx_term */
    } else if (strcmp(role, "pub") == 0) {
        void *s = open_socket(ctx, ZMQ_XPUB, ep, 1, 0, -1);
        unsigned long seen = 0;
        zmq_msg_init(&msg);
        while (seen < c) {
            check(zmq_msg_recv(&msg, s, 0), "recv subscription");
            if (zmq_msg_size(&msg) > 0 && ((unsigned char *)zmq_msg_data(&msg))[0] == 1)
                seen++;
        }
        zmq_msg_close(&msg);
        printf("start: %llu [unix us]\n", unix_us());
        fflush(stdout);
        for (unsigned long i = 0; i < b; i++) {
            zmq_msg_init_size(&msg, a);
            memset(zmq_msg_data(&msg), 0, a);
            check(zmq_msg_send(&msg, s, 0), "send");
        }
        zmq_close(s);
    } else if (strcmp(role, "subs") == 0) {
        unsigned long n = b;
        void **subs = calloc(n, sizeof *subs);
        unsigned long *got = calloc(n, sizeof *got);
        zmq_pollitem_t *items = calloc(n, sizeof *items);
        for (unsigned long i = 0; i < n; i++) {
            subs[i] = open_socket(ctx, ZMQ_SUB, ep, 0, -1, 0);
            items[i].socket = subs[i];
            items[i].events = ZMQ_POLLIN;
        }
        unsigned long done = 0;
        double start = 0;
        zmq_msg_init(&msg);
        while (done < n) {
            check(zmq_poll(items, (int)n, -1), "poll");
            for (unsigned long i = 0; i < n; i++) {
                if (!(items[i].revents & ZMQ_POLLIN) || got[i] == a)
                    continue;
                while (got[i] < a && zmq_msg_recv(&msg, subs[i], ZMQ_DONTWAIT) >= 0) {
                    if (start == 0)
                        start = now_us();
                    if (++got[i] == a) {
                        done++;
                        items[i].events = 0;
                    }
                }
            }
        }
        double elapsed = now_us() - start;
        printf("end: %llu [unix us]\n", unix_us());
        zmq_msg_close(&msg);
        printf("subscribers: %lu\n", n);
        printf("deliveries: %lu [msg/s]\n",
               (unsigned long)((double)(n * a) / (elapsed < 1 ? 1 : elapsed) * 1e6));
        for (unsigned long i = 0; i < n; i++)
            zmq_close(subs[i]);
    } else if (strcmp(role, "router") == 0) {
        void *s = open_socket(ctx, ZMQ_ROUTER, ep, 1, 0, 0);
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_init(&msg);
        for (unsigned long i = 0; i < a; i++) {
            check(zmq_msg_recv(&id, s, 0), "recv id");
            check(zmq_msg_recv(&msg, s, 0), "recv body");
            check(zmq_msg_send(&id, s, ZMQ_SNDMORE), "send id");
            check(zmq_msg_send(&msg, s, 0), "send body");
        }
        /* every peer is still connected: the scale row's memory per connection */
        printf("VmRSS: %lu [kB]\n", status_kb("VmRSS:"));
        zmq_msg_close(&id);
        zmq_msg_close(&msg);
        zmq_close(s);
    } else if (strcmp(role, "dealers") == 0) {
        unsigned long n = b, rounds = c;
        void **ds = calloc(n, sizeof *ds);
        zmq_pollitem_t *items = calloc(n, sizeof *items);
        unsigned long *left = calloc(n, sizeof *left);
        double *sent_at = calloc(n, sizeof *sent_at);
        double *lat = calloc(n * rounds + 1, sizeof *lat);
        unsigned long nlat = 0;
        for (unsigned long i = 0; i < n; i++) {
            ds[i] = open_socket(ctx, ZMQ_DEALER, ep, 0, -1, -1);
            items[i].socket = ds[i];
        }
        zmq_msg_init(&msg);
        /* pass 0: one warm-up request each (not timed); pass 1: `rounds` timed each */
        double start = 0;
        for (int pass = 0; pass < 2; pass++) {
            unsigned long active = n;
            if (pass == 1)
                start = now_us();
            for (unsigned long i = 0; i < n; i++) {
                left[i] = pass == 0 ? 1 : rounds;
                items[i].events = ZMQ_POLLIN;
                if (left[i] == 0) {
                    items[i].events = 0;
                    active--;
                    continue;
                }
                zmq_msg_t out;
                zmq_msg_init_size(&out, a);
                memset(zmq_msg_data(&out), 0, a);
                sent_at[i] = now_us();
                check(zmq_msg_send(&out, ds[i], 0), "send");
            }
            while (active > 0) {
                check(zmq_poll(items, (int)n, -1), "poll");
                for (unsigned long i = 0; i < n; i++) {
                    if (!(items[i].revents & ZMQ_POLLIN) || left[i] == 0)
                        continue;
                    if (zmq_msg_recv(&msg, ds[i], ZMQ_DONTWAIT) < 0)
                        continue;
                    double t = now_us();
                    if (pass == 1)
                        lat[nlat++] = t - sent_at[i];
                    if (--left[i] == 0) {
                        items[i].events = 0;
                        active--;
                        continue;
                    }
                    zmq_msg_t out;
                    zmq_msg_init_size(&out, a);
                    memset(zmq_msg_data(&out), 0, a);
                    sent_at[i] = now_us();
                    check(zmq_msg_send(&out, ds[i], 0), "send");
                }
            }
        }
        double elapsed = now_us() - start;
        zmq_msg_close(&msg);
        qsort(lat, nlat, sizeof *lat, cmp_double);
        unsigned long k = nlat * 99 / 100;
        if (k >= nlat && nlat > 0)
            k = nlat - 1;
        printf("requests: %lu [req/s]\n",
               (unsigned long)((double)nlat / (elapsed < 1 ? 1 : elapsed) * 1e6));
        printf("p99 round trip: %.3f [us]\n", nlat ? lat[k] : 0.0);
        for (unsigned long i = 0; i < n; i++)
            zmq_close(ds[i]);
    } else if (strcmp(role, "mem_push") == 0) {
        void *s = open_socket(ctx, ZMQ_PUSH, ep, 0, (int)c, -1);
        setint(s, ZMQ_SNDTIMEO, 500);
        setint(s, ZMQ_LINGER, 0);
        unsigned long sent = 0;
        for (unsigned long i = 0; i < b; i++) {
            zmq_msg_init_size(&msg, a);
            memset(zmq_msg_data(&msg), 0, a);
            if (zmq_msg_send(&msg, s, 0) < 0) {
                zmq_msg_close(&msg);
                if (zmq_errno() == EAGAIN)
                    break;
                die("send");
            }
            sent++;
        }
        printf("sent: %lu\n", sent);
        printf("VmHWM: %lu [kB]\n", status_kb("VmHWM:"));
        zmq_close(s);
    } else if (strcmp(role, "inproc_thr") == 0 || strcmp(role, "inproc_lat") == 0) {
        inproc(ctx, ep, a, b, strcmp(role, "inproc_lat") == 0);
    } else if (strcmp(role, "hs_server") == 0) {
        /* REP answering one request per connection of hs_clients */
        void *s = open_socket(ctx, ZMQ_REP, ep, 1, -1, -1);
        zmq_msg_init(&msg);
        for (unsigned long i = 0; i < a; i++) {
            check(zmq_msg_recv(&msg, s, 0), "recv");
            check(zmq_msg_send(&msg, s, 0), "send");
        }
        zmq_msg_close(&msg);
        zmq_close(s);
    } else if (strcmp(role, "hs_clients") == 0) {
        /* a new REQ per connection: connect, handshake, one round trip, close */
        double start = now_us();
        zmq_msg_init(&msg);
        for (unsigned long i = 0; i < a; i++) {
            void *s = open_socket(ctx, ZMQ_REQ, ep, 0, -1, -1);
            check(zmq_send(s, "x", 1, 0), "send");
            recv_size(s, &msg, 1);
            zmq_close(s);
        }
        zmq_msg_close(&msg);
        double elapsed = now_us() - start;
        printf("handshakes: %lu [conn/s]\n",
               (unsigned long)((double)a / (elapsed < 1 ? 1 : elapsed) * 1e6));
    } else if (strcmp(role, "stall_pull") == 0) {
        void *s = open_socket(ctx, ZMQ_PULL, ep, 1, -1, (int)a);
        sleep((unsigned)b);
        setint(s, ZMQ_LINGER, 0);
        zmq_close(s);
    } else {
        fprintf(stderr, "zmq_tools: unknown role %s\n", role);
        return 1;
    }
    fflush(stdout);
    zmq_ctx_term(ctx);
    return 0;
}
