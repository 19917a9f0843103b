/*
 * libsodium's XSalsa20-Poly1305, the baseline of ringmq's `curve_crypto` benchmark:
* seal and open in place (`crypto_box_detached_afternm`, `crypto_box_open_detached_afternm`,
 * what libzmq calls per CURVE MESSAGE) at the sizes given, on a precomputed key.
 * Built at run time by ringmq_bench::build_sodium_bench (`cc -O2 ... -lsodium`).
 *
 *   sodium_bench <min-ms> <size>...
 *
 * Prints `seal <size>: <ns> [ns]` and `open <size>: <ns> [ns]` per size: the mean of a
 * timed loop of at least <min-ms> milliseconds. Exit status 1 on any error.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: sodium_bench <min-ms> <size>...\n");
        return 1;
    }
    double min_ns = strtod(argv[1], NULL) * 1e6;
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    unsigned char k[crypto_box_BEFORENMBYTES], nonce[crypto_box_NONCEBYTES];
    unsigned char mac[crypto_box_MACBYTES];
    crypto_box_keypair(pk, sk);
    if (crypto_box_beforenm(k, pk, sk) != 0)
        return 1;
    memset(nonce, 7, sizeof nonce);
    for (int a = 2; a < argc; a++) {
        size_t size = strtoul(argv[a], NULL, 10);
        unsigned char *buf = calloc(size ? size : 1, 1);
        /* seal: calibrate the count on a short run, then time */
        unsigned long n = 1;
        double t;
        for (;;) {
            double start = now_ns();
            for (unsigned long i = 0; i < n; i++) {
                nonce[0] = (unsigned char)i;
                crypto_box_detached_afternm(buf, mac, buf, size, nonce, k);
            }
            t = now_ns() - start;
            if (t >= min_ns)
                break;
            n *= 2;
        }
        printf("seal %zu: %.1f [ns]\n", size, t / n);
        /* open: a fresh copy of the same box each time (the copy is timed too, on
           both sides of the comparison) */
        unsigned char *boxed = malloc(size ? size : 1);
        nonce[0] = 1;
        crypto_box_detached_afternm(boxed, mac, buf, size, nonce, k);
        double start = now_ns();
        for (unsigned long i = 0; i < n; i++) {
            memcpy(buf, boxed, size);
            if (crypto_box_open_detached_afternm(buf, buf, mac, size, nonce, k) != 0) {
                fprintf(stderr, "sodium_bench: box did not open\n");
                return 1;
            }
        }
        printf("open %zu: %.1f [ns]\n", size, (now_ns() - start) / n);
        free(boxed);
        free(buf);
    }
    return 0;
}
